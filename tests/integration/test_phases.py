"""httpd's request phases: timed from hooks at their edges, samples tagged
with the phase they fell in, and (opt-in) a Server-Timing header on
responses that are not profiled."""
import re

import pytest

from http_util import request
from httpd_harness import Httpd
from report_parser import Report


def phase_rows(html):
    rows = {}
    for m in re.finditer(r'<tr data-phase="([a-z_]+)" data-total-us="(\d+)" '
                         r'data-sampled-weight="(\d+)"', html):
        rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return rows


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_phases_are_timed_and_samples_tagged(mpm):
    with Httpd(mpm, extra="ReqProfile On\n") as server:
        status, _, body = request(server, "/work/cpu?ms=150&access_ms=100&profile=1")
        html = body.decode()
        rows = phase_rows(html)
        for phase in ("post_read_request", "translate_name", "map_to_storage",
                      "access_checker", "fixups", "handler"):
            assert phase in rows, (phase, rows)
        # Sampling began at post_read_request: the access checker's work is
        # in the profile, under its phase, with its function.
        access_us, access_sampled = rows["access_checker"]
        assert access_us >= 90000, rows
        assert access_sampled >= 85, rows
        handler_us, handler_sampled = rows["handler"]
        assert handler_us >= 140000 and handler_sampled >= 135, rows
        report = Report(html)
        assert report.weight_of("slow_access_check") >= 85
        assert report.weight_of("burn_cpu_split") >= 135


def test_inner_context_decides_even_after_an_early_start():
    extra = """ReqProfile On
<Location /work/off>
  ReqProfile Off
</Location>
<Location /work/cpuclock>
  ReqProfileClock cpu
</Location>
"""
    with Httpd("event", extra=extra) as server:
        _, _, body = request(server, "/work/off/cpu?ms=20&access_ms=20&profile=1")
        assert b"request profile" not in body
        _, _, body = request(server, "/work/cpuclock/cpu?ms=30&profile=1")
        assert Report(body.decode()).summary["clock"].startswith("cpu")
        assert not server.crash_lines()


def test_denied_request_is_not_profiled_after_early_start():
    extra = """ReqProfile On
<Location /work/secret>
  Require all denied
</Location>
"""
    with Httpd("event", extra=extra) as server:
        status, headers, body = request(server, "/work/secret/cpu?ms=5&profile=1")
        assert status == 403
        assert b"request profile" not in body
        status, _, body = request(server, "/work/cpu?ms=5&profile=1")
        assert status == 200 and b"request profile" in body


def test_server_timing_header_is_opt_in():
    with Httpd("event", extra="ReqProfile On\n") as server:
        _, headers, _ = request(server, "/work/cpu?ms=5")
        assert "server-timing" not in headers
    with Httpd("event", extra="ReqProfileServerTiming On\n") as server:
        _, headers, body = request(server, "/work/cpu?ms=20&access_ms=10")
        assert body.startswith(b"rpwork cpu done")
        timing = dict(item.strip().split(";dur=")
                      for item in headers["server-timing"].split(","))
        for phase in ("post_read_request", "translate_name", "access_checker",
                      "fixups", "handler"):
            assert phase in timing, timing
        assert float(timing["access_checker"]) >= 9.0
        assert float(timing["handler"]) >= 19.0
        # Static files too.
        with open(server.docroot + "/a.txt", "w") as f:
            f.write("a\n")
        _, headers, _ = request(server, "/a.txt")
        assert "handler;dur=" in headers["server-timing"]


def test_server_timing_is_refused_outside_server_context():
    server = Httpd("event", extra="<Directory /tmp>\nReqProfileServerTiming On\n</Directory>\n")
    try:
        code, output = server.config_test()
        assert code != 0 and "ReqProfileServerTiming" in output
    finally:
        server.cleanup()


def test_limits_truncate_sampling_and_cap_concurrency():
    from concurrent.futures import ThreadPoolExecutor
    extra = """ReqProfile On
ReqProfileMaxConcurrent 2
<Location /work/capped>
  ReqProfileMaxSamples 50
</Location>
<Location /work/short>
  ReqProfileMaxDuration 100ms
</Location>
"""
    with Httpd("event", extra=extra) as server:
        status, _, body = request(server, "/work/capped/cpu?ms=300&profile=1")
        report = Report(body.decode())
        assert status == 200 and report.summary["samples"].startswith("50 ")
        assert "stopped at its limit" in report.summary["capped"]
        _, _, body = request(server, "/work/short/cpu?ms=300&profile=1")
        report = Report(body.decode())
        assert 90 <= report.total <= 110, report.total
        assert "capped" in report.summary
        _, _, body = request(server, "/work/cpu?ms=50&profile=1")
        assert "capped" not in Report(body.decode()).summary
        # Over the per-process cap, requests are served normally and say why.
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(
                lambda _: request(server, "/work/wait?ms=400&profile=1"), range(4)))
        profiled = [r for r in results if b"request profile" in r[2]]
        plain = [r for r in results if b"request profile" not in r[2]]
        assert len(profiled) == 2 and len(plain) == 2
        for status, headers, body in plain:
            assert status == 200 and body.startswith(b"rpwork wait done")
            assert headers["x-reqprofile"] == "not profiled: ReqProfileMaxConcurrent reached"
        # Slots are given back: profiling works again afterwards.
        _, _, body = request(server, "/work/cpu?ms=5&profile=1")
        assert b"request profile" in body
        assert not server.crash_lines()
