-- Known call paths for the Lua frame tests: ?case= selects what runs.
-- Line numbers of the functions are asserted on: keep them where they are.

local function spin_for(r, ms)
    local deadline = r:clock() + ms * 1000
    local x = 0
    while r:clock() < deadline do
        for _ = 1, 200 do
            x = (x * 31 + 7) % 1000003
        end
    end
    return x
end

function work_seventy(r, ms)
    return (spin_for(r, ms))
end

function work_thirty(r, ms)
    return (spin_for(r, ms))
end

local Basket = {}

function Basket:total(r, ms)
    return (spin_for(r, ms))
end

function recurse_down(r, n, ms)
    if n == 0 then
        return (spin_for(r, ms))
    end
    return (recurse_down(r, n - 1, ms))
end

function sleep_a_while(r, ms)
    r.usleep(ms * 1000)
end

function fail_deep(r, n)
    if n == 0 then
        spin_for(r, 30)
        error("from the bottom")
    end
    fail_deep(r, n - 1)
end

function handle(r)
    r.content_type = "text/plain"
    local args = r:parseargs()
    local case = args.case or "shares"
    local ms = math.max(1, math.min(2000, tonumber(args.ms) or 200))
    if case == "shares" then
        work_seventy(r, ms * 0.7)
        work_thirty(r, ms * 0.3)
    elseif case == "method" then
        Basket:total(r, ms)
    elseif case == "recursion" then
        recurse_down(r, 10, ms)
    elseif case == "sleep" then
        sleep_a_while(r, ms)
    elseif case == "pcall" then
        pcall(fail_deep, r, 4)
    elseif case == "error" then
        fail_deep(r, 4)
    end
    r:puts("done " .. case .. "\n")
    return apache2.OK
end
