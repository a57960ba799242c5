-- wrk script of bench/serve_load.sh: POST /v1/recommend for a random MovieLens 100K user
-- (raw ids 1..943), k = 10, the candidates re-ranked by the ranking model.
math.randomseed(42)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local body = string.format('{"user_id": "%d", "k": 10}', math.random(1, 943))
  return wrk.format(nil, "/v1/recommend", nil, body)
end
