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


# ---- a server where no context uses the module -------------------------------
#
# Where nothing in the configuration files uses mod_reqprof (no ReqProfile On,
# ReqProfileLog or ReqProfileServerTiming) and no .htaccess file may switch it
# on, its request hooks return at once. Each case below runs without the
# harness's "AllowOverride All", so that only what it configures decides.

def closed_server(extra, mpm="event"):
    return Httpd(mpm, extra=extra, overrides="None")


def write_sub(server, htaccess):
    import os
    sub = os.path.join(server.docroot, "sub")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "index.html"), "w") as f:
        f.write("hello\n")
    if htaccess is not None:
        with open(os.path.join(sub, ".htaccess"), "w") as f:
            f.write(htaccess)
    return sub


def children_catching_the_signal(server):
    """For each child of the server: whether it has a handler for
    mod_reqprof's default signal (SigCgt), which a child that will profile
    installs when it starts."""
    import os
    import re
    import signal
    bit = 1 << (signal.SIGRTMIN + 5 - 1)
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == server.proc.pid:
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                if int(f.read().rsplit(")", 1)[1].split()[2]) != server.proc.pid:
                    continue
            with open("/proc/%s/status" % p) as f:
                mask = int(re.search(r"^SigCgt:\s+([0-9a-f]+)$", f.read(), re.M).group(1), 16)
            found.append(bool(mask & bit))
        except (OSError, AttributeError, IndexError, ValueError):
            continue
    return found


def test_unused_module_leaves_requests_alone():
    with closed_server("") as server:
        write_sub(server, None)
        status, headers, body = request(server, "/sub/index.html?profile=1")
        assert (status, body) == (200, b"hello\n")
        assert not any(k.startswith("x-reqprof") for k in headers)
        assert "server-timing" not in headers
        # Nor does a child take a signal, or build a symbol table, for
        # profiles that cannot be asked for.
        catching = children_catching_the_signal(server)
        assert catching and not any(catching), catching
    with closed_server("ReqProfile On\n") as server:
        catching = children_catching_the_signal(server)
        assert catching and all(catching), catching


def reqprof_hooks(extra, modules=("info",)):
    """What mod_info (/server-info?hooks) shows an administrator: for each
    hook that lists mod_reqprof.c, how many of its functions it lists."""
    import re
    with Httpd("event", extra=extra + "<Location /server-info>\n  SetHandler "
               "server-info\n</Location>\n", modules=modules,
               overrides="None") as server:
        status, _, body = request(server, "/server-info?hooks")
    assert status == 200
    found = {}
    for hook, listed in re.findall(r"<dt><strong>([^<]*):</strong>(.*?)</dt>",
                                   body.decode(), re.S):
        names = re.findall(r"<a href=\"\?[^\"]*\">([\w.]+)</a>", listed)
        if "mod_reqprof.c" in names:
            found[hook] = names.count("mod_reqprof.c")
    return found


REQUEST_HOOKS = {"Post-Read Request", "Translate Name", "Map to Storage",
                 "Header Parse", "Check Access (legacy)", "Verify User ID",
                 "Verify User Access", "Check Type", "Fixups",
                 "Insert Filters", "Insert Errors"}


