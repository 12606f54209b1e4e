"""The request matrix: every kind of request httpd serves, unprofiled and
profiled, on prefork, worker and event.

Each MPM gets two servers with the same configuration and the same files:
one with mod_reqprof loaded (`full`), one without (`control`). Unprofiled
responses from `full` must equal `control`'s (status, headers bar Date and
the workload's own timings, body); profiled ones must be one valid report
(200, text/html, the original status in its summary, the expected code in
its tree). After every test neither server may have logged a crashed child.

Kinds: static files (small; 20 MiB with EnableSendfile/EnableMMAP), a
directory index (mod_dir), SSI with several include-virtual subrequests,
CGI (mod_cgid on worker/event, mod_cgi on prefork: normal, slow, failing),
mod_proxy to a slow local backend, mod_deflate (the report itself
compressed), mod_lua, ErrorDocument and internal redirects (mod_rewrite),
404/500, HEAD, 304/206, slow chunked uploads under mod_reqtimeout,
keep-alive with pipelining, and HTTP/2 (h2c) with several profiled streams
on one connection."""
import gzip
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from httpd_harness import MODULE_DIR, MPMS, Httpd
from report_parser import Report
from safety_util import (Reader, SlowBackend, check_report, exchange, get, is_report,
                         phase_rows, slow_chunked_upload)

HAVE_LUA = os.path.exists(os.path.join(MODULE_DIR, "mod_lua.so"))
LARGE_BYTES = 20 * 1024 * 1024
MTIME = 1700000000

SMALL_HTML = b"<!DOCTYPE html><title>small</title>\n" + b"<p>small static page</p>\n" * 200

LUA_SCRIPT = """
function handle(r)
  r.content_type = "text/plain"
  local t = 0
  for i = 1, 3000000 do t = (t + i * 7) % 1000003 end
  r:puts("lua says " .. t .. "\\n")
  return apache2.OK
end
"""

CGI_SCRIPTS = {
    "ok.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nX-Cgi: ok\\r\\n\\r\\ncgi ok\\n'\n",
    "slow.sh": "#!/bin/sh\nsleep 1\nprintf 'Content-Type: text/plain\\r\\n\\r\\ncgi slow done\\n'\n",
    "fail.sh": "#!/bin/sh\necho 'failing on purpose' >&2\nexit 1\n",
    "echo.py": ("#!%s\nimport hashlib, sys\n" % sys.executable +
                "data = sys.stdin.buffer.read()\n"
                "digest = hashlib.sha256(data).hexdigest()\n"
                "sys.stdout.write('Content-Type: text/plain\\r\\nX-Body-Sha256: %s\\r\\n"
                "X-Body-Length: %d\\r\\n\\r\\n%s %d\\n' % (digest, len(data), digest, len(data)))\n"),
}

SSI_PAGE = b"""<!DOCTYPE html><title>ssi</title>
<h1>ssi page</h1>
<!--#include virtual="/inc/a.html" -->
<!--#include virtual="/inc/b.html" -->
<!--#include virtual="/work/cpu?ms=40" -->
<!--#include virtual="/inc/a.html" -->
<p>end</p>
"""


