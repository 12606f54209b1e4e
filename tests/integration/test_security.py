"""Who may trigger a profile, what cannot smuggle a trigger in, what the
request text can and cannot do to a report, and that reports never end up
in a cache.

- The secure default: only loopback clients (checked on the address after
  mod_remoteip, which lets one test client pose as any address), a range
  that excludes 127.0.0.1, a token header and an authenticated user
  (mod_auth_basic + mod_authn_file) as ReqProfileRequire rules. A refused
  trigger must leave the response as it is without the module.
- Trigger smuggling: encoded names, duplicates, huge values, the trigger in
  the path, a POST body or a fragment.
- Hostile URIs, Host headers, methods and User-Agents (with
  HttpProtocolOptions Strict, httpd's default, and Unsafe) escaped in every
  text format: html, text, json, speedscope, collapsed.
- mod_cache + mod_cache_disk: a report is never stored nor served to
  another client, and a cached original never stands in for a report (in
  quick-handler and handler mode); the handler still sees the client's own
  Cache-Control; with CacheIgnoreCacheControl On the original is served and
  the allowed client is told why.
"""
import json
import os
import pwd
import re
import subprocess
import threading
import time

import pytest

from httpd_harness import Httpd, unprivileged_user
from report_parser import Report
from safety_util import check_report, exchange, get, is_report

PLAIN_CPU = b"rpwork cpu done, poll interrupted 0 times\n"
VARYING = ("date", "x-rpwork-wall-us", "x-rpwork-cpu-us")

SECURE_CONF = r"""
RemoteIPHeader X-Client-IP
RemoteIPInternalProxy 127.0.0.1
<IfModule reqprof_module>
ReqProfile On
ReqProfileMaxConcurrent 8
<Location /work/net>
  ReqProfileRequire "-R '192.0.2.0/24'"
</Location>
<Location /work/token>
  ReqProfileRequire "%%{HTTP:X-Profile-Token} == 'secret'"
</Location>
<Location /work/user>
  ReqProfileRequire "%%{REMOTE_USER} == 'ops'"
</Location>
</IfModule>
<Location /work/user>
  AuthType Basic
  AuthName "reqprof"
  AuthBasicProvider file
  AuthUserFile %(root)s/htpasswd
  Require valid-user
</Location>
"""

SECURE_MODULES = ("remoteip", "auth_basic", "authn_core", "authn_file", "authz_user")


def basic(user, password):
    import base64
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def make_htpasswd(path):
    subprocess.run(["htpasswd", "-cbB", "-C", "5", path, "ops", "ops-pass"], check=True,
                   capture_output=True, timeout=30)
    subprocess.run(["htpasswd", "-bB", "-C", "5", path, "dev", "dev-pass"], check=True,
                   capture_output=True, timeout=30)
    os.chmod(path, 0o644)


def configured(mpm="event", load=True, extra="", modules=SECURE_MODULES, conf=SECURE_CONF):
    s = Httpd(mpm, load_reqprof=load, modules=modules)
    make_htpasswd(os.path.join(s.root, "htpasswd"))
    with open(s.conf_path, "a") as f:
        f.write(conf % dict(root=s.root) + extra)
    return s


class Pair:
    def __init__(self, full, control):
        self.full, self.control = full, control

    def both(self, *args, **kw):
        return get(self.full.port, *args, **kw), get(self.control.port, *args, **kw)


def start_pair(**kw):
    servers = [configured(load=True, **kw), configured(load=False, **kw)]
    for s in servers:
        s.start()
    return Pair(*servers)


def stop_pair(pair):
    crashes = pair.full.crash_lines() + pair.control.crash_lines()
    pair.full.cleanup()
    pair.control.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


@pytest.fixture(scope="module")
def sec():
    pair = start_pair()
    yield pair
    stop_pair(pair)


@pytest.fixture(autouse=True)
def no_crash_here(request):
    yield
    if "sec" in request.fixturenames:
        p = request.getfixturevalue("sec")
        crashes = p.full.crash_lines()
        assert not crashes, "crashed children:\n" + "\n".join(crashes)


