"""Directive values are checked when the configuration is read: a bad value
makes `apache2 -t` fail with a message naming the directive."""
import pytest

from http_util import request
from httpd_harness import Httpd
from report_parser import Report


def config_test(extra):
    server = Httpd("event", extra=extra)
    try:
        return server.config_test()
    finally:
        server.cleanup()


@pytest.mark.parametrize("line, message", [
    ("ReqProfile maybe", "ReqProfile"),
    ("ReqProfileInterval 10us", "between 50us and 1s"),
    ("ReqProfileInterval 2s", "between 50us and 1s"),
    ("ReqProfileInterval 100", "no valid unit"),
    ("ReqProfileInterval fast", "not a time"),
    ("ReqProfileInterval 1min", "no valid unit"),
    ("ReqProfileClock moon", "not a clock"),
    ("ReqProfileParam 'a b'", "not a usable parameter name"),
    ("ReqProfileParam a&b", "not a usable parameter name"),
    ("ReqProfileRequire \"%{REMOTE_ADDR\"", "cannot parse expression"),
    ("ReqProfileSignal 9", "not a realtime signal"),
    ("ReqProfileSignal SIGRTMIN+99", "not a realtime signal"),
    ("ReqProfileSignal SIGPROF", "not a realtime signal"),
    ("ReqProfileMaxSamples 0", "not a whole number from 1 to 40000"),
    ("ReqProfileMaxSamples many", "not a whole number"),
    ("ReqProfileMaxDuration 2h", "between 1ms and 3600s"),
    ("ReqProfileMaxDuration 2w", "no valid unit"),
    ("ReqProfileMaxDuration 7200s", "between 1ms and 3600s"),
    ("ReqProfileMaxConcurrent 0", "not a whole number from 1 to 1024"),
    ("<Directory /tmp>\nReqProfileMaxConcurrent 2\n</Directory>", "ReqProfileMaxConcurrent"),
    ("ReqProfileServerTiming maybe", "ReqProfileServerTiming"),
    ("<Directory /tmp>\nReqProfileSignal 40\n</Directory>", "ReqProfileSignal"),
    ("<VirtualHost 127.0.0.1:1>\nReqProfileSignal 40\n</VirtualHost>", "ReqProfileSignal"),
])
def test_bad_values_are_refused(line, message):
    code, output = config_test(line)
    assert code != 0, output
    assert message in output, output


@pytest.mark.parametrize("line", [
    "ReqProfile On", "ReqProfileInterval 50us", "ReqProfileInterval 1s",
    "ReqProfileInterval 0.5ms", "ReqProfileClock CPU", "ReqProfileMaxDuration 1h", "ReqProfileParam _prof.x-1",
    "ReqProfileRequire \"-R '192.168.0.0/16' || %{HTTP:X-Token} == 'abc'\"",
    "ReqProfileSignal 40", "ReqProfileSignal SIGRTMIN+6", "ReqProfileSignal RTMIN",
    "ReqProfileMaxSamples 1000", "ReqProfileMaxDuration 5s", "ReqProfileMaxConcurrent 16",
    "ReqProfileServerTiming On",
])
def test_good_values_are_accepted(line):
    code, output = config_test(line)
    assert code == 0, output
    assert "Syntax OK" in output


def test_inner_context_inherits_what_it_does_not_set():
    extra = r"""
ReqProfile On
ReqProfileInterval 500us
ReqProfileParam trace
<Location /work/inner>
  ReqProfileClock cpu
</Location>
<Location /work/inner/off>
  ReqProfile Off
</Location>
"""
    with Httpd("event", extra=extra) as server:
        status, _, body = request(server, "/work/inner/cpu?ms=20&trace=1")
        assert status == 200
        report = Report(body.decode())
        assert report.summary["interval"] == "500 us"   # from the server
        assert report.summary["clock"].startswith("cpu")  # from the inner block
        _, _, body = request(server, "/work/inner/off/cpu?ms=5&trace=1")
        assert b"request profile" not in body
        _, _, body = request(server, "/work/cpu?ms=5&trace=1")
        assert Report(body.decode()).summary["clock"].startswith("wall")


def test_htaccess_can_switch_profiling_on():
    with Httpd("event", extra="") as server:
        import os
        sub = os.path.join(server.docroot, "sub")
        os.makedirs(sub)
        with open(os.path.join(sub, "index.html"), "w") as f:
            f.write("hello\n")
        _, _, body = request(server, "/sub/index.html?profile=1")
        assert body == b"hello\n"
        with open(os.path.join(sub, ".htaccess"), "w") as f:
            f.write("ReqProfile On\n")
        _, _, body = request(server, "/sub/index.html?profile=1")
        assert b"request profile" in body


def test_profiling_is_off_by_default():
    with Httpd("event", extra="") as server:
        _, _, body = request(server, "/work/cpu?ms=5&profile=1")
        assert body == b"rpwork cpu done, poll interrupted 0 times\n"
