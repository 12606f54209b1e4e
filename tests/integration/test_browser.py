"""The HTML profile report in a real browser (headless Chromium over CDP).

The report is loaded from a real httpd with ReqProfile On; the tests fail on
any console error, uncaught exception or failed resource load. One checks the
call tree in the rendered DOM and the Expand/Collapse all buttons (real mouse
clicks) and saves build/out/report-screenshot.png; one switches every view
of the report (call tree, search, "show all frames", flame graph, timeline,
modules, the phase filter), checks what each shows and saves a screenshot of
each under build/out/report-*.png; one loads the report with script
disabled and finds the full server-rendered tree.

Negative controls load deliberately broken pages from the same httpd and
assert that the error detection reports each of them, so the report test
cannot pass just because nothing is being detected.

Chromium missing is a failure, not a skip: CI installs it (apt-get install
chromium); $CHROMIUM may name another binary.
"""
import json
import os
import struct
import urllib.parse
import zlib

import pytest

from browser_util import Chromium, find_chromium
from httpd_harness import OUT, Httpd

SCREENSHOT = os.path.join(OUT, "report-screenshot.png")
REPORT_PATH = "/work/cpu?ms=150&profile=1"
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def favicon_only(url, text):
    """The one tolerated problem: the browser's own /favicon.ico request.

    The report has no icon, so a browser that asks for /favicon.ico on its
    own gets a 404 (or, depending on the version, a refusal by the report's
    CSP, default-src 'none'). Neither is a bug in the report. Only a 404,
    failed load or CSP refusal for exactly /favicon.ico is ignored;
    exceptions, console errors and every other URL still fail the test.
    (Headless Chromium 156 does not request the icon at all; this is for
    other versions.)
    """
    if urllib.parse.urlsplit(url).path != "/favicon.ico":
        return None
    if (text.startswith(("HTTP 404 ", "load failed: ")) or
            "404" in text or "Content Security Policy" in text):
        return "browser's automatic favicon request"
    return None


def load(page, url):
    """Navigates; returns (problems, ignored, index of the first event)."""
    mark = page.navigate(url)
    found, ignored = page.problems(since=mark, ignore=favicon_only)
    return found, ignored, mark


def document_response(page, since, url):
    for method, p in page.events[since:]:
        if (method == "Network.responseReceived" and p.get("type") == "Document"
                and p["response"]["url"] == url):
            return p["response"]
    raise AssertionError("no Network.responseReceived for the document %s" % url)


def check_png(path):
    """Asserts path is a decodable, non-blank PNG; returns (width, height)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat, width = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack("!I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, "bad CRC in PNG chunk %r" % kind
        if kind == b"IHDR":
            width, height = struct.unpack("!II", body[:8])
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert width is not None and idat, "PNG without IHDR or IDAT"
    assert width >= 400 and height >= 300, "screenshot is only %dx%d" % (width, height)
    pixels = zlib.decompress(b"".join(idat))
    # A blank (single-colour) page has a handful of distinct byte values;
    # the report's text, bars and colours give many.
    assert len(set(pixels)) >= 32, "screenshot looks blank"
    assert len(data) > 10000, "screenshot is suspiciously small (%d bytes)" % len(data)
    return width, height


# ---- fixtures -------------------------------------------------------------

# /work/brackets folds by patterns whose brackets a shell glob would read as
# character classes: the module reads them as themselves (rp_collapse), so
# "[kernel]*" folds the kernel's frames and "mod_rp[w]ork.so" folds nothing.
SERVER_CONF = """ReqProfile On
<Location /work/brackets>
  ReqProfileCollapse [kernel]* libc.so* mod_rp[w]ork.so
