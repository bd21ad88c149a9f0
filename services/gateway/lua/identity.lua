-- Every request, after jwt_authn: the verified token's `sub` becomes the x-user-id the services trust, so it must be
-- text a header can carry and a database can key on. Runs before the per-user rate limit, which is keyed on it.
-- Envoy's own max_lifetime counts from now; a token that says when it was issued is also held to exp - iat.
-- CONFIG (prepended by services/gateway/lua.py): max_sub_chars, max_lifetime_s.

function envoy_on_request(handle)
  local verified = handle:streamInfo():dynamicMetadata():get("envoy.filters.http.jwt_authn")
  if verified == nil or verified["jwt_payload"] == nil then
    return
  end
  local payload = verified["jwt_payload"]
  local sub = payload["sub"]
  if type(sub) ~= "string" or #sub == 0 or #sub > CONFIG.max_sub_chars or sub:find("[^\33-\126]") then
    handle:respond({[":status"] = "401"}, "The token's sub claim must be 1-" .. CONFIG.max_sub_chars
      .. " printable ASCII characters without spaces.")
    return
  end
  local iat, exp = payload["iat"], payload["exp"]
  if type(iat) == "number" and type(exp) == "number" and exp - iat > CONFIG.max_lifetime_s then
    handle:respond({[":status"] = "401"}, "Jwt lifetime (exp - iat) exceeds the gateway's maximum of "
      .. CONFIG.max_lifetime_s .. " s.")
  end
end
