-- The operator-only RPCs' routes run this after the transcoder (so :path is the RPC's own for REST and gRPC alike):
-- they need the operator role in the verified token. The path is checked again so that the script guards only them.
-- CONFIG (prepended by services/gateway/lua.py): operator_paths (set), claim (list of keys), role, claim_name.

local function holds_role(value)
  if value == CONFIG.role then
    return true
  end
  if type(value) == "table" then
    for _, item in pairs(value) do
      if item == CONFIG.role then
        return true
      end
    end
  end
  return false
end

function envoy_on_request(handle)
  local path = (handle:headers():get(":path") or ""):match("^[^?]*")
  if not CONFIG.operator_paths[path] then
    return
  end
  local verified = handle:streamInfo():dynamicMetadata():get("envoy.filters.http.jwt_authn")
  local value = verified and verified["jwt_payload"]
  for _, key in ipairs(CONFIG.claim) do
    if type(value) ~= "table" then
      value = nil
      break
    end
    value = value[key]
  end
  if not holds_role(value) then
    handle:respond({[":status"] = "403"}, "This route is for operators: the token's " .. CONFIG.claim_name
      .. " claim must be '" .. CONFIG.role .. "'.")
  end
end