def matrix_config(server, mpm, backend_port):
    root, docroot = server.root, server.docroot
    cgi = "ScriptSock logs/cgid.sock" if mpm != "prefork" else ""
    lua = ("LuaMapHandler ^/lua/hello$ %s/lua/hello.lua handle" % root) if HAVE_LUA else ""
    h2 = "Protocols h2c http/1.1" if mpm != "prefork" else ""
    return """
<IfModule reqprof_module>
  ReqProfile On
  ReqProfileMaxConcurrent 16
</IfModule>
EnableSendfile On
EnableMMAP On
DirectoryIndex index.html
AddOutputFilterByType DEFLATE text/html text/plain
RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500
%(h2)s
<Directory %(docroot)s/ssi>
  Options +Includes
  AddType text/html .shtml
  AddOutputFilter INCLUDES .shtml
</Directory>
ScriptAlias /cgi/ %(root)s/cgi/
<Directory %(root)s/cgi>
  Require all granted
</Directory>
%(cgi)s
ProxyPass /backend/ http://127.0.0.1:%(port)d/
ProxyPass /fastbackend/ http://127.0.0.1:%(port)d/
ProxyTimeout 10
ScriptAlias /fastcgi/ %(root)s/cgi/
<IfModule reqprof_module>
  <LocationMatch "^/fast(cgi|backend)/">
    ReqProfileInterval 100us
  </LocationMatch>
</IfModule>
%(lua)s
<Directory %(docroot)s/rw>
  RewriteEngine On
  RewriteRule ^old$ /work/cpu [L]
  RewriteRule ^new$ /work/cpu?ms=30 [L]
</Directory>
RewriteEngine On
RewriteRule ^/pt/(.*)$ /work/$1 [PT]
RewriteRule ^/ptq/(.*)$ /work/$1?ms=30 [PT]
<Location /ed>
  ErrorDocument 404 /work/cpu?ms=30
</Location>
""" % dict(docroot=docroot, root=root, cgi=cgi, port=backend_port, lua=lua, h2=h2)


