"""A bounded soak on each MPM: SOAK_REQUESTS mixed requests (default 1500;
`make soak` runs 10000), about a third of them profiled, from 32 concurrent
keep-alive clients, after a warm-up that has every worker profile once
(ReqProfileMaxConcurrent is the threads per child, so none is refused).
Every response is read with strict framing and checked
(status, Content-Length against the body, the exact body of unprofiled
responses, the report parsing). Child processes are measured through /proc
when a third of the requests has been served and at the end, both times
with the clients idle and disconnected; per child present at both points:

    VmRSS growth                      <= RSS_GROWTH_BOUND_KB (4 MiB)
    growth of sockets, pipes and other
      descriptors (connections, IPC)  <= FD_GROWTH_BOUND (2)
    the sampler's /proc task files    <= 3 per thread of the child, + 4
    regular files (logs, the shared
      objects libdw keeps open, once
      for names, once for unwinding)  <= 2 x the files it has mapped + 8
    POSIX timers                      == 0 (the sampler uses none)

Descriptors are told apart because two kinds grow by design until a child
is warm: a thread opens its /proc/self/task/TID files the first time it
profiles, and libdw opens a shared object the first time a frame in it is
named. Both are bounded by what the child has (threads, mapped objects);
anything else that grows would be a leak.

Then a graceful restart (SIGUSR1) and a graceful stop (SIGWINCH) with
profiled requests in flight, and a stop (SIGTERM) under load: no crashed or
killed child, no child left behind, every completed response intact.

The measured figures are printed (run pytest with -s to see them) and
written to build/out/soak-<mpm>.json."""
import json
import os
import random
import signal
import socket
import threading
import time

import pytest

from httpd_harness import MPMS, OUT, Httpd
from report_parser import Report
from safety_util import (Reader, children_of, fd_kinds, is_report, mapped_objects, proc_usage,
                         process_group)

SOAK_REQUESTS = int(os.environ.get("SOAK_REQUESTS", "1500"))
CONCURRENCY = 32
RSS_GROWTH_BOUND_KB = 4 * 1024
FD_GROWTH_BOUND = 2
SMALL = b"<p>soak</p>\n" * 100
MEDIUM = bytes(random.Random(3).getrandbits(8) for _ in range(64 * 1024))
CPU_BODY = b"rpwork cpu done, poll interrupted 0 times\n"

THREADS = 25  # per child on worker/event: 2 children, 50 workers for 32 clients
SOAK_CONF = """
ReqProfile On
ReqProfileMaxConcurrent %d
KeepAliveTimeout 5
MaxKeepAliveRequests 100
""" % THREADS
WARMUP = (1, "GET", "/work/wait?ms=150&profile=1", 200, None, "html")

# (weight, method, path, expected status, expected body or None, profiled format)
KINDS = [
    (14, "GET", "/small.html", 200, SMALL, None),
    (6, "GET", "/medium.bin", 200, MEDIUM, None),
    (10, "GET", "/work/cpu?ms=2", 200, CPU_BODY, None),
    (6, "GET", "/work/wait?ms=5", 200, b"rpwork wait done, poll interrupted 0 times\n", None),
    (6, "GET", "/no-such-file.html", 404, None, None),
    (6, "HEAD", "/small.html", 200, b"", None),
    (4, "GET", "/work/big?kb=256", 200, b"x" * 256 * 1024, None),
    (3, "GET", "/work/status?code=500", 500, None, None),
    (8, "GET", "/small.html?profile=1", 200, SMALL, "html"),
    (8, "GET", "/work/cpu?ms=3&profile=1", 200, CPU_BODY, "html"),
    (5, "GET", "/work/wait?ms=8&profile=json", 200, None, "json"),
    (4, "GET", "/no-such-file.html?profile=1", 404, None, "html"),
    (3, "HEAD", "/work/cpu?ms=2&profile=1", 200, b"", "html"),
    (3, "GET", "/work/big?kb=256&profile=text", 200, None, "text"),
    (3, "GET", "/work/status?code=500&profile=collapsed", 500, None, "collapsed"),
]
WEIGHTED = [k for k in KINDS for _ in range(k[0])]

