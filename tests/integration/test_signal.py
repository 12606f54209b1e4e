"""ReqProfileSignal through a real httpd, every MPM, children running as the
unprivileged user: a signal other than the default samples correctly, bad
values stop `apache2 -t` with a clear message, and a signal another module
already handles (mod_rpsighog, a test module with a handler of its own, as a
runtime's timer has) is left to that module: the child refuses to profile
with one error-log line that names the signal and ReqProfileSignal."""
import os
import re
import signal
import socket

import pytest

from httpd_harness import MPMS, OUT, Httpd
from safety_util import Reader, check_report, get, is_report

SIGHOG_SO = os.path.join(OUT, "mod_rpsighog.so")
DEFAULT_SIGNO = signal.SIGRTMIN + 5
OTHER_SIGNO = signal.SIGRTMIN + 9
REFUSED_RE = re.compile(
    r"\[pid (\d+):tid \d+\].*mod_reqprof: profiling disabled in this process: "
    r"signal SIGRTMIN\+5 \(%d\) already has a handler that another module or "
    r"library installed, and mod_reqprof leaves it alone; set ReqProfileSignal "
    r"to a realtime signal nothing else uses" % DEFAULT_SIGNO)
TAKEN_RE = re.compile(
    r"\[reqprof:error\] \[pid (\d+):tid \d+\].*mod_reqprof: profiling disabled "
    r"in this process: another module or library replaced mod_reqprof's handler "
    r"of signal SIGRTMIN\+5 \(%d\) after the process started; set "
    r"ReqProfileSignal to a realtime signal nothing else uses" % DEFAULT_SIGNO)