def untouched(a, b, what="", ignore=()):
    """A refused trigger: the response is the one without the module."""
    assert not is_report(a.body), what
    assert a.status == b.status, (what, a.status, b.status)
    ha = [(k, v) for k, v in a.header_list if k not in VARYING + tuple(ignore)]
    hb = [(k, v) for k, v in b.header_list if k not in VARYING + tuple(ignore)]
    assert ha == hb, (what, ha, hb)
    assert a.body == b.body, what


# ---- who may trigger -----------------------------------------------------------------------

@pytest.mark.parametrize("client, allowed", [
    (None, True), ("127.0.0.9", True), ("::1", True), ("203.0.113.7", False),
    ("10.1.2.3", False), ("::ffff:203.0.113.7", False), ("2001:db8::1", False)])
def test_default_rule_is_loopback_only(sec, client, allowed):
    headers = {"X-Client-IP": client} if client else {}
    a, b = sec.both("/work/cpu?ms=5&profile=1", headers=headers)
    if allowed:
        check_report(a)
    else:
        untouched(a, b, client)


def test_address_rule_that_excludes_loopback(sec):
    a, b = sec.both("/work/net/cpu?ms=5&profile=1")
    untouched(a, b, "loopback against 192.0.2.0/24")
    a, b = sec.both("/work/net/cpu?ms=5&profile=1", headers={"X-Client-IP": "198.51.100.1"})
    untouched(a, b, "another network")
    resp = get(sec.full.port, "/work/net/cpu?ms=5&profile=1", headers={"X-Client-IP": "192.0.2.77"})
    check_report(resp)


@pytest.mark.parametrize("headers", [
    [], [("X-Profile-Token", "wrong")], [("X-Profile-Token", "SECRET")],
    [("X-Profile-Token", " secret2")], [("X-Profile-Token", "sec ret")],
    [("X-Profile-Token", "wrong"), ("X-Profile-Token", "secret")],
    [("X-Profile-Tokens", "secret")], [("Cookie", "X-Profile-Token=secret")]])
def test_token_rule_refuses(sec, headers):
    path = "/work/token/cpu?ms=5&profile=1"
    a = get(sec.full.port, path, headers=headers)
    b = get(sec.control.port, path, headers=headers)
    # Headers and all, Vary included: a refused trigger adds no Vary
    # naming the token header, whatever the request sent.
    untouched(a, b, headers)
    assert not vary_names(a, "X-Profile-Token"), (headers, a.raw_head)
    # Nor does the token count in the query string.
    a, b = sec.both("/work/token/cpu?ms=5&profile=1&X-Profile-Token=secret", headers=headers)
    untouched(a, b, "token in the query")
    assert not vary_names(a, "X-Profile-Token"), (headers, a.raw_head)


def test_token_rule_accepts_the_token(sec):
    resp = get(sec.full.port, "/work/token/cpu?ms=20&profile=1",
               headers={"X-Profile-Token": "secret"})
    check_report(resp, func="work_alpha")


def vary_names(resp, header):
    """True if a Vary header of resp names header (case-insensitive)."""
    return any(k == "vary" and header.lower() in [n.strip().lower() for n in v.split(",")]
               for k, v in resp.header_list)


def test_refused_token_trigger_leaves_no_vary(sec):
    a, b = sec.both("/work/token/cpu?ms=5&profile=1")
    untouched(a, b, "refused token trigger")
    assert not vary_names(a, "X-Profile-Token"), a.raw_head


@pytest.mark.parametrize("auth, status, profiled", [
    (None, 401, False), (("dev", "dev-pass"), 200, False), (("ops", "wrong"), 401, False),
    (("ops", "ops-pass"), 200, True)])
