"""A request's profiling state through a real httpd: a request refused by
ReqProfileMaxConcurrent asks for a slot once (the early try in
post_read_request is not repeated in fixups) and says so once."""
import threading
import time

from http_util import request
from httpd_harness import Httpd


def test_max_concurrent_refusal_logged_once():
    extra = """ReqProfile On
ReqProfileMaxConcurrent 1
LogLevel reqprof:info
"""
    with Httpd("event", extra=extra) as server:
        done = {}

        def long_one():
            done["long"] = request(server, "/work/wait?ms=800&profile=1")

        t = threading.Thread(target=long_one)
        t.start()
        time.sleep(0.3)
        status, headers, body = request(server, "/work/cpu?ms=5&profile=1")
        t.join()
        assert status == 200 and body.startswith(b"rpwork cpu")
        assert headers["x-reqprofile"] == "not profiled: ReqProfileMaxConcurrent reached"
        assert b"request profile" in done["long"][2]
        lines = [l for l in server.read_error_log().splitlines()
                 if "already running" in l]
        assert len(lines) == 1, lines
        assert not server.crash_lines()
