"""mod_reqprof end to end: a real httpd per MPM, the workload module with
known call paths, and the report as a user sees it."""
import os
import time

import pytest

from http_util import raw_request, request
from report_parser import ProfileData, Report


def profile(httpd, path, **kw):
    status, headers, body = request(httpd, path, **kw)
    assert status == 200, body[:500]
    assert headers["content-type"] == "text/html; charset=utf-8"
    return Report(body.decode("utf-8")), headers


def is_report(body):
    return b"mod_reqprof: request profile" in body


def test_cpu_split_names_static_functions_with_true_shares(httpd):
    report, _ = profile(httpd, "/work/cpu?ms=600&profile=1")
    alpha = report.weight_of("work_alpha")
    beta = report.weight_of("work_beta")
    assert alpha > 0 and beta > 0, [n.func for n in report.nodes]
    share = alpha / (alpha + beta)
    assert abs(share - 0.75) < 0.06, share
    # The static functions sit under the handler that called them, and
    # their object is the workload module.
    node = report.find("work_alpha")[0]
    assert node.obj == "mod_rpwork.so"
    assert "burn_cpu_split" in node.path() and "rpwork_handler" in node.path()
    # Together they are nearly all of the request's time.
    assert (alpha + beta) / report.total > 0.85


def test_wall_clock_counts_waiting(httpd):
    started = time.monotonic()
    report, _ = profile(httpd, "/work/wait?ms=300&profile=1")
    elapsed_ms = (time.monotonic() - started) * 1000
    waiting = report.weight_of("wait_in_poll")
    assert waiting / report.total > 0.9
    # One sample per millisecond of the ~300 ms wait (interval 1ms).
    assert 0.85 * 300 <= report.total <= elapsed_ms * 1.05, (report.total, elapsed_ms)
    assert "wall" in report.summary["clock"]
    assert report.summary["interval"] == "1000 us"


def test_cpu_clock_ignores_waiting(httpd):
    report, _ = profile(httpd, "/work/cpuclock/mixed?cpu=200&wait=300&profile=1")
    assert "cpu" in report.summary["clock"]
    cpu = report.weight_of("burn_cpu_split")
    waiting = report.weight_of("wait_in_poll")
    assert cpu >= 150, cpu
    assert waiting <= 0.05 * report.total, (waiting, report.total)
    assert report.total < 300


def test_shorter_interval_takes_more_samples(httpd):
    report, _ = profile(httpd, "/work/fast/wait?ms=200&profile=1")
    assert report.summary["interval"] == "250 us"
    assert report.total >= 0.8 * 800, report.total


def test_summary_describes_the_request(httpd):
    report, _ = profile(httpd, "/work/cpu?ms=20&profile=1")
    s = report.summary
    assert s["method"] == "GET"
    assert s["uri"] == "/work/cpu?ms=20&profile=1"
    assert s["status"] == "200"
    assert s["mpm"] == httpd.mpm
    assert s["process"].startswith("pid ")
    assert float(s["wall"].split()[0]) >= 20
    assert float(s["cpu"].split()[0]) >= 15


@pytest.mark.parametrize("query", ["profile=1", "profile=html", "profile=HTML",
                                   "a=b&profile=1", "%70rofile=1"])
def test_trigger_values_that_profile(httpd, query):
    status, _, body = request(httpd, "/work/cpu?ms=5&" + query)
    assert status == 200 and is_report(body)


@pytest.mark.parametrize("query", ["", "profile=0", "profile=yes", "profile",
                                   "profile=", "profiles=1", "xprofile=1",
                                   "profile=0&profile=1"])
def test_other_queries_leave_the_request_alone(httpd, query):
    status, headers, body = request(httpd, "/work/cpu?ms=5&" + query)
    assert status == 200
    assert body == b"rpwork cpu done, poll interrupted 0 times\n"
    assert headers["content-type"] == "text/plain"


def test_reqprof_off_ignores_the_trigger(httpd):
    status, _, body = request(httpd, "/work/off/cpu?ms=5&profile=1")
    assert status == 200 and not is_report(body)