def test_authenticated_user_rule(sec, auth, status, profiled):
    headers = {"Authorization": basic(*auth)} if auth else {}
    a, b = sec.both("/work/user/cpu?ms=20&profile=1", headers=headers)
    if profiled:
        report = check_report(a, func="work_alpha")
        assert report.summary["status"] == "200"
    else:
        untouched(a, b, auth)
        assert a.status == status


# ---- refused triggers and the profile slots ------------------------------------------------

SLOT_CONF = r"""
RemoteIPHeader X-Client-IP
RemoteIPInternalProxy 127.0.0.1
<IfModule reqprof_module>
ReqProfile On
ReqProfileMaxConcurrent 1
ReqProfileRequire "-R '10.0.0.0/8'"
</IfModule>
"""


@pytest.fixture(scope="module")
def slots():
    pair = start_pair(conf=SLOT_CONF, modules=("remoteip",))
    yield pair
    stop_pair(pair)


def hold_a_profile(port, seconds):
    """Runs one allowed profile for `seconds` in a thread; returns it."""
    t = threading.Thread(target=get, args=(port, "/work/wait?ms=%d&profile=1" % int(seconds * 1000)),
                         kwargs={"headers": {"X-Client-IP": "10.0.0.1"}})
    t.start()
    time.sleep(0.3)
    return t


def test_capacity_header_for_allowed_clients(slots):
    t = hold_a_profile(slots.full.port, 1.5)
    try:
        resp = get(slots.full.port, "/work/cpu?ms=5&profile=1", headers={"X-Client-IP": "10.0.0.2"})
        assert resp.body == PLAIN_CPU
        assert resp.header("x-reqprofile") == "not profiled: ReqProfileMaxConcurrent reached"
    finally:
        t.join()


def test_refused_client_never_sees_the_capacity_header(slots):
    t = hold_a_profile(slots.full.port, 1.5)
    try:
        headers = {"X-Client-IP": "203.0.113.5"}
        a = get(slots.full.port, "/work/cpu?ms=5&profile=1", headers=headers)
        b = get(slots.control.port, "/work/cpu?ms=5&profile=1", headers=headers)
        untouched(a, b, "refused client while the slots are taken")
    finally:
        t.join()


def test_refused_clients_do_not_take_profile_slots(slots):
    # A refused request that spends 2.5 s in its access checker.
    refused = threading.Thread(target=get, args=(
        slots.full.port, "/work/cpu?ms=5&access_ms=2500&profile=1"),
        kwargs={"headers": {"X-Client-IP": "203.0.113.5"}})
    refused.start()
    time.sleep(0.8)
    try:
        resp = get(slots.full.port, "/work/cpu?ms=5&profile=1", headers={"X-Client-IP": "10.0.0.2"})
        check_report(resp)
    finally:
        refused.join()


def test_report_never_claims_it_was_not_profiled(slots):
    t = hold_a_profile(slots.full.port, 1.0)
    try:
        # Its access checker spends 1.5 s: the slot is free again at fixups.
        resp = get(slots.full.port, "/work/cpu?ms=5&access_ms=1500&profile=1",
                   headers={"X-Client-IP": "10.0.0.2"})
    finally:
        t.join()
    check_report(resp)
    assert resp.header("x-reqprofile") is None, resp.raw_head


# ---- trigger smuggling ---------------------------------------------------------------------

BIG = "a" * 8000


@pytest.mark.parametrize("query, profiled", [
    ("profile=1", True),
    ("%70rofile=1", True),            # encoded names count (documented)
    ("profile=%31", True),            # so do encoded values
    ("p%72ofile=%68tml", True),
    ("profile%3D1", False),           # one name "profile=1", no value
    ("profile%3d1=1", False),
    ("profile=0&profile=1", False),   # the first occurrence decides
    ("profile=1&profile=0", True),
    ("profile=&profile=1", False),
    ("profile&profile=1", False),
    ("x=" + BIG + "&profile=1", True),   # a huge other value is skipped
    (BIG + "=1&profile=1", True),        # and a huge other name
    ("profile=" + BIG, False),           # a huge value never matches
    ("profile=1" + "0" * 7990, False),
    ("profile=1&x=" + BIG, True),
    ("PROFILE=1", False),             # names are case-sensitive
    ("Profile=1", False),
    ("profile+=1", False), ("+profile=1", False), ("profile=1+", False),
    ("profile=1%00", False), ("profile%00=1", False),
    ("profile=%", False), ("profile=%3", False), ("profile=%zz", False),
    ("profile=1%20", False), ("profile= 1", False),
    ("xprofile=1", False), ("profilex=1", False), ("profile[]=1", False),
    ("profile=true", False), ("profile=2", False),
])
def test_trigger_forms(sec, query, profiled):
    a, b = sec.both("/work/cpu?ms=5&" + query)
    if profiled:
        check_report(a)
    else:
        untouched(a, b, query[:80])