def populate(server, large_source):
    d = server.docroot
    for sub in ("dir", "ssi", "inc", "rw", "ed"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    files = {
        "small.html": SMALL_HTML,
        "dir/index.html": b"<p>directory index</p>\n" * 50,
        "inc/a.html": b"<p>included a</p>\n",
        "inc/b.html": b"<p>included b</p>\n" * 20,
        "ssi/page.shtml": SSI_PAGE,
    }
    for name, data in files.items():
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (MTIME, MTIME))
    # The large file: a hard link to one copy per test session.
    try:
        os.link(large_source, os.path.join(d, "large.bin"))
    except OSError:
        shutil.copy2(large_source, os.path.join(d, "large.bin"))
    cgi_dir = os.path.join(server.root, "cgi")
    os.makedirs(cgi_dir)
    for name, text in CGI_SCRIPTS.items():
        path = os.path.join(cgi_dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    if HAVE_LUA:
        os.makedirs(os.path.join(server.root, "lua"))
        with open(os.path.join(server.root, "lua", "hello.lua"), "w") as f:
            f.write(LUA_SCRIPT)


def matrix_modules(mpm):
    mods = ["include", "filter", "deflate", "proxy", "proxy_http", "rewrite", "reqtimeout",
            "cgi" if mpm == "prefork" else "cgid"]
    if HAVE_LUA:
        mods.append("lua")
    if mpm != "prefork":
        mods.append("http2")
    return tuple(mods)


@pytest.fixture(scope="module")
def backend():
    b = SlowBackend(delay=0.3)
    yield b
    b.close()


@pytest.fixture(scope="module")
def large_file():
    tmp = tempfile.mkdtemp(prefix="reqprof-large-")
    os.chmod(tmp, 0o755)
    path = os.path.join(tmp, "large.bin")
    rng = random.Random(20)
    block = bytes(rng.getrandbits(8) for _ in range(65536))
    with open(path, "wb") as f:
        for _ in range(LARGE_BYTES // len(block)):
            f.write(block)
    os.chmod(path, 0o644)
    os.utime(path, (MTIME, MTIME))
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    yield path, digest
    shutil.rmtree(tmp, ignore_errors=True)


class Pair:
    def __init__(self, mpm, full, control):
        self.mpm, self.full, self.control = mpm, full, control

    def both(self, *args, **kw):
        """The same request to both servers: (full's, control's)."""
        return get(self.full.port, *args, **kw), get(self.control.port, *args, **kw)


@pytest.fixture(scope="module", params=MPMS)
def pair(request, backend, large_file):
    mpm = request.param
    servers = []
    try:
        for load in (True, False):
            s = Httpd(mpm, load_reqprof=load, modules=matrix_modules(mpm), threads=16)
            with open(s.conf_path, "a") as f:
                f.write(matrix_config(s, mpm, backend.port))
            populate(s, large_file[0])
            servers.append(s)
        for s in servers:
            s.start()
        yield Pair(mpm, servers[0], servers[1])
    finally:
        crashes = [l for s in servers for l in s.crash_lines()]
        for s in servers:
            s.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


@pytest.fixture(autouse=True)
def no_crash_in_matrix(request):
    yield
    if "pair" in request.fixturenames:
        p = request.getfixturevalue("pair")
        crashes = p.full.crash_lines() + p.control.crash_lines()
        assert not crashes, "crashed children:\n" + "\n".join(crashes)


VARYING = ("date", "x-rpwork-wall-us", "x-rpwork-cpu-us")


def _normalised(resp, ignore):
    """Headers (bar the date, timings and `ignore`) and body, with a
    multipart/byteranges boundary (random per response) made constant."""
    headers = [(k, v) for k, v in resp.header_list if k not in VARYING + tuple(ignore)]
    body = resp.body
    m = re.match(r"multipart/byteranges; boundary=(\S+)$", resp.header("content-type", ""))
    if m:
        # The boundary's length varies too, and with it the Content-Length.
        boundary = m.group(1)
        headers = [(k, v.replace(boundary, "BOUNDARY")) for k, v in headers
                   if k != "content-length"]
        body = body.replace(boundary.encode(), b"BOUNDARY")
    return headers, body


def same_response(a, b, what="", ignore=()):
    """An unprofiled response equals the one from the server without the
    module: status, headers in order (bar the date and timings), body."""
    assert a.status == b.status, (what, a.status, b.status)
    ha, body_a = _normalised(a, ignore)
    hb, body_b = _normalised(b, ignore)
    assert ha == hb, (what, ha, hb)
    assert body_a == body_b, (what, a.body[:200], b.body[:200])
    assert not is_report(a.body)


# ---- static files ----------------------------------------------------------------------

def test_static_small(pair):
    a, b = pair.both("/small.html")
    same_response(a, b, "small")
    assert a.status == 200 and a.body == SMALL_HTML
    resp = get(pair.full.port, "/small.html?profile=1")
    report = check_report(resp, status="200")
    assert report.summary["discarded"] == "%d bytes (discarded)" % len(SMALL_HTML)
    for gone in ("etag", "last-modified", "content-encoding", "content-range"):
        assert gone not in resp.headers


def test_static_large_sendfile_and_mmap(pair, large_file):
    a, b = pair.both("/large.bin", timeout=120)
    same_response(a, b, "large")
    assert int(a.header("content-length")) == LARGE_BYTES
    assert hashlib.sha256(a.body).hexdigest() == large_file[1]
    resp = get(pair.full.port, "/large.bin?profile=1")
    report = check_report(resp, status="200")
    assert report.summary["discarded"] == "%d bytes (discarded)" % LARGE_BYTES
    assert len(resp.body) < 2 * 1024 * 1024


def test_directory_index_is_one_profile(pair):
    a, b = pair.both("/dir/")
    same_response(a, b, "dir index")
    assert a.body.startswith(b"<p>directory index</p>")
    resp = get(pair.full.port, "/dir/?profile=1")
    report = check_report(resp, status="200")
    assert report.summary["uri"] == "/dir/?profile=1"
    # mod_dir's trailing-slash redirect comes from a fixups hook, before
    # mod_reqprof confirms a profile: by design it is served as it is,
    # exactly as without the module (the redirect keeps the trigger).
    a, b = pair.both("/dir?profile=1")
    same_response(a, b, "dir redirect")
    assert a.status == 301
    assert a.header("location").endswith("/dir/?profile=1")


def test_ssi_subrequests_are_part_of_one_profile(pair):
    a, b = pair.both("/ssi/page.shtml")
    same_response(a, b, "ssi")
    assert a.body.count(b"included a") == 2 and b"included b" in a.body
    assert b"rpwork cpu done" in a.body
    resp = get(pair.full.port, "/ssi/page.shtml?profile=1")
    report = check_report(resp, status="200", func="work_alpha")
    # The include's CPU work sits under mod_include's frames, in the
    # handler phase of the one request.
    assert report.weight_of("work_alpha") >= 20
    assert any(n.obj == "mod_include.so" for n in report.nodes)


# ---- CGI -------------------------------------------------------------------------------

@pytest.mark.parametrize("script, status, body", [
    ("ok.sh", 200, b"cgi ok\n"),
    ("slow.sh", 200, b"cgi slow done\n"),
    ("fail.sh", 500, None),
])
def test_cgi(pair, script, status, body):
    a, b = pair.both("/cgi/" + script)
    same_response(a, b, script)
    assert a.status == status
    if body is not None:
        assert a.body == body
    resp = get(pair.full.port, "/cgi/%s?profile=1" % script)
    report = check_report(resp, status=str(status), sampled=script == "slow.sh")
    if script == "slow.sh":
        # A second in the CGI handler, waiting for the script's output.
        waited = sum(r.wait for r in report.roots)
        assert waited >= 800, waited
        assert phase_rows(resp.body.decode())["handler"][1] >= 800
        # ...under mod_cgi's (prefork) or mod_cgid's frames that read the
        # script's output.
        cgi_obj = "mod_cgi.so" if pair.mpm == "prefork" else "mod_cgid.so"
        under = report.wait_under(lambda n: n.obj == cgi_obj)
        assert under >= 0.95 * waited, (under, waited, sorted({n.obj for n in report.nodes}))


UPLOAD_CHUNKS = 16


def upload_chunks():
    rng = random.Random(7)
    chunks = [bytes(rng.getrandbits(8) for _ in range(rng.randint(500, 3000)))
              for _ in range(UPLOAD_CHUNKS)]
    return chunks, hashlib.sha256(b"".join(chunks)).hexdigest(), sum(map(len, chunks))


def slow_length_upload(port, path, chunks, pause=0.05):
    """The same body with a Content-Length, sent in pieces with pauses."""
    body = b"".join(chunks)
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (path, len(body))).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(head)
        for c in chunks:
            s.sendall(c)
            time.sleep(pause)
        return Reader(s).read_response("POST")


def test_slow_uploads_complete_intact(pair):
    """Bodies that arrive in pieces 50 ms apart (mod_reqtimeout loaded) reach
    the CGI and the proxied backend intact: chunked unprofiled, and with a
    Content-Length both unprofiled and profiled."""
    chunks, digest, total = upload_chunks()
    expected = ("%s %d\n" % (digest, total)).encode()
    for port in (pair.full.port, pair.control.port):
        resp = slow_chunked_upload(port, "/cgi/echo.py", chunks)
        assert resp.status == 200 and resp.body == expected, resp.raw_head
    resp = slow_length_upload(pair.full.port, "/cgi/echo.py", chunks)
    assert resp.status == 200 and resp.body == expected, resp.raw_head
    profiled = slow_length_upload(pair.full.port, "/cgi/echo.py?profile=1", chunks)
    report = check_report(profiled, status="200")
    assert profiled.header("x-body-sha256") == digest
    assert profiled.header("x-body-length") == str(total)
    # 16 pauses of 50 ms: the handler waited for the body.
    assert sum(r.wait for r in report.roots) >= 500
    profiled = slow_length_upload(pair.full.port, "/backend/upload?profile=1", chunks)
    check_report(profiled, status="200")
    assert profiled.header("x-body-sha256") == digest


@pytest.mark.parametrize("target", ["/fastcgi/echo.py", "/fastbackend/upload"])
def test_slow_chunked_upload_profiled(pair, target):
    """A chunked body arriving in 50 pieces, profiled at 100us. mod_reqtimeout
    reads chunk-size lines with apr_poll(), which does not retry EINTR: a
    sampling signal that breaks that poll fails the request with 400 (at
    4f621ca every such upload did)."""
    rng = random.Random(11)
    chunks = [bytes(rng.getrandbits(8) for _ in range(700)) for _ in range(50)]
    digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    # Several uploads: the race is per signal, so one clean upload proves little.
    for _ in range(4):
        profiled = slow_chunked_upload(pair.full.port, target + "?profile=1", chunks,
                                       pause=0.015)
        report = check_report(profiled, status="200")
        assert profiled.header("x-body-sha256") == digest
        assert profiled.header("x-body-length") == str(700 * 50)
        assert sum(r.wait for r in report.roots) >= 500


# ---- proxy, deflate, lua -----------------------------------------------------------------

def test_proxy_to_slow_backend_shows_the_wait(pair):
    a, b = pair.both("/backend/slow")
    # mod_deflate adds "Vary: Accept-Encoding" to some proxied responses and
    # not to others, with or without mod_reqprof.
    same_response(a, b, "proxy", ignore=("vary",))
    assert a.body == b"backend answered /slow after 300 ms\n"
    resp = get(pair.full.port, "/backend/slow?profile=1")
    report = check_report(resp, status="200", sampled=True)
    # The backend's 300 ms: waiting, in the handler phase.
    waited = sum(r.wait for r in report.roots)
    assert waited >= 250, waited
    assert phase_rows(resp.body.decode())["handler"][1] >= 250
    # Under mod_proxy's frames that wait for the backend.
    under = report.wait_under(lambda n: n.obj in ("mod_proxy_http.so", "mod_proxy.so"))
    assert under >= 0.95 * waited, (under, waited, sorted({n.obj for n in report.nodes}))


def test_deflate_unprofiled_and_report_compressed(pair):
    gz = {"Accept-Encoding": "gzip"}
    a, b = pair.both("/small.html", headers=gz)
    assert a.header("content-encoding") == "gzip"
    same_response(a, b, "deflate")
    assert gzip.decompress(a.body) == SMALL_HTML
    a, b = pair.both("/work/big?kb=20", headers=gz)
    assert a.header("content-encoding") == "gzip"
    same_response(a, b, "deflate /work")
    assert gzip.decompress(a.body) == b"x" * 20 * 1024
    # The report is what gets compressed, and it parses.
    for path in ("/small.html?profile=1", "/work/cpu?ms=30&profile=1"):
        resp = get(pair.full.port, path, headers=gz)
        assert resp.header("content-encoding") == "gzip", resp.raw_head
        report = check_report(resp, status="200")
        assert "vary" in resp.headers
        if "/work" in path:
            assert report.weight_of("work_alpha") > 0
    resp = get(pair.full.port, "/work/cpu?ms=20&profile=text", headers=gz)
    assert resp.status == 200 and resp.header("content-encoding") == "gzip"
    text = gzip.decompress(resp.body).decode("utf-8")
    assert text.startswith("mod_reqprof: GET /work/cpu?ms=20&profile=text HTTP/1.1")
    # Without Accept-Encoding, the report is not compressed.
    resp = get(pair.full.port, "/small.html?profile=1")
    assert "content-encoding" not in resp.headers
    check_report(resp)


def test_lua_handler(pair):
    # mod_lua ships in Debian's apache2 package: its absence is a failure,
    # not a skip.
    assert HAVE_LUA, "mod_lua.so is missing from %s (package apache2)" % MODULE_DIR
    a, b = pair.both("/lua/hello")
    same_response(a, b, "lua")
    assert a.status == 200 and a.body.startswith(b"lua says ")
    resp = get(pair.full.port, "/lua/hello?profile=1")
    report = check_report(resp, status="200")
    objects = {n.obj for n in report.nodes}
    assert "mod_lua.so" in objects or any(o and o.startswith("liblua") for o in objects), objects


# ---- redirects, errors, methods, validators -----------------------------------------------

def test_error_document_is_one_profile(pair):
    a, b = pair.both("/ed/missing")
    same_response(a, b, "errordocument")
    assert a.status == 404 and a.body.startswith(b"rpwork cpu done")
    resp = get(pair.full.port, "/ed/missing?profile=1")
    report = check_report(resp, status="404", func="work_alpha")
    assert report.summary["uri"] == "/ed/missing?profile=1"


def test_rewrite_internal_redirect_is_one_profile(pair):
    # A per-directory rule redirects internally to /work/cpu, the query
    # passing through: one profile covers both requests.
    a, b = pair.both("/rw/old?ms=10")
    same_response(a, b, "rewrite")
    assert a.body.startswith(b"rpwork cpu done")
    resp = get(pair.full.port, "/rw/old?ms=30&profile=1")
    report = check_report(resp, status="200", func="work_alpha")
    assert report.summary["uri"] == "/rw/old?ms=30&profile=1"
    assert report.weight_of("work_alpha") >= 15
    # [PT] in server context: mapped again, no second request.
    a, b = pair.both("/pt/cpu?ms=10")
    same_response(a, b, "rewrite PT")
    resp = get(pair.full.port, "/pt/cpu?ms=30&profile=1")
    check_report(resp, status="200", func="work_alpha")


@pytest.mark.parametrize("path", ["/rw/new?profile=1", "/ptq/cpu?profile=1"])
def test_rewrite_that_replaces_the_query_keeps_the_trigger(pair, path):
    a, b = pair.both(path.replace("profile=1", "x=1"))
    same_response(a, b, "rewrite with a new query")
    resp = get(pair.full.port, path)
    report = check_report(resp, status="200", func="work_alpha")
    assert report.summary["uri"] == path


@pytest.mark.parametrize("path, status", [("/no-such-file.html", 404),
                                          ("/work/status?code=500", 500),
                                          ("/work/status?code=503", 503)])
def test_error_statuses(pair, path, status):
    a, b = pair.both(path)
    same_response(a, b, path)
    assert a.status == status
    sep = "&" if "?" in path else "?"
    check_report(get(pair.full.port, path + sep + "profile=1"), status=str(status))


@pytest.mark.parametrize("path", ["/small.html", "/work/cpu?ms=5", "/no-such-file.html",
                                  "/cgi/ok.sh", "/backend/head"])
def test_head(pair, path):
    a, b = pair.both(path, method="HEAD")
    same_response(a, b, "HEAD " + path, ignore=("vary",))
    assert a.body == b""
    sep = "&" if "?" in path else "?"
    resp = get(pair.full.port, path + sep + "profile=1", method="HEAD")
    check_report(resp, method="HEAD")


def test_conditional_and_range(pair):
    first = get(pair.full.port, "/small.html")
    etag, modified = first.header("etag"), first.header("last-modified")
    cases = [({"If-None-Match": etag}, 304), ({"If-Modified-Since": modified}, 304),
             ({"Range": "bytes=0-99"}, 206), ({"Range": "bytes=10-20,30-40"}, 206),
             ({"Range": "bytes=0-99", "If-Range": etag}, 206)]
    for headers, status in cases:
        a, b = pair.both("/small.html", headers=headers)
        same_response(a, b, headers)
        assert a.status == status, headers
        resp = get(pair.full.port, "/small.html?profile=1", headers=headers)
        check_report(resp, status="200")
        assert "content-range" not in resp.headers
    # A range on a proxied and on a CGI response.
    a, b = pair.both("/cgi/ok.sh", headers={"Range": "bytes=0-2"})
    same_response(a, b, "cgi range")
    resp = get(pair.full.port, "/cgi/ok.sh?profile=1", headers={"Range": "bytes=0-2"})
    check_report(resp, status="200")


# ---- connections -----------------------------------------------------------------------

def pipelined(port):
    reqs = [("GET", "/small.html"), ("GET", "/work/cpu?ms=20&profile=1"),
            ("HEAD", "/work/cpu?ms=5"), ("GET", "/no-such?profile=1"),
            ("GET", "/work/cpu?ms=5"), ("HEAD", "/small.html?profile=1"),
            ("GET", "/work/big?kb=300")]
    raw = b""
    for i, (method, path) in enumerate(reqs):
        close = "Connection: close\r\n" if i == len(reqs) - 1 else ""
        raw += ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (method, path, close)).encode()
    return reqs, exchange(port, raw, [m for m, _ in reqs])