def test_require_false_ignores_the_trigger(httpd):
    status, _, body = request(httpd, "/work/deny/cpu?ms=5&profile=1")
    assert status == 200 and not is_report(body)


def test_require_expression_can_use_headers(httpd):
    _, _, body = request(httpd, "/work/allow/cpu?ms=5&profile=1")
    assert not is_report(body)
    _, _, body = request(httpd, "/work/allow/cpu?ms=5&profile=1",
                         headers={"X-Profile-Token": "letmein"})
    assert is_report(body)


def test_custom_parameter_name(httpd):
    _, _, body = request(httpd, "/work/param/cpu?ms=5&prof=1")
    assert is_report(body)
    _, _, body = request(httpd, "/work/param/cpu?ms=5&profile=1")
    assert not is_report(body)


def test_report_headers_replace_the_original(httpd):
    with open(os.path.join(httpd.docroot, "page.html"), "w") as f:
        f.write("<p>static page</p>\n" * 100)
    _, plain_headers, _ = request(httpd, "/page.html")
    assert "etag" in plain_headers and "last-modified" in plain_headers
    status, headers, body = request(httpd, "/page.html?profile=1")
    assert status == 200 and is_report(body)
    assert headers["cache-control"] == "no-store"
    assert headers["content-length"] == str(len(body))
    for gone in ("etag", "last-modified", "content-encoding", "content-range"):
        assert gone not in headers
    assert "script-src 'unsafe-inline'" in headers["content-security-policy"]


def test_conditional_and_range_headers_do_not_shrink_the_report(httpd):
    with open(os.path.join(httpd.docroot, "cond.html"), "w") as f:
        f.write("<p>conditional</p>\n" * 100)
    _, headers, _ = request(httpd, "/cond.html")
    etag, modified = headers["etag"], headers["last-modified"]
    assert request(httpd, "/cond.html", headers={"If-None-Match": etag})[0] == 304
    for h in ({"If-None-Match": etag}, {"If-Modified-Since": modified},
              {"Range": "bytes=0-10"}, {"Range": "bytes=0-10", "If-Range": etag}):
        status, resp_headers, body = request(httpd, "/cond.html?profile=1", headers=h)
        assert status == 200, h
        assert is_report(body)
        assert Report(body.decode()).summary["status"] == "200"
        assert "content-range" not in resp_headers


def test_not_found_is_profiled_with_its_status(httpd):
    report, _ = profile(httpd, "/no-such-file.html?profile=1")
    assert report.summary["status"] == "404"


def test_handler_error_is_profiled_with_its_status(httpd):
    report, _ = profile(httpd, "/work/status?code=500&profile=1")
    assert report.summary["status"] == "500"


def test_error_document_is_part_of_the_same_profile(httpd):
    # ErrorDocument 410 redirects internally to /work/cpu?ms=60: its work
    # belongs to the profile of the request that failed.
    report, _ = profile(httpd, "/work/status?code=410&profile=1")
    assert report.summary["uri"] == "/work/status?code=410&profile=1"
    assert report.weight_of("work_alpha") > 0


def test_head_gets_headers_only(httpd):
    status, headers, body = request(httpd, "/work/cpu?ms=5&profile=1", method="HEAD")
    assert status == 200
    assert body == b""
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-store"


def test_large_original_body_is_discarded_not_sent(httpd):
    report, headers = profile(httpd, "/work/big?kb=20480&profile=1")
    assert report.summary["discarded"] == "%d bytes (discarded)" % (20480 * 1024)
    assert int(headers["content-length"]) < 2 * 1024 * 1024


def test_hostile_uri_is_escaped(httpd):
    raw = (b"GET /work/cpu?ms=5&profile=1&x=<script>alert(1)</script>\"'%3Cimg%3E HTTP/1.1\r\n"
           b"Host: localhost\r\nConnection: close\r\n\r\n")
    response = raw_request(httpd, raw)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"<script>alert" not in body
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;" in body
    assert b"&lt;img&gt;" not in body  # percent-encoded text stays encoded
    assert b"%3Cimg%3E" in body