CONTENT_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json",
                 "text": "text/plain; charset=utf-8", "collapsed": "text/plain; charset=utf-8"}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.done = 0
        self.profiled = 0
        self.capped = 0          # over ReqProfileMaxConcurrent, served plain
        self.reconnects = 0
        self.errors = []

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def error(self, what):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(what)


def check(kind, resp):
    """Returns None if the response is right for its kind, else a reason."""
    _, method, path, status, body, fmt = kind
    cl = resp.header("content-length")
    if cl is not None and method != "HEAD" and int(cl) != len(resp.body):
        return "content-length %s != body %d" % (cl, len(resp.body))
    capped = resp.header("x-reqprofile", "").startswith("not profiled")
    a_report = is_report(resp.body) or resp.header("content-disposition", "").startswith(
        'attachment; filename="reqprof-') or (fmt == "text" and resp.body.startswith(
            b"mod_reqprof: "))
    if capped and a_report:
        # A report never says it was not profiled (test_security.py,
        # test_report_never_claims_it_was_not_profiled).
        return "a report that says it was not profiled"
    if fmt is None or capped:
        if resp.status != status:
            return "status %d != %d" % (resp.status, status)
        if body is not None and resp.body != body:
            return "body differs (%d bytes)" % len(resp.body)
        if resp.header("x-reqprofile"):
            if not path.count("profile="):
                return "x-reqprofile on an unprofiled request"
            return "capped"
        if is_report(resp.body):
            return "a report for an unprofiled request"
        return None
    if resp.status != 200:
        return "profiled status %d" % resp.status
    if resp.header("content-type") != CONTENT_TYPES[fmt]:
        return "content-type %s" % resp.header("content-type")
    if resp.header("cache-control") != "no-store":
        return "cache-control %s" % resp.header("cache-control")
    if method == "HEAD":
        return None if resp.body == b"" else "HEAD with a body"
    if fmt == "html":
        report = Report(resp.body.decode("utf-8"))
        if report.summary.get("status") != str(status):
            return "summary status %s" % report.summary.get("status")
        if resp.body.count(b"mod_reqprof: request profile") != 1:
            return "not one report"
    elif fmt == "json":
        doc = json.loads(resp.body.decode("utf-8"))
        if doc["request"]["status"] != status or doc["request"]["uri"] != path:
            return "json request %r" % doc["request"]
    elif fmt == "text":
        if not resp.body.decode("utf-8").startswith("mod_reqprof: %s %s " % (method, path)):
            return "text head %r" % resp.body[:80]
    elif fmt == "collapsed":
        for line in resp.body.decode("utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                return "collapsed line %r" % line
    return None


class Client:
    """One keep-alive connection; reconnects when the server closes it. A
    request that got no byte of response on a reused connection is retried
    once on a new one (as HTTP clients do)."""

    def __init__(self, port, stats):
        self.port, self.stats = port, stats
        self.sock = None
        self.reader = None

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = self.reader = None

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.reader = Reader(self.sock)

    def request(self, kind):
        _, method, path, _, _, _ = kind
        raw = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (method, path)).encode()
        for attempt in (1, 2):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                self.sock.sendall(raw)
                resp = self.reader.read_response(method)
            except (EOFError, ConnectionResetError, BrokenPipeError) as e:
                pending = len(self.reader.buf) if self.reader else 0
                self.close()
                if fresh or pending or attempt == 2:
                    raise AssertionError("connection lost mid-response: %s" % e)
                self.stats.add(reconnects=1)
                continue
            if resp.header("connection", "").lower() == "close":
                self.close()
            return resp


