"""PHP functions inside the native profile, through a real httpd with Debian's
mod_php 8.2 (prefork, the non-thread-safe engine): tests/workload/php's
script has functions with known call paths and shares. Children run as
httpd's default has them (privileges dropped, not dumpable, PHP's opcache
on) first, and dumpable (CoreDumpDirectory) without opcache second.

What a user sees is checked in every format: the PHP functions sit where
they ran in httpd's request cycle (under ap_run_handler and the engine's
executor), with file and line, marked "[php]"; C called from PHP sits under
the PHP function that called it; a wait under the PHP function that waited.
"""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import start_checked
from http_util import request, soak
from http_util import request as request_plain
from httpd_harness import OUT, Httpd
from test_formats import parse_pprof_raw, run_pprof

LIBPHP = "/usr/lib/apache2/modules/libphp8.2.so"
PHP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "workload", "php")
SCRIPT = "/profile_me.php"

PHP_CONF = r"""
LoadModule php_module %s
<FilesMatch "\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
ReqProfile On
ReqProfileMaxConcurrent 16
ReqProfileLogFile logs/reqprof.log
<Location /logged>
  ReqProfileLog On
</Location>
Alias /logged %s
""" % (LIBPHP, "%(docroot)s")

# Debian's mod_php runs with opcache (its functions in shared memory, kept
# across requests); the second server runs without it (a request's
# functions and included files compiled and freed within the request).
CONFIGS = {"not-dumpable": "",
           "dumpable-no-opcache": "CoreDumpDirectory /tmp\nphp_admin_flag opcache.enable off\n"}


def php_server(extra=""):
    assert os.path.exists(LIBPHP), \
        "mod_php 8.2 is missing (build/install-deps.sh installs libapache2-mod-php8.2)"
    server = Httpd("prefork", extra="")
    conf = PHP_CONF % {"docroot": server.docroot} + extra
    server.write_config(conf, True, (), 8)
    # Older than opcache's file_update_protection (2 s), or opcache would
    # leave them out of its cache for the first requests.
    an_hour_ago = time.time() - 3600
    for name in os.listdir(PHP_DIR):
        copy = shutil.copy(os.path.join(PHP_DIR, name), server.docroot)
        os.utime(copy, (an_hour_ago, an_hour_ago))
    return server


@pytest.fixture(scope="module", params=list(CONFIGS))
def php(request):
    server = start_checked(php_server(CONFIGS[request.param]))
    yield server
    crashes = server.crash_lines()
    server.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


def profile(server, case, fmt="json", ms=300, extra=""):
    status, headers, body = request(
        server, "%s?case=%s&ms=%d&profile=%s%s" % (SCRIPT, case, ms, fmt, extra))
    assert status == 200, (status, body[:400])
    return json.loads(body) if fmt == "json" else body


class Tree:
    """The JSON call tree as paths: per node its frames, outermost first."""

    def __init__(self, doc):
        self.doc = doc
        self.frames = doc["frames"]
        self.total = doc["tree"]["total"]
        self.paths = []  # (frames of the path, node)

        def walk(node, path):
            if node["frame"] is not None:
                path = path + [self.frames[node["frame"]]]
                self.paths.append((path, node))
            for c in node["children"]:
                walk(c, path)
        walk(doc["tree"], [])

    def weight(self, name, **match):
        """Inclusive weight of the outermost nodes of function `name`."""
        total = 0
        for path, node in self.paths:
            f = path[-1]
            if f["name"] == name and all(f.get(k) == v for k, v in match.items()) \
                    and not any(p["name"] == name for p in path[:-1]):
                total += node["total"]
        return total

    def wait(self, name):
        return sum(node["wait"] for path, node in self.paths
                   if path[-1]["name"] == name
                   and not any(p["name"] == name for p in path[:-1]))

    def path_to(self, name):
        """The heaviest path ending in `name` (names, outermost first)."""
        best = max((node["total"], path) for path, node in self.paths
                   if path[-1]["name"] == name)
        return [f["name"] for f in best[1]]

    def frame(self, name):
        return next(f for f in self.frames if f["name"] == name)