def test_request_hooks_are_registered_only_where_used():
    """A server that uses the module nowhere runs no hook of it for its
    requests; one that uses it has every hook, known by the module's own
    name (other modules order theirs around mod_reqprof.c by it). The
    index's two (its handler, and the fixup that judges its client) are
    there wherever the configuration may ask for it."""
    unused = reqprof_hooks("")
    assert not (REQUEST_HOOKS | {"Content Handlers", "Quick Handler",
                                 "Transaction Logging"}) & set(unused), unused
    used = reqprof_hooks("ReqProfile On\n")
    assert REQUEST_HOOKS <= set(used), used
    assert used["Fixups"] == 2 and used["Content Handlers"] == 1
    # log_transaction only where a profile may be logged or saved.
    assert "Transaction Logging" not in used
    for conf in ("ReqProfileLog slow 1s\n", "ReqProfile On\nReqProfileDir /tmp\n"):
        logged = reqprof_hooks(conf)
        assert REQUEST_HOOKS <= set(logged), (conf, logged)
        assert logged["Transaction Logging"] == 1, (conf, logged)
    # mod_cache's neighbours only where mod_cache is loaded.
    assert "Quick Handler" not in used
    cached = reqprof_hooks("ReqProfile On\n", ("info", "cache"))
    assert cached["Quick Handler"] == 2 and cached["Content Handlers"] == 2
    # An .htaccess file that may switch profiling on needs them all.
    allowed = reqprof_hooks("<Directory /var/www>\n  AllowOverride FileInfo "
                            "Options=Indexes\n</Directory>\n")
    assert REQUEST_HOOKS <= set(allowed), allowed
    # The index alone: its two hooks, named however the handler is set.
    only_index = {"Fixups": 1, "Content Handlers": 1}
    for conf in ("<Location /p>\n  SetHandler ReqProf-Index\n</Location>\n",
                 "AddHandler reqprof-index .idx\n",
                 "<Directory /var/www>\n  AllowOverride FileInfo\n</Directory>\n",
                 "<Directory /var/www>\n  AllowOverrideList SetHandler\n"
                 "</Directory>\n"):
        found = reqprof_hooks(conf)
        assert {h: n for h, n in found.items() if h in only_index} == only_index, (conf, found)
        assert not (REQUEST_HOOKS - {"Fixups"}) & set(found), (conf, found)


def test_index_alone_lists_and_refuses():
    """A server whose only use of the module is the index still serves it
    (and, with no store configured, says so)."""
    with closed_server("<Location /profiles/>\n  SetHandler reqprof-index\n"
                       "</Location>\n") as server:
        status, _, _ = request(server, "/profiles/")
        assert status == 404
        assert "no ReqProfileDir or ReqProfileStore is set" in server.read_error_log()


@pytest.mark.parametrize("override", [
    "AllowOverride Options",
    "AllowOverride AuthConfig Options=Indexes",
    "AllowOverrideList ReqProfile",
])
def test_htaccess_that_may_switch_profiling_on_keeps_the_hooks(override):
    """An .htaccess file is read per request, long after startup: where the
    configuration lets one hold ReqProfile, the hooks stay."""
    server = closed_server("")
    sub = write_sub(server, "ReqProfile On\n")
    with open(server.conf_path, "a") as f:
        f.write("<Directory %s>\n  %s\n</Directory>\n" % (sub, override))
    with server:
        _, _, body = request(server, "/sub/index.html?profile=1")
        assert b"request profile" in body


def test_htaccess_without_the_override_is_not_read():
    server = closed_server("")
    write_sub(server, "ReqProfile On\n")
    with server:
        _, _, body = request(server, "/sub/index.html?profile=1")
        assert body == b"hello\n"


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_each_use_alone_keeps_the_hooks(mpm):
    """Profiling only in one <Location>, Server-Timing alone, log mode alone:
    each is enough."""
    with closed_server("<Location /work/cpu>\n  ReqProfile On\n</Location>\n",
                       mpm) as server:
        _, _, body = request(server, "/work/cpu?ms=5&profile=1")
        assert b"request profile" in body
    with closed_server("ReqProfileServerTiming On\n", mpm) as server:
        _, headers, _ = request(server, "/work/cpu?ms=5")
        assert "handler;dur=" in headers["server-timing"]


def test_graceful_restart_decides_again():
    """The decision is made again at each restart: a configuration that
    starts using the module gets its hooks, and one that stops loses them."""
    import signal
    import time
    server = closed_server("")
    unused = open(server.conf_path).read()
    with server:
        def restart_with(conf, expect_profile):
            with open(server.conf_path, "w") as f:
                f.write(conf)
            server.proc.send_signal(signal.SIGUSR1)
            deadline = time.time() + 15
            while time.time() < deadline:
                time.sleep(0.3)
                _, _, body = request(server, "/work/cpu?ms=2&profile=1")
                catching = children_catching_the_signal(server)
                if (b"request profile" in body) == expect_profile and catching and \
                        all(c == expect_profile for c in catching):
                    return
            raise AssertionError("restart did not take: %r %r" % (body[:80], catching))
        _, _, body = request(server, "/work/cpu?ms=2&profile=1")
        assert b"request profile" not in body
        restart_with(unused + "ReqProfile On\n", True)
        restart_with(unused, False)
        assert server.crash_lines() == []