def run_load(port, count, stats, concurrency=CONCURRENCY, seed=0, stop=None, kinds=WEIGHTED):
    """count requests from `concurrency` clients; returns when all are done
    (or stop is set) and every client has disconnected."""
    remaining = [count]
    lock = threading.Lock()

    def worker(n):
        rng = random.Random(seed * 1000 + n)
        client = Client(port, stats)
        try:
            while stop is None or not stop.is_set():
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                kind = rng.choice(kinds)
                try:
                    resp = client.request(kind)
                except (AssertionError, OSError) as e:
                    if stop is not None and stop.is_set():
                        return
                    stats.error("%s %s: %s" % (kind[1], kind[2], e))
                    client.close()
                    continue
                why = check(kind, resp)
                if why == "capped":
                    stats.add(capped=1, done=1)
                elif why:
                    stats.error("%s %s: %s" % (kind[1], kind[2], why))
                else:
                    stats.add(done=1, profiled=1 if kind[5] else 0)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# Every child starts at once and none is stopped for being spare, so the
# children measured at the first third have all been warmed up by then.
POOL_CONF = {
    "prefork": "StartServers 32\nMinSpareServers 1\nMaxSpareServers 32\n",
    "worker": "StartServers 2\nMaxSpareThreads %d\n" % (2 * THREADS),
    "event": "StartServers 2\nMaxSpareThreads %d\n" % (2 * THREADS),
}


def soak_server(mpm, extra=""):
    s = Httpd(mpm, extra=SOAK_CONF + POOL_CONF[mpm] + extra, threads=THREADS)
    with open(os.path.join(s.docroot, "small.html"), "wb") as f:
        f.write(SMALL)
    with open(os.path.join(s.docroot, "medium.bin"), "wb") as f:
        f.write(MEDIUM)
    return s


def measure(server):
    """{pid: {rss, fds, threads, timers, kinds, mapped}} of the children, once
    the clients' connections have been closed (fd counts settle first)."""
    parent = server.proc.pid
    last = None
    for _ in range(30):
        snap = {}
        for pid in children_of(parent):
            usage, kinds = proc_usage(pid), fd_kinds(pid)
            if usage is not None and kinds is not None:
                snap[pid] = dict(rss=usage[0], fds=usage[1], threads=usage[2],
                                 timers=usage[3], kinds=kinds, mapped=mapped_objects(pid))
        fds = {p: u["fds"] for p, u in snap.items()}
        if last is not None and fds == last:
            return snap
        last = fds
        time.sleep(0.2)
    return snap


def io_fds(m):
    k = m["kinds"]
    return k["socket"] + k["pipe"] + k["other"]


def bad_log_lines(server):
    bad = ("exit signal", "Segmentation fault", "AddressSanitizer", "seg fault",
           "still did not exit", "SIGKILL", "could not make child process")
    return [l for l in server.read_error_log().splitlines() if any(b in l for b in bad)]


