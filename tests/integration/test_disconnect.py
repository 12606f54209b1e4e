"""Clients that go away through a real httpd, every MPM, children running as
the unprivileged user: closing the connection while the request is being
sampled (a wait, CPU work), while its report is being sent (a large report,
a few bytes read), and in log mode while the response is sent; over
HTTP/1.1 and HTTP/2 (h2c). Afterwards the profile slot is free again
(ReqProfileMaxConcurrent 1: the next profiled request gets a report), the
sampler has stopped (the next report holds only its own request, and the
child's threads stay asleep while idle), no child crashed, and log mode wrote
one record of the aborted request, whose status and `aborted` agree with
httpd's own access log (%>s, %X).

Each server has a single child, so every request meets the one whose slot
and sampler are checked."""
import os
import re
import socket
import struct
import subprocess
import time
import uuid

import pytest

from httpd_harness import MPMS, Httpd
from report_parser import Report
from safety_util import children_of, get, is_report

CONF = r"""
ReqProfile On
ReqProfileMaxConcurrent 1
# Small socket buffers: a large report cannot vanish into the kernel at once.
SendBufferSize 4096
Protocols h2c http/1.1
ReqProfileLogFile logs/reqprof.log
CustomLog logs/access.log "%{pid}P %r %>s %X"
<Location /work/dense>
  ReqProfileInterval 100us
</Location>
<Location /work/logged>
  ReqProfileLog On
</Location>
"""

SINGLE_CHILD = {
    "prefork": "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\n"
               "MaxRequestWorkers 1\n",
    "worker": "ServerLimit 1\nMaxRequestWorkers 8\n",
    "event": "ServerLimit 1\nMaxRequestWorkers 8\n",
}

H2_PREFORK_SKIP = ("mod_http2 does not support prefork (AH10034: 'the HTTP/2 protocol will "
                   "be inactive'); on this build the second request of an h2c connection "
                   "fails with a framing error even without mod_reqprof loaded")

RECORD_RE = re.compile(r'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    srv = Httpd(request.param, extra=CONF + SINGLE_CHILD[request.param],
                modules=("http2",))
    srv.start()
    yield srv
    crashes = srv.crash_lines()
    srv.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


def marked(path):
    """path with a query parameter no other request carries."""
    tag = uuid.uuid4().hex[:12]
    return path + ("&" if "?" in path else "?") + "n=" + tag, tag


def access_line(server, tag, timeout=20):
    """(status, %X) of the request carrying tag, once httpd has logged it."""
    deadline = time.time() + timeout
    path = os.path.join(server.root, "logs", "access.log")
    while time.time() < deadline:
        try:
            with open(path) as f:
                lines = [l.split() for l in f if "n=%s" % tag in l]
        except FileNotFoundError:
            lines = []
        if lines:
            assert len(lines) == 1, lines
            return int(lines[0][-2]), lines[0][-1]
        time.sleep(0.05)
    raise AssertionError("request %s never logged" % tag)


def records(server, tag):
    path = os.path.join(server.root, "logs", "reqprof.log")
    try:
        with open(path) as f:
            lines = [l for l in f if "n%%3D%s" % tag in l or "n=%s" % tag in l]
    except FileNotFoundError:
        return []
    return [{k: v.strip('"') for k, v in RECORD_RE.findall(l)} for l in lines]


def child_switches(server):
    """Context switches of every thread of every child, summed."""
    total = 0
    for pid in children_of(server.proc.pid):
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    total += sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", f.read()))
            except OSError:
                continue
    return total


def check_sampler_idle(server):
    """No session is left running: an idle child's threads sleep (a
    leftover 1 kHz session wakes the sampler thread a thousand times a
    second)."""
    time.sleep(0.2)
    before = child_switches(server)
    time.sleep(1.0)
    woke = child_switches(server) - before
    assert woke < 50, "idle child woke %d times in 1 s: a session is still running" % woke


