"""The per-route views in a real browser (headless Chromium over CDP): the
index with its groups table, a group's page, the route's merged flame
graph (the report) and its differential flame graph, served by a real
httpd writing to a real redis-server. Each page loads without a console
error, uncaught exception or failed load (the browser's own favicon
request aside), a group name with markup in it shows as text, and a
screenshot of each is saved under build/out/routes-*.png."""
import os
import time
import urllib.parse

import pytest

from browser_util import Chromium, find_chromium
from httpd_harness import OUT
from http_util import request
from test_browser import check_png, favicon_only
from test_fleet import redis_conf, redises, servers, start_httpd, start_redis, wait_until  # noqa: F401

HOSTILE = '<img src=x onerror=alert(1)>"&'
CONF = """ReqProfileLog On
<Location /work/io>
  ReqProfileGroup "%{HTTP:X-Group}"
</Location>
"""


@pytest.fixture
def page():
    if find_chromium() is None:
        pytest.fail("Chromium is not installed; install it with "
                    "`apt-get install chromium` (this test must not be skipped)")
    with Chromium() as browser:
        p = browser.page()
        p.enable_error_collection()
        p.send("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        yield p


def test_route_views_render_cleanly(redises, servers, page):
    redis = start_redis(redises)
    server = start_httpd(servers, "event", redis_conf("b.test", redis, more=CONF))
    for ms in (8, 12, 20):
        assert request(server, "/work/cpu?ms=%d" % ms)[0] == 200
        assert request(server, "/work/io/wait?ms=%d" % ms, headers={"X-Group": HOSTILE})[0] == 200
    assert wait_until(lambda: len(redis.index_ids()) == 6, timeout=10)
    base = "http://127.0.0.1:%d/profiles/" % server.port
    q = urllib.parse.quote(HOSTILE, safe="")
    views = [("index", base),
             ("group", base + "?group=%s&hours=1" % q),
             ("merged", base + "?merged=GET%20%2Fwork%2Fcpu&hours=1"),
             ("diff", base + "?diff=%s&hours=1&id=%s" % (q, redis.index_ids()[-1]))]
    for name, url in views:
        mark = page.navigate(url)
        time.sleep(0.3)
        found, _ = page.problems(since=mark, ignore=favicon_only)
        assert not found, (name, found)
        # Markup in a group name is text, never an element.
        assert page.evaluate("document.querySelectorAll('img').length") == 0, name
        text = page.evaluate("document.body.innerText")
        if name in ("index", "group"):
            assert HOSTILE in text, name
        shot = os.path.join(OUT, "routes-%s.png" % name)
        page.screenshot(shot)
        check_png(shot)
    # The merged report drew its call tree; the diff its frames.
    page.navigate(views[2][1])
    time.sleep(0.3)
    assert page.evaluate("document.body.innerText.includes('work_alpha')")
    page.navigate(views[3][1])
    time.sleep(0.3)
    assert page.evaluate("document.querySelectorAll('svg .rp-frame').length") > 3