@pytest.mark.parametrize("mpm", MPMS)
def test_soak_mixed_load(mpm):
    server = soak_server(mpm)
    server.start()
    try:
        stats = Stats()
        started = time.monotonic()
        first = SOAK_REQUESTS // 3
        # Warm-up, part of the first third: every worker profiles at least
        # once (all busy at once with a slow profiled request), so what the
        # first profile of a thread allocates for good (libunwind's cache,
        # its /proc files) is in the first measurement.
        workers = 32 if mpm == "prefork" else 2 * THREADS
        for _ in range(2):
            run_load(server.port, workers, stats, concurrency=workers, seed=9, kinds=[WARMUP])
        run_load(server.port, first - 2 * workers, stats, seed=1)
        mid = measure(server)
        run_load(server.port, SOAK_REQUESTS - first, stats, seed=2)
        end = measure(server)
        elapsed = time.monotonic() - started
        common = sorted(set(mid) & set(end))
        growth = {pid: dict(rss=end[pid]["rss"] - mid[pid]["rss"],
                            fds=end[pid]["fds"] - mid[pid]["fds"],
                            io=io_fds(end[pid]) - io_fds(mid[pid])) for pid in common}
        figures = {
            "mpm": mpm, "requests": SOAK_REQUESTS, "concurrency": CONCURRENCY,
            "seconds": round(elapsed, 1), "served": stats.done, "profiled": stats.profiled,
            "capped": stats.capped, "reconnects": stats.reconnects,
            "children_compared": len(common),
            "rss_kb_mid": {p: mid[p]["rss"] for p in common},
            "rss_kb_end": {p: end[p]["rss"] for p in common},
            "fds_mid": {p: mid[p]["fds"] for p in common},
            "fds_end": {p: end[p]["fds"] for p in common},
            "fd_kinds_end": {p: end[p]["kinds"] for p in common},
            "threads_end": {p: end[p]["threads"] for p in common},
            "max_rss_growth_kb": max((g["rss"] for g in growth.values()), default=0),
            "max_fd_growth": max((g["fds"] for g in growth.values()), default=0),
            "max_io_fd_growth": max((g["io"] for g in growth.values()), default=0),
            "timers": sorted({u["timers"] for u in end.values()}),
        }
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, "soak-%s.json" % mpm), "w") as f:
            json.dump(figures, f, indent=1)
        print("\nsoak %s: %s" % (mpm, json.dumps(figures)))
        assert not stats.errors, stats.errors
        assert stats.done == SOAK_REQUESTS, (stats.done, SOAK_REQUESTS)
        assert stats.profiled >= SOAK_REQUESTS // 5, stats.profiled
        assert common, (mid, end)
        for pid in common:
            g, e = growth[pid], end[pid]
            assert g["rss"] <= RSS_GROWTH_BOUND_KB, ("RSS growth", pid, g, figures)
            assert g["io"] <= FD_GROWTH_BOUND, ("socket/pipe fd growth", pid, g, mid[pid], e)
            # stat, and syscall where readable or else wchan and status,
            # per thread; plus the four prefork's request thread opened
            # before the privilege drop.
            assert e["kinds"]["proc"] <= 3 * e["threads"] + 4, ("/proc task fds", pid, e)
            # One descriptor per loaded object for the symbol table and one
            # for the sampler thread's unwinder, both opened before the
            # privilege drop; growth would be a leak.
            assert e["kinds"]["file"] <= 2 * e["mapped"] + 8, ("file fds", pid, e)
            assert e["timers"] in (0, -1), ("POSIX timers", pid, e)
        assert not bad_log_lines(server), bad_log_lines(server)
    finally:
        server.cleanup()


# During a graceful restart httpd's own signal may interrupt a wait in the
# workload (prefork children get SIGUSR1): its body then counts it.
RESTART_KINDS = [k if "/work/wait?ms=5" not in k[2] else k[:4] + (None,) + k[5:]
                 for k in WEIGHTED]

LONG_KINDS = [(1, "GET", "/work/wait?ms=400&profile=1", 200, None, "html"),
              (1, "GET", "/work/cpu?ms=100&profile=json", 200, None, "json"),
              (1, "GET", "/small.html", 200, SMALL, None),
              (1, "GET", "/work/cpu?ms=5&profile=1", 200, None, "html")]


def wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if os.path.exists("/proc/%d" % p) and
                 proc_usage(p) is not None]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize("mpm", MPMS)
