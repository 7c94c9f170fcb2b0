-- wrk script: POST /trades/buy with a JSON body, spreading buys over many users so that
-- row locks on one position do not serialise the whole run.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local symbols = { "AAPL", "MSFT", "GOOGL", "AMZN", "JPM" }
request = function()
  local body = string.format(
    '{"user_id":"bench-%d","symbol":"%s","quantity":%d,"price":%d.%02d}',
    math.random(1, 5000), symbols[math.random(1, #symbols)], math.random(1, 100),
    math.random(10, 500), math.random(0, 99))
  return wrk.format(nil, "/trades/buy", nil, body)
end
