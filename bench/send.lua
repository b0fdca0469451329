-- wrk script: POST text and template messages (one in four is a template) to many users,
-- round robin. The server must have the template `order_update` (bench/serve_load.sh makes
-- it) and the users opted in with an open window.
-- usage: wrk -t2 -c64 -d10s -s bench/send.lua http://127.0.0.1:PORT/v23.0/PHONE/messages
-- env: OPENWABA_TOKEN (default bench-token), OPENWABA_USERS (default 10000)
local token = os.getenv("OPENWABA_TOKEN") or "bench-token"
local users = tonumber(os.getenv("OPENWABA_USERS") or "10000")
local counter = 0
local thread_id = 0

setup = function(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

request = function()
  counter = counter + 1
  local u = 5511900000000 + ((counter * 7 + thread_id * 3) % users)
  local body
  if counter % 4 == 0 then
    body = '{"messaging_product":"whatsapp","to":"' .. u .. '","type":"template","template":' ..
      '{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body",' ..
      '"parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"' .. counter .. '"}]}]}}'
  else
    body = '{"messaging_product":"whatsapp","recipient_type":"individual","to":"' .. u ..
      '","type":"text","text":{"body":"Your order has shipped"}}'
  end
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json"}, body)
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
