"""The default rule when a proxy on the same host forwards requests.

Without ReqProfileRequire a loopback client may trigger a profile, unless
its request carries a forwarding header (Forwarded, X-Forwarded-For, Via,
...): then a proxy on this host forwarded it for a client whose address is
unknown, and the trigger is refused. Where mod_remoteip has set the real
client for the request, that address alone decides; an explicit
ReqProfileRequire always wins. A refused trigger leaves the response byte for
byte as the same request without the trigger: no report, no X-ReqProfile, no
Vary.

Every MPM; httpd's children run as the harness's unprivileged user. The
front-end proxy is a second httpd with mod_proxy_http (ProxyPass /) and
without mod_reqprof.
"""
import os
import re

import pytest

from httpd_harness import MPMS, Httpd
from safety_util import check_report, get, is_report

# Each counts on its own, whatever its value.
FORWARDING = ("Forwarded", "X-Forwarded-For", "X-Real-IP", "Via", "X-Forwarded-Host",
              "X-Forwarded-Server", "X-Client-IP", "True-Client-IP", "CF-Connecting-IP",
              "Fastly-Client-IP", "X-Cluster-Client-IP", "Client-IP",
              "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Ssl")

REFUSED_CASES = [(name, "203.0.113.9") for name in FORWARDING] + [
    ("Forwarded", "for=203.0.113.9"),
    ("X-Forwarded-For", "203.0.113.9, 127.0.0.1"),
    ("X-Forwarded-For", "127.0.0.1"),          # a chain of loopback only
    ("Forwarded", "for=127.0.0.1;proto=http"),
    ("x-forwarded-for", "203.0.113.9"),        # names in any case
    ("VIA", "1.1 front"),
    ("cf-connecting-ip", "203.0.113.9"),
    ("X-Real-IP", ""),                         # present, empty
]

PAGE = b"<p>page served by the profiled server</p>\n" * 40

PLAIN_CONF = "ReqProfile On\n"

REMOTEIP_CONF = """
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
ReqProfile On
"""

EXPLICIT_CONF = """
ReqProfile On
<Location /net>
  ReqProfileRequire "-R '127.0.0.0/8'"
</Location>
<Location /token>
  ReqProfileRequire "%{HTTP:X-Forwarded-For} == '203.0.113.9'"
</Location>
<Location /stripped>
  RequestHeader unset X-Forwarded-For
  RequestHeader unset X-Forwarded-Host
  RequestHeader unset X-Forwarded-Server
</Location>
"""


def profiled_server(mpm, conf, modules=()):
    s = Httpd(mpm, extra=conf, modules=modules)
    for sub in ("", "net", "token", "stripped"):
        d = os.path.join(s.docroot, sub)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "page.html"), "wb") as f:
            f.write(PAGE)
    return s


def front_proxy(mpm, backend):
    return Httpd(mpm, load_reqprof=False, modules=("proxy", "proxy_http"),
                 extra="ProxyPass / http://127.0.0.1:%d/\n" % backend.port)


class Servers:
    pass


@pytest.fixture(scope="module", params=MPMS)
def servers(request):
    mpm = request.param
    ns = Servers()
    ns.plain = profiled_server(mpm, PLAIN_CONF)
    ns.remoteip = profiled_server(mpm, REMOTEIP_CONF, modules=("remoteip",))
    ns.explicit = profiled_server(mpm, EXPLICIT_CONF)
    ns.front = front_proxy(mpm, ns.plain)
    ns.remoteip_front = front_proxy(mpm, ns.remoteip)
    ns.explicit_front = front_proxy(mpm, ns.explicit)
    every = [ns.plain, ns.remoteip, ns.explicit, ns.front, ns.remoteip_front,
             ns.explicit_front]
    try:
        for s in every:
            s.start()
        yield ns
        crashes = [l for s in every for l in s.crash_lines()]
        assert not crashes, "crashed children:\n" + "\n".join(crashes)
    finally:
        for s in every:
            s.cleanup()


DATE = re.compile(rb"^Date: [^\r\n]*(?=\r?$)", re.M | re.I)


def assert_untouched(a, b, what):
    """a (the trigger refused) is b (no trigger) byte for byte, Date aside."""
    assert not is_report(a.body), what
    assert a.header("x-reqprofile") is None, (what, a.raw_head)
    assert a.header("vary") is None, (what, a.raw_head)
    assert a.status == b.status == 200, (what, a.status, b.status)
    assert DATE.sub(b"Date: -", a.raw_head) == DATE.sub(b"Date: -", b.raw_head), \
        (what, a.raw_head, b.raw_head)
    assert a.body == b.body == PAGE, what


def refused(port, path, headers, what):
    """The trigger with these headers is refused: compares with the same
    request without it."""
    a = get(port, path + "?profile=1", headers=headers)
    b = get(port, path, headers=headers)
    assert_untouched(a, b, what)