</Location>
"""

@pytest.fixture(scope="module")
def server():
    # httpd's default: children not dumpable; waits still show wait_in_poll.
    with Httpd("event", extra=SERVER_CONF) as h:
        yield h
        crashes = h.crash_lines()
    assert not crashes, "httpd children crashed:\n" + "\n".join(crashes)


@pytest.fixture
def browser():
    if find_chromium() is None:
        pytest.fail("Chromium is not installed; install it with "
                    "`apt-get install chromium` (this test must not be skipped)")
    with Chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    p = browser.page()
    p.enable_error_collection()
    p.send("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    return p


# ---- the report -----------------------------------------------------------

OPEN_STATES = "Array.from(document.querySelectorAll('.rp-tree details')).map(d => d.open)"


def row_visible(func):
    """JS: is the row of the first node for func shown? (checkVisibility:
    rows in a closed <details> still get a layout box in current Chromium,
    whose closed-details content is content-visibility:hidden.)"""
    return ("(function(){var r=document.querySelector("
            "'li.rp-node[data-func=\"%s\"] .rp-row');"
            "if(!r)return null;var b=r.getBoundingClientRect();"
            "return r.checkVisibility()&&b.width>0&&b.height>0;})()" % func)


def test_report_in_browser(server, page):
    url = server.url + REPORT_PATH
    found, ignored, mark = load(page, url)
    assert found == [], "errors while loading the report:\n" + "\n".join(found)

    # The page really is the report, served with its CSP (so the checks
    # below also show the inline style and script work under it).
    res = document_response(page, mark, url)
    headers = {k.lower(): v for k, v in res["headers"].items()}
    assert res["status"] == 200
    assert headers.get("content-type", "").startswith("text/html")
    assert headers.get("content-security-policy") == REPORT_CSP
    assert page.evaluate("document.title") == "Profile: GET " + REPORT_PATH
    assert page.evaluate("document.querySelector('h1').textContent") == \
        "mod_reqprof: request profile"
    uri = page.evaluate("document.querySelector('tr[data-key=uri] td').textContent")
    assert uri == REPORT_PATH
    # The stylesheet applied (CSP allows inline styles): a bar has its colour.
    bar_colour = page.evaluate(
        "getComputedStyle(document.querySelector('.rp-bar>span')).backgroundColor")
    assert bar_colour == "rgb(232, 112, 42)", bar_colour

    # (2) the call tree holds both workload functions.
    for func in ("work_alpha", "work_beta"):
        n = page.evaluate("document.querySelectorAll("
                          "'.rp-tree li.rp-node[data-func=\"%s\"]').length" % func)
        assert n >= 1, "no li.rp-node for %s in the rendered tree" % func

    initial = page.evaluate(OPEN_STATES)
    assert initial, "the tree has no <details> elements"
    assert any(initial), "the heaviest path should start open"

    # (3) screenshot of the report as first shown.
    page.screenshot(SCREENSHOT)
    width, height = check_png(SCREENSHOT)
    print("screenshot %s: %dx%d" % (SCREENSHOT, width, height))

    # Collapse all, then Expand all, with real mouse clicks.
    page.click('button[data-rp-open="0"]')
    assert page.evaluate(OPEN_STATES) == [False] * len(initial), "Collapse all left nodes open"
    nested = page.evaluate("!!document.querySelector("
                           "'li.rp-node[data-func=\"work_alpha\"]').closest('details:not([open]) ul')")
    if nested:
        assert page.evaluate(row_visible("work_alpha")) is False, \
            "work_alpha still shown inside a collapsed node"

    page.click('button[data-rp-open="1"]')
    # The script builds closed subtrees when they are first opened, so
    # Expand all may add nodes: all of them must be open.
    expanded = page.evaluate(OPEN_STATES)
    assert len(expanded) >= len(initial) and all(expanded), "Expand all left nodes closed"
    for func in ("work_alpha", "work_beta"):
        assert page.evaluate(row_visible(func)) is True, "%s not shown after Expand all" % func

    # Collapse again: the buttons keep working, not just once.
    page.click('button[data-rp-open="0"]')
    assert not any(page.evaluate(OPEN_STATES))

    # (1) nothing went wrong during the interaction either.
    page.drain()
    found, ignored = page.problems(since=mark, ignore=favicon_only)
    assert found == [], "errors in the report page:\n" + "\n".join(found)
    if ignored:
        print("ignored:", *ignored, sep="\n  ")


# ---- the views: switched, searched, filtered -------------------------------

VIEWS_PATH = "/work/mixed?cpu=150&wait=100&access_ms=30&profile=1"


def shot(page, name):
    path = os.path.join(OUT, "report-%s.png" % name)
    page.evaluate("window.scrollTo(0,0)")
    page.screenshot(path)
    check_png(path)
    return path


def js_count(page, selector):
    return page.evaluate("document.querySelectorAll(%s).length" % json.dumps(selector))


def node_sel(func=None, obj=None):
    sel = ".rp-tree li.rp-node"
    if func:
        sel += '[data-func="%s"]' % func
    if obj:
        sel += '[data-obj="%s"]' % obj
    return sel


def visible(page, selector):
    return page.evaluate(
        "(function(){var e=document.querySelector(%s);if(!e)return false;"
        "var b=e.getBoundingClientRect();return e.checkVisibility()&&b.width>0&&b.height>0;})()"
        % json.dumps(selector))


def switch(page, view):
    page.click('button[data-rp-tab="%s"]' % view)
    page.wait_for("!document.getElementById('rp-view-%s').hidden" % view)
    others = page.evaluate(
        "Array.from(document.querySelectorAll('section.rp-view')).filter("
        "function(s){return !s.hidden;}).map(function(s){return s.id;})")
    assert others == ["rp-view-" + view], others
    assert page.evaluate("document.querySelector('button[data-rp-tab=\"%s\"]')"
                         ".getAttribute('aria-selected')" % view) == "true"


def tip_text(page):
    page.wait_for("!document.getElementById('rp-tip').hidden")
    return page.evaluate("document.getElementById('rp-tip').innerText")


def set_phase(page, phase):
    """Chooses a phase in the filter by clicking its row of the phases table
    (and "all phases" by clicking the chosen row again)."""
    page.click('tr[data-phase="%s"]' % phase)


def save_page(page, name):
    """Writes the page as it is now to build/out/NAME.html (for a failed
    test: what the views showed)."""
    try:
        html = page.evaluate("document.documentElement.outerHTML")
        with open(os.path.join(OUT, name + ".html"), "w") as f:
            f.write(html)
    except Exception:  # noqa: BLE001 - best effort, the failure is reported anyway
        pass


def phase_weights(data):
    """Intervals sampled per phase name, from the page's embedded data."""
    weights = {}
    codes = data["samples"][2::3]
    for code in codes:
        name = data["phases"][(code // 2) % 16]
        weights[name] = weights.get(name, 0) + code // 32
    return weights


def test_report_views(server, page):
    try:
        check_views(server, page)
    except BaseException:
        save_page(page, "report-failed")
        raise


def check_views(server, page):
    url = server.url + VIEWS_PATH
    found, ignored, mark = load(page, url)
    assert found == [], "errors while loading the report:\n" + "\n".join(found)
    headers = {k.lower(): v for k, v in document_response(page, mark, url)["headers"].items()}
    assert headers.get("content-security-policy") == REPORT_CSP
    loaded = len(page.events)
    page.evaluate("window.rpSameDocument = true")

    # The data block is JSON the script could read, and the views came up.
    data = page.evaluate("JSON.parse(document.getElementById('rp-data').textContent)")
    assert data["v"] == 1 and len(data["samples"]) % 3 == 0 and data["samples"]
    sampled = phase_weights(data)
    # The workload burns 30 ms in access_checker and the rest in the handler.
    assert sampled.get("access_checker", 0) >= 5 and sampled.get("handler", 0) >= 100, sampled
    assert any(m == ["mod_rpwork.so", "rpwork_module"] for m in data["modules"]), data["modules"]
    assert "libc.so*" in data["collapse"]
    assert visible(page, "#rp-app"), "the views' controls are not shown"
    assert page.evaluate("document.documentElement.classList.contains('rp-js')")

    # ---- call tree, frames of folded objects folded into their callers
    assert visible(page, node_sel("work_alpha")), "work_alpha not shown in the call tree"
    for obj in ("libc.so.6", "apache2", "mod_mpm_event.so"):
        assert js_count(page, node_sel(obj=obj)) == 0, "%s frames not folded by default" % obj
    top = page.evaluate("Array.from(document.querySelectorAll('.rp-tree>ul>li.rp-node'))"
                        ".map(function(l){return l.dataset.func;})")
    assert "rpwork_handler" in top and "slow_access_check" in top, top
    # Waiting folds too: poll() in libc counts as wait_in_poll's own time
    # (or its system call's, where the stack ends in one).
    poll = page.evaluate("(function(){var l=document.querySelector(%s);return l&&"
                         "[+l.dataset.totalWeight,+l.dataset.waitWeight,"
                         "Array.from(l.querySelectorAll('li.rp-node')).map("
                         "function(c){return c.dataset.obj;})];})()"
                         % json.dumps(node_sel("wait_in_poll")))
    assert poll and poll[1] >= 0.8 * poll[0], poll
    assert set(poll[2]) <= {"[kernel]"}, poll
    folded_note = page.evaluate("document.getElementById('rp-collapse-note').textContent")
    assert "libc.so.6" in folded_note, folded_note
    shot(page, "tree")

    # ---- search: highlights work_beta and opens its callers
    page.click("#rp-search")
    page.type_text("work_beta")
    page.wait_for("document.querySelectorAll('.rp-tree li.rp-match').length > 0")
    matched = page.evaluate("Array.from(document.querySelectorAll('.rp-tree li.rp-match'))"
                            ".map(function(l){return l.dataset.func;})")
    assert matched and set(matched) == {"work_beta"}, matched
    assert visible(page, node_sel("work_beta") + ".rp-match .rp-fn")
    bg = page.evaluate("getComputedStyle(document.querySelector("
                       "'.rp-tree li.rp-match .rp-fn')).backgroundColor")
    assert bg not in ("rgba(0, 0, 0, 0)", "transparent"), bg
    assert "frame" in page.evaluate("document.getElementById('rp-search-count').textContent")
    shot(page, "search")
    # The flame graph and the timeline mark the match too.
    switch(page, "flame")
    assert js_count(page, '#rp-flame .rp-fl-match[data-func="work_beta"]') >= 1
    assert js_count(page, '#rp-flame .rp-fl-match:not([data-func="work_beta"])') == 0
    switch(page, "tree")
    page.click("#rp-search")
    page.press_key("Escape", key_code=27)
    page.wait_for("document.querySelectorAll('.rp-match').length === 0")

    # ---- show all frames: the folded frames come back
    page.click("#rp-show-all")
    page.wait_for("document.querySelectorAll(%s).length > 0" % json.dumps(node_sel(obj="libc.so.6")))
    assert js_count(page, node_sel(obj="apache2")) > 0
    top_all = page.evaluate("Array.from(document.querySelectorAll('.rp-tree>ul>li.rp-node'))"
                            ".map(function(l){return l.dataset.obj;})")
    assert "libc.so.6" in top_all, top_all
    shot(page, "tree-all-frames")
    switch(page, "flame")
    assert js_count(page, '#rp-flame .rp-fl[data-obj="libc.so.6"]') > 0
    shot(page, "flame-all-frames")
    page.click("#rp-show-all")
    page.wait_for("document.querySelectorAll('#rp-flame .rp-fl[data-obj=\"libc.so.6\"]').length === 0")
    switch(page, "tree")
    assert js_count(page, node_sel(obj="libc.so.6")) == 0

    # ---- flame graph: boxes, tooltip, zoom, reset
    switch(page, "flame")
    width = page.evaluate("document.getElementById('rp-flame').clientWidth")
    # work_alpha runs in the access checker and under burn_cpu_split: its
    # boxes together are a good part of the request.
    alpha = page.evaluate("Array.from(document.querySelectorAll("
                          "'#rp-flame .rp-fl[data-func=\"work_alpha\"]')).map(function(b){"
                          "return b.getBoundingClientRect().width;})")
    assert alpha and sum(alpha) > 0.15 * width, (alpha, width)
    assert js_count(page, '#rp-flame .rp-fl[data-func="wait_in_poll"]') == 1
    page.hover('#rp-flame .rp-fl[data-func="work_alpha"]')
    tip = tip_text(page)
    for needle in ("work_alpha", "mod_rpwork.so", "rpwork_module", " ms", "%", "on CPU",
                   "waiting"):
        assert needle in tip, "flame tooltip lacks %r:\n%s" % (needle, tip)
    page.hover('#rp-flame .rp-fl[data-func="wait_in_poll"]')
    tip = tip_text(page)
    assert "wait_in_poll" in tip and "waiting" in tip, tip
    shot(page, "flame")
    page.click('#rp-flame .rp-fl[data-func="burn_cpu_split"]')
    page.wait_for("document.querySelectorAll('#rp-flame .rp-fl[data-func=\"wait_in_poll\"]')"
                  ".length === 0")
    zoomed = page.evaluate("document.querySelector('#rp-flame .rp-fl[data-func=\"burn_cpu_split\"]')"
                           ".getBoundingClientRect().width")
    assert zoomed > 0.95 * width, (zoomed, width)
    shot(page, "flame-zoomed")
    page.click("#rp-flame-reset")
    page.wait_for("document.querySelectorAll('#rp-flame .rp-fl[data-func=\"wait_in_poll\"]')"
                  ".length === 1")

    # ---- timeline: on-CPU and waiting buckets, in that order; phases
    switch(page, "timeline")
    buckets = page.evaluate(
        "Array.from(document.querySelectorAll('#rp-timeline .rp-tl-b')).map(function(b){"
        "return [+b.dataset.t0Ms,+b.dataset.cpu,+b.dataset.wait];})")
    cpu = [b for b in buckets if b[1] > 0]
    wait = [b for b in buckets if b[2] > 0]
    assert cpu and wait, "timeline lacks on-CPU or waiting buckets"
    assert js_count(page, "#rp-timeline .rp-tl-has-wait .rp-tl-wait") > 0
    assert js_count(page, "#rp-timeline .rp-tl-has-cpu .rp-tl-cpu") > 0
    # /work/mixed burns CPU, then waits in poll().
    mean = lambda bs: sum(b[0] for b in bs) / len(bs)  # noqa: E731
    assert mean(wait) > mean(cpu), (mean(wait), mean(cpu))
    phases = page.evaluate("Array.from(document.querySelectorAll('#rp-timeline .rp-tl-ph'))"
                           ".map(function(p){return p.dataset.phase;})")
    assert "access_checker" in phases and "handler" in phases, (phases, sampled)
    assert phases.index("access_checker") < phases.index("handler"), phases
    stack = page.evaluate("Array.from(document.querySelectorAll('#rp-timeline .rp-tl-fr'))"
                          ".map(function(p){return p.dataset.func;})")
    assert "wait_in_poll" in stack and "slow_access_check" in stack, stack
    page.hover("#rp-timeline .rp-tl-b.rp-tl-has-wait:not(.rp-tl-has-cpu)")
    tip = tip_text(page)
    for needle in (" ms", "handler", "waiting", "wait_in_poll"):
        assert needle in tip, "timeline tooltip lacks %r:\n%s" % (needle, tip)
    shot(page, "timeline")

    # ---- modules: time per shared object, with the httpd module's name
    switch(page, "modules")
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('#rp-modules tbody tr')).map(function(r){"
        "return [r.dataset.obj,r.dataset.module,+r.dataset.inclWeight,+r.dataset.selfWeight,"
        "r.innerText];})")
    byobj = {r[0]: r for r in rows}
    assert "mod_rpwork.so" in byobj, [r[0] for r in rows]
    assert byobj["mod_rpwork.so"][1] == "rpwork_module"
    assert "rpwork_module" in byobj["mod_rpwork.so"][4]
    assert byobj["mod_rpwork.so"][3] > 0
    incl = [r[2] for r in rows]
    assert incl == sorted(incl, reverse=True), "not sorted by inclusive time"
    # libc holds the thread's outermost frames: (nearly) every sample.
    assert byobj["libc.so.6"][2] >= 0.9 * max(incl), byobj["libc.so.6"]
    assert page.evaluate("document.querySelector('#rp-modules tr[data-obj=\"libc.so.6\"]')"
                         ".classList.contains('rp-lib')"), "libc not marked as folded"
    # both parts of the time: the table has on-CPU and waiting columns
    assert js_count(page, "#rp-modules tbody td.rp-mod-wait") == 2 * len(rows)
    page.click('#rp-modules button[data-sort="self"]')
    page.wait_for("document.querySelector('#rp-modules button.rp-sorted').dataset.sort === 'self'")
    selfs = page.evaluate("Array.from(document.querySelectorAll('#rp-modules tbody tr'))"
                          ".map(function(r){return +r.dataset.selfWeight;})")
    assert selfs == sorted(selfs, reverse=True)
    shot(page, "modules")

    # ---- phase filter: access_checker only, in every view
    set_phase(page, "access_checker")
    page.wait_for("document.getElementById('rp-phase-filter').selectedOptions[0].text"
                  ".indexOf('access_checker') === 0")
    modules = page.evaluate("Array.from(document.querySelectorAll('#rp-modules tbody tr'))"
                            ".map(function(r){return [r.dataset.obj, +r.dataset.inclWeight];})")
    assert dict(modules)["mod_rpwork.so"] > 0
    switch(page, "tree")
    assert js_count(page, node_sel("slow_access_check")) == 1
    assert js_count(page, node_sel("wait_in_poll")) == 0
    assert js_count(page, node_sel("rpwork_handler")) == 0
    switch(page, "flame")
    assert js_count(page, '#rp-flame .rp-fl[data-func="slow_access_check"]') == 1
    assert js_count(page, '#rp-flame .rp-fl[data-func="work_beta"]') == 0
    switch(page, "timeline")
    buckets = page.evaluate(
        "Array.from(document.querySelectorAll('#rp-timeline .rp-tl-b')).map(function(b){"
        "return [+b.dataset.cpu,+b.dataset.wait];})")
    assert sum(b[0] for b in buckets) > 0 and sum(b[1] for b in buckets) == 0, \
        "waiting samples (all in the handler) shown under access_checker"
    assert js_count(page, "#rp-timeline .rp-tl-out") > 0, "other phases not shown as filtered out"
    shot(page, "timeline-access-checker")
    set_phase(page, "access_checker")
    page.wait_for("document.getElementById('rp-phase-filter').value === ''")
    assert js_count(page, "#rp-timeline .rp-tl-out") == 0

    # ---- time range: dragging across the timeline keeps that span in
    # every view. /work/mixed burns CPU first, then waits: the span before
    # the first waiting bucket has the CPU work and none of the wait.
    switch(page, "timeline")
    t0s = page.evaluate("Array.from(document.querySelectorAll('#rp-timeline .rp-tl-b'))"
                        ".map(function(b){return +b.dataset.t0Ms;})")
    end_ms = t0s[-1] + (t0s[1] - t0s[0])
    first_wait_ms = min(b[0] for b in wait if b[1] == 0)  # waiting only
    assert page.evaluate("document.getElementById('rp-range').hidden") is True
    page.drag("#rp-timeline .rp-tl-samples .rp-tl-body", 0.0, 0.9 * first_wait_ms / end_ms)
    page.wait_for("!document.getElementById('rp-range').hidden")
    assert " ms" in page.evaluate("document.getElementById('rp-range-text').textContent")
    assert js_count(page, "#rp-timeline .rp-tl-sel") == 1
    assert js_count(page, "#rp-timeline .rp-tl-out") > 0, "the rest not shown as filtered out"
    shot(page, "timeline-range")
    switch(page, "tree")
    assert js_count(page, node_sel("wait_in_poll")) == 0
    assert js_count(page, node_sel("work_alpha")) >= 1
    switch(page, "modules")
    assert js_count(page, '#rp-modules tr[data-obj="mod_rpwork.so"]') == 1
    page.press_key("Escape", key_code=27)
    page.wait_for("document.getElementById('rp-range').hidden")
    switch(page, "tree")
    assert js_count(page, node_sel("wait_in_poll")) == 1
    # A span of the waiting part only, then back with the button.
    switch(page, "timeline")
    page.drag("#rp-timeline .rp-tl-samples .rp-tl-body", 0.99,
              min(1.0, 1.05 * first_wait_ms / end_ms) if first_wait_ms / end_ms < 0.9 else 0.95)
    page.wait_for("!document.getElementById('rp-range').hidden")
    switch(page, "tree")
    assert js_count(page, node_sel("wait_in_poll")) == 1
    assert js_count(page, node_sel("work_alpha")) == 0
    page.click("#rp-range-clear")
    page.wait_for("document.getElementById('rp-range').hidden")
    assert js_count(page, node_sel("work_alpha")) >= 1

    # The views switch without a reload: one document all along.
    navigations = [e for e in page.events[loaded:] if e[0] == "Page.frameNavigated"]
    assert navigations == [], "a view switch reloaded the page"
    assert page.evaluate("window.rpSameDocument") is True
    page.drain()
    found, ignored = page.problems(since=mark, ignore=favicon_only)
    assert found == [], "errors in the report page:\n" + "\n".join(found)


BRACKETS_PATH = "/work/brackets/mixed?cpu=150&wait=100&profile=1"


def test_script_folds_what_the_module_decided(server, page):
    """The script folds exactly the objects the module lists in the data
    ("folded", decided by rp_collapse), whatever the patterns look like: in
    the call tree, the folding note and the modules table."""
    found, _, _ = load(page, server.url + BRACKETS_PATH)
    assert found == [], "errors while loading the report:\n" + "\n".join(found)
    data = page.evaluate("JSON.parse(document.getElementById('rp-data').textContent)")
    assert data["collapse"] == ["[kernel]*", "libc.so*", "mod_rp[w]ork.so"]
    objects = data["objects"]
    folded = [objects[i] for i in data["folded"]]
    # The module's decision: brackets are themselves.
    assert "[kernel]" in objects and "[kernel]" in folded, (objects, folded)
    assert "libc.so.6" in folded and "mod_rpwork.so" not in folded, folded
    assert set(folded) == {o for o in objects if o == "[kernel]" or o.startswith("libc.so")}
    # Every node of the tree (all built: Expand all) is of an object the
    # module did not fold; every such object of the profile is there.
    page.click('button[data-rp-open="1"]')
    tree_objs = page.evaluate(
        "Array.from(document.querySelectorAll('.rp-tree li.rp-node')).filter(function(l){"
        "return l.dataset.func !== '[folded frames only]';}).map(function(l){"
        "return l.dataset.obj;})")
    present = {objects[data["frames"][f][1]] for f in data["nodes"][3::2]}
    assert set(tree_objs) == present - set(folded), (sorted(set(tree_objs)), folded)
    assert js_count(page, node_sel("work_alpha")) >= 1
    poll = page.evaluate("(function(){var l=document.querySelector(%s);return l&&"
                         "[+l.dataset.totalWeight,+l.dataset.waitWeight,"
                         "l.querySelectorAll('li.rp-node').length];})()"
                         % json.dumps(node_sel("wait_in_poll")))
    assert poll and poll[1] >= 0.8 * poll[0] and poll[2] == 0, poll
    note = page.evaluate("document.getElementById('rp-collapse-note').textContent")
    assert note == "folded into callers: " + ", ".join(folded), note
    switch(page, "modules")
    tagged = page.evaluate("Array.from(document.querySelectorAll('#rp-modules tr.rp-lib'))"
                           ".map(function(r){return r.dataset.obj;})")
    assert sorted(tagged) == sorted(folded), (tagged, folded)
    # "Show all frames" brings the kernel's frames back (deep in the tree:
    # Expand all builds it).
    switch(page, "tree")
    page.click("#rp-show-all")
    page.wait_for("document.querySelectorAll(%s).length > 0"
                  % json.dumps(node_sel(obj="libc.so.6")))
    page.click('button[data-rp-open="1"]')
    page.wait_for("document.querySelectorAll(%s).length > 0"
                  % json.dumps(node_sel(obj="[kernel]")))


def test_report_without_script(server, page):
    """With script off the page is the full server-rendered call tree:
    nothing folded, the views' controls hidden."""
    page.send("Emulation.setScriptExecutionDisabled", {"value": True})
    found, _, _ = load(page, server.url + VIEWS_PATH)
    assert found == [], "\n".join(found)
    assert page.evaluate("document.getElementById('rp-app').hidden") is True
    assert js_count(page, node_sel(obj="libc.so.6")) > 0
    assert js_count(page, node_sel("work_alpha")) >= 1
    assert visible(page, ".rp-tree>ul>li.rp-node.rp-hot")
    assert js_count(page, "#rp-flame .rp-fl, #rp-timeline .rp-tl-b") == 0
    shot(page, "no-script")


# ---- negative controls: the detection itself ------------------------------

BROKEN_PAGES = {
    "uncaught-exception": (
        "<script>window.rpNoSuchFunction();</script>",
        "rpNoSuchFunction"),
    "console-error": (
        "<script>console.error('rp-deliberate-console-error');</script>",
        "rp-deliberate-console-error"),
    "missing-resource": (
        '<img src="/rp-missing-image.png" alt="">',
        "rp-missing-image.png"),
    # Same CSP as the report: a resource it refuses must be reported.
    "csp-refusal": (
        "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">"
        "<img src=\"/rp-blocked-image.png\" alt=\"\">" % REPORT_CSP,
        "rp-blocked-image.png"),
}


def write_page(server, name, body):
    path = os.path.join(server.docroot, name + ".html")
    with open(path, "w") as f:
        f.write("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                "<title>%s</title>%s</head><body><p>%s</p></body></html>\n"
                % (name, body, name))
    return server.url + "/" + name + ".html"


@pytest.mark.parametrize("name", sorted(BROKEN_PAGES))
def test_detection_reports_broken_page(server, page, name):
    body, needle = BROKEN_PAGES[name]
    found, ignored, _ = load(page, write_page(server, name, body))
    assert found, "the deliberate error in %s was not detected" % name
    assert any(needle in f for f in found), \
        "detected problems do not mention %r:\n%s" % (needle, "\n".join(found))


def test_detection_clean_page_and_favicon(server, page):
    """A clean page reports nothing; a missing favicon is tolerated, but a
    missing resource that merely contains 'favicon' in its name is not."""
    found, ignored, _ = load(page, write_page(
        server, "clean", '<link rel="icon" href="/favicon.ico">'
                         '<script>console.log("fine")</script>'))
    assert found == [], "\n".join(found)
    found, _, _ = load(page, write_page(
        server, "not-favicon", '<img src="/img/favicon.ico.png" alt="">'))
    assert any("favicon.ico.png" in f for f in found), found