def caught_signals(pid):
    """The signals the process has a handler for (SigCgt)."""
    with open("/proc/%d/status" % pid) as f:
        mask = int(re.search(r"^SigCgt:\s+([0-9a-f]+)$", f.read(), re.M).group(1), 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


def report_pid(report):
    return int(re.match(r"pid (\d+), tid \d+$", report.summary["process"]).group(1))


def check_cpu_report(resp):
    """The workload's CPU split, 3:1 between work_alpha and work_beta."""
    report = check_report(resp, func="burn_cpu_split", sampled=True)
    alpha, beta = report.weight_of("work_alpha"), report.weight_of("work_beta")
    assert report.weight_of("burn_cpu_split") >= 0.9 * report.weight_of("rpwork_handler")
    assert alpha + beta >= 100, (alpha, beta, report.total)
    assert 0.6 <= alpha / (alpha + beta) <= 0.88, (alpha, beta)
    assert report.weight_of("wait_in_poll") == 0
    return report


def on_one_connection(server, paths):
    """GETs paths in order on one keep-alive connection (so one child
    serves them all); returns the responses."""
    raw = b"".join(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % p.encode()
                   for p in paths)
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.sendall(raw)
        reader = Reader(s)
        return [reader.read_response() for _ in paths]


def hog_state(resp):
    """mod_rpsighog's answer: pid, signal, installed, own, foreign."""
    assert resp.status == 200, (resp.status, resp.body)
    return {k.decode(): int(v) for k, v in re.findall(rb"(\w+)=(\d+)", resp.body)}


def hog_conf(signal_spec, order, profile_signal=None):
    lines = ["LoadModule rpsighog_module %s" % SIGHOG_SO,
             "RpSigHogSignal %s" % signal_spec,
             "RpSigHogOrder %s" % order,
             "<Location /hog>", "  SetHandler rpsighog", "</Location>",
             "ReqProfile On", "ReqProfileMaxConcurrent 4"]
    if profile_signal:
        lines.append("ReqProfileSignal %s" % profile_signal)
    return "\n".join(lines) + "\n"


def finish(server):
    crashes = server.crash_lines()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


# ---- a signal of one's choosing ------------------------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_non_default_signal_samples_correctly(mpm):
    with Httpd(mpm, extra="ReqProfile On\nReqProfileSignal SIGRTMIN+9\n") as server:
        report = check_cpu_report(get(server.port, "/work/cpu?ms=300&profile=1"))
        assert int(report.summary["samples"].split()[0]) >= 200, report.summary
        assert re.search(r"\b[1-9]\d* signals", report.summary["sampling"]), report.summary
        # The child handles the configured signal, not the default one.
        caught = caught_signals(report_pid(report))
        assert OTHER_SIGNO in caught and DEFAULT_SIGNO not in caught, sorted(caught)
        # A wait is sampled too, and the next report is as good.
        wait = check_report(get(server.port, "/work/wait?ms=200&profile=1"),
                            func="wait_in_poll")
        assert wait.weight_of("wait_in_poll") >= 0.9 * wait.weight_of("rpwork_handler")
        check_cpu_report(get(server.port, "/work/cpu?ms=200&profile=1"))
        assert "mod_reqprof: profiling disabled" not in server.read_error_log()
        finish(server)


@pytest.mark.parametrize("spelling", ["SIGRTMIN+9", "RTMIN+9", "sigrtmin+9",
                                      str(OTHER_SIGNO), "SIGRTMIN",
                                      "SIGRTMIN+%d" % (signal.SIGRTMAX - signal.SIGRTMIN)])
def test_signal_spellings_accepted(spelling):
    server = Httpd("event", extra="ReqProfile On\nReqProfileSignal %s\n" % spelling)
    try:
        rc, out = server.config_test()
        assert rc == 0, out
    finally:
        server.cleanup()


@pytest.mark.parametrize("value", [
    "SIGPROF", "PROF", str(int(signal.SIGPROF)), "SIGUSR1", "0", "-1",
    str(signal.SIGRTMIN - 1), str(signal.SIGRTMAX + 1), "SIGRTMAX+1",
    "SIGRTMIN+%d" % (signal.SIGRTMAX - signal.SIGRTMIN + 1), "SIGRTMIN-1",
    "SIGRTMIN+", "SIGRTMIN+5x", "40x", "garbage", "SIG", "RTMIN+99"])
def test_bad_signal_refused_by_config_test(value):
    server = Httpd("event", extra="ReqProfile On\nReqProfileSignal %s\n" % value)
    try:
        rc, out = server.config_test()
        assert rc != 0, out
        assert ("ReqProfileSignal: '%s' is not a realtime signal: use a number "
                "from %d to %d, or SIGRTMIN+N" % (value, signal.SIGRTMIN,
                                                 signal.SIGRTMAX)) in out, out
        assert "Syntax error on line" in out, out
    finally:
        server.cleanup()


@pytest.mark.parametrize("where", ["<VirtualHost *:80>", "<Location /x>",
                                   "<Directory /tmp>"])
def test_signal_only_in_server_config(where):
    tag = where[1:].split()[0]
    server = Httpd("event", extra="ReqProfile On\n%s\n  ReqProfileSignal SIGRTMIN+9\n"
                                  "</%s>\n" % (where, tag))
    try:
        rc, out = server.config_test()
        assert rc != 0 and "ReqProfileSignal" in out, out
        assert "not allowed" in out or "cannot occur within" in out, out
    finally:
        server.cleanup()


# ---- a signal another module already handles ---------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_signal_taken_before_child_init_is_left_alone(mpm):
    """The other module installed its handler first: each child says once
    that it does not profile, and the other module keeps its signal."""
    with Httpd(mpm, extra=hog_conf("SIGRTMIN+5", "first")) as server:
        resps = on_one_connection(server, ["/work/cpu?ms=50&profile=1", "/hog",
                                           "/work/wait?ms=50&profile=1", "/hog"])
        for resp in (resps[0], resps[2]):
            assert resp.status == 200 and not is_report(resp.body), resp.body[:200]
            assert resp.body.startswith(b"rpwork "), resp.body[:200]
        first, second = hog_state(resps[1]), hog_state(resps[3])
        assert first["signal"] == DEFAULT_SIGNO
        assert first["installed"] == 1 and second["installed"] == 1, (first, second)
        assert second["own"] == first["own"] + 1 and first["own"] >= 1, (first, second)
        assert second["foreign"] == 0, second
        log = server.read_error_log()
        pids = [int(m.group(1)) for m in REFUSED_RE.finditer(log)]
        assert pids, log
        assert len(pids) == len(set(pids)), log   # one line per child
        assert first["pid"] in pids, (first, log)
        assert not TAKEN_RE.search(log), log
        finish(server)


@pytest.mark.parametrize("mpm", MPMS)
def test_signal_taken_after_child_init_stops_profiling(mpm):
    """The other module replaced mod_reqprof's handler after its child_init:
    no session starts (no sample request may reach the other handler), the
    triggered response says why, and the error log says it once."""
    with Httpd(mpm, extra=hog_conf("SIGRTMIN+5", "last")) as server:
        resps = on_one_connection(server, ["/work/cpu?ms=100&profile=1", "/hog",
                                           "/work/wait?ms=100&profile=1", "/hog"])
        for resp in (resps[0], resps[2]):
            assert resp.status == 200 and not is_report(resp.body), resp.body[:200]
            assert resp.header("x-reqprofile") == (
                "not profiled: another handler took the sampling signal "
                "(see the error log)"), resp.raw_head
        first, second = hog_state(resps[1]), hog_state(resps[3])
        assert first["installed"] == 1 and second["installed"] == 1
        assert first["foreign"] == 0 and second["foreign"] == 0, (first, second)
        assert second["own"] == first["own"] + 1, (first, second)
        log = server.read_error_log()
        pids = [int(m.group(1)) for m in TAKEN_RE.finditer(log)]
        assert pids == [first["pid"]], log   # once, though asked twice
        assert not REFUSED_RE.search(log), log
        finish(server)


@pytest.mark.parametrize("mpm", MPMS)
@pytest.mark.parametrize("order", ["first", "last"])
def test_other_signal_lets_both_work(mpm, order):
    """What the message suggests: ReqProfileSignal moved to a free signal,
    both modules work in the same child."""
    with Httpd(mpm, extra=hog_conf("SIGRTMIN+5", order, "SIGRTMIN+9")) as server:
        resps = on_one_connection(server, ["/hog", "/work/cpu?ms=250&profile=1",
                                           "/hog"])
        report = check_cpu_report(resps[1])
        before, after = hog_state(resps[0]), hog_state(resps[2])
        assert before["pid"] == after["pid"] == report_pid(report)
        assert after["installed"] == 1 and after["foreign"] == 0, after
        assert after["own"] == before["own"] + 1, (before, after)
        caught = caught_signals(after["pid"])
        assert {DEFAULT_SIGNO, OTHER_SIGNO} <= caught, sorted(caught)
        assert "mod_reqprof: profiling disabled" not in server.read_error_log()
        finish(server)