# ---- 1. raw forwarding headers, ReqProfile On only -----------------------------------------

def test_loopback_without_forwarding_headers_gets_a_report(servers):
    check_report(get(servers.plain.port, "/page.html?profile=1"))
    check_report(get(servers.plain.port, "/work/cpu?ms=20&profile=1"), func="work_alpha")
    # Headers that say nothing about a proxy change nothing.
    check_report(get(servers.plain.port, "/page.html?profile=1",
                     headers=[("X-Request-Id", "abc"), ("User-Agent", "curl/8"),
                              ("X-Forwarded-Fo", "203.0.113.9")]))


@pytest.mark.parametrize("name, value", REFUSED_CASES)
def test_forwarding_header_refuses_the_default_rule(servers, name, value):
    refused(servers.plain.port, "/page.html", [(name, value)], (name, value))


def test_forwarding_header_among_others(servers):
    headers = [("Accept", "*/*"), ("X-Request-Id", "abc"),
               ("X-Forwarded-Server", "front.example"), ("User-Agent", "curl/8")]
    refused(servers.plain.port, "/page.html", headers, "among others")


# ---- 2. through a real front-end proxy -----------------------------------------------------

def test_through_a_proxy_on_the_same_host_is_refused(servers):
    # The front adds X-Forwarded-For: 127.0.0.1 (and -Host, -Server).
    refused(servers.front.port, "/page.html", [], "through mod_proxy_http")
    # Directly, the same loopback client gets its report.
    check_report(get(servers.plain.port, "/page.html?profile=1"))


def test_through_a_proxy_whatever_the_client_claims(servers):
    refused(servers.front.port, "/page.html", [("X-Forwarded-For", "127.0.0.1")],
            "through the proxy, claiming loopback")


# ---- 3. mod_remoteip has set the real client ------------------------------------------------

def test_remoteip_real_loopback_client_through_the_proxy_gets_a_report(servers):
    # mod_remoteip consumed X-Forwarded-For: 127.0.0.1 (the real client);
    # X-Forwarded-Host and X-Forwarded-Server are still there, and ignored.
    check_report(get(servers.remoteip_front.port, "/page.html?profile=1"))


@pytest.mark.parametrize("via, headers, what", [
    ("direct", [("X-Forwarded-For", "203.0.113.9")], "remote client"),
    ("direct", [("X-Forwarded-For", "203.0.113.9, 127.0.0.1")], "remote behind loopback"),
    ("direct", [("X-Forwarded-Host", "example.org")], "no address for mod_remoteip"),
    ("direct", [("X-Forwarded-For", "unknown")], "an address mod_remoteip cannot use"),
    ("front", [("X-Forwarded-For", "203.0.113.9")], "remote client through the proxy"),
])
def test_remoteip_remote_client_is_refused(servers, via, headers, what):
    port = servers.remoteip.port if via == "direct" else servers.remoteip_front.port
    refused(port, "/page.html", headers, what)


def test_remoteip_loopback_client_direct(servers):
    # No header: loopback, nothing forwarded.
    check_report(get(servers.remoteip.port, "/page.html?profile=1"))
    # A chain of trusted loopback proxies only: mod_remoteip's client is
    # 127.0.0.1, and other forwarding headers no longer count.
    check_report(get(servers.remoteip.port, "/page.html?profile=1",
                     headers=[("X-Forwarded-For", "127.0.0.1"), ("Via", "1.1 front"),
                              ("X-Real-IP", "203.0.113.9")]))


def test_judged_on_the_headers_as_they_arrived(servers):
    """mod_headers removes the proxy's headers before the handler runs: the
    request still came through the proxy."""
    refused(servers.explicit_front.port, "/stripped/page.html", [], "headers unset later")


# ---- 4. an explicit ReqProfileRequire wins ------------------------------------------------

@pytest.mark.parametrize("name, value", REFUSED_CASES)
def test_explicit_network_rule_ignores_forwarding_headers(servers, name, value):
    check_report(get(servers.explicit.port, "/net/page.html?profile=1",
                     headers=[(name, value)]))


def test_explicit_network_rule_through_the_proxy(servers):
    check_report(get(servers.explicit_front.port, "/net/page.html?profile=1"))
    # Where the default rule applies on the same server: refused.
    refused(servers.explicit_front.port, "/page.html", [], "default rule, same server")


def test_explicit_header_rule(servers):
    check_report(get(servers.explicit.port, "/token/page.html?profile=1",
                     headers=[("X-Forwarded-For", "203.0.113.9")]))
    for value in ("203.0.113.8", "203.0.113.9, 127.0.0.1"):
        refused(servers.explicit.port, "/token/page.html", [("X-Forwarded-For", value)], value)
    refused(servers.explicit.port, "/token/page.html", [], "no header")
