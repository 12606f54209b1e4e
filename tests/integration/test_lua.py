"""Lua functions inside the native profile, through a real httpd with Debian's
mod_lua (Lua 5.3) on every MPM, children as httpd's default has them (not
dumpable) and dumpable (CoreDumpDirectory) on event: tests/workload/lua's
handler has functions with known call paths and shares.

What a user sees: the Lua functions sit where they ran (under mod_lua's
handler and lua_pcallk), named as Lua's tracebacks name them, with chunk and
line, marked "[lua]"; a wait under the Lua function that waited; errors
served; requests without Lua untouched.
"""
import json
import os
import re
import shutil

import pytest

from conftest import start_checked
from http_util import request, soak
from httpd_harness import Httpd

LUA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "workload", "lua")
HANDLER = "/profile_me.lua"

LUA_CONF = r"""
LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so
AddHandler lua-script .lua
ReqProfile On
ReqProfileMaxConcurrent 16
"""

# (MPM, extra configuration)
SERVERS = {"prefork": ("prefork", ""), "worker": ("worker", ""), "event": ("event", ""),
           "event-dumpable": ("event", "CoreDumpDirectory /tmp\n")}

# Where the handler's functions begin (tests/workload/lua/profile_me.lua).
LINES = {"spin_for": 4, "work_seventy": 15, "work_thirty": 19, "total": 25,
         "recurse_down": 29, "sleep_a_while": 36, "fail_deep": 40}
HANDLE_LINE = 48


def lua_server(mpm, extra=""):
    server = Httpd(mpm, extra=LUA_CONF + extra)
    shutil.copy(os.path.join(LUA_DIR, "profile_me.lua"), server.docroot)
    return server


@pytest.fixture(scope="module", params=list(SERVERS))
def lua(request):
    mpm, extra = SERVERS[request.param]
    server = start_checked(lua_server(mpm, extra))
    yield server
    crashes = server.crash_lines()
    server.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


def profile(server, case, fmt="json", ms=300):
    status, _, body = request(server, "%s?case=%s&ms=%d&profile=%s" % (HANDLER, case, ms, fmt))
    assert status == 200, (status, body[:400])
    return json.loads(body) if fmt == "json" else body.decode()


def paths(doc):
    """Every node's path (frames, outermost first) and the node."""
    frames, out = doc["frames"], []

    def walk(node, path):
        if node["frame"] is not None:
            path = path + [frames[node["frame"]]]
            out.append((path, node))
        for c in node["children"]:
            walk(c, path)
    walk(doc["tree"], [])
    return out


def weight(doc, name):
    return sum(n["total"] for p, n in paths(doc)
               if p[-1]["name"] == name and not any(f["name"] == name for f in p[:-1]))


def heaviest_path(doc, name):
    best = max((n["total"], p) for p, n in paths(doc) if p[-1]["name"] == name)
    return [f["name"] for f in best[1]]


def frame(doc, name):
    return next(f for f in doc["frames"] if f["name"] == name)


def test_shares_names_chunks_and_lines(lua):
    doc = profile(lua, "shares", ms=400)
    total = doc["tree"]["total"]
    seventy, thirty = weight(doc, "work_seventy") / total, weight(doc, "work_thirty") / total
    assert 0.64 <= seventy <= 0.76 and 0.24 <= thirty <= 0.36, (seventy, thirty)
    for name in ("work_seventy", "work_thirty", "spin_for"):
        f = frame(doc, name)
        assert f["object"] == "[lua]" and f["line"] == LINES[name], f
        assert f["file"].endswith("/profile_me.lua"), f
    # In httpd's request cycle, inside the call mod_lua made into Lua. The
    # handler, called from C, has Lua's name for an unnamed function.
    path = heaviest_path(doc, "spin_for")
    handle = "function <%s:%d>" % (frame(doc, "spin_for")["file"], HANDLE_LINE)
    i = path.index(handle)
    assert "ap_run_handler" in path[:i] and path[i - 1] == "lua_pcallk", path
    assert path[i:] == [handle, "work_seventy", "spin_for"], path
    assert "script_note" not in doc["sampling"]