def check_normal_report(body, protocol="HTTP/1.1"):
    """The report of /work/cpu?ms=100 alone: its own CPU work, none of an
    earlier request's samples."""
    assert is_report(body), body[:300]
    report = Report(body.decode())
    assert report.summary["protocol"] == protocol, report.summary
    assert report.summary["status"] == "200"
    samples = int(report.summary["samples"].split()[0])
    assert 50 <= samples <= 250, report.summary
    assert report.weight_of("burn_cpu_split") >= 0.8 * report.total, \
        (report.weight_of("burn_cpu_split"), report.total)
    assert report.weight_of("work_alpha") > report.weight_of("work_beta") > 0
    assert report.weight_of("wait_in_poll") == 0
    return report


def next_report(server, timeout=5):
    """The next profiled request's report: its slot must come free at once
    (a moment after the aborted request was logged, at most)."""
    deadline = time.time() + timeout
    while True:
        resp = get(server.port, "/work/cpu?ms=100&profile=1")
        if is_report(resp.body) or time.time() > deadline:
            break
        assert "ReqProfileMaxConcurrent" in (resp.header("x-reqprofile") or ""), resp.raw_head
        time.sleep(0.1)
    assert is_report(resp.body), "slot still taken: %r" % (resp.raw_head,)
    return check_normal_report(resp.body)


def close_socket(sock, how):
    if how == "rst":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def send_and_leave(server, path, how, after=0.2):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
    time.sleep(after)
    close_socket(s, how)


def read_some_and_leave(server, path, nbytes=100):
    """Reads the first bytes of the response through a small receive
    buffer, then closes with the rest unread (the kernel resets)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect(("127.0.0.1", server.port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
    got = b""
    while len(got) < nbytes:
        data = s.recv(nbytes - len(got))
        assert data, "closed before %d bytes" % nbytes
        got += data
    time.sleep(0.3)
    s.close()
    return got


def finish(server):
    crashes = server.crash_lines()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)
    check_sampler_idle(server)


# ---- HTTP/1.1 --------------------------------------------------------------------

@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("work", ["/work/wait?ms=600&profile=1", "/work/cpu?ms=500&profile=1"])
def test_client_gone_while_sampled(server, work, how):
    path, tag = marked(work)
    send_and_leave(server, path, how)
    status, _ = access_line(server, tag)
    assert status == 200
    next_report(server)
    finish(server)


def test_client_gone_while_report_sent(server):
    path, tag = marked("/work/dense/cpu?ms=800&profile=1")
    head = read_some_and_leave(server, path)
    assert head.startswith(b"HTTP/1.1 200 "), head
    status, conn = access_line(server, tag)
    # httpd saw the connection go before the report was all sent.
    assert (status, conn) == (200, "X")
    next_report(server)
    finish(server)


@pytest.mark.parametrize("case", ["wait-fin", "wait-rst", "big"])
def test_log_mode_record_of_aborted_request(server, case):
    if case == "big":
        path, tag = marked("/work/logged/big?kb=16384")
        read_some_and_leave(server, path)
    else:
        path, tag = marked("/work/logged/wait?ms=600")
        send_and_leave(server, path, case.split("-")[1])
    status, conn = access_line(server, tag)
    if case == "big":
        assert conn == "X"    # the body could not all be sent
    time.sleep(0.5)           # a second record would be there by now
    recs = records(server, tag)
    assert len(recs) == 1, recs
    rec = recs[0]
    assert rec["mode"] == "log" and int(rec["status"]) == status == 200, (rec, status)
    # aborted=1 exactly when httpd itself logs the connection aborted.
    assert rec.get("aborted") == ("1" if conn == "X" else None), (rec, conn)
    assert int(rec["samples"]) > 0
    if case != "big":
        assert float(rec["dur_ms"]) >= 590, rec
        assert "wait_in_poll" in rec["hot"], rec
    else:
        assert "send_big_body" in rec["hot"], rec
    next_report(server)
    finish(server)


# ---- HTTP/2 (h2c) -----------------------------------------------------------------

def curl_h2(server, path, *args):
    """Fetches path over h2c; returns (curl's exit code, HTTP version, body)."""
    res = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "-",
                          "-w", "\n%{http_version}"] + list(args) + [server.url + path],
                         capture_output=True, timeout=60)
    body, _, version = res.stdout.rpartition(b"\n")
    return res.returncode, version.decode(), body


