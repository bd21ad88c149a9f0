-- REST requests only (the filter is disabled on the native gRPC routes): refuses what a gRPC service would choke on,
-- with a JSON 400/414 that says why, before the transcoder turns the request into gRPC.
-- CONFIG (prepended by services/gateway/lua.py): max_path_bytes, bool_fields (set of JSON field names).

local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    if c < 0x80 then
      i = i + 1
    else
      local len, low, high
      if c >= 0xC2 and c <= 0xDF then len, low, high = 2, 0x80, 0xBF
      elseif c == 0xE0 then len, low, high = 3, 0xA0, 0xBF
      elseif c == 0xED then len, low, high = 3, 0x80, 0x9F
      elseif c >= 0xE1 and c <= 0xEF then len, low, high = 3, 0x80, 0xBF
      elseif c == 0xF0 then len, low, high = 4, 0x90, 0xBF
      elseif c >= 0xF1 and c <= 0xF3 then len, low, high = 4, 0x80, 0xBF
      elseif c == 0xF4 then len, low, high = 4, 0x80, 0x8F
      else return false end
      if i + len - 1 > n then return false end
      local second = s:byte(i + 1)
      if second < low or second > high then return false end
      for k = i + 2, i + len - 1 do
        local b = s:byte(k)
        if b < 0x80 or b > 0xBF then return false end
      end
      i = i + len
    end
  end
  return true
end

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

local function unescape_json(s)
  s = s:gsub("\\u00(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end)
  return (s:gsub("\\(.)", "%1"))
end

-- The name of a boolean field given as a JSON string at the top level of the body, or nil. The transcoder would read
-- "yes", "1" or "t" as true; proto3 JSON allows only true and false.
local function string_for_bool(body)
  local depth, i, n = 0, 1, #body
  while i <= n do
    local c = body:sub(i, i)
    if c == '"' then
      local j = i + 1
      local close
      while true do
        local k = body:find('["\\]', j)
        if not k then return nil end
        if body:sub(k, k) == '"' then close = k break end
        j = k + 2
      end
      if depth == 1 then
        local _, colon = body:find("^%s*:%s*", close + 1)
        if colon and body:sub(colon + 1, colon + 1) == '"' then
          local name = unescape_json(body:sub(i + 1, close - 1))
          if CONFIG.bool_fields[name] then return name end
        end
      end
      i = close + 1
    elseif c == "{" or c == "[" then
      depth = depth + 1
      i = i + 1
    elseif c == "}" or c == "]" then
      depth = depth - 1
      i = i + 1
    else
      i = i + 1
    end
  end
  return nil
end

local function bad_request(handle, status, message)
  handle:respond({[":status"] = status}, message)
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local strip = {}
  for name, _ in pairs(headers) do
    if not string.match(name, "^:?[0-9a-z_.%-]+$") then
      return bad_request(handle, "400",
        "header name '" .. name .. "' is not allowed: use lower-case letters, digits, '-', '_' and '.'")
    end
    -- gRPC transport headers from a REST client would reach the service as its own (a bad grpc-timeout fails the
    -- call); the transcoder sets the ones the call needs.
    if name == "te" or string.sub(name, 1, 5) == "grpc-" then
      strip[#strip + 1] = name
    end
  end
  for _, name in ipairs(strip) do
    headers:remove(name)
  end

  local path = headers:get(":path") or "/"
  if #path > CONFIG.max_path_bytes then
    return bad_request(handle, "414", "The request path and query are " .. #path .. " bytes long; at most "
      .. CONFIG.max_path_bytes .. " are accepted. An Instagram username has at most 30 characters.")
  end
  local bare, query = path:match("^([^?]*)%??(.*)$")
  if bare:find("%%2[fF]") or bare:find("%%5[cC]") then
    return bad_request(handle, "400", "The request path is malformed: encoded slashes or backslashes are not "
      .. "allowed. Put the username in the path as Instagram shows it (letters, digits, '.' and '_'), "
      .. "not a profile URL.")
  end
  if not valid_utf8(percent_decode(bare)) then
    return bad_request(handle, "400", "The request path is not valid UTF-8 once percent-decoded.")
  end
  local decoded_query = percent_decode((query:gsub("%+", " ")))
  if not valid_utf8(decoded_query) then
    return bad_request(handle, "400", "The query string is not valid UTF-8 once percent-decoded.")
  end
  if decoded_query:find("%z") then
    return bad_request(handle, "400", "The query string contains a NUL byte.")
  end
  for name, value in query:gmatch("([^&=]+)=?([^&]*)") do
    local field = percent_decode(name)
    local text = percent_decode(value)
    if CONFIG.bool_fields[field] and text ~= "true" and text ~= "false" then
      return bad_request(handle, "400", field .. ": must be true or false")
    end
  end

  if headers:get(":method") == "POST" then
    local body = handle:body()
    if body ~= nil and body:length() > 0 then
      local field = string_for_bool(body:getBytes(0, body:length()))
      if field then
        return bad_request(handle, "400", field .. ": must be true or false, not a string")
      end
    end
  end
end