def test_graceful_restart_and_stop_under_load(mpm):
    server = soak_server(mpm)
    server.start()
    try:
        parent = server.proc.pid
        stats = Stats()
        stop = threading.Event()
        load = threading.Thread(target=run_load, args=(server.port, 10 ** 6, stats),
                                kwargs={"concurrency": 12, "seed": 3, "stop": stop,
                                        "kinds": LONG_KINDS + RESTART_KINDS})
        load.start()
        time.sleep(1.5)
        old = children_of(parent)
        os.kill(parent, signal.SIGUSR1)          # graceful restart
        time.sleep(2.5)
        stop.set()
        load.join(60)
        assert not load.is_alive()
        # The old generation finished its requests and left.
        assert wait_gone(old, 15) == [], "children of the old generation still running"
        assert not stats.errors, stats.errors
        assert stats.done > 50 and stats.profiled > 10, (stats.done, stats.profiled)
        # The new generation profiles.
        stats2 = Stats()
        run_load(server.port, 60, stats2, concurrency=6, seed=4, kinds=LONG_KINDS)
        assert not stats2.errors and stats2.done == 60, stats2.errors
        for pid in children_of(parent):
            usage = proc_usage(pid)
            assert usage is None or usage[3] in (0, -1), ("POSIX timers", pid, usage)
        # A graceful stop with profiled requests in flight: they complete.
        results = []

        def slow_profile():
            c = Client(server.port, Stats())
            try:
                kind = LONG_KINDS[0]
                results.append(check(kind, c.request(kind)))
            except Exception as e:  # noqa: BLE001 - reported below
                results.append(repr(e))
            finally:
                c.close()
        inflight = [threading.Thread(target=slow_profile) for _ in range(4)]
        for t in inflight:
            t.start()
        time.sleep(0.15)
        os.kill(parent, signal.SIGWINCH)         # graceful stop
        for t in inflight:
            t.join(30)
        server.proc.wait(timeout=30)
        assert results == [None] * 4, results
        assert process_group(parent) == [], "processes left after a graceful stop"
        assert not bad_log_lines(server), bad_log_lines(server)
    finally:
        server.cleanup()


# The worker and event MPMs have a race of their own in a hard stop: the
# main thread closes the sockets of busy workers (close_worker_sockets) while
# a worker that has just finished a connection may be freeing its socket; it
# segfaults now and then without mod_reqprof loaded (2 stops in 30 under the
# mixed load below, none in 30 under long requests only). So their children
# are stopped while every worker is in a long request, profiled or not, that
# is far from finishing.
STOP_LOAD = {
    "prefork": LONG_KINDS + RESTART_KINDS,
    "worker": [(2, "GET", "/work/wait?ms=500&profile=1", 200, None, "html"),
               (1, "GET", "/work/mixed?cpu=50&wait=400&profile=json", 200, None, "json"),
               (1, "GET", "/work/wait?ms=500", 200, None, None)],
}
STOP_LOAD["event"] = STOP_LOAD["worker"]


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_stop_under_load(mpm):
    server = soak_server(mpm)
    server.start()
    try:
        parent = server.proc.pid
        stats = Stats()
        stop = threading.Event()
        load = threading.Thread(target=run_load, args=(server.port, 10 ** 6, stats),
                                kwargs={"concurrency": 16, "seed": 5, "stop": stop,
                                        "kinds": STOP_LOAD[mpm]})
        load.start()
        time.sleep(1.5)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=20)
        stopped_in = time.monotonic() - started
        stop.set()
        load.join(60)
        assert not load.is_alive()
        assert stopped_in < 10, stopped_in
        assert wait_gone(process_group(parent), 5) == [], "processes left after stop"
        # Responses completed before the stop were intact.
        assert not [e for e in stats.errors if "connection lost" not in e and
                    "refused" not in e.lower() and "reset" not in e.lower()], stats.errors
        assert stats.done > 20, stats.done
        assert not bad_log_lines(server), bad_log_lines(server)
    finally:
        server.cleanup()


def start_time(pid):
    """The process's start time in clock ticks (/proc stat field 22), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid, started_at=None):
    """True while pid exists and is not a zombie. With started_at, only the
    process that started then counts: a busy machine reuses PIDs quickly
    (pid_max may be 32768), and a new process under an old PID is not a
    child that failed to exit."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    if len(fields) < 20 or fields[0] == "Z":
        return False
    return started_at is None or int(fields[19]) == started_at


