"""The fleet store through real servers: a real redis-server (its own port and
directory, no persistence) shared by httpd instances of every MPM, with
ReqProfileStore, its password file, the store trigger (profile=store and
X-ReqProfile-Store: 1), the reqprof-index handler over the shared store
(listing, filters, opening another server's profile, drop counts), Redis
hung, killed and restarted under load, hostile request text, directive values
`apache2 -t` must refuse, and the dir: store.

Redis is read and written here over its own protocol (RESP) on a socket, so
that what the test sees in Redis is what Redis holds. Profiles are written
after the response by a writer thread in each child: every check of the
store polls for a moment before it looks.
"""
import html
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import zlib
from datetime import datetime, timezone

import pytest

from http_util import raw_request, request
from httpd_harness import Httpd, free_port, unprivileged_user
from report_parser import Report
from safety_util import is_report

ID_RE = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-\d+-\d+$")
TRACE_A = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"
SPAN = "00f067aa0ba902b7"
STORE_HEADER = {"X-ReqProfile-Store": "1"}
CPU_BODY = b"rpwork cpu done, poll interrupted 0 times\n"
PAGE = b"<p>a page served as it is, profiled or not</p>\n" * 60
NODE = socket.gethostname()


def traceparent(trace, span=SPAN):
    return "00-%s-%s-01" % (trace, span)


def wait_until(check, timeout=10, interval=0.05):
    """Polls check() until it returns something true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# ---- Redis: a real server, and a client speaking its protocol ----------------

class RedisError(Exception):
    pass


class RedisClient:
    """A minimal RESP client: commands as arrays of bulk strings, replies
    parsed strictly (bulk strings come back as bytes)."""

    def __init__(self, port, password=None, user=None, db=0, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        if password is not None:
            self.call(*(("AUTH", user, password) if user else ("AUTH", password)))
        if db:
            self.call("SELECT", db)

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n + 2)
            assert data.endswith(b"\r\n")
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise AssertionError("not a RESP reply: %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.read()


def expand(value):
    """A stored value as it was written (saved files from 1 KB on are kept
    compressed: a NUL, "rpz", the length big-endian, a zlib stream)."""
    if value is None or not value.startswith(b"\0rpz"):
        return value
    data = zlib.decompress(value[8:])
    assert len(data) == int.from_bytes(value[4:8], "big")
    return data


class Redis:
    """One redis-server on 127.0.0.1, a free port and its own directory,
    without persistence; start() again after kill() starts a fresh, empty
    one on the same port."""

    def __init__(self, password=None, acl_users=()):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="reqprof-redis-")
        self.password = password
        self.acl_users = acl_users   # (name, password) with every right
        self.proc = None

    def start(self, timeout=10):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "redis.log")]
        if self.password is not None:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, process_group=0)
        deadline = time.monotonic() + timeout
        while True:
            try:
                c = self.client()
                try:
                    if c.call("PING") == "PONG":
                        for name, password in self.acl_users:
                            c.call("ACL", "SETUSER", name, "on", ">" + password,
                                   "~*", "&*", "+@all")
                        return self
                finally:
                    c.close()
            except (OSError, RedisError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start:\n" + self.log())
            time.sleep(0.02)

    def client(self, db=0):
        return RedisClient(self.port, password=self.password, db=db)

    def call(self, *args, db=0):
        c = self.client(db)
        try:
            return c.call(*args)
        finally:
            c.close()

    def pause(self):
        """SIGSTOP: a hung Redis (the kernel still accepts connections)."""
        self.proc.send_signal(signal.SIGSTOP)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)   # if paused
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- what the store holds --
    def index_ids(self, db=0):
        return [i.decode() for i in self.call("ZRANGE", "reqprof:index", 0, -1, db=db)]

    def saved(self, profile_id, field, db=0):
        """A saved file as it was written: from 1 KB on it is kept
        compressed (a NUL, "rpz", the length big-endian, a zlib stream)."""
        return expand(self.call("HGET", "reqprof:p:" + profile_id, field, db=db))

    def drops(self, db=0):
        """Drops per host: the counts are kept per process (host/pid/start)."""
        flat = self.call("HGETALL", "reqprof:dropped", db=db)
        per_host = {}
        for i in range(0, len(flat), 2):
            host = flat[i].decode().rsplit("/", 2)[0]
            per_host[host] = per_host.get(host, 0) + int(flat[i + 1])
        return per_host


@pytest.fixture
def redises():
    started = []
    yield started
    for r in started:
        r.cleanup()


@pytest.fixture
def servers():
    """httpd instances a test starts; stopped together at its end (a
    graceful stop takes a moment each), then checked for crashed children."""
    started = []
    yield started
    stops = [threading.Thread(target=s.stop) for s in started]
    for t in stops:
        t.start()
    for t in stops:
        t.join()
    crashes = []
    for server in started:
        crashes += server.crash_lines()
        server.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


def start_redis(redises, **kw):
    r = Redis(**kw)
    redises.append(r)
    return r.start()


def start_httpd(servers, mpm, extra, page=PAGE, port=None):
    server = Httpd(mpm, extra=extra, port=port)
    servers.append(server)
    with open(os.path.join(server.docroot, "page.html"), "wb") as f:
        f.write(page)
    # A fixed modification time: the same ETag and Last-Modified whichever
    # request reads it.
    os.utime(os.path.join(server.docroot, "page.html"), (1700000000, 1700000000))
    # Some tests rank requests by duration: none may run while children
    # are still setting up.
    return server.start().wait_settled()


def redis_conf(name, redis, db=0, index_url="/profiles/", user=None, more=""):
    conf = ["ServerName %s" % name,
            "ReqProfileStore redis://%s127.0.0.1:%d/%d" % (user + "@" if user else "",
                                                           redis.port, db),
            "ReqProfile On",
            "<Location /profiles/>",
            "  SetHandler reqprof-index",
            "</Location>"]
    if index_url is not None:
        conf.append("ReqProfileIndexURL %s" % index_url)
    return "\n".join(conf) + "\n" + more


# ---- the index page ------------------------------------------------------------

def index(server, query=""):
    status, headers, body = request(server, "/profiles/" + query)
    assert status == 200, (status, body[:500])
    assert headers["content-type"] == "text/html; charset=utf-8"
    return body.decode("utf-8")


def index_rows(page):
    """Each listed profile as a dict, cells unescaped. The cells: A, B,
    started, server (with node and pid), method, host, path, status,
    duration, CPU, samples, mode, most self time, trace, open."""
    rows = []
    for m in re.finditer(r'<tr class="rp-saved" data-id="([^"]+)">(.*?)</tr>', page):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", m.group(2))
        assert len(cells) == 15, cells
        server = re.match(r'^(.*?)(?: <span class="note">(.*) (\d+)</span>)?$', cells[3])
        rows.append({"id": html.unescape(m.group(1)),
                     "server": html.unescape(server.group(1)),
                     "node": html.unescape(server.group(2) or ""),
                     "pid": int(server.group(3) or 0),
                     "method": html.unescape(cells[4]),
                     "host": html.unescape(cells[5]),
                     "path": html.unescape(cells[6]),
                     "status": int(cells[7]),
                     "dur_ms": float(cells[8]),
                     "mode": html.unescape(cells[11]),
                     "trace": html.unescape(cells[13])})
    return rows


def listed(server, query=""):
    return {row["id"] for row in index_rows(index(server, query))}


def drop_spans(page):
    """host -> count shown in the index's drop note, each span read
    strictly: its text is the host and the count."""
    note = re.search(r'<p class="note rp-drops">(.*?)</p>', page, re.S)
    if note is None:
        return {}
    out = {}
    for host, text in re.findall(r'<span class="rp-drop" data-host="([^"]*)">(.*?)</span>',
                                 note.group(1)):
        m = re.match(r"^(.*) (\d+)$", text)
        assert m and m.group(1) == host, "a drop count shown as %r" % text
        out[html.unescape(host)] = int(m.group(2))
    assert out, note.group(0)
    return out


def score_of(profile_id):
    """The index's score for an id: its request's start, in ms."""
    stamp = profile_id.split("-")[0]
    t = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=timezone.utc)
    return int(t.replace(microsecond=0).timestamp()) * 1000 + t.microsecond // 1000


def parse_record(line):
    """The record (logfmt) a listing reads: key -> value (quoted values as
    JSON strings)."""
    out = {}
    for m in re.finditer(r'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)', line):
        value = m.group(2)
        out[m.group(1)] = json.loads(value) if value.startswith('"') else value
    return out


# ---- the store trigger: the response as it is, plus three headers -------------------

VARYING = (b"date:", b"x-rpwork-wall-us:", b"x-rpwork-cpu-us:")
ANNOUNCED = (b"x-reqprofile-id:", b"x-reqprofile-url:", b"server-timing:")


def split_response(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, raw[:300]
    lines = head.split(b"\r\n")
    return lines[0], lines[1:], body


def announced(lines):
    """The store headers of a response's head: lower-case name -> value."""
    out = {}
    for line in lines:
        name, _, value = line.partition(b":")
        if line.lower().startswith(ANNOUNCED):
            assert name.lower().decode() not in out, lines
            out[name.lower().decode()] = value.strip().decode()
    return out