def php_frames(tree):
    return [f for f in tree.frames if f["object"] == "[php]"]


def test_opcache_as_configured(php, request):
    status, _, body = request_plain(php, SCRIPT + "?case=opcache")
    want = b"opcache 0" if "no-opcache" in request.node.callspec.id else b"opcache 1"
    assert status == 200 and body.startswith(want), (request.node.callspec.id, body)


def test_shares_names_files_and_lines(php):
    tree = Tree(profile(php, "shares", ms=400))
    main = tree.weight("{main}")
    assert main >= 0.9 * tree.total, (main, tree.total)
    seventy = tree.weight("work_seventy") / main
    thirty = tree.weight("work_thirty") / main
    assert 0.64 <= seventy <= 0.76 and 0.24 <= thirty <= 0.36, (seventy, thirty)
    for name, line in (("work_seventy", 16), ("work_thirty", 21), ("spin_for", 6),
                       ("{main}", 1)):
        f = tree.frame(name)
        assert f["object"] == "[php]" and f["line"] == line, f
        assert f["file"].endswith("/profile_me.php"), f
    # The PHP stack sits in httpd's request cycle, inside the executor.
    path = tree.path_to("spin_for")
    assert "ap_run_handler" in path and "php_execute_script" in path, path
    i = path.index("{main}")
    assert path[i - 1] == "execute_ex", path
    assert path[i:] == ["{main}", "work_seventy", "spin_for"], path
    # The PHP function hrtime() is the engine's own: no file, C below it.
    assert tree.frame("hrtime")["file"] is None


def test_method_recursion_include_and_closure(php):
    tree = Tree(profile(php, "method"))
    f = tree.frame("Basket::total")
    assert f["file"].endswith("/profile_lib.php") and f["line"] == 6, f
    assert tree.path_to("spin_for")[-3:] == ["{main}", "Basket::total", "spin_for"]

    tree = Tree(profile(php, "recursion"))
    path = tree.path_to("spin_for")
    assert path.count("recurse_down") == 21, path
    assert tree.weight("recurse_down") >= 0.9 * tree.total

    tree = Tree(profile(php, "include"))
    f = tree.frame("included_work")
    assert f["file"].endswith("/profile_lib.php") and f["line"] == 12, f

    tree = Tree(profile(php, "callback"))
    path = tree.path_to("spin_for")
    i = path.index("{main}")
    assert path[i:i + 2] == ["{main}", "array_map"], path
    assert path[-2:] == ["{closure}", "spin_for"], path
    # array_map's C (the engine's zend_call_function) between the two.
    assert "zend_call_function" in path[i:], path


def test_wait_under_the_php_function_that_slept(php):
    tree = Tree(profile(php, "sleep", ms=300))
    slept = tree.wait("sleep_a_while")
    assert slept >= 0.9 * tree.total, (slept, tree.total)
    path = tree.path_to("[syscall clock_nanosleep]")
    i = path.index("sleep_a_while")
    assert path[i + 1] == "usleep", path
    assert tree.frame("usleep")["object"] == "[php]"
    assert tree.doc["sampling"]["interrupted_waits"] == 0


def test_c_function_under_the_php_frame_that_called_it(php):
    # pcre.jit off: PCRE's interpreter, whose frames the unwinder reads.
    tree = Tree(profile(php, "preg"))
    under = tree.weight("preg_match")
    assert under >= 0.8 * tree.total, (under, tree.total)
    path = tree.path_to("preg_match")
    assert path[-3:] == ["{main}", "match_long_string", "preg_match"], path
    pcre = [p for p, _ in tree.paths if p[-1]["object"].startswith("libpcre2")]
    assert pcre, "no PCRE frame"
    names = [f["name"] for f in pcre[0]]
    assert names.index("preg_match") < len(names) - 1, names