def thread_states(pid):
    """State and wait channel of every thread of pid, for a hang report."""
    out = []
    try:
        for tid in sorted(os.listdir("/proc/%d/task" % pid)):
            base = "/proc/%d/task/%s/" % (pid, tid)
            with open(base + "stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(base + "wchan") as f:
                out.append("%s:%s:%s" % (tid, state, f.read().strip()))
    except OSError:
        pass
    return " ".join(out)


def signal_state(pid):
    """The signal lines of /proc/PID/status (pending, blocked, caught)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return " ".join(l.strip().replace("\t", "") for l in f
                            if l.startswith(("SigPnd", "ShdPnd", "SigBlk", "SigCgt")))
    except OSError:
        return "gone"


def holds_sighup(pid):
    """SIGHUP is pending for pid and blocked by one of its threads."""
    try:
        status = {}
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                status[key] = int(value.strip(), 16) if key in ("SigPnd", "ShdPnd") else value
        pending = status.get("ShdPnd", 0) | status.get("SigPnd", 0)
        if not pending & (1 << (signal.SIGHUP - 1)):
            return False
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("SigBlk:") and \
                            int(line.split(":")[1], 16) & (1 << (signal.SIGHUP - 1)):
                        return True
    except (OSError, ValueError):
        pass
    return False


def test_prefork_hard_restarts_while_profiling_never_hang():
    """40 hard restarts (SIGHUP: every child is told to die at once) while
    every child serves short profiled requests. prefork ends its children
    from the signal handler, on top of whatever the signal interrupted:
    mod_reqprof's cleanups there must wait on nothing (its lock, or malloc's
    while a report is being built), and where it holds the exit signals off
    (building a report, setting a child up) only for moments.

    A child forked just as the SIGHUP goes out, before prefork installed the
    child's own handler, runs the parent's handler instead and lives on
    until httpd's reclaim sends it SIGTERM 3 s later (SIGKILL at 9 s): that
    is httpd's own race. So each generation must be gone within 8 s, and any
    child still there after 2 s must not be one holding a pending SIGHUP
    off (that would be mod_reqprof's doing)."""
    server = soak_server("prefork")
    server.start()
    stats = Stats()
    stop = threading.Event()
    kinds = [(1, "GET", "/small.html?profile=1", 200, None, "html"),
             (1, "GET", "/work/cpu?ms=1&profile=1", 200, None, "html")]
    load = threading.Thread(target=run_load, args=(server.port, 10 ** 7, stats),
                            kwargs={"concurrency": 32, "seed": 6, "stop": stop, "kinds": kinds})
    load.start()
    try:
        time.sleep(0.8)
        parent = server.proc.pid
        for n in range(40):
            # A child gone before its start time is read is no child to wait
            # for (and its PID, reused, would be taken for it).
            old = {p: t for p in children_of(parent)
                   if (t := start_time(p)) is not None}
            started = time.monotonic()
            os.kill(parent, signal.SIGHUP)
            late = {}
            while (any(alive(p, t) for p, t in old.items())
                   and time.monotonic() - started < 8):
                if time.monotonic() - started >= 2 and not late:
                    late = {p: (holds_sighup(p), signal_state(p), thread_states(p))
                            for p, t in old.items() if alive(p, t)}
                    held = {p: v for p, v in late.items() if v[0]}
                    assert not held, "restart %d: children holding SIGHUP off for 2 s: %s" \
                        % (n, held)
                time.sleep(0.02)
            hung = ["%d (%s; %s)" % (p, signal_state(p), thread_states(p))
                    for p, t in old.items() if alive(p, t)]
            assert not hung, "restart %d: children still running after 8 s: %s (at 2 s: %s)" \
                % (n, hung, late)
            if late:
                print("restart %d: %d children outlived the SIGHUP by over 2 s "
                      "(httpd's reclaim ended them): %s" % (n, len(late), late))
            time.sleep(0.15)
        assert not bad_log_lines(server), bad_log_lines(server)
    finally:
        stop.set()
        load.join(60)
        server.cleanup()