def test_keepalive_pipelined_mixed(pair):
    reqs, got = pipelined(pair.full.port)
    _, expected = pipelined(pair.control.port)
    for (method, path), resp, ctl in zip(reqs, got, expected):
        if "profile=1" in path:
            status = "404" if "no-such" in path else "200"
            check_report(resp, status=status, method=method)
        else:
            same_response(resp, ctl, path)
    assert got[0].body == SMALL_HTML
    assert got[-1].body == b"x" * 300 * 1024


def curl_h2(port, paths, tmp):
    args = ["curl", "-sS", "--http2-prior-knowledge", "--parallel", "--parallel-immediate",
            "--max-time", "60", "-w", "%{url_effective} %{http_version} %{response_code}\\n"]
    outs = []
    for i, p in enumerate(paths):
        out = os.path.join(tmp, "%d.out" % i)
        outs.append(out)
        args += ["http://127.0.0.1:%d%s" % (port, p), "-o", out]
    res = subprocess.run(args, check=True, timeout=90, capture_output=True, text=True)
    meta = {}
    for line in res.stdout.splitlines():
        url, version, code = line.rsplit(" ", 2)
        meta[url.split(":%d" % port, 1)[1]] = (version, int(code))
    bodies = []
    for out in outs:
        with open(out, "rb") as f:
            bodies.append(f.read())
    return meta, bodies


