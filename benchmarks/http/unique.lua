-- Each request a card never drawn before: a title made of the thread's number and a counter.
local threads = {}
local next_id = 0

function setup(thread)
    thread:set("thread_id", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

function init(args)
    path = args[1]
    counter = 0
end

function request()
    counter = counter + 1
    return wrk.format("GET", path .. "title=Card+" .. thread_id .. "-" .. counter .. "-" .. math.random(1000000000))
end