def without(lines, prefixes):
    return [l for l in lines if not l.lower().startswith(prefixes)]


def raw_get(path, method="GET", headers=()):
    head = ["%s %s HTTP/1.1" % (method, path), "Connection: close"]
    if not any(name.lower() == "host" for name, _ in headers):
        head.append("Host: 127.0.0.1")
    head += ["%s: %s" % h for h in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def check_store_response(server, path, method="GET", headers=(), status=200,
                         index_url="/profiles/"):
    """Sends the request without and with the store trigger (the query
    parameter or the header, as path and headers say): status line, body and
    every header but Date and the workload's timings are byte for byte the
    same; the stored one adds X-ReqProfile-Id, X-ReqProfile-Url (when
    ReqProfileIndexURL is set) and Server-Timing ending with the total.
    Returns (id, total ms)."""
    plain_path = re.sub(r"[?&]profile=store$", "", path)
    plain_headers = [h for h in headers if h[0] != "X-ReqProfile-Store"]
    plain = raw_request(server, raw_get(plain_path, method, plain_headers))
    started = time.monotonic()
    stored = raw_request(server, raw_get(path, method, headers))
    elapsed_ms = (time.monotonic() - started) * 1000
    p_status, p_lines, p_body = split_response(plain)
    s_status, s_lines, s_body = split_response(stored)
    assert s_status == p_status, (path, s_status, p_status)
    assert int(s_status.split()[1]) == status, s_status
    assert s_body == p_body, (path, len(s_body), len(p_body))
    assert announced(p_lines) == {}, p_lines
    assert without(s_lines, VARYING + ANNOUNCED) == without(p_lines, VARYING), \
        (path, s_lines, p_lines)
    got = announced(s_lines)
    expected = {"x-reqprofile-id", "server-timing"} | (
        {"x-reqprofile-url"} if index_url else set())
    assert set(got) == expected, (path, got)
    profile_id = got["x-reqprofile-id"]
    assert ID_RE.match(profile_id), profile_id
    if index_url:
        sep = "&" if "?" in index_url else "?"
        assert got["x-reqprofile-url"] == index_url + sep + "view=" + profile_id
    timing = [t.strip() for t in got["server-timing"].split(",")]
    m = re.match(r"^total;dur=(\d+\.\d{3})$", timing[-1])
    assert m, got["server-timing"]
    total = float(m.group(1))
    # The total is the server's own time so far: not more than the client
    # waited for the whole exchange, and not less than any phase it names.
    assert 0 < total <= elapsed_ms, (total, elapsed_ms)
    for item in timing[:-1]:
        assert float(item.split(";dur=")[1]) <= total, timing
    return profile_id, total


def check_opens_report(server, url, method, path, status):
    """The link of a stored profile opens its HTML report."""
    st, headers, body = request(server, url)
    assert st == 200, (url, st, body[:300])
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert is_report(body), body[:300]
    report = Report(body.decode("utf-8"))
    assert report.summary["status"] == str(status), report.summary
    title = re.search(rb"<title>(.*?)</title>", body).group(1).decode()
    assert html.unescape(title).startswith("Profile: %s %s" % (method, path)), title
    return body


# ---- two servers, one Redis, one index --------------------------------------------

def test_two_servers_share_one_redis_and_one_index(redises, servers):
    """An event and a prefork server (different ServerNames) store to one
    Redis; the index of either lists the profiles of both with their server,
    node and pid; each filter (server, path, status, min_ms, trace) narrows
    the list to exactly the profiles it names; a profile the other server
    made opens (report, speedscope, compare) from this one, byte for byte
    what Redis holds; Redis holds each profile as a hash with its TTL and the
    index as a sorted set scored by the request's start."""
    redis = start_redis(redises)
    web1 = start_httpd(servers, "event", redis_conf(
        "web1.test", redis, more="ReqProfileStoreTTL 3600s\n"))
    # A URL index with a query of its own: the link adds &view=.
    web2 = start_httpd(servers, "prefork", redis_conf(
        "web2.test", redis, index_url="http://profiles.test/idx?site=2",
        more="ReqProfileStoreTTL 3600s\n"))
    stored = {}   # id -> (server, method, path, status, trace)

    def store(server, path, status, trace=None, header=True):
        """Stores a request, by the header or the query parameter."""
        headers = dict(STORE_HEADER) if header else {}
        if trace:
            headers["traceparent"] = traceparent(trace)
        if not header:
            path += ("&" if "?" in path else "?") + "profile=store"
        st, h, _ = request(server, path, headers=headers)
        assert st == status, (path, st)
        pid = h["x-reqprofile-id"]
        if server is web2:
            assert h["x-reqprofile-url"] == "http://profiles.test/idx?site=2&view=" + pid
        else:
            assert h["x-reqprofile-url"] == "/profiles/?view=" + pid
        stored[pid] = (server, path.split("?")[0], status, trace)
        return pid

    a_cpu = store(web1, "/work/cpu?ms=5", 200, trace=TRACE_A)
    a_missing = store(web1, "/missing-on-web1", 404, header=False)
    b_cpu = store(web2, "/work/cpu?ms=80", 200, trace=TRACE_B)
    b_error = store(web2, "/work/status?code=503", 503)
    b_page = store(web2, "/page.html", 200, header=False)
    everything = set(stored)
    assert len(everything) == 5
    assert wait_until(lambda: listed(web1) == everything), (listed(web1), everything)

    rows = {row["id"]: row for row in index_rows(index(web1))}
    pids = {web1: set(), web2: set()}
    for pid_, (server, path, status, trace) in stored.items():
        row = rows[pid_]
        name = "web1.test" if server is web1 else "web2.test"
        assert (row["server"], row["node"], row["method"], row["status"], row["mode"]) == \
            (name, NODE, "GET", status, "store"), row
        assert row["path"].split("?")[0] == path, row
        assert row["trace"] == (trace or ""), row
        assert row["host"] == "127.0.0.1", row
        pids[server].add(row["pid"])
    # Each row names the child that served it: no pid is both servers'.
    assert not pids[web1] & pids[web2], pids
    # The other server's index lists the same.
    assert listed(web2) == everything

    def narrowed(query, expected):
        for server in (web1, web2):
            got = listed(server, query)
            assert got == expected, (query, got, expected)
            assert got != everything or not expected, query

    narrowed("?server=web1.test", {a_cpu, a_missing})
    narrowed("?server=web2.test", {b_cpu, b_error, b_page})
    narrowed("?server=nowhere.test", set())
    assert listed(web1, "?server=" + NODE) == everything   # the node counts too
    narrowed("?path=work/cpu", {a_cpu, b_cpu})
    narrowed("?path=missing", {a_missing})
    narrowed("?path=page.h", {b_page})
    narrowed("?status=404", {a_missing})
    narrowed("?status=503", {b_error})
    narrowed("?status=200", {a_cpu, b_cpu, b_page})
    durations = {r["id"]: r["dur_ms"] for r in rows.values()}
    assert durations[b_cpu] >= 80, durations
    slow = {i for i, d in durations.items() if d >= 60}
    assert b_cpu in slow
    narrowed("?min_ms=60", slow)
    narrowed("?trace=" + TRACE_A, {a_cpu})
    narrowed("?trace=" + TRACE_B, {b_cpu})
    narrowed("?trace=" + "1" * 32, set())
    narrowed("?server=web2.test&status=200&path=work", {b_cpu})
    # A filter is shown back in its form field.
    page = index(web1, "?path=work/cpu&min_ms=60")
    assert 'name="path" size="18" value="work/cpu"' in page
    assert 'name="min_ms" size="6" value="60"' in page

    # web2's profile opens from web1, as Redis holds it.
    body = check_opens_report(web1, "/profiles/?view=" + b_cpu, "GET", "/work/cpu", 200)
    assert b"work_alpha" in body
    assert redis.saved(b_cpu, ".html") == body
    # Kept compressed: the report's script and stylesheet shrink well.
    assert redis.call("HSTRLEN", "reqprof:p:" + b_cpu, ".html") < len(body) / 3
    _, _, body1 = request(web1, "/profiles/?view=" + a_missing)
    _, _, body2 = request(web2, "/profiles/?view=" + a_missing)
    assert is_report(body1) and body1 == body2
    st, h, body = request(web1, "/profiles/?speedscope=" + b_cpu)
    assert st == 200 and json.loads(body)["profiles"], (st, body[:200])
    assert body == redis.saved(b_cpu, ".speedscope.json")
    st, _, body = request(web2, "/profiles/?compare=%s&with=%s" % (a_cpu, b_cpu))
    assert st == 200 and b'class="rp-func" data-func="work_alpha"' in body, body[:300]
    assert ("?view=" + a_cpu).encode() in body and ("?view=" + b_cpu).encode() in body
    # An id of the right form that is not there, and one of the wrong form.
    assert request(web1, "/profiles/?view=20200101T000000.000000Z-1-1")[0] == 404
    assert request(web1, "/profiles/?view=../../etc/passwd")[0] == 404

    # Redis: one hash per profile with its files and its record, expiring
    # within the TTL; the index scored by the request's start in ms.
    scores = redis.call("ZRANGE", "reqprof:index", 0, -1, "WITHSCORES")
    scores = {scores[i].decode(): int(float(scores[i + 1])) for i in range(0, len(scores), 2)}
    assert set(scores) == everything
    for pid_ in everything:
        key = "reqprof:p:" + pid_
        fields = {f.decode() for f in redis.call("HKEYS", key)}
        assert {".meta", ".html", ".speedscope.json"} <= fields, fields
        ttl = redis.call("PTTL", key)
        # The slowest of each group (ReqProfileGroupWorst, 5) are kept seven
        # TTLs; the others one.
        group = redis.call("HGET", key, ".group")
        kept = group is not None and \
            redis.call("ZSCORE", b"reqprof:w:" + group, pid_) is not None
        life = 3600 * 1000 * (7 if kept else 1)
        assert life - 120 * 1000 < ttl <= life, (ttl, kept)
        assert abs(scores[pid_] - score_of(pid_)) <= 1, (scores[pid_], pid_)
        meta = redis.saved(key[len("reqprof:p:"):], ".meta").decode()
        record = parse_record(meta.split("\n")[0])
        assert record["id"] == pid_ and record["mode"] == "store"
        assert record["server"] == ("web1.test" if stored[pid_][0] is web1 else "web2.test")
        assert record["node"] == NODE
    assert redis.call("EXISTS", "reqprof:dropped") == 0


# ---- the store trigger -------------------------------------------------------------

TRIGGER_CONF = """
<Location /refused>
  ReqProfileRequire "false"
</Location>
<Location /token>
  ReqProfileRequire "%{HTTP:X-Token} == 'letmein'"
</Location>
<Location /off>
  ReqProfile Off
</Location>
<Location /logged>
  ReqProfileLog On
</Location>
<VirtualHost 127.0.0.1:{port}>
  ServerName api.test
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
  ServerName shop.test
</VirtualHost>
"""


def test_store_trigger_keeps_the_response_and_announces_the_profile(redises, servers):
    """profile=store and X-ReqProfile-Store: 1 (GET, HEAD, a 404, a 500, a
    large body) answer byte for byte as the same request without them, plus
    X-ReqProfile-Id, X-ReqProfile-Url and Server-Timing with the total; each
    link opens its profile from the index. Clients the rule refuses (an
    expression, the default rule with a forwarding header) get none of the
    headers and nothing is stored; X-ReqProfile-Store with another value
    than 1 is no trigger. A virtual host without a store of its own stores
    to the main server's, under its own name. A report (profile=1) and a
    request log mode keeps are saved to the store too, announcing nothing.
    The store uses database 5, and only it."""
    redis = start_redis(redises)
    port = free_port()
    server = start_httpd(servers, "worker", redis_conf(
        "api.test", redis, db=5, more=TRIGGER_CONF.replace("{port}", str(port))), port=port)
    for sub in ("refused", "token", "off", "logged"):
        os.makedirs(os.path.join(server.docroot, sub))
        shutil.copy(os.path.join(server.docroot, "page.html"),
                    os.path.join(server.docroot, sub, "page.html"))
    cases = [  # path, method, headers, status, report title path
        ("/page.html?profile=store", "GET", (), 200, "/page.html"),
        ("/page.html", "GET", (("X-ReqProfile-Store", "1"),), 200, "/page.html"),
        ("/page.html", "GET", (("X-ReqProfile-Store", "1"), ("Range", "bytes=10-99")),
         206, "/page.html"),
        ("/page.html?profile=store", "HEAD", (), 200, "/page.html"),
        ("/page.html", "HEAD", (("X-ReqProfile-Store", "1"),), 200, "/page.html"),
        ("/work/cpu?ms=20&profile=store", "GET", (), 200, "/work/cpu"),
        ("/work/cpu?ms=20", "GET", (("X-ReqProfile-Store", "1"),), 200, "/work/cpu"),
        ("/work/big?kb=300&profile=store", "GET", (), 200, "/work/big"),
        ("/no-such-page?profile=store", "GET", (), 404, "/no-such-page"),
        ("/no-such-page", "GET", (("X-ReqProfile-Store", "1"),), 404, "/no-such-page"),
        ("/work/status?code=500", "GET", (("X-ReqProfile-Store", "1"),), 500, "/work/status"),
        # An expression that admits the client.
        ("/token/page.html?profile=store", "GET", (("X-Token", "letmein"),), 200,
         "/token/page.html"),
        ("/page.html?profile=store", "GET", (("Host", "shop.test"),), 200, "/page.html"),
    ]
    ids = {}
    for path, method, headers, status, title in cases:
        profile_id, total = check_store_response(server, path, method, headers, status)
        if "/work/cpu" in path:
            assert total >= 20, total
        ids[profile_id] = (method, title, status)
    assert len(ids) == len(cases)
    shop_id = profile_id

    # Saved without an announcement: a report, and a request in log mode.
    st, h, body = request(server, "/work/cpu?ms=5&profile=1")
    assert st == 200 and is_report(body) and "x-reqprofile-id" not in h
    st, h, body = request(server, "/logged/page.html")
    assert st == 200 and body == PAGE and "x-reqprofile-id" not in h

    # Refused: the response is the plain one, no store headers.
    refused = [
        ("/refused/page.html?profile=store", ()),
        ("/refused/page.html", (("X-ReqProfile-Store", "1"),)),
        ("/token/page.html", (("X-ReqProfile-Store", "1"), ("X-Token", "nope"))),
        ("/off/page.html?profile=store", ()),
        ("/off/page.html", (("X-ReqProfile-Store", "1"),)),
        ("/page.html?profile=store", (("X-Forwarded-For", "203.0.113.9"),)),
        ("/page.html", (("X-ReqProfile-Store", "1"), ("Via", "1.1 front"))),
        ("/page.html", (("X-ReqProfile-Store", "yes"),)),
        ("/page.html", (("X-ReqProfile-Store", "0"),)),
    ]
    for path, headers in refused:
        plain_path = path.replace("?profile=store", "")
        extra = [h for h in headers if h[0] != "X-ReqProfile-Store"]
        p_status, p_lines, p_body = split_response(
            raw_request(server, raw_get(plain_path, "GET", extra)))
        s_status, s_lines, s_body = split_response(
            raw_request(server, raw_get(path, "GET", headers)))
        assert announced(s_lines) == {}, (path, headers, s_lines)
        assert (s_status, without(s_lines, VARYING), s_body) == \
            (p_status, without(p_lines, VARYING), p_body), (path, headers)

    # Stored exactly what was announced, and the two others: a later write
    # would be a refused one (the writer takes well under a second with
    # Redis up).
    assert wait_until(lambda: len(redis.index_ids(db=5)) >= len(ids) + 2), \
        (redis.index_ids(db=5), ids)
    time.sleep(0.5)
    assert redis.call("DBSIZE") == 0   # database 0 untouched
    in_redis = redis.index_ids(db=5)
    assert len(in_redis) == len(ids) + 2 and set(ids) < set(in_redis), (in_redis, ids)
    rows = {row["id"]: row for row in index_rows(index(server))}
    assert set(rows) == set(in_redis)
    for profile_id, (method, title, status) in ids.items():
        row = rows[profile_id]
        assert (row["method"], row["path"].split("?")[0], row["status"], row["mode"]) == \
            (method, title, status, "store"), row
        assert row["server"] == ("shop.test" if profile_id == shop_id else "api.test"), row
        assert row["host"] == ("shop.test" if profile_id == shop_id else "127.0.0.1"), row
        check_opens_report(server, "/profiles/?view=" + profile_id, method, title, status)
    others = {(r["path"], r["mode"]) for i, r in rows.items() if i not in ids}
    assert others == {("/work/cpu?ms=5&profile=1", "trigger"), ("/logged/page.html", "log")}


def test_store_trigger_without_a_store_is_ignored(servers):
    """A server with no store (neither ReqProfileStore nor ReqProfileDir)
    answers profile=store and X-ReqProfile-Store: 1 as if they were not
    there."""
    server = start_httpd(servers, "prefork", "ReqProfile On\n")
    for path, headers in (("/page.html?profile=store", ()),
                          ("/page.html", (("X-ReqProfile-Store", "1"),)),
                          ("/work/cpu?ms=3&profile=store", ()),
                          ("/work/cpu?ms=3", (("X-ReqProfile-Store", "1"),))):
        plain_path = path.replace("&profile=store", "").replace("?profile=store", "")
        p_status, p_lines, p_body = split_response(raw_request(server, raw_get(plain_path)))
        s_status, s_lines, s_body = split_response(
            raw_request(server, raw_get(path, "GET", headers)))
        assert announced(s_lines) == {}, (path, s_lines)
        assert (s_status, without(s_lines, VARYING), s_body) == \
            (p_status, without(p_lines, VARYING), p_body), path


def test_limit_and_ttl_trim_the_store(redises, servers):
    """ReqProfileStoreLimit 3: after five profiles the index holds the three
    newest and the two oldest are deleted at once, not left to expire.
    ReqProfileStoreTTL 2s: each profile expires on its own (the listing skips
    an id whose profile is gone) and the next write trims the index to the
    TTL."""
    redis = start_redis(redises)
    server = start_httpd(servers, "prefork", redis_conf(
        "trim.test", redis,
        more="ReqProfileStoreLimit 3\nReqProfileStoreTTL 2s\nReqProfileGroupWorst 0\n"))
    ids = []
    for n in range(5):
        st, h, _ = request(server, "/page.html?n=%d" % n, headers=STORE_HEADER)
        assert st == 200
        ids.append(h["x-reqprofile-id"])
        # One at a time: the index's order is the requests' order.
        assert wait_until(lambda: ids[-1] in redis.index_ids(), timeout=5)
    last_written = time.monotonic()
    assert redis.index_ids() == ids[2:]
    assert [redis.call("EXISTS", "reqprof:p:" + i) for i in ids] == [0, 0, 1, 1, 1]
    assert listed(server) == set(ids[2:])
    for i in ids[2:]:
        assert 0 < redis.call("PTTL", "reqprof:p:" + i) <= 2000
    time.sleep(max(0.0, last_written + 2.1 - time.monotonic()))
    assert [redis.call("EXISTS", "reqprof:p:" + i) for i in ids] == [0] * 5
    assert listed(server) == set()
    st, h, _ = request(server, "/page.html?n=5", headers=STORE_HEADER)
    assert wait_until(lambda: redis.index_ids() == [h["x-reqprofile-id"]], timeout=5), \
        redis.index_ids()


def test_the_slowest_of_each_group_are_kept_past_limit_and_ttl(redises, servers):
    """ReqProfileGroupWorst 2 with ReqProfileStoreLimit 3 and a 2 s TTL: the
    two slowest profiles of a group outlive trimming and the TTL (seven
    TTLs) and are shown as kept on the group's page; a slower one later
    pushes the faster of them out, which is then deleted (no longer in the
    index). Another group's slowest are its own."""
    redis = start_redis(redises)
    server = start_httpd(servers, "prefork", redis_conf(
        "worst.test", redis,
        more="ReqProfileStoreLimit 3\nReqProfileStoreTTL 2s\nReqProfileGroupWorst 2\n"
             "<Location /work/io>\n  ReqProfileGroup \"io\"\n</Location>\n"))

    def store(path):
        st, h, _ = request(server, path, headers=STORE_HEADER)
        assert st == 200
        profile_id = h["x-reqprofile-id"]
        assert wait_until(lambda: profile_id in redis.index_ids(), timeout=5)
        return profile_id

    cpu = {ms: store("/work/cpu?ms=%d" % ms) for ms in (30, 5, 40, 6, 7)}
    io = store("/work/io/wait?ms=3")
    worst = [i.decode() for i in redis.call("ZREVRANGE", "reqprof:w:GET /work/cpu", 0, -1)]
    assert worst == [cpu[40], cpu[30]], (worst, cpu)
    assert [i.decode() for i in redis.call("ZRANGE", "reqprof:w:io", 0, -1)] == [io]
    # Trimmed to the newest three, but the slowest two are still there.
    assert redis.index_ids() == [cpu[6], cpu[7], io], (redis.index_ids(), cpu, io)
    assert redis.call("EXISTS", "reqprof:p:" + cpu[5]) == 0
    for ms in (30, 40):
        assert redis.call("EXISTS", "reqprof:p:" + cpu[ms]) == 1
        pttl = redis.call("PTTL", "reqprof:p:" + cpu[ms])
        assert 7 * 2000 - 4000 < pttl <= 7 * 2000, (ms, pttl)
    time.sleep(2.2)  # past the TTL: only the kept ones remain
    assert [redis.call("EXISTS", "reqprof:p:" + cpu[ms]) for ms in (5, 6, 7)] == [0, 0, 0]
    status, _, body = request(server, "/profiles/?group=GET%20%2Fwork%2Fcpu&hours=1")
    assert status == 200
    page = body.decode()
    kept = page[page.index('class="rp-kept"'):]
    assert re.findall(r'<tr class="rp-slow" data-id="([^"]+)"', kept) == [cpu[40], cpu[30]]
    # A slower one pushes out the 30 ms profile, deleted as it has left the
    # index; the 40 ms one stays.
    slower = store("/work/cpu?ms=50")
    worst = [i.decode() for i in redis.call("ZREVRANGE", "reqprof:w:GET /work/cpu", 0, -1)]
    assert worst == [slower, cpu[40]]
    assert redis.call("EXISTS", "reqprof:p:" + cpu[30]) == 0
    assert redis.call("EXISTS", "reqprof:p:" + cpu[40]) == 1


# ---- a password, in a file, never shown -----------------------------------------------

def write_password_file(server, name, text):
    path = os.path.join(server.root, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def test_password_file_authenticates_and_is_never_shown(redises, servers):
    """Redis with requirepass and an ACL user: a server with the password in
    a 0600 file owned by root (read when the configuration is, before the
    children drop privileges) and one with user@ and that user's password
    (the file's first line) both store and list; a server with a wrong password stores
    nothing, answers its clients as usual, says in the error log that AUTH was
    refused and its index says the store cannot be read. None of the
    passwords appears in any report, speedscope file, index page, error log
    or in Redis's own keys."""
    secret = "pw-%s-x" % os.urandom(6).hex()
    acl_secret = "acl-%s-y" % os.urandom(6).hex()
    wrong = "wrong-%s-z" % os.urandom(6).hex()
    redis = start_redis(redises, password=secret, acl_users=(("profiler", acl_secret),))
    first = Httpd("event", extra="")
    servers.append(first)
    pw = write_password_file(first, "redis.pass", secret + "\n")
    first.write_config(redis_conf("auth.test", redis, more=(
        "ReqProfileStorePasswordFile %s\n" % pw)), True, (), 8)
    with open(os.path.join(first.docroot, "page.html"), "wb") as f:
        f.write(PAGE)
    first.start()
    second = Httpd("prefork", extra="")
    servers.append(second)
    pw2 = write_password_file(second, "acl.pass", acl_secret + "\nignored second line\n")
    second.write_config(redis_conf("acl.test", redis, user="profiler", more=(
        "ReqProfileStorePasswordFile %s\n" % pw2)), True, (), 8)
    second.start()
    third = Httpd("worker", extra="")
    servers.append(third)
    pw3 = write_password_file(third, "wrong.pass", wrong)
    third.write_config(redis_conf("wrong.test", redis, more=(
        "ReqProfileStorePasswordFile %s\n" % pw3)), True, (), 8)
    third.start()

    ids = []
    for server in (first, second):
        st, h, body = request(server, "/work/cpu?ms=10&profile=store")
        assert st == 200 and body == CPU_BODY
        ids.append(h["x-reqprofile-id"])
    assert wait_until(lambda: listed(first) == set(ids)), listed(first)
    assert listed(second) == set(ids)

    # The wrong password: served as usual, nothing stored. The writer's
    # failure is logged by the next request that saves in that child.
    for _ in range(40):
        st, h, body = request(third, "/work/cpu?ms=2", headers=STORE_HEADER)
        assert st == 200 and body == CPU_BODY and "x-reqprofile-id" in h
        if "AUTH refused" in third.read_error_log():
            break
        time.sleep(0.1)
    log3 = third.read_error_log()
    lines = [l for l in log3.splitlines() if "AUTH refused" in l]
    assert lines, log3
    assert all("mod_reqprof: ReqProfileStore redis://127.0.0.1:%d/0" % redis.port in l
               for l in lines), lines
    page3 = index(third)
    assert "The profile store cannot be read" in page3 and index_rows(page3) == []
    assert set(redis.index_ids()) == set(ids)

    texts = [index(s) for s in (first, second, third)]
    queries = ["?view=" + i for i in ids] + ["?speedscope=" + i for i in ids] + [
        "?compare=%s&with=%s" % tuple(ids)]
    for query in queries:
        st, _, body = request(first, "/profiles/" + query)
        assert st == 200, query
        texts.append(body.decode("utf-8"))
    texts += [s.read_error_log() for s in (first, second, third)]
    c = redis.client()
    for key in c.call("KEYS", "*"):
        texts.append(key.decode())
        if c.call("TYPE", key) == "hash":
            texts += [expand(v).decode("utf-8") for v in c.call("HVALS", key)]
    c.close()
    for text in texts:
        for pw_text in (secret, acl_secret, wrong):
            assert pw_text not in text


# ---- Redis hung, killed and back, under load ------------------------------------------

OUTAGE_TIMEOUT_S = 1.0


class Load:
    """Client threads against each server until stopped: stored requests
    (X-ReqProfile-Store or profile=store, the workload and the static page
    in turn) on their own threads, which can be held between requests, and
    plain requests that never are. Every response is checked in full as it
    arrives; each result is (phase at its start, stored, seconds, id)."""

    def __init__(self, servers, stored_threads=2, pause=0.03):
        self.servers = servers
        self.pause = pause
        self.phase = "up"
        self.stop = threading.Event()
        self.allow_stored = threading.Event()
        self.allow_stored.set()
        self.lock = threading.Condition()
        self.in_flight = 0
        self.results = []
        self.errors = []
        self.threads = []
        for server in servers:
            for n in range(stored_threads):
                self.threads.append(threading.Thread(target=self.run, args=(server, True, n)))
            self.threads.append(threading.Thread(target=self.run, args=(server, False, 0)))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def one(self, server, stored, n):
        cpu = n % 2 == 0
        if stored:
            path = "/work/cpu?ms=2" if cpu else "/page.html?profile=store"
            headers = STORE_HEADER if cpu else {}
        else:
            path, headers = ("/work/cpu?ms=2" if cpu else "/page.html"), {}
        phase = self.phase
        started = time.monotonic()
        st, h, body = request(server, path, headers=headers, timeout=20)
        seconds = time.monotonic() - started
        expected = CPU_BODY if cpu else PAGE
        if st != 200 or body != expected or int(h["content-length"]) != len(expected):
            raise AssertionError("bad response to %s: %s %r" % (path, st, body[:200]))
        profile_id = h.get("x-reqprofile-id")
        if stored != (profile_id is not None) or (stored and not ID_RE.match(profile_id)):
            raise AssertionError("store headers of %s: %r" % (path, h))
        return (phase, stored, seconds, profile_id)

    def run(self, server, stored, n):
        i = n
        try:
            while not self.stop.is_set():
                if stored:
                    with self.lock:
                        while not self.allow_stored.is_set() and not self.stop.is_set():
                            self.lock.wait(0.05)
                        if self.stop.is_set():
                            break
                        self.in_flight += 1
                try:
                    result = self.one(server, stored, i)
                finally:
                    if stored:
                        with self.lock:
                            self.in_flight -= 1
                            self.lock.notify_all()
                with self.lock:
                    self.results.append(result)
                i += 1
                time.sleep(self.pause)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def hold_stored(self):
        """Stored requests wait; returns once none is in flight."""
        with self.lock:
            self.allow_stored.clear()
            while self.in_flight:
                self.lock.wait(1)

    def release_stored(self):
        with self.lock:
            self.allow_stored.set()
            self.lock.notify_all()

    def finish(self):
        self.stop.set()
        self.release_stored()
        for t in self.threads:
            t.join(timeout=30)

    def stored_ids(self):
        with self.lock:
            return [r[3] for r in self.results if r[1]]


def test_redis_hung_killed_and_restarted_under_load(redises, servers):
    """A worker and a prefork server store under continuous load while Redis
    is up, then hung (SIGSTOP: connections are accepted, commands time out),
    then killed (SIGKILL: refused) and started again, empty, on the same port.

    Every response throughout is complete and what it is without Redis. A
    request never waits on Redis: a write to the hung Redis takes the whole
    ReqProfileStoreTimeout (1 s here), so a request that waited on one even
    once would be at least 1 s slower; the slowest stored request of the
    outage must stay within half of that of the slowest with Redis up in the
    same run (a margin for a busy machine, well below what a wait would add),
    and the median within a tenth.

    Drops are counted exactly. Stored requests are held (plain requests go
    on) until Redis holds every profile so far; Redis is then hung, so what
    it held at the kill is exactly that. After the restart, once the load
    stops and each child's writer has reconnected and added its drops, the
    profiles held before the outage, those written after it and the drop
    count in Redis add up to the number of stored requests. The index shows
    the count per host, writing goes on without a restart of httpd, and each
    child logged the failure at most once, naming the store."""
    redis = start_redis(redises)
    more = "ReqProfileStoreTimeout %dms\n" % int(OUTAGE_TIMEOUT_S * 1000)
    web_w = start_httpd(servers, "worker", redis_conf("worker.test", redis, more=more))
    web_p = start_httpd(servers, "prefork", redis_conf("prefork.test", redis, more=more))
    main_pids = (web_w.proc.pid, web_p.proc.pid)
    # Warm up each server's children (the first profile in a child starts
    # its writer).
    warm_up = []
    for server in (web_w, web_p):
        for _ in range(3):
            st, h, _ = request(server, "/work/cpu?ms=2", headers=STORE_HEADER)
            assert st == 200
            warm_up.append(h["x-reqprofile-id"])

    load = Load([web_w, web_p]).start()
    try:
        time.sleep(1.0)
        # What Redis holds when it hangs: every stored request so far.
        load.hold_stored()
        so_far = set(load.stored_ids() + warm_up)
        assert wait_until(lambda: set(redis.index_ids()) >= so_far, timeout=10), \
            len(so_far - set(redis.index_ids()))
        held = set(redis.index_ids())
        assert held == so_far, (len(held), len(so_far))
        assert redis.drops() == {}, "a drop with Redis up"
        load.phase = "hung"
        redis.pause()
        load.release_stored()
        time.sleep(1.5)
        load.phase = "down"
        redis.kill()
        time.sleep(0.3)
        # The index says the store cannot be read, without waiting long.
        started = time.monotonic()
        page = index(web_w)
        assert time.monotonic() - started < OUTAGE_TIMEOUT_S + 0.5
        assert "The profile store cannot be read" in page and index_rows(page) == []
        time.sleep(0.7)
        load.phase = "back"
        redis.start()
        time.sleep(1.5)
    finally:
        load.finish()
    assert not load.errors, load.errors[:5]

    stored = load.stored_ids() + warm_up
    assert len(stored) == len(set(stored))
    stored = set(stored)
    by_phase = {}
    for phase, is_stored, seconds, _ in load.results:
        if is_stored:
            by_phase.setdefault(phase, []).append(seconds)
    assert all(len(by_phase.get(p, [])) >= 5 for p in ("up", "hung", "down", "back")), \
        {p: len(v) for p, v in by_phase.items()}

    def accounted():
        written = set(redis.index_ids())
        dropped = sum(redis.drops().values())
        return written, dropped, len(held) + len(written) + dropped

    # Each child's writer retries a second after its last failure, and when
    # idle with drops to count, every second: once Redis is back, each
    # child's count is there within about two seconds.
    load_stopped = time.monotonic()
    assert wait_until(lambda: accounted()[2] >= len(stored), timeout=8), accounted()[1:]
    assert time.monotonic() - load_stopped < 3.5
    time.sleep(1.2)   # a late count would show as too many
    written, dropped, total = accounted()
    assert not written & held
    assert written <= stored
    assert total == len(stored), (len(held), len(written), dropped, len(stored))
    assert dropped > 0 and written, (dropped, len(written))
    assert set(redis.drops()) == {NODE}

    # Requests never waited on Redis.
    up, outage = by_phase["up"], by_phase["hung"] + by_phase["down"]
    assert max(outage) < max(up) + OUTAGE_TIMEOUT_S / 2, (max(outage), max(up))
    assert statistics.median(outage) < statistics.median(up) + OUTAGE_TIMEOUT_S / 10, \
        (statistics.median(outage), statistics.median(up))

    # Writing goes on, by the same servers, and nothing more is dropped.
    new = []
    for server in (web_w, web_p):
        for _ in range(3):
            st, h, _ = request(server, "/work/cpu?ms=2", headers=STORE_HEADER)
            assert st == 200
            new.append(h["x-reqprofile-id"])
    assert wait_until(lambda: set(new) <= set(redis.index_ids()), timeout=5)
    assert sum(redis.drops().values()) == dropped
    assert (web_w.proc.pid, web_p.proc.pid) == main_pids
    assert all(s.proc.poll() is None for s in (web_w, web_p))

    for server in (web_w, web_p):
        log = server.read_error_log()
        lines = [l for l in log.splitlines()
                 if "mod_reqprof: ReqProfileStore redis://127.0.0.1:%d/0: " % redis.port in l]
        assert lines, log[-3000:]
        per_child = {}
        for line in lines:
            pid = re.search(r"\[pid (\d+)", line).group(1)
            per_child[pid] = per_child.get(pid, 0) + 1
        assert max(per_child.values()) == 1, lines

    # The index shows the count, on either server.
    for server in (web_w, web_p):
        assert drop_spans(index(server)) == {NODE: dropped}


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_drops_redis_never_heard_of_are_logged_when_a_child_ends(redises, servers, mpm):
    """Redis down until the server stops: the children could count their
    drops nowhere, so each that dropped says how many as it ends, one line
    naming the store; the numbers add up to the profiles stored."""
    redis = Redis()           # a port nothing listens on
    redises.append(redis)
    server = start_httpd(servers, mpm, redis_conf("gone.test", redis))
    n = 6
    for _ in range(n):
        st, h, _ = request(server, "/work/cpu?ms=2", headers=STORE_HEADER)
        assert st == 200 and h.get("x-reqprofile-id")
    server.stop()
    ends = re.findall(r"mod_reqprof: ReqProfileStore redis://127\.0\.0\.1:%d/0: this process "
                      r"ends with (\d+) profiles dropped that the store could not count"
                      % redis.port, server.read_error_log())
    assert sum(int(x) for x in ends) == n, server.read_error_log()[-3000:]


def test_index_shows_each_hosts_drop_count(redises, servers):
    """The drop counts in Redis (reqprof:dropped: host/pid/start -> count,
    set by each child's writer) are shown per host in the index's note, the
    processes of a host summed, sorted by host name, the names escaped,
    counts past 2^32 whole; with none, there is no note."""
    redis = start_redis(redises)
    server = start_httpd(servers, "prefork", redis_conf("drops.test", redis))
    page = index(server)
    assert 'class="note rp-drops"' not in page
    counts = {"web-b.test": 7, "web-a.test": 123456789012, '<script>"x"</script>': 2}
    for host, n in counts.items():
        redis.call("HSET", "reqprof:dropped", host + "/100/1700000000000.1", n - 1)
        redis.call("HSET", "reqprof:dropped", host + "/101/1700000000001.1", 1)
    page = index(server)
    assert "<script" not in page
    assert drop_spans(page) == counts
    hosts = re.findall(r'<span class="rp-drop" data-host="([^"]*)">', page)
    assert [html.unescape(h) for h in hosts] == sorted(counts), hosts


@pytest.mark.parametrize("store", ["redis", "dir"])
def test_index_answers_only_clients_the_rule_admits(redises, servers, store):
    """The index shows what a trigger would show, so a client that may not
    profile may not read either, without any Require of the admin's: by
    default a loopback client that was not forwarded (a forwarding header,
    or a real mod_proxy in front, is refused: 403, nothing listed, a log
    line saying why); where ReqProfileRequire is set, it decides. The proxy's
    headers count even where mod_headers removes them before the handler."""
    if store == "redis":
        redis = start_redis(redises)
        conf = redis_conf("guarded.test", redis)
    else:
        conf = ("ServerName guarded.test\nReqProfile On\n"
                "<Location /profiles/>\n  SetHandler reqprof-index\n</Location>\n")
    conf += ("<Location /tokened/>\n  SetHandler reqprof-index\n"
             "  ReqProfileRequire \"%{HTTP:X-Token} == 'letmein'\"\n</Location>\n"
             "<Location /stripped/>\n  SetHandler reqprof-index\n"
             "  RequestHeader unset X-Forwarded-For\n"
             "  RequestHeader unset X-Forwarded-Host\n"
             "  RequestHeader unset X-Forwarded-Server\n</Location>\n")
    server = Httpd("event", extra=conf)
    servers.append(server)
    if store == "dir":
        server.write_config(conf + "ReqProfileDir %s\n" % profiles_dir(server), True, (), 8)
    server.start()
    st, h, _ = request(server, "/work/cpu?ms=2", headers=STORE_HEADER)
    assert st == 200 and h.get("x-reqprofile-id"), h
    profile_id = h["x-reqprofile-id"]
    assert wait_until(lambda: profile_id in index(server))
    front = Httpd("event", load_reqprof=False, modules=("proxy", "proxy_http"),
                  extra="ProxyPass / http://127.0.0.1:%d/\n" % server.port)
    servers.append(front)
    front.start()

    refused = [
        (server, "/profiles/", {"X-Forwarded-For": "203.0.113.9"}),
        (server, "/profiles/?view=" + profile_id, {"Forwarded": "for=203.0.113.9"}),
        (front, "/profiles/", {}),
        (front, "/profiles/?view=" + profile_id, {}),
        (front, "/stripped/", {}),
        (front, "/stripped/?view=" + profile_id, {}),
        (front, "/stripped/?compare=%s&with=%s" % (profile_id, profile_id), {}),
        (server, "/tokened/", {}),
        (server, "/tokened/?view=" + profile_id, {"X-Token": "nope"}),
    ]
    for where, path, headers in refused:
        st, _, body = request(where, path, headers=headers)
        assert st == 403, (where is front, path, headers, st)
        assert profile_id.encode() not in body and b"rp-row" not in body
    st, _, body = request(server, "/tokened/", headers={"X-Token": "letmein"})
    assert st == 200 and profile_id in body.decode()
    st, _, body = request(server, "/stripped/")
    assert st == 200 and profile_id in body.decode()
    st, _, body = request(server, "/tokened/?view=" + profile_id,
                          headers={"X-Token": "letmein"})
    assert st == 200 and is_report(body)
    lines = [l for l in server.read_error_log().splitlines()
             if "mod_reqprof: reqprof-index: client refused:" in l]
    assert len(lines) == len(refused), lines
    assert any("carries X-Forwarded-For" in l for l in lines), lines
    assert any("ReqProfileRequire not met" in l for l in lines), lines


# ---- hostile input -------------------------------------------------------------

HOSTILE_PATH = "/work/<script>alert(\"p\")</script>'&/cpu?ms=3&q=<script>x</script>\"'"
# httpd refuses a Host with a slash, even with HttpProtocolOptions Unsafe.
HOSTILE_HOST = "h\"'&<script>alert('h')<img src=x onerror=alert(1)>"

BAD_TRACEPARENTS = [
    "00-<script>alert(1)</script>-%s-01" % SPAN,
    "00-%s-%s-01\"><script>alert(1)</script>" % (TRACE_A, SPAN),
    "00-%s-%s-01" % (TRACE_A.upper(), SPAN),
    "00-%s-%s-01" % ("0" * 32, SPAN),
    "00-%s-%s-01" % (TRACE_A, "0" * 16),
    "ff-%s-%s-01" % (TRACE_A, SPAN),
    "00-%s-%s-01-extra" % (TRACE_A, SPAN),
    "00-%s-%s" % (TRACE_A, SPAN),
    "00_%s_%s_01" % (TRACE_A, SPAN),
    "",
]


def test_hostile_request_text_is_escaped_and_bad_traceparents_ignored(redises, servers):
    """A path, query and Host header (HttpProtocolOptions Unsafe lets it
    through to the record) full of HTML, quotes and script tags are stored as
    they came and shown escaped: the index has no script tag at all, the
    filter form shows them back escaped, and the report and the compare page
    hold no more script tags than those of a harmless request. A traceparent
    that is not a valid W3C one is not recorded (no trace in the record or
    the index), while a valid one of a later version is."""
    redis = start_redis(redises)
    server = start_httpd(servers, "prefork", "HttpProtocolOptions Unsafe\n" +
                         redis_conf("hostile.test", redis))
    raw = ("GET %s HTTP/1.1\r\nHost: %s\r\nX-ReqProfile-Store: 1\r\n"
           "traceparent: %s\r\nConnection: close\r\n\r\n" % (
               HOSTILE_PATH, HOSTILE_HOST, BAD_TRACEPARENTS[0])).encode()
    st, lines, body = split_response(raw_request(server, raw))
    assert st.startswith(b"HTTP/1.1 200") and body == CPU_BODY, (st, body)
    hostile = announced(lines)["x-reqprofile-id"]
    st, h, body = request(server, "/work/cpu?ms=3", headers=STORE_HEADER)
    benign = h["x-reqprofile-id"]
    bad = {}
    for n, value in enumerate(BAD_TRACEPARENTS[1:]):
        st, h, _ = request(server, "/work/cpu?ms=1&bad=%d" % n,
                           headers=dict(STORE_HEADER, traceparent=value))
        assert st == 200
        bad[h["x-reqprofile-id"]] = value
    later = "01-%s-%s-01-future" % (TRACE_B, SPAN)
    st, h, _ = request(server, "/work/cpu?ms=1&later",
                       headers=dict(STORE_HEADER, traceparent=later))
    later_id = h["x-reqprofile-id"]
    everything = {hostile, benign, later_id} | set(bad)
    assert wait_until(lambda: listed(server) == everything), listed(server)

    page = index(server)
    assert "<script" not in page.lower()
    rows = {r["id"]: r for r in index_rows(page)}
    # The record keeps the target as sent, a quote percent-encoded
    # (docs/log-format.md).
    assert rows[hostile]["path"] == HOSTILE_PATH.replace('"', "%22"), rows[hostile]
    assert rows[hostile]["host"] == HOSTILE_HOST, rows[hostile]
    for profile_id in [hostile, benign] + list(bad):
        assert rows[profile_id]["trace"] == "", (bad.get(profile_id), rows[profile_id])
        record = parse_record(redis.saved(profile_id, ".meta")
                              .decode().split("\n")[0])
        assert record.get("trace", "") == "", (bad.get(profile_id), record)
    assert rows[later_id]["trace"] == TRACE_B
    assert listed(server, "?trace=" + TRACE_B) == {later_id}
    assert listed(server, "?trace=" + TRACE_A) == set()

    # Filters that carry the same text come back escaped in the form.
    for query, expected, shown in (
            ("?path=%3Cscript%3Ealert(%2522p", {hostile}, "&lt;script&gt;alert(%22p"),
            ("?trace=%22%3E%3Cscript%3Ealert(1)%3C/script%3E", set(),
             "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("?server=%22%3E%3Cscript%3E", set(), "&quot;&gt;&lt;script&gt;")):
        page = index(server, query)
        assert "<script" not in page.lower(), query
        assert {r["id"] for r in index_rows(page)} == expected, query
        assert 'value="%s"' % shown in page, query

    def fetch(query):
        st, _, body = request(server, "/profiles/" + query)
        assert st == 200, (query, st)
        return body.decode("utf-8")

    hostile_report, benign_report = fetch("?view=" + hostile), fetch("?view=" + benign)
    assert is_report(hostile_report.encode())
    for text in ("alert(\"p\")</script>", "<script>x</script>", "<script>alert('h')",
                 "<img src=x"):
        assert text not in hostile_report, text
    for tag in ("<script", "</script"):
        assert hostile_report.lower().count(tag) == benign_report.lower().count(tag), tag
    compare = fetch("?compare=%s&with=%s" % (benign, hostile))
    assert "<script" not in compare.lower()
    speedscope = json.loads(fetch("?speedscope=" + hostile))
    assert speedscope["profiles"]


# ---- directive values apache2 -t refuses ----------------------------------------------

BAD_CONFIGS = [
    ("ReqProfileStore redis://h:99999", "ReqProfileStore"),
    ("ReqProfileStore redis://h:0", "ReqProfileStore"),
    ("ReqProfileStore redis://h:6379/x", "ReqProfileStore"),
    ("ReqProfileStore rediss://x", "ReqProfileStore"),
    ("ReqProfileStore redis://user:pw@h", "ReqProfileStore"),
    ("ReqProfileStore redis://@h", "ReqProfileStore"),
    ("ReqProfileStore redis://", "ReqProfileStore"),
    ("ReqProfileStore foo", "ReqProfileStore"),
    ("ReqProfileStore dir:", "ReqProfileStore"),
    ("<Location /x>\nReqProfileStore redis://h\n</Location>", "ReqProfileStore"),
    ("ReqProfileStorePasswordFile {missing}", "ReqProfileStorePasswordFile"),
    ("ReqProfileStorePasswordFile {empty}", "ReqProfileStorePasswordFile"),
    ("ReqProfileStorePasswordFile {blank_first}", "ReqProfileStorePasswordFile"),
    ("ReqProfileStoreTTL 0s", "ReqProfileStoreTTL"),
    ("ReqProfileStoreTTL 367d", "ReqProfileStoreTTL"),
    ("ReqProfileStoreTimeout 0ms", "ReqProfileStoreTimeout"),
    ("ReqProfileStoreTimeout 11s", "ReqProfileStoreTimeout"),
    ("ReqProfileStoreLimit 0", "ReqProfileStoreLimit"),
    ("ReqProfileStoreQueue 0", "ReqProfileStoreQueue"),
    ("ReqProfileIndexURL \"a b\"", "ReqProfileIndexURL"),
    ("ReqProfileIndexURL \"/p/\\\"><script>\"", "ReqProfileIndexURL"),
    ("ReqProfileIndexURL javascript:alert(1)", "ReqProfileIndexURL"),
]

GOOD_CONFIG = """
ReqProfileStore redis://profiler@[::1]:6390/3
ReqProfileStorePasswordFile {good}
ReqProfileStoreTTL 7200s
ReqProfileStoreTimeout 50ms
ReqProfileStoreLimit 500
ReqProfileStoreQueue 8
ReqProfileIndexURL https://profiles.test/idx?site=1
"""


def config_paths(server):
    """Password files in the server's root: none, empty, a blank first line,
    a good one."""
    paths = {"missing": os.path.join(server.root, "missing.pass")}
    for name, text in (("empty", ""), ("blank_first", "\nsecond line\n"),
                       ("good", "s3cret\n")):
        paths[name] = write_password_file(server, name + ".pass", text)
    return paths


def test_good_store_directives_pass_config_test():
    """Every store directive at a valid value (an IPv6 Redis with a user and
    a database, a URL index with a query) passes `apache2 -t`: the refusals
    below are the values', not the directives'."""
    server = Httpd("event", extra="")
    try:
        server.write_config(GOOD_CONFIG.format(**config_paths(server)), True, (), 8)
        rc, out = server.config_test()
        assert rc == 0 and "Syntax OK" in out, out
    finally:
        server.cleanup()


@pytest.mark.parametrize("value", ["30m", "12h", "1d", "366d"])
def test_store_ttl_takes_the_documented_units(value):
    """docs/directives.md: ReqProfileStoreTTL takes 1s to 366d in s, m, h or
    d, and shows its default as 1d."""
    server = Httpd("event", extra="")
    try:
        server.write_config("ReqProfileStore redis://127.0.0.1\nReqProfileStoreTTL %s\n"
                            % value, True, (), 8)
        rc, out = server.config_test()
        assert rc == 0 and "Syntax OK" in out, out
    finally:
        server.cleanup()


@pytest.mark.parametrize("line,directive", BAD_CONFIGS)
def test_bad_store_directive_fails_config_test(line, directive):
    """Each bad value stops `apache2 -t` with a message naming its
    directive."""
    server = Httpd("event", extra="")
    try:
        server.write_config(line.format(**config_paths(server)), True, (), 8)
        rc, out = server.config_test()
        assert rc != 0, (line, out)
        assert directive in out, (line, out)
    finally:
        server.cleanup()


# ---- a dir: store --------------------------------------------------------------------

def profiles_dir(server, name="profiles"):
    path = os.path.join(server.root, name)
    os.makedirs(path)
    user = pwd.getpwnam(unprivileged_user())
    os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, 0o750)
    return path


def saved_files(path):
    out = {}
    for name in os.listdir(path):
        for suffix in (".html", ".speedscope.json", ".meta"):
            if name.endswith(suffix) and ID_RE.match(name[:-len(suffix)]):
                out.setdefault(name[:-len(suffix)], set()).add(suffix)
    return out


DIR_CONF = """
ReqProfile On
{store}
<Location /profiles/>
  SetHandler reqprof-index
</Location>
"""


def test_dir_store_behaves_as_reqprofiledir(servers):
    """ReqProfileStore dir:PATH (after a redis:// one: the last wins) saves
    and lists as ReqProfileDir PATH does: the same requests (a triggered
    report, profile=store, the store header on a 404) leave the same files
    and the same index rows; the stored ones announce their id (no
    ReqProfileIndexURL: no link) and open from the index."""
    made = {}
    for kind in ("dir", "store"):
        server = Httpd("event", extra="")
        servers.append(server)
        path = profiles_dir(server)
        store = ("ReqProfileDir profiles" if kind == "dir" else
                 "ReqProfileStore redis://127.0.0.1:%d/0\nReqProfileStore dir:profiles"
                 % free_port())
        server.write_config(DIR_CONF.format(store=store), True, (), 8)
        with open(os.path.join(server.docroot, "page.html"), "wb") as f:
            f.write(PAGE)
        server.start()
        st, _, body = request(server, "/work/cpu?ms=10&profile=1")
        assert st == 200 and is_report(body)
        profile_id, _ = check_store_response(server, "/page.html?profile=store", index_url=None)
        missing_id, _ = check_store_response(server, "/gone",
                                             headers=(("X-ReqProfile-Store", "1"),),
                                             status=404, index_url=None)

        def complete():
            files = saved_files(path)
            done = len(files) == 3 and all(len(s) == 3 for s in files.values())
            return files if done else None
        files = wait_until(complete)
        assert files and {profile_id, missing_id} < set(files), saved_files(path)
        page = index(server)
        assert "(dir:%s)" % path in page
        rows = index_rows(page)
        assert {r["id"] for r in rows} == set(files)
        check_opens_report(server, "/profiles/?view=" + profile_id, "GET", "/page.html", 200)
        check_opens_report(server, "/profiles/?view=" + missing_id, "GET", "/gone", 404)
        made[kind] = sorted((r["method"], r["path"], r["status"], r["mode"], r["server"])
                            for r in rows)
    assert made["dir"] == made["store"], made
    assert sorted(m[3] for m in made["dir"]) == ["store", "store", "trigger"], made