def test_request_line_over_the_limit_is_refused_as_usual(sec):
    a, b = sec.both("/work/cpu?ms=5&profile=1&x=" + "a" * 9000)
    assert a.status == 414
    untouched(a, b, "414")


@pytest.mark.parametrize("path", ["/work/cpu/profile=1", "/work/profile=1/cpu",
                                  "/work/cpu;profile=1", "/work/cpu%3Fprofile=1",
                                  "/profile=1", "/work/cpu/%3Fprofile%3D1"])
def test_trigger_in_the_path_does_nothing(sec, path):
    a, b = sec.both(path)
    untouched(a, b, path)


@pytest.mark.parametrize("target", ["/work/cpu?ms=5#profile=1", "/work/cpu#?profile=1",
                                    "/work/cpu?ms=5#&profile=1", "/work/cpu?ms=5&x=#&profile=1"])
def test_trigger_in_a_fragment_does_nothing(sec, target):
    raw = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % target).encode()
    (a,) = exchange(sec.full.port, raw)
    (b,) = exchange(sec.control.port, raw)
    untouched(a, b, target)


@pytest.mark.parametrize("ctype", ["application/x-www-form-urlencoded", "text/plain",
                                   "multipart/form-data; boundary=x"])
def test_trigger_in_a_post_body_does_nothing(sec, ctype):
    body = b"profile=1" if "multipart" not in ctype else (
        b'--x\r\nContent-Disposition: form-data; name="profile"\r\n\r\n1\r\n--x--\r\n')
    a, b = sec.both("/work/cpu?ms=5", method="POST", body=body,
                    headers={"Content-Type": ctype})
    untouched(a, b, ctype)


def test_trigger_in_headers_does_nothing(sec):
    headers = {"X-Profile": "1", "Profile": "1", "Cookie": "profile=1",
               "Referer": "http://127.0.0.1/?profile=1", "X-Original-URL": "/work/cpu?profile=1",
               "X-Rewrite-URL": "/work/cpu?profile=1"}
    a, b = sec.both("/work/cpu?ms=5", headers=headers)
    untouched(a, b, "headers")


# ---- hostile request text in every format --------------------------------------------------

FORMATS = ("1", "text", "json", "speedscope", "collapsed")
C0_C1 = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
TEXT_FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def unsafe():
    s = Httpd("event", extra="ReqProfile On\nHttpProtocolOptions Unsafe\n")
    s.start()
    yield s
    crashes = s.crash_lines()
    s.cleanup()
    assert not crashes


# (method, target suffix, host, user agent, server)
HOSTILE = [
    ("GET", b"&x=<script>alert(1)</script>\"'`%3Cimg%20src=x%3E", b"127.0.0.1",
     b"<script>alert(2)</script>", "strict"),
    ("GET", b"&x=\xff\xfe\xc0\xaf\xed\xa0\x80&y=\xc2\x9b31m\xe2\x80\xae", b"127.0.0.1",
     b"Mozilla \xff", "strict"),
    ("GET", b"&x=%1b[31m%07%00&y=\\\"\\u0000", b"a_b", b"ua", "strict"),
    ("G<E>T", b"&x=</title><script>alert(3)</script>", b"<svg onload=alert(4)>",
     b"x", "unsafe"),
    ("GET", b"&x=1", b"h\x1b]8;;x\x07", b"y", "unsafe"),
    ("GET", b"&x=1", b"a\"b'c&d\xff", b"z", "unsafe"),
    ("get", b"&x=\xc2\x85\xc2\x9b", b"ex ample", b"z", "unsafe"),
]


