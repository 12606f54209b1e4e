"""Helpers shared by the production-safety tests (test_matrix, test_security,
test_soak): a slow local HTTP backend, an HTTP/1.1 response reader that
checks framing byte by byte, a slow chunked uploader, report checks and a
look at httpd's processes through /proc. Standard library only; every
connection goes to 127.0.0.1."""
import gzip
import hashlib
import http.server
import json
import os
import re
import socket
import socketserver
import threading
import time

from report_parser import Report

REPORT_MARK = b"mod_reqprof: request profile"


def is_report(body):
    return REPORT_MARK in body


# ---- a slow backend for mod_proxy -------------------------------------------------

class _BackendHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.3

    def log_message(self, *args):  # quiet
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(data)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _answer(self, body_in):
        time.sleep(self.delay)
        body = b"backend answered %s after %d ms\n" % (
            self.path.encode(), int(self.delay * 1000))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Body-Sha256", hashlib.sha256(body_in).hexdigest())
        self.send_header("X-Body-Length", str(len(body_in)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self._answer(b"")

    def do_HEAD(self):
        self._answer(b"")

    def do_POST(self):
        self._answer(self._body())


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class SlowBackend:
    """An HTTP/1.1 server on 127.0.0.1 that answers every request after
    `delay` seconds (and echoes a request body's SHA-256 in a header)."""

    def __init__(self, delay=0.3):
        handler = type("Handler", (_BackendHandler,), {"delay": delay})
        self.server = _ThreadingServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---- HTTP/1.1 framing ----------------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers          # lower-case name -> value (last wins)
        self.header_list = []           # (name, value) in order
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


class Reader:
    """Reads HTTP/1.1 responses from a socket, one at a time, honouring
    Content-Length, chunked encoding, HEAD and 1xx/204/304 rules. Anything
    malformed raises AssertionError."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed; %d bytes pending" % len(self.buf))
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_response(self, method="GET"):
        status_line = self._line()
        m = re.match(rb"^HTTP/1\.[01] (\d{3})(?: (.*))?$", status_line)
        assert m, "bad status line: %r" % status_line
        status = int(m.group(1))
        headers, header_list, head_lines = {}, [], [status_line]
        while True:
            line = self._line()
            if not line:
                break
            head_lines.append(line)
            name, sep, value = line.partition(b":")
            assert sep and name and name.strip() == name, "bad header line %r" % line
            n, v = name.decode("latin-1").lower(), value.strip().decode("latin-1")
            headers[n] = v
            header_list.append((n, v))
        if 100 <= status < 200:
            return self.read_response(method)
        raw_head = b"\r\n".join(head_lines)
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            assert "content-length" not in headers, raw_head
            parts = []
            while True:
                size_line = self._line()
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                parts.append(self._exact(size))
                assert self._exact(2) == b"\r\n", "chunk not followed by CRLF"
            body = b"".join(parts)
        elif "content-length" in headers:
            body = self._exact(int(headers["content-length"]))
        else:
            # Delimited by the close of the connection.
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
            body = bytes(self.buf)
            self.buf = bytearray()
        resp = Response(status, (m.group(2) or b"").decode("latin-1"), headers,
                        body, raw_head)
        resp.header_list = header_list
        return resp


def exchange(port, raw, methods=("GET",), timeout=60):
    """Sends raw bytes in one write on one connection and reads one response
    per entry of methods. Returns the responses."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        reader = Reader(s)
        return [reader.read_response(m) for m in methods]


def get(port, path, method="GET", headers=None, timeout=60, body=None):
    """One request on its own connection (Connection: close), read with the
    strict reader. headers: dict or list of pairs."""
    lines = ["%s %s HTTP/1.1" % (method, path)]
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in pairs}
    if "host" not in names:
        pairs.insert(0, ("Host", "127.0.0.1"))
    if "connection" not in names:
        pairs.append(("Connection", "close"))
    if body is not None and "content-length" not in names:
        pairs.append(("Content-Length", str(len(body))))
    for k, v in pairs:
        lines.append("%s: %s" % (k, v))
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    (resp,) = exchange(port, raw, (method,), timeout)
    return resp


def slow_chunked_upload(port, path, chunks, pause=0.05, timeout=60, headers=()):
    """Uploads chunks with Transfer-Encoding: chunked, pausing between them,
    and returns the response."""
    head = ["POST %s HTTP/1.1" % path, "Host: 127.0.0.1",
            "Transfer-Encoding: chunked", "Content-Type: application/octet-stream",
            "Connection: close"] + ["%s: %s" % kv for kv in headers]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for chunk in chunks:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            time.sleep(pause)
        s.sendall(b"0\r\n\r\n")
        return Reader(s).read_response("POST")


# ---- reports --------------------------------------------------------------------------

def body_of(resp):
    """The body, decompressed when the response says gzip."""
    if resp.header("content-encoding") == "gzip":
        return gzip.decompress(resp.body)
    return resp.body


def check_report(resp, status="200", func=None, obj=None, phase="handler", sampled=False,
                 method="GET"):
    """A profiled response: 200, text/html, one report whose summary holds
    the original status; optionally a function or object in the tree and a
    phase (the handler's by default) in the phases table. Returns the parsed
    Report."""
    assert resp.status == 200, (resp.status, resp.raw_head, resp.body[:300])
    assert resp.header("content-type") == "text/html; charset=utf-8", resp.raw_head
    assert resp.header("cache-control") == "no-store", resp.raw_head
    if method == "HEAD":
        assert resp.body == b""
        return None
    body = body_of(resp)
    assert body.count(REPORT_MARK) == 1, "not exactly one report: %r" % body[:300]
    assert body.count(b"<!DOCTYPE html>") == 1, body[:300]
    report = Report(body.decode("utf-8"))
    assert report.summary["status"] == str(status), (report.summary, status)
    # A profiled request has samples once its sampled clock (wall, or its
    # CPU time on the cpu clock) has run for a few intervals: the sampler
    # takes one per interval, a late one joining the next. Only a request
    # that ended within its first few intervals (a small static file: well
    # under one) may have none. Eight intervals leave the sampler thread
    # seven to be late by on a busy machine: a prefork child's first profile
    # starts its sampler thread, which once did not run within 5 ms of a
    # 5.025 ms request while the suite loaded both CPUs.
    s = report.summary
    clock_ms = float((s["cpu"] if s["clock"].startswith("cpu") else s["wall"]).split()[0])
    interval_ms = int(s["interval"].split()[0]) / 1000.0
    assert report.total > 0 or clock_ms < 8 * interval_ms, ("a report without samples", s)
    if func is not None:
        assert report.weight_of(func) > 0, (func, sorted({n.func for n in report.nodes}))
    if obj is not None:
        assert any(n.obj == obj for n in report.nodes), \
            (obj, sorted({n.obj for n in report.nodes}))
    if phase is not None:
        # The phase was timed (its row is there); sampled=True: and sampled.
        rows = phase_rows(body.decode())
        assert phase in rows, (phase, rows)
        assert not sampled or rows[phase][1] > 0, (phase, rows)
    return report


def phase_rows(html):
    rows = {}
    for m in re.finditer(r'<tr data-phase="([a-z_]+)" data-total-us="(\d+)" '
                         r'data-sampled-weight="(\d+)"', html):
        rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return rows


def parse_json_report(body):
    return json.loads(body.decode("utf-8"))


# ---- processes ------------------------------------------------------------------------

def children_of(pid):
    """PIDs whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return sorted(out)


def process_group(pgid):
    """PIDs in process group pgid (httpd runs in its own session)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return sorted(out)


def fd_kinds(pid):
    """Open descriptors of a process by kind: "proc" (the sampler's
    /proc/self/task/TID files, one or two per thread that profiled), "file"
    (regular files: logs, and the shared objects libdw opened to name
    frames), "socket", "pipe" and "other" (anon inodes, devices). None if
    the process is gone."""
    kinds = {"proc": 0, "file": 0, "socket": 0, "pipe": 0, "other": 0}
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("/proc/"):
            kinds["proc"] += 1
        elif target.startswith("socket:"):
            kinds["socket"] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif target.startswith("/"):
            kinds["file"] += 1
        else:
            kinds["other"] += 1
    return kinds


def mapped_objects(pid):
    """How many distinct files the process has mapped (an upper bound on the
    shared objects libdw may hold open to name frames)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return len({line.split(None, 5)[5].strip() for line in f
                        if len(line.split(None, 5)) == 6 and line.split(None, 5)[5].startswith("/")})
    except OSError:
        return 0


def proc_usage(pid):
    """(VmRSS in KiB, open fds, threads, POSIX timers) of a process, or None
    if it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
        fds = len(os.listdir("/proc/%d/fd" % pid))
        rss = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
        threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
        timers = 0
        try:
            with open("/proc/%d/timers" % pid) as f:
                timers = sum(1 for l in f if l.startswith("ID:"))
        except OSError:
            timers = -1
        return rss, fds, threads, timers
    except (OSError, AttributeError):
        return None
