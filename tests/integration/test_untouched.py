"""Without the trigger, a response is byte for byte what httpd sends without
the module loaded."""
import os
import socket

import pytest

from http_util import raw_request
from httpd_harness import Httpd


VARYING = (b"date:", b"x-rpwork-wall-us:", b"x-rpwork-cpu-us:")


def normalise(raw):
    """Drops what differs between two runs: the date, and the workload's own
    timings."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(VARYING)]
    return b"\r\n".join(lines) + sep + body


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_unprofiled_responses_are_byte_identical(mpm):
    with Httpd(mpm, extra="ReqProfile On") as with_module, \
            Httpd(mpm, extra="", load_reqprof=False) as without_module:
        for server in (with_module, without_module):
            path = os.path.join(server.docroot, "same.html")
            with open(path, "wb") as f:
                f.write(b"<h1>same</h1>\n" * 500)
            os.utime(path, (1700000000, 1700000000))
        requests = [
            b"GET /same.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"GET /same.html?profile=0 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"GET /same.html HTTP/1.1\r\nHost: a\r\nRange: bytes=5-20\r\nConnection: close\r\n\r\n",
            b"HEAD /same.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"GET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"GET /work/cpu?ms=5 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"GET /work/big?kb=300 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"GET /work/status?code=500 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ]
        for raw in requests:
            a = normalise(raw_request(with_module, raw))
            b = normalise(raw_request(without_module, raw))
            assert a == b, raw