def replaced(raw):
    """How the reports show request bytes: invalid UTF-8 as U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def plain(text):
    """How the text format shows them: C0 and C1 controls and DEL as '?'."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", text)


def html_shown(text):
    """How the HTML report shows them: C0 controls and DEL as U+FFFD."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "\ufffd", text)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", range(len(HOSTILE)))
def test_hostile_request_text_is_escaped(sec, unsafe, case, fmt):
    method, suffix, host, agent, which = HOSTILE[case]
    port = sec.full.port if which == "strict" else unsafe.port
    target = b"/work/cpu?ms=5&profile=" + fmt.encode() + suffix
    raw = (method.encode() + b" " + target + b" HTTP/1.1\r\nHost: " + host +
           b"\r\nUser-Agent: " + agent + b"\r\nConnection: close\r\n\r\n")
    (resp,) = exchange(port, raw)
    assert resp.status == 200, (resp.status, raw)
    assert resp.header("cache-control") == "no-store"
    assert resp.header("x-content-type-options") == "nosniff"
    body = resp.body
    text = body.decode("utf-8")  # valid UTF-8 whatever the request held
    uri, shown_host = replaced(target), replaced(host).lower()
    for marker in (b"alert(2)", b"\x1b", b"\x07", b"\x00"):
        assert marker not in body, (marker, fmt)
    if fmt == "1":
        for marker in (b"<script>alert", b"<img", b"<svg", b"</title><script"):
            assert marker not in body, marker
        assert resp.header("content-type") == "text/html; charset=utf-8"
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
        report = Report(text)
        assert report.summary["uri"] == html_shown(uri)
        assert report.summary["method"] == method
        assert report.summary["host"].lower() == html_shown(shown_host)
        # The page's own scripts are all there is: every <script is theirs.
        assert text.count("<script") == benign_script_count(port)
    elif fmt == "text":
        assert not TEXT_FORBIDDEN.search(text), repr(TEXT_FORBIDDEN.search(text))
        first = text.split("\n", 1)[0]
        assert first == "mod_reqprof: %s %s HTTP/1.1" % (plain(method), plain(uri))
        host_line = next(l for l in text.split("\n") if l.startswith("Host:"))
        assert host_line.split(None, 1)[1].lower() == plain(shown_host)
    elif fmt in ("json", "speedscope"):
        doc = json.loads(text)
        assert not re.search(r"[\x80-\x9f]", text), "raw C1 control in JSON"
        if fmt == "json":
            assert doc["request"]["uri"] == uri
            assert doc["request"]["method"] == method
            assert doc["request"]["host"].lower() == shown_host
        else:
            assert doc["name"] == "%s %s" % (method, uri)
    else:
        # Request text never reaches folded stacks.
        for line in text.rstrip("\n").split("\n"):
            assert re.match(r"^[^\n]+ \d+$", line), line
        assert "alert" not in text and "x=" not in text and "\ufffd" not in text


_script_counts = {}


def benign_script_count(port):
    if port not in _script_counts:
        body = get(port, "/work/cpu?ms=5&profile=1").body.decode()
        _script_counts[port] = body.count("<script")
    return _script_counts[port]


@pytest.mark.parametrize("fmt", FORMATS + ("pprof",))
def test_reports_are_never_cacheable(sec, fmt):
    with open(os.path.join(sec.full.docroot, "page.html"), "w") as f:
        f.write("<p>page</p>\n" * 50)
    resp = get(sec.full.port, "/page.html?profile=" + fmt)
    assert resp.status == 200
    assert resp.header("cache-control") == "no-store"
    for gone in ("etag", "last-modified", "content-location", "age"):
        assert gone not in resp.headers, (gone, resp.raw_head)
    # r->no_cache (so mod_cache never stores a report) makes httpd send an
    # Expires equal to Date: already stale. No other Expires may survive.
    if "expires" in resp.headers:
        assert resp.header("expires") == resp.header("date"), resp.raw_head


# ---- mod_cache -------------------------------------------------------------------------------

CACHE_CONF = r"""
RemoteIPHeader X-Client-IP
RemoteIPInternalProxy 127.0.0.1
CacheRoot %(root)s/cache
CacheEnable disk /
CacheDirLevels 2
CacheDirLength 1
CacheIgnoreNoLastMod On
CacheDefaultExpire 3600
CacheHeader On
CacheDetailHeader On
ExpiresActive On
ExpiresDefault "access plus 1 hour"
ReqProfile On
ReqProfileRequire "-R '10.0.0.0/8'"
"""

ALLOWED = {"X-Client-IP": "10.9.9.9"}
OTHER = {"X-Client-IP": "203.0.113.50"}


def cache_server(extra="", conf=CACHE_CONF):
    s = Httpd("event", modules=("cache", "cache_disk", "expires", "remoteip"))
    cache_dir = os.path.join(s.root, "cache")
    os.makedirs(cache_dir)
    pw = pwd.getpwnam(unprivileged_user())
    os.chown(cache_dir, pw.pw_uid, pw.pw_gid)
    with open(s.conf_path, "a") as f:
        f.write(conf % dict(root=s.root) + extra)
    for name in ("a", "b", "c", "d", "e", "f"):
        with open(os.path.join(s.docroot, name + ".html"), "w") as f:
            f.write(("<p>cached page %s</p>\n" % name) * 40)
    return s.start()


@pytest.fixture(scope="module", params=["defaults", "CacheIgnoreQueryString On",
                                        "CacheQuickHandler Off"])
def cache(request):
    s = cache_server("" if request.param == "defaults" else request.param + "\n")
    yield s
    crashes = s.crash_lines()
    s.cleanup()
    assert not crashes


def settle():
    """mod_cache_disk commits an entity after the response has left: give it
    time before the next request looks for it."""
    time.sleep(0.4)


def x_cache(resp):
    return (resp.header("x-cache") or "").split(" ")[0]


def test_report_is_not_stored_nor_served_to_others(cache):
    for path in ("/a.html?profile=1", "/work/cpu?ms=5&profile=1"):
        first = get(cache.port, path, headers=ALLOWED)
        check_report(first)
        # mod_cache stepped aside: neither looked up nor stored.
        assert first.header("x-cache") is None, first.raw_head
        assert first.header("x-cache-detail") is None, first.raw_head
        settle()
        # Another client asking for the same URL gets the original, stored
        # from its own request; then served from the cache.
        for expected in ("MISS", "HIT"):
            other = get(cache.port, path, headers=OTHER)
            assert not is_report(other.body), path
            assert other.status == 200 and x_cache(other) == expected, other.raw_head
            settle()
    # Without the trigger: the original, cached as usual.
    for expected in ("MISS", "HIT"):
        plain = get(cache.port, "/b.html", headers=OTHER)
        assert plain.body.startswith(b"<p>cached page b</p>") and x_cache(plain) == expected
        settle()


def test_cached_original_never_stands_in_for_a_report(cache):
    """mod_cache holds the URL (stored from a client the rule refuses): an
    allowed client's profiled request still runs and gets its report, in
    quick-handler and handler mode alike."""
    for path in ("/c.html?profile=1", "/work/cpu?ms=2&profile=1"):
        for _ in range(2):
            assert not is_report(get(cache.port, path, headers=OTHER).body)
            settle()
        resp = get(cache.port, path, headers=ALLOWED)
        check_report(resp)
        # Nothing was stored from it: the others are still served the original.
        settle()
        other = get(cache.port, path, headers=OTHER)
        assert not is_report(other.body) and x_cache(other) == "HIT", other.raw_head


@pytest.mark.parametrize("n, sent", enumerate([None, "max-age=5", "no-transform"]))
def test_handler_sees_the_clients_cache_control(cache, n, sent):
    """Keeping mod_cache away from a report must not change the request the
    handler (a CGI script, a proxied backend) sees."""
    headers = dict(ALLOWED)
    if sent is not None:
        headers["Cache-Control"] = sent
    path = "/work/seen%d/cpu?ms=1" % n  # a URL of its own: a first MISS
    plain = get(cache.port, path, headers=headers)
    assert plain.header("x-rpwork-saw-cache-control") == (sent or "-"), plain.raw_head
    resp = get(cache.port, path + "&profile=1", headers=headers)
    check_report(resp)
    assert resp.header("x-rpwork-saw-cache-control") == (sent or "-"), resp.raw_head


def test_cache_that_ignores_cache_control_answers_with_the_original_and_says_so():
    """CacheIgnoreCacheControl On: the administrator lets no client bypass
    the cache, and mod_reqprof does not either. The cached original is
    served intact, and an allowed client is told why it got no report."""
    conf = CACHE_CONF.replace("ReqProfileRequire \"-R '10.0.0.0/8'\"\n", "")
    assert conf != CACHE_CONF
    s = cache_server("CacheIgnoreCacheControl On\n", conf=conf)
    try:
        path = "/e.html?profile=1"
        for expected in ("MISS", "HIT"):
            resp = get(s.port, path, headers=OTHER)  # refused: not loopback
            assert x_cache(resp) == expected and not is_report(resp.body)
            assert resp.header("x-reqprofile") is None
            settle()
        resp = get(s.port, path)  # loopback: allowed by the default rule
        assert resp.status == 200 and x_cache(resp) == "HIT", resp.raw_head
        assert resp.body == (b"<p>cached page e</p>\n" * 40)
        assert "mod_cache" in (resp.header("x-reqprofile") or ""), resp.raw_head
    finally:
        crashes = s.crash_lines()
        s.cleanup()
        assert not crashes


LOCATION_RULE = """
<Location /f.html>
  ReqProfileRequire "-R '203.0.113.0/24'"