def test_http2_streams_on_one_connection(pair):
    if pair.mpm == "prefork":
        pytest.skip("mod_http2 does not serve h2 on prefork")
    paths = ["/work/cpu?ms=120&profile=1", "/work/wait?ms=150&profile=1",
             "/small.html?profile=1", "/backend/h2?profile=1", "/ssi/page.shtml?profile=1",
             "/small.html", "/work/cpu?ms=5", "/no-such-file.html"]
    tmp = tempfile.mkdtemp()
    try:
        meta, bodies = curl_h2(pair.full.port, paths, tmp)
        _, control = curl_h2(pair.control.port, paths, tmp)
    finally:
        shutil.rmtree(tmp)
    for path, body, ctl in zip(paths, bodies, control):
        version, code = meta[path]
        assert version == "2", (path, version)
        if "profile=1" in path:
            assert code == 200, path
            assert body.count(b"mod_reqprof: request profile") == 1, path
            report = Report(body.decode("utf-8"))
            assert report.summary["protocol"] == "HTTP/2.0"
            assert report.summary["status"] == "200"
        else:
            assert body == ctl, path
    cpu = Report(bodies[0].decode())
    wait = Report(bodies[1].decode())
    # Each stream's profile holds its own work: the CPU stream burns, the
    # waiting one waits, in wait_in_poll.
    assert cpu.weight_of("burn_cpu_split") > 60 and cpu.weight_of("wait_in_poll") == 0, \
        (cpu.summary, sorted({n.func for n in cpu.nodes}))
    assert sum(r.wait for r in wait.roots) > 100 and wait.weight_of("burn_cpu_split") == 0, \
        (wait.summary, sorted({n.func for n in wait.nodes}))
    assert wait.weight_of("wait_in_poll") > 100
    assert Report(bodies[4].decode()).weight_of("work_alpha") > 0