def test_jit_code_keeps_the_php_stack(php):
    # With PCRE's JIT the native unwinder stops in code without unwind
    # tables: the PHP stack is still where the time went, under the stack's
    # lost callers.
    tree = Tree(profile(php, "preg_jit"))
    assert tree.weight("preg_match") >= 0.8 * tree.total
    path = tree.path_to("preg_match")
    assert path[-3:] == ["{main}", "match_long_string", "preg_match"], path


def test_exception_fatal_error_and_a_script_ending_mid_sample(php):
    tree = Tree(profile(php, "exception"))
    assert tree.path_to("spin_for").count("throw_deep") == 6
    status, _, body = request(php, SCRIPT + "?case=fatal&profile=json")
    assert status == 200, status  # the report, of a request that answered 500
    doc = json.loads(body)
    assert doc["request"]["status"] == 500
    assert any(f["name"] == "spin_for" for f in doc["frames"])
    # Requests ending at every point of a sample: no crash (checked by the
    # fixture), every report served.
    for ms in range(1, 12):
        status, _, _ = request(php, SCRIPT + "?case=shares&ms=%d&profile=json" % ms)
        assert status == 200


def test_every_format_carries_php_frames(php):
    text = profile(php, "shares", fmt="text").decode()
    # Folded by default: the engine's own frames fold, the script's show.
    assert re.search(r"work_seventy  \[php\]  \S*/profile_me\.php:16", text), text[:3000]
    assert "execute_ex" not in text
    text_all = profile(php, "shares", fmt="text", extra="&frames=all").decode()
    assert "execute_ex" in text_all and "{main}  [php]" in text_all

    collapsed = profile(php, "shares", fmt="collapsed").decode()
    assert re.search(r";execute_ex \[libphp8\.2\.so\];\{main\} \[php\];"
                     r"work_seventy \[php\];spin_for \[php\]", collapsed), collapsed[:2000]

    speedscope = json.loads(profile(php, "shares", fmt="speedscope"))
    names = {(f["name"], f.get("file"), f.get("line"))
             for f in speedscope["shared"]["frames"]}
    assert any(n == "work_seventy" and (fl or "").endswith("profile_me.php") and ln == 16
               for n, fl, ln in names), names

    body = profile(php, "shares", fmt="pprof")
    out, _ = run_pprof(body, "-raw")
    _, _, samples, locations = parse_pprof_raw(out)
    assert "work_seventy" in locations.values(), locations
    # With the script's file and the function's line.
    assert re.search(r"^\s*\d+: 0x[0-9a-f]+ (M=\d+ )?work_seventy \S*/profile_me\.php:16 ",
                     out, re.M), out[-3000:]

    html = profile(php, "shares", fmt="1").decode()
    assert 'data-func="work_seventy" data-obj="[php]"' in html


def test_log_records_name_php_functions(php):
    status, _, _ = request(php, "/logged/profile_me.php?case=shares&ms=200")
    assert status == 200
    log = os.path.join(php.root, "logs", "reqprof.log")
    deadline = time.time() + 5
    record = None
    while time.time() < deadline and record is None:
        if os.path.exists(log):
            lines = [l for l in open(log) if "path=/logged/profile_me.php" in l]
            record = lines[-1] if lines else None
        time.sleep(0.1)
    assert record, "no record"
    hot = re.search(r" hot=(\S+)", record).group(1)
    assert "work_seventy" in hot.split(";"), record
    tops = re.findall(r" top\d=(\S+)", record)
    assert "hrtime" in tops or "spin_for" in tops, record


def test_requests_without_php_are_untouched(php):
    tree = Tree(json.loads(request(php, "/work/cpu?ms=40&profile=json")[2]))
    assert not php_frames(tree)
    assert tree.weight("work_alpha") > 0