</Location>
"""
THIRD = {"X-Client-IP": "198.51.100.7"}


@pytest.mark.parametrize("quick", ["On", "Off"])
def test_rule_set_only_in_a_location(quick):
    """The server's rule refuses OTHER, a <Location> admits it. With
    CacheQuickHandler Off (what README advises for such rules) mod_cache
    steps aside and OTHER gets its report; in quick-handler mode mod_cache
    answers before any <Location> is read: the cached original, intact."""
    s = cache_server("CacheQuickHandler %s\n%s" % (quick, LOCATION_RULE))
    try:
        path = "/f.html?profile=1"
        for expected in ("MISS", "HIT"):
            resp = get(s.port, path, headers=THIRD)  # refused everywhere
            assert x_cache(resp) == expected and not is_report(resp.body), resp.raw_head
            settle()
        resp = get(s.port, path, headers=OTHER)
        if quick == "Off":
            check_report(resp)
            assert resp.header("x-cache") is None, resp.raw_head
        else:
            assert resp.status == 200 and x_cache(resp) == "HIT", resp.raw_head
            assert resp.body == b"<p>cached page f</p>\n" * 40
    finally:
        crashes = s.crash_lines()
        s.cleanup()
        assert not crashes


def test_report_is_not_stored_even_when_no_store_is_overridden():
    s = cache_server("CacheStoreNoStore On\nCacheIgnoreQueryString On\n")
    try:
        check_report(get(s.port, "/d.html?profile=1", headers=ALLOWED))
        settle()
        for path in ("/d.html?profile=1", "/d.html"):
            resp = get(s.port, path, headers=OTHER)
            assert resp.status == 200
            assert not is_report(resp.body), (path, resp.raw_head)
    finally:
        crashes = s.crash_lines()
        s.cleanup()
        assert not crashes
