-- wrk script for tests/cases/52-e2e-http.sh: small chat completions, each
-- with a prompt of its own (so connections spread over the pods), and a
-- count of what came back: non-2xx answers, 2xx answers that do not name a
-- pod, and answers per pod. done() prints one line the test parses:
--   answers N non2xx N unnamed N pods pod1=N pod2=N ...

local threads = {}

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

function init(args)
	n = 0
	answers = 0
	non2xx = 0
	unnamed = 0
	pods = {}
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
end

function request()
	n = n + 1
	local body = string.format(
		'{"model":"kvlb-emu-model","max_tokens":8,"messages":[{"role":"user",' ..
		'"content":"wrk thread %d request %d: a short question about caches"}]}', id, n)
	return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
	answers = answers + 1
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
		return
	end
	local pod = body and body:match('"kvlb_backend":"([^"]+)"')
	if not pod then
		unnamed = unnamed + 1
		return
	end
	pods[pod] = (pods[pod] or 0) + 1
end

function done(summary, latency, requests)
	local a, b, u, per = 0, 0, 0, {}
	for _, t in ipairs(threads) do
		a = a + t:get("answers")
		b = b + t:get("non2xx")
		u = u + t:get("unnamed")
		for pod, c in pairs(t:get("pods")) do
			per[pod] = (per[pod] or 0) + c
		end
	end
	local names = {}
	for pod in pairs(per) do table.insert(names, pod) end
	table.sort(names)
	local s = ""
	for _, pod in ipairs(names) do s = s .. " " .. pod .. "=" .. per[pod] end
	io.write(string.format("answers %d non2xx %d unnamed %d pods%s\n", a, b, u, s))
end
