"""Big HTML reports in a real browser (headless Chromium over CDP).

The reports of `make bench` section 6 at 100 000 samples (bench/render_cost.c
builds and renders them with the module's core): realistic, distinct-leaf and
all-distinct. Each is loaded from a real httpd; the test fails on any console
error, uncaught exception or failed load, and checks that the page renders
(the script's views shown, the call tree drawn) and switches to the flame
graph, the timeline and back to the call tree. First paint, the script's
first view and each switch are measured and printed (and written to
build/out/browser-big.json); only what works is asserted, not how fast.
"""
import json
import os
import subprocess
import time

import pytest

from browser_util import Chromium, find_chromium
from httpd_harness import OUT, REPO, Httpd, make_variable
from test_browser import favicon_only

KINDS = ("realistic", "distinct-leaf", "all-distinct")
SAMPLES = 100000
TIMES = os.path.join(OUT, "browser-big.json")


def _flags(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture(scope="module")
def render_cost(tmp_path_factory):
    """bench/render_cost.c built against the core objects of `make all`."""
    core = sorted(os.path.join(OUT, f) for f in os.listdir(OUT)
                  if f.startswith("rp_") and f.endswith(".o"))
    assert any(f.endswith("rp_html.o") for f in core), "run `make all` first"
    prog = str(tmp_path_factory.mktemp("render_cost") / "render_cost")
    subprocess.run(
        ["cc", "-O2", "-Imod_reqprof"] +
        _flags(["apr-1-config", "--cppflags", "--includes"]) +
        _flags(["apu-1-config", "--includes"]) +
        ["-o", prog, os.path.join(REPO, "bench", "render_cost.c")] + core +
        _flags(["apr-1-config", "--link-ld", "--libs"]) +
        make_variable("CORE_LIBS"),
        cwd=REPO, check=True, capture_output=True)
    return prog


@pytest.fixture(scope="module")
def server():
    with Httpd("event", extra="ReqProfile On\n") as h:
        yield h


@pytest.fixture
def page():
    if find_chromium() is None:
        pytest.fail("Chromium is not installed; install it with "
                    "`apt-get install chromium` (this test must not be skipped)")
    with Chromium() as b:
        p = b.page()
        p.enable_error_collection()
        p.send("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        yield p


SWITCH_JS = """new Promise(function (done) {
  var t0 = performance.now();
  document.querySelector('button[data-rp-tab="%s"]').click();
  requestAnimationFrame(function () { setTimeout(function () {
    done(performance.now() - t0); }, 0); });
})"""


def switch(page, view):
    """Clicks a view's tab; returns ms from the click to the next frame."""
    ms = page.evaluate(SWITCH_JS % view)
    assert page.evaluate("!document.getElementById('rp-view-%s').hidden" % view)
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('section.rp-view')).filter("
        "function(s){return !s.hidden;}).map(function(s){return s.id;})")
    assert shown == ["rp-view-" + view], shown
    return ms


def record(kind, times):
    try:
        with open(TIMES) as f:
            all_times = json.load(f)
    except (OSError, ValueError):
        all_times = {}
    all_times[kind] = times
    with open(TIMES, "w") as f:
        json.dump(all_times, f, indent=1, sort_keys=True)


@pytest.mark.parametrize("kind", KINDS)
def test_big_report_renders_and_switches(render_cost, server, page, kind):
    path = os.path.join(server.docroot, "big-%s.html" % kind)
    res = subprocess.run([render_cost, kind, str(SAMPLES), "1", path],
                         capture_output=True, text=True, check=True, timeout=300)
    run = json.loads(res.stdout)["runs"][0]
    url = server.url + "/" + os.path.basename(path)

    started = time.monotonic()
    mark = page.navigate(url, timeout=120)
    page.wait_for("!document.getElementById('rp-app').hidden", timeout=120)
    shown_s = time.monotonic() - started
    paint = page.evaluate(
        "(function(){var e=performance.getEntriesByType('paint').filter("
        "function(p){return p.name==='first-contentful-paint';})[0];"
        "return e?e.startTime:null;})()")
    found, _ = page.problems(since=mark, ignore=favicon_only)
    assert found == [], "errors while loading the report:\n" + "\n".join(found)
    # The page is the report, drawn: its tree and the script's tree view.
    assert page.evaluate("document.querySelectorAll('.rp-tree li.rp-node').length") > 0
    assert page.evaluate("!document.getElementById('rp-view-tree').hidden")
    data = json.loads(page.evaluate("document.getElementById('rp-data').textContent"))
    assert data["weight"] == SAMPLES
    assert len(data["samples"]) == 3 * SAMPLES
    merged = page.evaluate("!!document.getElementById('rp-merged')")
    assert merged == (kind != "realistic"), "merge note shown: %s" % merged

    times = {"html_bytes": run["bytes"], "nodes": run["nodes"],
             "render_ms": run["render_ms"], "first_paint_ms": paint,
             "views_shown_ms": round(shown_s * 1000, 1)}
    for view in ("flame", "timeline", "tree"):
        times["switch_%s_ms" % view] = round(switch(page, view), 1)
    assert page.evaluate("document.getElementById('rp-flame').childElementCount") > 0
    assert page.evaluate("document.getElementById('rp-timeline').childElementCount") > 0
    found, _ = page.problems(since=mark, ignore=favicon_only)
    assert found == [], "errors while switching views:\n" + "\n".join(found)
    record(kind, times)
    print("%s, %d samples: %s" % (kind, SAMPLES, json.dumps(times, sort_keys=True)))
    os.remove(path)