def test_soak_php_with_and_without_profiling(php):
    paths = [SCRIPT + "?case=shares&ms=6&profile=json",
             SCRIPT + "?case=sleep&ms=2&profile=text",
             SCRIPT + "?case=exception",
             SCRIPT + "?case=callback&ms=2",
             SCRIPT + "?case=fatal&profile=1",
             SCRIPT + "?case=recursion&ms=2&profile=collapsed",
             "/logged/profile_me.php?case=include&ms=2"]
    failures, sampled, unsampled = soak(
        php, paths, 2000,
        lambda path: 200 if "profile=" in path or "fatal" not in path else 500)
    assert not failures, failures[:10]
    # Eight busy requests share two CPUs with their children's sampler
    # threads: now and then a sampler thread gets no CPU for a whole short
    # request. Nearly every request of five intervals or more is sampled.
    assert len(sampled) >= 0.9 * (len(sampled) + len(unsampled)), \
        json.dumps(unsampled[:3])
    assert not php.crash_lines()


def test_another_engine_version_is_said_once_and_profiled_natively():
    fake = os.path.join(OUT, "libfakezend.so")
    server = Httpd("prefork", extra="LoadFile %s\nReqProfile On\n" % fake)
    try:
        server.start()
        status, _, body = request(server, "/work/cpu?ms=40&profile=json")
        assert status == 200
        doc = json.loads(body)
        assert doc["sampling"].get("script_note", "").startswith(
            "PHP functions not read: the engine is Zend Engine v4.1.99"), doc["sampling"]
        assert Tree(doc).weight("work_alpha") > 0
        text = request(server, "/work/cpu?ms=20&profile=text")[2].decode()
        assert "PHP functions not read" in text
    finally:
        server.stop()
        log = server.read_error_log()
        server.cleanup()
    lines = [l for l in log.splitlines() if "PHP requests are profiled without" in l]
    assert len(lines) == 1, lines
    assert "Zend Engine v4.1.99" in lines[0] and "4.2." in lines[0], lines


def flame_of_report(url, screenshot):
    """Renders the report at url in headless Chromium, fails on any console
    error, saves a screenshot and returns the flame graph's frames as
    (function, object, (red, green, blue))."""
    from browser_util import Chromium, find_chromium
    from test_browser import check_png, load, switch
    assert find_chromium(), "Chromium is not installed (apt-get install chromium)"
    with Chromium() as browser:
        page = browser.page()
        page.enable_error_collection()
        page.send("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        problems, _, _ = load(page, url)
        assert not problems, problems
        switch(page, "flame")
        rows = page.evaluate(
            "Array.from(document.querySelectorAll('#rp-flame .rp-fl')).map(function(b){"
            "return [b.dataset.func, b.dataset.obj, getComputedStyle(b).backgroundColor];})")
        path = os.path.join(OUT, screenshot)
        page.screenshot(path)
        check_png(path)
        problems, _ = page.problems(since=0)
        assert not problems, problems
    return [(f, o, tuple(int(x) for x in re.findall(r"\d+", c)[:3])) for f, o, c in rows]


def flame_of_server(server, path, screenshot):
    """flame_of_report for path on server, which is started for it and
    stopped after; fails if a child crashed."""
    start_checked(server)
    try:
        rows = flame_of_report(server.url + path, screenshot)
    finally:
        crashes = server.crash_lines()
        server.cleanup()
    assert not crashes, crashes
    return rows


def test_report_in_the_browser_colours_php_frames():
    # The folded view starts at the script ({main} at the top of the flame
    # graph: the engine's frames fold); PHP frames drawn in green.
    rows = flame_of_server(php_server(), SCRIPT + "?case=shares&ms=300&profile=1",
                           "report-php.png")
    php_rows = [r for r in rows if r[1] == "[php]"]
    assert {"{main}", "work_seventy", "work_thirty", "spin_for"} <= \
        {r[0] for r in php_rows}, rows
    assert not [r for r in rows if r[1] == "libphp8.2.so"], "engine frames not folded"
    for _, _, (red, green, blue) in php_rows:
        assert green > red and green > blue, (red, green, blue)