def test_non_utf8_uri_bytes_are_replaced(httpd):
    raw = b"GET /work/cpu?ms=5&profile=1&x=\xff\xfe HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    body = raw_request(httpd, raw).partition(b"\r\n\r\n")[2]
    body.decode("utf-8")  # the report is valid UTF-8
    assert "x=\ufffd\ufffd" in body.decode("utf-8")


def test_keepalive_connection_serves_profiled_and_plain_requests(httpd):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=30)
    try:
        for i in range(6):
            query = "ms=5&profile=1" if i % 2 else "ms=5"
            conn.request("GET", "/work/cpu?" + query)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200
            assert is_report(body) == bool(i % 2)
    finally:
        conn.close()


def test_concurrent_profiles_hold_only_their_own_samples(httpd):
    from concurrent.futures import ThreadPoolExecutor
    paths = ["/work/cpu?ms=150&profile=1", "/work/wait?ms=150&profile=1"] * 3
    with ThreadPoolExecutor(len(paths)) as pool:
        results = list(pool.map(lambda p: request(httpd, p), paths))
    for path, (status, _, body) in zip(paths, results):
        report = Report(body.decode())
        assert status == 200
        if "/cpu" in path:
            assert report.weight_of("wait_in_poll") == 0
            assert report.weight_of("burn_cpu_split") > 0
        else:
            assert report.weight_of("burn_cpu_split") == 0
            assert report.weight_of("wait_in_poll") > 0


def test_embedded_data_matches_the_report(httpd):
    """The JSON the page's views are built from holds the same profile as
    the server-rendered tree and phases table, sample by sample."""
    report, _ = profile(httpd, "/work/mixed?cpu=60&wait=40&access_ms=10&profile=1")
    d = report.data
    assert d is not None and d["v"] == 1
    assert d["clock"] == "wall" and d["interval_us"] == 1000
    n = len(d["nodes"]) // 2
    pd = ProfileData(d)
    # A tree in depth-first order: the root, then parents before children.
    assert pd.parents[0] == -1 and pd.frames[0] == -1
    assert all(0 <= pd.parents[i] < i for i in range(1, n))
    assert all(0 <= f < len(d["frames"]) for f in pd.frames[1:])
    assert n == len(report.nodes) + 1
    # Samples: in time order, on tree nodes, summing to the tree's total.
    assert len(d["samples"]) % 3 == 0
    times = [x["t_us"] for x in pd.samples]
    assert times == sorted(times) and times[0] >= d["t0_us"] >= 0
    assert all(0 < x["node"] < n for x in pd.samples)
    assert sum(x["weight"] for x in pd.samples) == d["weight"] == report.total
    for func in ("work_alpha", "work_beta", "wait_in_poll", "slow_access_check"):
        assert pd.weight_of(func) == report.weight_of(func), func
    waiting = sum(x["weight"] for x in pd.samples if x["waiting"])
    assert waiting == sum(r.wait for r in report.roots)
    assert pd.weight_of("wait_in_poll") > 0
    # Per phase, as the phases table counts them; the access checker's work
    # is in its phase, the waiting in the handler's.
    for phase, (_, sampled) in report.phases.items():
        assert sum(x["weight"] for x in pd.samples if x["phase"] == phase) == sampled, phase
    assert pd.weight_of("slow_access_check", "access_checker") == pd.weight_of("slow_access_check")
    assert pd.weight_of("wait_in_poll", "handler") == pd.weight_of("wait_in_poll")
    spans = dict(zip(d["phases"], d["spans"]))
    assert spans["handler"][0] > spans["access_checker"][0] >= 0
    # What the views fold and how they name modules.
    assert "libc.so*" in d["collapse"] and "mod_mpm_*.so" in d["collapse"]
    assert ["mod_rpwork.so", "rpwork_module"] in d["modules"]
    assert ["mod_mpm_%s.so" % httpd.mpm, "mpm_%s_module" % httpd.mpm] in d["modules"]
    assert "mod_rpwork.so" in pd.objects and "libc.so.6" in pd.objects