def test_method_recursion_and_pcall(lua):
    doc = profile(lua, "method")
    assert heaviest_path(doc, "spin_for")[-2:] == ["total", "spin_for"]
    assert frame(doc, "total")["line"] == LINES["total"]

    doc = profile(lua, "recursion")
    assert heaviest_path(doc, "spin_for").count("recurse_down") == 11

    doc = profile(lua, "pcall")
    lua_frames = {f["name"] for f in doc["frames"] if f["object"] == "[lua]"}
    path = [n for n in heaviest_path(doc, "spin_for") if n in lua_frames]
    # pcall is Lua's own C function, named by its caller; what it calls
    # was called from C: Lua names it by where it begins (the engine's C
    # between them, lua_pcallk's call included, is left out here).
    i = path.index("pcall")
    assert frame(doc, "pcall")["object"] == "[lua]" and frame(doc, "pcall")["file"] is None
    assert path[i + 1] == "function <%s:%d>" % (frame(doc, "fail_deep")["file"],
                                                LINES["fail_deep"]), path
    assert path.count("fail_deep") == 4, path


def test_wait_under_the_lua_function_that_slept(lua):
    doc = profile(lua, "sleep", ms=300)
    total = doc["tree"]["total"]
    waited = sum(n["wait"] for p, n in paths(doc) if p[-1]["name"] == "sleep_a_while")
    assert waited >= 0.9 * total, (waited, total)
    path = heaviest_path(doc, "[syscall pselect6]")
    i = path.index("sleep_a_while")
    assert path[i + 1] == "usleep" and "apr_sleep" in path[i:], path
    assert doc["sampling"]["interrupted_waits"] - doc["sampling"]["broken_waits"] <= 1
    assert doc["sampling"]["broken_waits"] == 0


def test_a_lua_error_is_profiled_and_served(lua):
    status, _, body = request(lua, HANDLER + "?case=error&profile=json")
    assert status == 200
    doc = json.loads(body)
    assert doc["request"]["status"] == 500
    assert heaviest_path(doc, "spin_for").count("fail_deep") == 5


def test_text_and_collapsed_fold_the_engine(lua):
    text = profile(lua, "shares", fmt="text")
    assert re.search(r"work_seventy  \[lua\]  \S*/profile_me\.lua:15", text), text[:3000]
    assert "lua_pcallk" not in text and "liblua5.3" in text  # folded, named as such
    collapsed = profile(lua, "shares", fmt="collapsed")
    assert re.search(r"lua_pcallk \[liblua5\.3\.so\S*\];function <\S+:48> \[lua\];"
                     r"work_seventy \[lua\];spin_for \[lua\]", collapsed), collapsed[:2000]


def test_requests_without_lua_are_untouched(lua):
    doc = json.loads(request(lua, "/work/cpu?ms=40&profile=json")[2])
    assert not [f for f in doc["frames"] if f["object"] == "[lua]"]
    assert weight(doc, "work_alpha") > 0


def test_soak_lua_with_and_without_profiling():
    server = start_checked(lua_server("event"))
    try:
        cases = [HANDLER + "?case=shares&ms=6&profile=json", HANDLER + "?case=sleep&ms=2",
                 HANDLER + "?case=pcall&profile=text", HANDLER + "?case=error",
                 HANDLER + "?case=recursion&ms=2&profile=collapsed", "/work/cpu?ms=2"]
        failures, sampled, unsampled = soak(
            server, cases, 600,
            lambda path: 500 if "error" in path and "profile=" not in path else 200)
        assert not failures, failures[:5]
        # As in test_php.py's soak: nearly every request of five intervals
        # or more is sampled (a sampler thread may get no CPU for a short
        # request among eight busy ones on two CPUs).
        assert len(sampled) >= 0.9 * (len(sampled) + len(unsampled)), unsampled[:3]
    finally:
        crashes = server.crash_lines()
        server.cleanup()
    assert not crashes, crashes


def test_report_in_the_browser_colours_lua_frames():
    # Headless Chromium, no console error; the engine folded (no liblua
    # frame in the flame graph), Lua frames drawn in blue-greens.
    from test_php import flame_of_server
    rows = flame_of_server(lua_server("event"), HANDLER + "?case=shares&ms=300&profile=1",
                           "report-lua.png")
    lua_rows = [r for r in rows if r[1] == "[lua]"]
    assert {"work_seventy", "work_thirty", "spin_for"} <= {r[0] for r in lua_rows}, rows
    assert not [r for r in rows if r[1].startswith("liblua")], "engine frames not folded"
    for _, _, (red, green, blue) in lua_rows:
        assert green > red and blue > red, (red, green, blue)