def next_h2_report(server, timeout=5):
    deadline = time.time() + timeout
    while True:
        rc, version, body = curl_h2(server, "/work/cpu?ms=100&profile=1", "--max-time", "30")
        assert rc == 0 and version == "2", (rc, version)
        if is_report(body) or time.time() > deadline:
            break
        time.sleep(0.1)
    return check_normal_report(body, protocol="HTTP/2.0")


def skip_prefork(server):
    if server.mpm == "prefork":
        pytest.skip(H2_PREFORK_SKIP)


@pytest.mark.parametrize("work", ["/work/wait?ms=800&profile=1", "/work/cpu?ms=600&profile=1",
                                  "/work/logged/wait?ms=800"])
def test_h2_client_gone_while_sampled(server, work):
    skip_prefork(server)
    path, tag = marked(work)
    rc, _, body = curl_h2(server, path, "--max-time", "0.3")
    assert rc == 28 and body == b"", (rc, body[:200])   # timed out, nothing received
    status, conn = access_line(server, tag)
    assert status == 200
    if "/logged/" in work:
        time.sleep(0.5)
        recs = records(server, tag)
        assert len(recs) == 1, recs
        assert recs[0].get("aborted") == ("1" if conn == "X" else None), (recs[0], conn)
        assert "wait_in_poll" in recs[0]["hot"], recs[0]
    next_h2_report(server)
    next_report(server)
    finish(server)


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


def hpack_literal(index, value):
    """A header field without indexing, its name from the static table."""
    data = value.encode()
    assert index < 16 and len(data) < 127
    return bytes([index, len(data)]) + data


def h2_read_some_and_leave(server, path, window=1024, nbytes=100):
    """GETs path over h2c with a small stream window (curl's is megabytes:
    a whole report fits), reads the response's first bytes, then closes
    the connection while the server still has most of it to send. Returns
    (status, data bytes read)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    settings = struct.pack(">HI", 0x4, window)   # SETTINGS_INITIAL_WINDOW_SIZE
    request = (b"\x82\x86" + hpack_literal(4, path)  # GET, http, :path
               + hpack_literal(1, "127.0.0.1"))      # :authority
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(0x4, 0, 0, settings)
              + h2_frame(0x1, 0x5, 1, request))     # END_STREAM | END_HEADERS
    buf, status, data = b"", None, 0

    def read(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            assert chunk, "connection closed by the server"
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out

    while data < nbytes:
        head = read(9)
        length = int.from_bytes(head[:3], "big")
        kind, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7fffffff
        payload = read(length)
        if kind == 0x4 and not flags & 0x1:
            s.sendall(h2_frame(0x4, 0x1, 0))         # SETTINGS ack
        elif kind == 0x1 and stream == 1:
            status = payload[:1]                     # an indexed :status
        elif kind == 0x0 and stream == 1:
            data += length
        assert kind != 0x7 and kind != 0x3, (kind, payload)  # GOAWAY, RST_STREAM
    time.sleep(0.3)
    s.close()
    return status, data


@pytest.mark.parametrize("work", ["/work/dense/cpu?ms=800&profile=1", "/work/logged/big?kb=16384"])
def test_h2_client_gone_while_response_sent(server, work):
    skip_prefork(server)
    path, tag = marked(work)
    status_byte, data = h2_read_some_and_leave(server, path)
    assert status_byte == b"\x88" and data <= 1024, (status_byte, data)  # 200
    status, conn = access_line(server, tag)
    assert (status, conn) == (200, "X"), (status, conn)
    if "/logged/" in work:
        time.sleep(0.5)
        recs = records(server, tag)
        assert len(recs) == 1 and recs[0].get("aborted") == "1", recs
        assert "send_big_body" in recs[0]["hot"], recs[0]
    next_h2_report(server)
    next_report(server)
    finish(server)
