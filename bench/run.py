"""`make bench`: what mod_reqprof costs and how well it measures, as ratios
taken in one run on this machine, written into docs/benchmarks.md between
the markers <!-- bench:start --> and <!-- bench:end --> (and build/out/bench.md)
and, raw, into build/out/bench.json.

Every figure is the median of several runs, interleaved between the
variants it compares (their order rotates every round, so drift hits them
all), shown with its min and max. A ratio is taken per round (the variant
over its baseline of the same round); when the rounds disagree by more than
SPREAD_LIMIT ((max - min) / median), the ratio is not printed: the table
says "noisy (spread X %)" and the target is not judged.

All load goes to throwaway httpd instances on 127.0.0.1 (the integration
tests' harness), bounded in request count and time. Section 9 (saving to
the store) also starts its own redis-server instances (Debian's
redis-server) on 127.0.0.1, without persistence, and stops them.

Environment (for development; docs/benchmarks.md is only written by a full run):
  BENCH_ONLY=1,3,6   run only these sections (into build/out/bench-partial.*)
  BENCH_SPREAD=0.10  the spread limit
  BENCH_NO_INSTALL=1 never try to install linux-perf
"""
import datetime
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "build", "out")
BENCH_DOC = os.path.join(REPO, "docs", "benchmarks.md")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from httpd_harness import Httpd, free_port, unprivileged_user  # noqa: E402
from report_parser import Report  # noqa: E402

SPREAD_LIMIT = float(os.environ.get("BENCH_SPREAD", "0.10"))
ONLY = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
MARK_START = "<!-- bench:start -->"
MARK_END = "<!-- bench:end -->"

# Rounds per figure (each >= 5) and durations: about 5 minutes in all here.
IDLE_ROUNDS, IDLE_SECONDS, IDLE_CONCURRENCY = 15, 1, 8
PROF_ROUNDS = 11         # 200 ms requests, 4 variants, 2 servers
PROF_REPEAT = 2          # requests per run, averaged
FLOOR_ROUNDS = 7
SAMPLE_RUNS = 5
ACCURACY_ROUNDS = 5
RENDER_RUNS = 5
CONC_ROUNDS, CONC_CLIENTS, CONC_PER_CLIENT = 5, 16, 4
SAMPLER_ROUNDS = 5
WAIT_ROUNDS = 5
TARGET_SPIN_MS = 200.0

DUMPABLE_CONF = "CoreDumpDirectory /tmp\n"
# Sections 7 and 8 run more profiles at once than a child allows by default,
# where the module has that limit.
MANY_CONF = """ReqProfile On
<IfDirective ReqProfileMaxConcurrent>
  ReqProfileMaxConcurrent 64
</IfDirective>
"""
INTERVALS = (("1ms", 1000), ("250us", 250), ("100us", 100))
PERF_FREQ = {1000: 1000, 250: 4000, 100: 10000}
DEPTHS = (10, 30, 60)
RENDER_KINDS = ("realistic", "distinct-leaf", "all-distinct")
RENDER_SIZES = (1000, 10000, 100000)

APR_CFLAGS = None
results = {}


def log(msg):
    print("bench: " + msg, flush=True)


ABS_PATH_RE = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+[\w.+-]*")


def scrub(text):
    """Text for the files the bench writes: paths inside the repository made
    relative, other absolute paths of this machine replaced."""
    text = text.replace(REPO + "/", "")
    return ABS_PATH_RE.sub("<path>", text)


# ---- statistics and formatting ---------------------------------------------


class Fig:
    """A figure: the runs' values, their median, min, max and spread. A run
    without a figure (None or NaN: e.g. a report without the functions it
    measures) makes the whole figure incomplete: its median, min and max are
    NaN, and no verdict is taken from it."""

    def __init__(self, values):
        self.values = [float("nan") if v is None else float(v) for v in values]
        if not self.values:
            raise ValueError("no runs")
        self.missing_runs = sum(1 for v in self.values if math.isnan(v))
        self.incomplete = self.missing_runs > 0
        if self.incomplete:
            self.median = self.min = self.max = float("nan")
            self.spread = float("inf")
            return
        self.median = statistics.median(self.values)
        self.min = min(self.values)
        self.max = max(self.values)
        if self.max == self.min:
            self.spread = 0.0
        elif self.median == 0:
            self.spread = float("inf")
        else:
            self.spread = (self.max - self.min) / abs(self.median)

    @property
    def noisy(self):
        return self.spread > SPREAD_LIMIT

    def as_json(self):
        return {"median": self.median, "min": self.min, "max": self.max,
                "spread": self.spread if self.spread != float("inf") else None,
                "runs": self.values}


def spread_text(fig):
    return "∞" if fig.spread == float("inf") else "%.0f" % (fig.spread * 100)


def not_measured_text(fig):
    return "not measured (%d of %d runs without a figure)" % (fig.missing_runs,
                                                             len(fig.values))


def fmt_ratio(fig, digits=3):
    if fig.incomplete:
        return not_measured_text(fig)
    if fig.noisy:
        return "noisy (spread %s %%)" % spread_text(fig)
    f = "%%.%df" % digits
    return (f + "x [" + f + "–" + f + "]") % (fig.median, fig.min, fig.max)


def fmt_abs(fig, fmt="%.1f", unit=""):
    if fig.incomplete:
        return not_measured_text(fig)
    u = ((" " if unit != "x" else "") + unit.replace("%", "%%")) if unit else ""
    return (fmt + u + " [" + fmt + "–" + fmt + "]") % (fig.median, fig.min, fig.max)


# ---- verdicts ------------------------------------------------------------------
#
# One rule for every verdict: a figure that was not measured (None, NaN, a
# run without samples, a section that failed or was not run, a size that
# was skipped) is "not measured", never "met"; a noisy ratio is "not judged";
# otherwise the target decides between "met" and "MISSED". Every target has
# its row in the targets table, always (target_list below).

NOT_MEASURED = "not measured"


def missing(value):
    """True when value holds no measurement: None, NaN, an incomplete Fig,
    anything that is not a number, or a sequence holding one (or empty)."""
    if value is None:
        return True
    if isinstance(value, Fig):
        return value.incomplete
    if isinstance(value, (list, tuple)):
        return len(value) == 0 or any(missing(v) for v in value)
    if isinstance(value, bool):
        return True
    try:
        return math.isnan(value)
    except TypeError:
        return True


def verdict(value, ok, noisy=False):
    if missing(value):
        return NOT_MEASURED
    if noisy:
        return "not judged (noisy)"
    return "met" if ok(value) else "MISSED"


def verdict_ratio(fig, ok):
    if fig is None or fig.incomplete:
        return NOT_MEASURED
    v = verdict(fig.median, ok, noisy=fig.noisy)
    if v in ("met", "MISSED") and ok(fig.min) != ok(fig.max):
        v += " (borderline: runs on both sides)"
    return v


def verdict_abs(value, ok):
    return verdict(value, ok)


def worst(values, key=lambda x: x):
    """The worst (largest by key) of values, or None when any is missing:
    max() would drop a NaN silently and let the rest pass as the worst."""
    values = list(values)
    if missing(values):
        return None
    return max(values, key=key)


def ratios(variant, base):
    return Fig([None if missing(v) or missing(b) or b == 0 else v / b
                for v, b in zip(variant, base)])


def rotate(items, r):
    k = r % len(items)
    return list(items[k:]) + list(items[:k])


# ---- HTTP and reports ---------------------------------------------------------


def get(port, path, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


SAMPLING_RE = re.compile(
    r"(\d+) signals \((\d+) to waiting threads\), \d+ broken calls restarted, "
    r"\d+ broken for good, (\d+) stacks unwound without "
    r"a signal, (\d+) late intervals; sampler thread CPU ([\d.]+) ms")


def parse_report(body):
    report = Report(body.decode("utf-8", "replace"))
    s = report.summary
    m = SAMPLING_RE.search(s.get("sampling", ""))
    if m is None:
        raise RuntimeError("no sampling row in the report: %r" % s.get("sampling"))
    samples = re.match(r"(\d+) \((\d+) intervals\)", s.get("samples", ""))
    return report, {
        "dumpable_path": s["sampling"].startswith("waits read from /proc"),
        "signals": int(m.group(1)),
        "wait_signals": int(m.group(2)),
        "remote_unwinds": int(m.group(3)),
        "late": int(m.group(4)),
        "sampler_cpu_ms": float(m.group(5)),
        "samples": int(samples.group(1)),
        "intervals": int(samples.group(2)),
        "wall_ms": float(s["wall"].split()[0]),
        "cpu_ms": float(s["cpu"].split()[0]),
        "interval_us": int(s["interval"].split()[0]),
        "process": s.get("process", ""),
    }


def profiled(port, path):
    status, headers, body = get(port, path)
    if status != 200 or not headers.get("content-type", "").startswith("text/html"):
        raise RuntimeError("%s: expected a profile, got %d %s" % (
            path, status, headers.get("content-type")))
    report, info = parse_report(body)
    info["handler_wall_us"] = int(headers["x-rpwork-wall-us"])
    info["handler_cpu_us"] = int(headers["x-rpwork-cpu-us"])
    info["interrupted"] = int(headers["x-rpwork-interrupted"])
    return report, info


def plain(port, path):
    status, headers, body = get(port, path)
    if status != 200:
        raise RuntimeError("%s: status %d" % (path, status))
    return {"handler_wall_us": int(headers["x-rpwork-wall-us"]),
            "handler_cpu_us": int(headers["x-rpwork-cpu-us"])}


crashes = []


def check_crashes(server, what):
    lines = server.crash_lines()
    if lines:
        crashes.append({"server": what, "lines": [scrub(l) for l in lines[:10]]})
        log("CRASH in %s: %s" % (what, lines[:3]))


# ---- building the C helpers ----------------------------------------------------


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def make_variable(name):
    """The value of a variable of the Makefile, as make expands it; None if
    make cannot say."""
    rule = "print-bench-variable:\n\t@echo $(%s)\n" % name
    try:
        res = subprocess.run(["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-",
                              "print-bench-variable"], input=rule, capture_output=True,
                             text=True, cwd=REPO, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def core_link_flags():
    """The core's objects and the libraries the Makefile links them with
    (CORE_OBJ, CORE_LIBS), plus -lrt. Without make's word: build/out/rp_*.o
    and the libraries the core is known to need."""
    objs, libs = make_variable("CORE_OBJ"), make_variable("CORE_LIBS")
    if objs:
        core = [os.path.join(REPO, o) for o in objs.split()]
    else:
        core = sorted(os.path.join(OUT, f) for f in os.listdir(OUT)
                      if f.startswith("rp_") and f.endswith(".o"))
    libs = libs.split() if libs else ["-lunwind", "-ldw", "-lelf", "-lpthread", "-lz", "-lhiredis"]
    missing = [o for o in core if not os.path.exists(o)]
    if missing:
        raise RuntimeError("core objects missing (run make all): %s" % " ".join(
            os.path.relpath(o, REPO) for o in missing))
    return core, libs + ["-lrt"]


def build_helpers():
    global APR_CFLAGS
    apr_cflags = sh(["apr-1-config", "--cppflags", "--includes"]).stdout.split()
    apr_libs = sh(["apr-1-config", "--link-ld", "--libs"]).stdout.split()
    APR_CFLAGS = apr_cflags
    core, core_libs = core_link_flags()
    if not core:
        raise RuntimeError("no core objects in build/out: run make all")
    warn = ["-Wall", "-Wextra"]
    sh(["cc", "-O2"] + warn + ["-o", os.path.join(OUT, "floor"),
                               os.path.join(REPO, "bench", "floor.c"), "-lpthread", "-lrt"])
    for name in ("sample_cost", "render_cost", "route_cost"):
        # sample_cost also runs a PHP engine's image (tests/unit/php_image.c).
        extra = ([os.path.join(REPO, "tests", "unit", "php_image.c")]
                 if name == "sample_cost" else [])
        try:
            sh(["cc", "-O2", "-g", "-fno-omit-frame-pointer"] + warn +
               ["-Imod_reqprof", "-Itests/unit"] + apr_cflags +
               ["-o", os.path.join(OUT, name), os.path.join(REPO, "bench", name + ".c")] +
               extra + core + apr_libs + core_libs, cwd=REPO)
        except subprocess.CalledProcessError as e:
            raise RuntimeError("building %s failed:\n%s" % (name, e.stderr)) from None


def run_json(cmd, timeout=300, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if res.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], res.returncode, res.stderr[-500:]))
    line = [l for l in res.stdout.splitlines() if l.startswith("{")][-1]
    return json.loads(line), res


# ---- 1. idle cost ------------------------------------------------------------------


AB_RE = re.compile(r"Requests per second:\s+([\d.]+)")


def pin_server(server, cpus):
    """Pins every thread of every process of the server's session (the
    harness starts httpd with setsid) to cpus; children forked later
    inherit it from the parent."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[2]) != server.proc.pid:
                continue
            for t in os.listdir("/proc/%s/task" % p):
                os.sched_setaffinity(int(t), cpus)
        except (OSError, ValueError):
            continue


def ab_prefix():
    """ab on the last CPU, httpd (pinned by pin_server) on the first: the two
    then do not trade places, which otherwise swings throughput by 20 %."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(os.cpu_count() - 1)]
    return []


def ab(port, path, keepalive, seconds):
    cmd = ab_prefix() + ["ab", "-q", "-S", "-d", "-c", str(IDLE_CONCURRENCY), "-t", str(seconds),
           "-n", "2000000", "-s", "10"]
    if keepalive:
        cmd.append("-k")
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    m = AB_RE.search(res.stdout)
    if res.returncode != 0 or m is None:
        raise RuntimeError("ab failed: %s %s" % (res.stdout[-400:], res.stderr[-400:]))
    failed = re.search(r"Failed requests:\s+(\d+)", res.stdout)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", res.stdout)
    if (failed and int(failed.group(1))) or non2xx:
        raise RuntimeError("ab saw failures:\n" + res.stdout[-800:])
    return float(m.group(1))


IDLE_WORKLOADS = [("static 1 KiB, keep-alive", "/static-1k.txt", True),
                  ("static 1 KiB, new connection", "/static-1k.txt", False),
                  ("/work/spin?kiter=1, keep-alive", "/work/spin?kiter=1", True),
                  ("/work/spin?kiter=1, new connection", "/work/spin?kiter=1", False)]


# Instructions per request, counted by callgrind: the same for the same
# binaries and requests whatever else the machine does, so the module's own
# per-request cost shows where throughput's noise hides it.
INSTR_WORKLOADS = [("static 1 KiB, keep-alive", "/static-1k.txt"),
                   ("/work/spin?kiter=1, keep-alive", "/work/spin?kiter=1")]
INSTR_REQUESTS = (150, 450)


def callgrind_total(server, path, requests):
    """Instructions run inside ap_run_process_connection while one httpd
    process (-X) serves `requests` keep-alive GETs of path."""
    outdir = os.path.join(server.root, "callgrind")
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o777)  # the process writes its counts as the User
    out = os.path.join(outdir, "%d.out" % requests)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
           "--toggle-collect=ap_run_process_connection",
           "/usr/sbin/apache2", "-f", server.conf_path, "-X"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("httpd under callgrind did not start")
                time.sleep(0.2)
        # valgrind made the file as root at start; the process, now the User,
        # writes its own when it exits.
        if os.path.exists(out):
            os.unlink(out)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for _ in range(requests):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError("%s answered %d under callgrind" % (path, resp.status))
        conn.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    with open(out) as f:
        m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    if m is None:
        raise RuntimeError("no callgrind totals for " + path)
    return int(m.group(1))


def instructions_per_request(server, path):
    """The difference between two runs of different lengths: what starting
    up and the first requests cost cancels out."""
    few, many = INSTR_REQUESTS
    return (callgrind_total(server, path, many) -
            callgrind_total(server, path, few)) / (many - few)


def idle_instructions(common):
    if shutil.which("valgrind") is None:
        return None
    variants = (("without", dict(load_reqprof=False, extra=common)),
                ("loaded", dict(extra=common + "ReqProfile On\n")),
                ("present", dict(extra=common)))
    data = {}
    for name, path in INSTR_WORKLOADS:
        row = {}
        for v, kw in variants:
            server = Httpd("event", threads=2 * IDLE_CONCURRENCY, overrides="None", **kw)
            try:
                with open(os.path.join(server.docroot, "static-1k.txt"), "w") as f:
                    f.write("0123456789abcde\n" * 64)
                row[v] = instructions_per_request(server, path)
            finally:
                server.cleanup()
        data[name] = row
    return data


def section_idle():
    workloads = IDLE_WORKLOADS
    # ab counts a keep-alive connection the server closes as a failed
    # request: no MaxKeepAliveRequests limit, and twice as many threads as
    # ab's connections (the event MPM closes idle keep-alive connections
    # when every worker is busy).
    common = "MaxKeepAliveRequests 0\n"
    threads = 2 * IDLE_CONCURRENCY
    # AllowOverride None, Debian's default: no .htaccess file could switch
    # the module on, so where no context uses it it registers no request hook.
    idle = dict(threads=threads, overrides="None")
    without = Httpd("event", extra=common, load_reqprof=False, **idle)
    loaded = Httpd("event", extra=common + "ReqProfile On\n", **idle)
    # Loaded but not switched on anywhere: what the module's presence costs
    # (its libraries, its per-child symbol table, its hooks' early returns).
    present = Httpd("event", extra=common, **idle)
    # A second server without the module, the same as the first: its ratio
    # to the first is the noise floor the other ratios are read against.
    again = Httpd("event", extra=common, load_reqprof=False, **idle)
    for s in (without, loaded, present, again):
        with open(os.path.join(s.docroot, "static-1k.txt"), "w") as f:
            f.write(("0123456789abcde\n" * 64))
    data = {}
    pinned = bool(ab_prefix())
    with without, loaded, present, again:
        if pinned:
            for s in (without, loaded, present, again):
                pin_server(s, {0})
        variants = (("without", without), ("loaded", loaded), ("present", present),
                    ("again", again))
        for name, path, ka in workloads:  # warm up: children, caches
            for _, s in variants:
                ab(s.port, path, ka, 1)
        runs = {(w[0], v): [] for w in workloads for v, _ in variants}
        for r in range(IDLE_ROUNDS):
            for name, path, ka in workloads:
                for v, s in rotate(variants, r):
                    runs[(name, v)].append(ab(s.port, path, ka, IDLE_SECONDS))
        for name, _, _ in workloads:
            w, l = runs[(name, "without")], runs[(name, "loaded")]
            o = runs[(name, "present")]
            a = runs[(name, "again")]
            data[name] = {"without_rps": Fig(w).as_json(), "loaded_rps": Fig(l).as_json(),
                          "ratio": ratios(l, w).as_json(),
                          "present_rps": Fig(o).as_json(),
                          "present_ratio": ratios(o, w).as_json(),
                          "again_ratio": ratios(a, w).as_json()}
        check_crashes(without, "idle/without")
        check_crashes(loaded, "idle/loaded")
        check_crashes(present, "idle/present")
        check_crashes(again, "idle/again")
    results["idle"] = {"workloads": data, "concurrency": IDLE_CONCURRENCY,
                       "threads": threads, "pinned": pinned,
                       "seconds_per_run": IDLE_SECONDS, "rounds": IDLE_ROUNDS,
                       "client": "ab", "instructions": idle_instructions(common)}


# ---- 2. profiling cost (and 8b: waits interrupted) ----------------------------


PROF_CONF = """ReqProfile On
<Location /work/i1ms>
  ReqProfileInterval 1ms
</Location>
<Location /work/i250us>
  ReqProfileInterval 250us
</Location>
<Location /work/i100us>
  ReqProfileInterval 100us
</Location>
"""


def calibrate(port):
    per_kiter = []
    for _ in range(3):
        per_kiter.append(plain(port, "/work/spin?kiter=20000")["handler_wall_us"] / 20000.0)
    kiter = int(TARGET_SPIN_MS * 1000 / min(per_kiter) / 1000) * 1000
    return max(kiter, 1000)


def mean_run(infos):
    """One run made of several requests: the mean of each number."""
    out = dict(infos[0])
    for k, v in infos[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = statistics.mean(x[k] for x in infos)
    return out


def section_profiling():
    servers = (("not dumpable", Httpd("event", extra=PROF_CONF)),
               ("dumpable", Httpd("event", extra=DUMPABLE_CONF + PROF_CONF)))
    out = {}
    with servers[0][1], servers[1][1]:
        kiter = calibrate(servers[0][1].port)
        results["kiter_200ms"] = kiter
        log("spin kiter for ~%d ms: %d" % (TARGET_SPIN_MS, kiter))
        variants = [("unprofiled", "/work/spin?kiter=%d" % kiter)] + [
            (name, "/work/i%s/spin?kiter=%d&profile=1" % (name, kiter))
            for name, _ in INTERVALS]
        for mode, s in servers:  # warm up every thread's sampler and the symbols
            for _ in range(3):
                for name, path in variants:
                    (plain if name == "unprofiled" else profiled)(s.port, path)
        runs = {(mode, v): [] for mode, _ in servers for v, _ in variants}
        for r in range(PROF_ROUNDS):
            for mode, s in servers:
                for name, path in rotate(variants, r):
                    got = [plain(s.port, path) if name == "unprofiled"
                           else profiled(s.port, path)[1] for _ in range(PROF_REPEAT)]
                    runs[(mode, name)].append(mean_run(got))
        for mode, _ in servers:
            base = runs[(mode, "unprofiled")]
            per = {"unprofiled": {
                "wall_us": Fig([x["handler_wall_us"] for x in base]).as_json(),
                "cpu_us": Fig([x["handler_cpu_us"] for x in base]).as_json()}}
            for name, interval in INTERVALS:
                v = runs[(mode, name)]
                per[name] = {
                    "interval_us": interval,
                    "wall_ratio": ratios([x["handler_wall_us"] for x in v],
                                         [x["handler_wall_us"] for x in base]).as_json(),
                    "cpu_ratio": ratios([x["handler_cpu_us"] for x in v],
                                        [x["handler_cpu_us"] for x in base]).as_json(),
                    "us_per_signal": Fig([
                        (x["handler_wall_us"] - b["handler_wall_us"]) / max(x["signals"], 1)
                        for x, b in zip(v, base)]).as_json(),
                    "signals": Fig([x["signals"] for x in v]).as_json(),
                    "late": Fig([x["late"] for x in v]).as_json(),
                    "sampler_cpu_pct": Fig([100.0 * x["sampler_cpu_ms"] / x["wall_ms"]
                                            for x in v]).as_json(),
                    "proc_path": sorted({x["dumpable_path"] for x in v}),
                    "raw": v,
                }
            out[mode] = per
        results["profiling"] = {"kiter": kiter, "rounds": PROF_ROUNDS, "repeat": PROF_REPEAT,
                                "modes": out}

        # 8b: how often sampling interrupts a wait.
        waits = {}
        wvariants = [("1ms", "/work/i1ms/wait?ms=300&profile=1"),
                     ("100us", "/work/i100us/wait?ms=300&profile=1")]
        wruns = {(m, v): [] for m, _ in servers for v, _ in wvariants}
        for r in range(WAIT_ROUNDS):
            for mode, s in servers:
                for name, path in rotate(wvariants, r):
                    wruns[(mode, name)].append(profiled(s.port, path)[1])
        for mode, _ in servers:
            waits[mode] = {name: {
                "interrupted": Fig([x["interrupted"] for x in wruns[(mode, name)]]).as_json(),
                "wait_signals": Fig([x["wait_signals"] for x in wruns[(mode, name)]]).as_json(),
                "proc_path": sorted({x["dumpable_path"] for x in wruns[(mode, name)]})}
                for name, _ in wvariants}
        results["waits"] = {"rounds": WAIT_ROUNDS, "wait_ms": 300, "modes": waits}
        for mode, s in servers:
            check_crashes(s, "profiling/" + mode)


# ---- 3. the floor ------------------------------------------------------------------


def perf_usable():
    if shutil.which("perf") is not None:
        res = subprocess.run(["perf", "stat", "-e", "task-clock", "true"],
                             capture_output=True, timeout=60)
        return res.returncode == 0
    return False


def ensure_perf():
    if perf_usable():
        return True, "present"
    if os.environ.get("BENCH_NO_INSTALL") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return False, "not installed"
    log("perf missing: trying apt-get install linux-perf")
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "linux-perf"], capture_output=True, timeout=300,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except subprocess.TimeoutExpired:
        return False, "install timed out"
    return (True, "installed by the bench") if perf_usable() else (False, "cannot be installed")


def section_floor():
    kiter = results.get("kiter_200ms")
    if kiter is None:
        kiter = 185000
        results["kiter_200ms"] = kiter
    floor = os.path.join(OUT, "floor")
    perf_ok, perf_how = ensure_perf()
    perf_data = os.path.join(OUT, "bench-perf.data")
    variants = [("none", [floor, "none", "0", str(kiter)])]
    for name, us in INTERVALS:
        variants.append(("tgkill " + name, [floor, "tgkill", str(us), str(kiter)]))
        variants.append(("timer " + name, [floor, "timer", str(us), str(kiter)]))
        if perf_ok:
            variants.append(("perf -F %d" % PERF_FREQ[us],
                             ["perf", "record", "-F", str(PERF_FREQ[us]), "-o", perf_data,
                              "--", floor, "none", "0", str(kiter)]))
    runs = {v: [] for v, _ in variants}
    perf_event = None
    for cmd in (v[1] for v in variants):  # warm up
        run_json(cmd)
    for r in range(FLOOR_ROUNDS):
        for name, cmd in rotate(variants, r):
            obj, res = run_json(cmd)
            if name.startswith("perf"):
                m = re.search(r"\((\d+) samples\)", res.stderr)
                obj["signals"] = int(m.group(1)) if m else None
                if perf_event is None:
                    ev = subprocess.run(["perf", "evlist", "-i", perf_data],
                                        capture_output=True, text=True, timeout=60)
                    perf_event = ev.stdout.strip().splitlines()[0] if ev.stdout.strip() else "?"
            runs[name].append(obj)
    if os.path.exists(perf_data):
        os.remove(perf_data)
    base = [x["wall_us"] for x in runs["none"]]
    base_cpu = [x["cpu_us"] for x in runs["none"]]
    data = {"none_wall_us": Fig(base).as_json()}
    for name, _ in variants[1:]:
        v = runs[name]
        entry = {"wall_ratio": ratios([x["wall_us"] for x in v], base).as_json(),
                 "cpu_ratio": ratios([x["cpu_us"] for x in v], base_cpu).as_json(),
                 "raw": v}
        if all(x.get("signals") for x in v):
            entry["us_per_signal"] = Fig([(x["wall_us"] - b) / x["signals"]
                                          for x, b in zip(v, base)]).as_json()
            entry["signals"] = Fig([x["signals"] for x in v]).as_json()
        data[name] = entry
    results["floor"] = {"kiter": kiter, "rounds": FLOOR_ROUNDS, "perf": perf_ok,
                        "perf_status": perf_how, "perf_event": perf_event,
                        "variants": data}


# ---- 4. per-sample cost ------------------------------------------------------------


def section_sample_cost():
    prog = os.path.join(OUT, "sample_cost")
    kiter = results.get("kiter_200ms", 185000)
    data = {}
    for d in DEPTHS:
        caps = [run_json([prog, "capture", str(d), "20000"])[0] for _ in range(SAMPLE_RUNS)]
        samp, _ = run_json([prog, "sampler", str(d), str(kiter), "100", str(SAMPLE_RUNS)])
        plain_w = [x["wall_us"] for x in samp["plain"]]
        entry = {
            "frames": caps[0]["frames"],
            "sampled_frames": samp["sampled_frames"],
            "unw_mean_ns": Fig([c["unw_backtrace"]["mean_ns"] for c in caps]).as_json(),
            "unw_p99_ns": Fig([c["unw_backtrace"]["p99_ns"] for c in caps]).as_json(),
            "trip_empty_mean_ns": Fig([c["roundtrip_empty"]["mean_ns"] for c in caps]).as_json(),
            "trip_empty_p99_ns": Fig([c["roundtrip_empty"]["p99_ns"] for c in caps]).as_json(),
            "trip_unwind_mean_ns": Fig([c["roundtrip_unwind"]["mean_ns"] for c in caps]).as_json(),
            "trip_unwind_p99_ns": Fig([c["roundtrip_unwind"]["p99_ns"] for c in caps]).as_json(),
            "sampler_added_us_per_sample": Fig([
                (x["wall_us"] - p) / max(x["samples"], 1)
                for x, p in zip(samp["sampler"], plain_w)]).as_json(),
            "floor_added_us_per_signal": Fig([
                (x["wall_us"] - p) / max(x["signals"], 1)
                for x, p in zip(samp["floor"], plain_w)]).as_json(),
            "sampler_wall_ratio": ratios([x["wall_us"] for x in samp["sampler"]], plain_w).as_json(),
            "floor_wall_ratio": ratios([x["wall_us"] for x in samp["floor"]], plain_w).as_json(),
            "raw_capture": caps, "raw_sampler": samp,
        }
        data[str(d)] = entry
    results["sample_cost"] = {"interval_us": 100, "kiter": kiter, "runs": SAMPLE_RUNS,
                              "depths": data}


# ---- 5. accuracy -------------------------------------------------------------------


# Dumpable children (CoreDumpDirectory): a blocked thread's stack is read in
# place. Without it a wait is filed under the stack last seen on CPU, and a
# request that waits before it is ever seen on CPU has none (README, Limits).
# Accuracy is measured in httpd's default children (not dumpable: waits
# are caught by one signal each) and in dumpable ones (CoreDumpDirectory:
# waits read from /proc without a signal).
ACC_CONFIGS = (("not dumpable", ""), ("dumpable", "CoreDumpDirectory /tmp\n"))
ACC_CONF = """ReqProfile On
<Location /work/cpuclock>
  ReqProfileClock cpu
</Location>
"""


def section_accuracy():
    data = {}
    for mpm, (config, config_conf) in [(m, c) for c in ACC_CONFIGS
                                       for m in ("prefork", "worker", "event")]:
        server = Httpd(mpm, extra=config_conf + ACC_CONF)
        with server:
            variants = [("wall", "cpu", "/work/cpu?ms=400&profile=1"),
                        ("cpu", "cpu", "/work/cpuclock/cpu?ms=400&profile=1"),
                        ("wall", "wait", "/work/wait?ms=200&profile=1"),
                        ("cpu", "wait", "/work/cpuclock/wait?ms=200&profile=1")]
            for _, _, path in variants:  # warm up
                profiled(server.port, path.replace("400", "50").replace("200", "50"))
            runs = {(c, w): [] for c, w, _ in variants}
            for r in range(ACCURACY_ROUNDS):
                for clock, work, path in rotate(variants, r):
                    report, info = profiled(server.port, path)
                    total = report.total
                    a, b = report.weight_of("work_alpha"), report.weight_of("work_beta")
                    w = report.weight_of("wait_in_poll")
                    expected = (info["wall_ms"] if clock == "wall" else info["cpu_ms"]) \
                        * 1000.0 / info["interval_us"]
                    runs[(clock, work)].append({
                        "total": total, "alpha": a, "beta": b, "wait": w,
                        "wait_signals": info["wait_signals"],
                        "expected_intervals": expected,
                        "wall_ms": info["wall_ms"], "cpu_ms": info["cpu_ms"]})
            check_crashes(server, "accuracy/%s/%s" % (config, mpm))
        per = {}
        for clock in ("wall", "cpu"):
            c = runs[(clock, "cpu")]
            wt = runs[(clock, "wait")]
            entry = {
                "alpha_share_error_points": Fig([
                    100.0 * x["alpha"] / (x["alpha"] + x["beta"]) - 75.0
                    if x["alpha"] + x["beta"] else float("nan") for x in c]).as_json(),
                "alpha_beta_coverage_pct": Fig([
                    100.0 * (x["alpha"] + x["beta"]) / x["total"] if x["total"] else 0
                    for x in c]).as_json(),
                "cpu_count_ratio": Fig([x["total"] / x["expected_intervals"]
                                        for x in c]).as_json(),
                "raw_cpu": c, "raw_wait": wt,
            }
            if clock == "wall":
                entry["wait_share_pct"] = Fig([100.0 * x["wait"] / x["total"] if x["total"]
                                               else 0 for x in wt]).as_json()
                entry["wait_count_ratio"] = Fig([x["total"] / x["expected_intervals"]
                                                 for x in wt]).as_json()
                # Signals the waiting thread got for its one 200 ms wait.
                entry["wait_signals"] = Fig([x["wait_signals"] for x in wt]).as_json()
            else:
                entry["wait_intervals"] = Fig([x["total"] for x in wt]).as_json()
            per[clock] = entry
        data["%s, %s" % (mpm, config)] = per
    results["accuracy"] = {"rounds": ACCURACY_ROUNDS, "interval_us": 1000, "mpms": data}


# ---- 6. report cost and scale --------------------------------------------------------


def section_render():
    prog = os.path.join(OUT, "render_cost")
    data = {}
    for kind in RENDER_KINDS:
        data[kind] = {}
        for n in RENDER_SIZES:
            prev = data[kind].get(str(n // 10))
            if prev and "skipped" not in prev:
                # Project from the size below: node count and bytes grow at
                # most linearly, time at most quadratically (one node's
                # children are a list).
                t = prev["total_ms"]["median"]
                proj_ms = t * (100 if kind != "realistic" else 10)
                proj_bytes = prev["bytes"]["median"] * 10
                if proj_ms > 120000 or proj_bytes > 1.0e9:
                    data[kind][str(n)] = {"skipped": True, "projected_ms": proj_ms,
                                          "projected_bytes": proj_bytes}
                    continue
            runs = []
            started = time.monotonic()
            for _ in range(RENDER_RUNS):
                obj, _ = run_json([prog, kind, str(n), "1"], timeout=600)
                runs.append(obj["runs"][0])
                if time.monotonic() - started > 10.0:
                    break  # too slow to repeat: fewer runs, said in the table
            data[kind][str(n)] = {
                "runs": len(runs),
                "build_ms": Fig([x["build_ms"] for x in runs]).as_json(),
                "render_ms": Fig([x["render_ms"] for x in runs]).as_json(),
                "total_ms": Fig([x["build_ms"] + x["render_ms"] for x in runs]).as_json(),
                "bytes": Fig([x["bytes"] for x in runs]).as_json(),
                "nodes": runs[0]["nodes"],
            }
    results["render"] = {"depth": 50, "kinds": data}


# ---- 7. concurrency ------------------------------------------------------------------


def batch(port, path, clients, per_client, check):
    errors = []
    barrier = threading.Barrier(clients + 1)

    def client():
        try:
            barrier.wait(timeout=30)
            for _ in range(per_client):
                status, headers, body = get(port, path)
                if status != 200 or not check(headers, body):
                    errors.append((status, headers.get("content-type")))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait(timeout=30)
    started = time.monotonic()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.monotonic() - started
    if errors:
        raise RuntimeError("%s: %d bad responses, e.g. %r" % (path, len(errors), errors[:3]))
    return clients * per_client / elapsed


def section_concurrency():
    kiter = max(1000, results.get("kiter_200ms", 185000) // 4)
    server = Httpd("event", extra=MANY_CONF, threads=20)
    with server:
        plain_path = "/work/spin?kiter=%d" % kiter
        prof_path = plain_path + "&profile=1"
        is_text = lambda h, b: h.get("content-type", "").startswith("text/plain")  # noqa: E731
        is_report = lambda h, b: b"mod_reqprof: request profile" in b  # noqa: E731
        variants = (("unprofiled", plain_path, is_text), ("profiled", prof_path, is_report))
        for _, path, check in variants:  # warm up every thread
            batch(server.port, path, CONC_CLIENTS, 1, check)
        runs = {v[0]: [] for v in variants}
        for r in range(CONC_ROUNDS):
            for name, path, check in rotate(variants, r):
                runs[name].append(batch(server.port, path, CONC_CLIENTS, CONC_PER_CLIENT, check))
        check_crashes(server, "concurrency")
    results["concurrency"] = {
        "kiter": kiter, "clients": CONC_CLIENTS, "requests_per_client": CONC_PER_CLIENT,
        "rounds": CONC_ROUNDS, "threads": 20,
        "unprofiled_rps": Fig(runs["unprofiled"]).as_json(),
        "profiled_rps": Fig(runs["profiled"]).as_json(),
        "ratio": ratios(runs["profiled"], runs["unprofiled"]).as_json()}


# ---- 8. the sampler thread -------------------------------------------------------------


def concurrent_profiles(port, path, n):
    infos, errors = [], []
    barrier = threading.Barrier(n)

    def client():
        try:
            barrier.wait(timeout=30)
            infos.append(profiled(port, path)[1])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors or len(infos) != n:
        raise RuntimeError("%s x%d: %r" % (path, n, errors[:3]))
    return infos


# The sampler thread's CPU is measured from outside, not taken from the
# module's own report: rp_sampler.c names its thread, and the bench (root)
# reads that thread's CPU time from /proc before and after each batch.
SAMPLER_THREAD_NAME = "reqprof-sampler"


def server_processes(server):
    """PIDs of the server's processes (its process group: the harness
    starts httpd with setsid)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[2]) == server.proc.pid:
                pids.append(int(p))
        except (OSError, ValueError):
            continue
    return pids


def thread_cpu_ns(pid, tid):
    """A thread's CPU time so far, in ns: schedstat's time on CPU, else
    stat's utime + stime (clock ticks)."""
    base = "/proc/%d/task/%d/" % (pid, tid)
    try:
        with open(base + "schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    with open(base + "stat") as f:
        st = f.read()
    fields = st[st.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) * 1e9 / os.sysconf("SC_CLK_TCK")


def sampler_threads_cpu(server):
    """{(pid, tid): CPU ns} of every thread named reqprof-sampler in the
    server's processes."""
    out = {}
    for pid in server_processes(server):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for t in tids:
            try:
                with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                    if f.read().strip() != SAMPLER_THREAD_NAME:
                        continue
                out[(pid, int(t))] = thread_cpu_ns(pid, int(t))
            except (OSError, ValueError):
                continue
    return out


def sampler_cpu_during(before, after, seconds):
    """The CPU the sampler threads used between two readings, in % of a
    core (all of the server's sampler threads together), and the busiest
    thread's; None when no sampler thread was found. A thread first seen
    in the second reading started in between: all its CPU counts."""
    if not after or seconds <= 0:
        return None, None, 0
    used = [v - before.get(k, 0) for k, v in after.items()]
    return (100.0 * sum(used) / (seconds * 1e9), 100.0 * max(used) / (seconds * 1e9),
            len(after))


def section_sampler():
    path = "/work/mixed?cpu=200&wait=200&profile=1"
    levels = (1, 8, 32)
    servers = (("not dumpable", Httpd("event", extra=MANY_CONF, threads=40)),
               ("dumpable", Httpd("event", extra=DUMPABLE_CONF + MANY_CONF, threads=40)))
    data = {}
    with servers[0][1], servers[1][1]:
        for _, s in servers:  # warm up threads, samplers, symbols
            concurrent_profiles(s.port, path.replace("200", "20"), 32)
        runs = {(m, c): [] for m, _ in servers for c in levels}
        for r in range(SAMPLER_ROUNDS):
            for mode, s in servers:
                for c in rotate(levels, r):
                    before = sampler_threads_cpu(s)
                    started = time.monotonic()
                    infos = concurrent_profiles(s.port, path, c)
                    seconds = time.monotonic() - started
                    total, busiest, threads = sampler_cpu_during(
                        before, sampler_threads_cpu(s), seconds)
                    expected = sum(x["wall_ms"] * 1000.0 / x["interval_us"] for x in infos)
                    runs[(mode, c)].append({
                        "sampler_cpu_pct": total,
                        "busiest_sampler_cpu_pct": busiest,
                        "sampler_threads": threads,
                        "batch_seconds": seconds,
                        "reported_sampler_cpu_pct": statistics.mean(
                            100.0 * x["sampler_cpu_ms"] / x["wall_ms"] for x in infos),
                        "late_pct": 100.0 * sum(x["late"] for x in infos) / expected,
                        "late": sum(x["late"] for x in infos),
                        "intervals": sum(x["intervals"] for x in infos),
                        "late_over_intervals": max(x["late"] / max(x["intervals"], 1)
                                                   for x in infos),
                        "processes": len({x["process"].split(",")[0] for x in infos}),
                        "interrupted_max": max(x["interrupted"] for x in infos),
                        "wall_ms_max": max(x["wall_ms"] for x in infos),
                    })
        for mode, s in servers:
            check_crashes(s, "sampler/" + mode)
    for mode, _ in servers:
        data[mode] = {}
        for c in levels:
            v = runs[(mode, c)]
            data[mode][str(c)] = {
                "sampler_cpu_pct": Fig([x["sampler_cpu_pct"] for x in v]).as_json(),
                "reported_sampler_cpu_pct": Fig(
                    [x["reported_sampler_cpu_pct"] for x in v]).as_json(),
                "sampler_threads": max(x["sampler_threads"] for x in v),
                "late_pct": Fig([x["late_pct"] for x in v]).as_json(),
                "late_over_intervals_max": max(x["late_over_intervals"] for x in v),
                "processes": max(x["processes"] for x in v),
                "interrupted_max": max(x["interrupted_max"] for x in v),
                "raw": v}
    results["sampler"] = {"path": path, "interval_us": 1000, "rounds": SAMPLER_ROUNDS,
                          "thread_name": SAMPLER_THREAD_NAME, "modes": data}


# ---- 9. saving to the store -------------------------------------------------------------
#
# Every figure in one run: the request thread's time to save one profile to a
# directory and to Redis; the throughput of servers that profile and save every
# request (ReqProfileLog On) to no store, a directory, a Redis that is up, one
# that was stopped and one that hangs (SIGSTOP); and what a profile takes in
# Redis. The bench starts its own redis-server instances on 127.0.0.1 (no
# persistence) and stops them at the end.

STORE_ROUNDS = 7           # per-profile cost: interleaved rounds per profile size
STORE_REPEAT = 5           # profiles per run, averaged
STORE_TP_ROUNDS = 7        # throughput: interleaved rounds
STORE_TP_SECONDS = 2       # per ab run
# The throughput workload: /work/spin of about this many ms, short enough
# for the saving to show (at 10 ms, 1 s runs were all noise).
STORE_TP_MS = (1,)
STORE_DIR_LIMIT = 100      # ReqProfileDirLimit's default count: filled before measuring
STORE_LIMIT = 2000         # ReqProfileStoreLimit of the throughput servers
STORE_DOWN_TARGET = 0.95   # Redis down or hung: throughput against Redis up
STORE_PROJECT_COUNT = 10000  # the sizing figure: what this many profiles take


class RedisError(Exception):
    pass


def resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise RedisError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise RedisError("unexpected reply %r" % line[:40])


def redis_pipeline(port, commands, timeout=30):
    """The replies to commands (tuples of arguments) sent at once to the
    Redis on 127.0.0.1:port; an error reply comes back as a RedisError."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(resp_encode(c) for c in commands))
        with s.makefile("rb") as f:
            return [resp_read(f) for _ in commands]


def redis_cmd(port, *args, timeout=30):
    reply = redis_pipeline(port, [args], timeout)[0]
    if isinstance(reply, RedisError):
        raise reply
    return reply


def redis_info(port, section):
    text = redis_cmd(port, "INFO", section).decode()
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


def redis_evals(port):
    """EVAL calls so far: the module writes each profile with one."""
    stat = redis_info(port, "commandstats").get("cmdstat_eval", "")
    m = re.search(r"calls=(\d+)", stat)
    return int(m.group(1)) if m else 0


def redis_settled(port, timeout=15.0, quiet=0.5):
    """Waits until no profile has been written for `quiet` seconds (the
    writer threads' queues are empty); the EVAL calls so far."""
    deadline = time.monotonic() + timeout
    last, since = redis_evals(port), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = redis_evals(port)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def redis_drops(port):
    """Profiles the hosts writing to this Redis could not write, as they
    counted them there (reqprof:dropped)."""
    reply = redis_cmd(port, "HGETALL", "reqprof:dropped") or []
    return sum(int(v) for v in reply[1::2])


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 without persistence, on cpus
    when given. stop() ends the process; pause() and resume() stop and
    continue it (SIGSTOP, SIGCONT): connections are then still accepted by
    the kernel but nothing answers."""

    def __init__(self, cpus=None, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="reqprof-redis-")
        self.cpus = cpus
        self.proc = None
        self.paused = False

    def start(self, timeout=10):
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found (Debian: apt-get install redis-server)")
        cmd = [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--dir", self.dir,
               "--logfile", os.path.join(self.dir, "redis.log")]
        if self.cpus and shutil.which("taskset"):
            cmd = ["taskset", "-c", ",".join(str(c) for c in sorted(self.cpus))] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited at start: " + self.log_tail())
            try:
                if redis_cmd(self.port, "PING", timeout=1) == "PONG":
                    return self
            except (OSError, RedisError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer: " + self.log_tail())

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return scrub(f.read()[-400:])
        except OSError:
            return "(no log)"

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            if self.paused:
                self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class LogTail:
    """The lines a log gained since the last call."""

    def __init__(self, path):
        self.path, self.offset = path, 0

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode("utf-8", "replace").splitlines()


SAVED_RE = re.compile(r"saved profile (\S+) to \S+ in ([\d.]+) ms; building it took ([\d.]+) ms")
RECORD_FIELD_RE = re.compile(r" (id|samples|saved|save_ms)=(\S+)")


def log_records(lines):
    """The log mode records among error-log lines: {id, samples, saved,
    save_ms} each."""
    return [dict(RECORD_FIELD_RE.findall(l)) for l in lines if "type=reqprof v=1 " in l]


def store_conf(store, debug=False):
    """Every /work request profiled and logged (ReqProfileLog On), saved to
    store (a ReqProfileStore line, or nothing); /work/i100us at 100 µs."""
    return ("MaxKeepAliveRequests 0\n" + ("LogLevel warn reqprof:debug\n" if debug else "") +
            (store + "\n" if store else "") +
            "<Location /work>\n  ReqProfileLog On\n</Location>\n"
            "<Location /work/i100us>\n  ReqProfileInterval 100us\n</Location>\n")


def profile_dir(parent, name):
    """A directory the server's children can write profiles into."""
    path = os.path.join(parent, name)
    os.makedirs(path)
    user = unprivileged_user()
    shutil.chown(path, user, user)
    return path


def fs_type(path):
    """The file system type path lives on (/proc/mounts, longest match)."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and (path == parts[1] or path.startswith(
                        parts[1].rstrip("/") + "/")) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def wait_records(tail, want, timeout=10.0):
    """The next `want` records of a log and the debug lines that came with
    them, waiting for them (log_transaction runs after the response)."""
    recs, saved = [], []
    deadline = time.monotonic() + timeout
    while True:
        lines = tail.lines()
        recs += log_records(lines)
        saved += [m for m in (SAVED_RE.search(l) for l in lines) if m]
        if len(recs) >= want or time.monotonic() > deadline:
            return recs, saved
        time.sleep(0.02)


def key_sizes(port, ids):
    """For the profiles ids in Redis: MEMORY USAGE of each key (exact:
    SAMPLES 0) and the bytes of its fields' values (HSTRLEN)."""
    keys = ["reqprof:p:" + (i.decode() if isinstance(i, bytes) else i) for i in ids]
    usage = redis_pipeline(port, [("MEMORY", "USAGE", k, "SAMPLES", "0") for k in keys])
    fields = redis_pipeline(port, [("HKEYS", k) for k in keys])
    lens = redis_pipeline(port, [("HSTRLEN", k, f) for k, fs in zip(keys, fields)
                                 for f in (fs or [])])
    per_key, i = [], 0
    for fs in fields:
        n = len(fs or [])
        per_key.append(sum(x for x in lens[i:i + n] if isinstance(x, int)))
        i += n
    return ([u if isinstance(u, int) else None for u in usage], per_key,
            sorted({f.decode() for fs in fields for f in (fs or [])}))


def redis_holdings(port, mem_before, expected=None):
    """What the Redis holds now, per profile: its keys' MEMORY USAGE and
    fields' bytes, the index's share, and used_memory's growth since
    mem_before over the profiles it holds."""
    ids = redis_cmd(port, "ZRANGE", "reqprof:index", "0", "-1") or []
    mem = int(redis_info(port, "memory")["used_memory"])
    usage, stored, fields = key_sizes(port, ids)
    index = redis_cmd(port, "MEMORY", "USAGE", "reqprof:index", "SAMPLES", "0") or 0
    n = len(ids)
    return {"profiles": n, "expected": expected, "fields": fields,
            "memory_usage": Fig(usage).as_json() if usage else None,
            "stored_bytes": Fig(stored).as_json() if stored else None,
            "index_bytes_per_profile": index / n if n else None,
            "used_memory_growth_per_profile": (mem - mem_before) / n if n else None,
            "used_memory_before": mem_before, "used_memory_after": mem}


def save_run(server, tail, path):
    """STORE_REPEAT requests one after the other; the request thread's save
    time of each (the debug line: rendering the saved formats and handing
    them to the store), averaged, and the profiles' samples."""
    for _ in range(STORE_REPEAT):
        plain(server.port, path)
    recs, saved = wait_records(tail, STORE_REPEAT)
    ok = len(recs) == STORE_REPEAT and len(saved) == STORE_REPEAT
    return {"save_ms": statistics.mean(float(m.group(2)) for m in saved) if ok else None,
            "record_save_ms": statistics.mean(float(r.get("save_ms", "nan")) for r in recs)
            if ok else None,
            "build_ms": statistics.mean(float(m.group(3)) for m in saved) if ok else None,
            "samples": statistics.mean(int(r.get("samples", 0)) for r in recs) if recs else None,
            "ids": [r.get("id") for r in recs]}


def store_cost(kiter, redis, workdir):
    """Part 1 (and 4 for these sizes): one profile saved at a time, to a
    directory and to Redis, interleaved; what Redis then holds. Nothing is
    pinned: one request at a time, the sampler thread on another CPU, as on
    a server with CPUs to spare. The directory is first filled to its
    limit, so that every save also prunes one profile, as on a server that
    has been saving for a while."""
    pdir = profile_dir(workdir, "cost")
    servers = (("dir", Httpd("event", extra=store_conf("ReqProfileStore dir:%s" % pdir,
                                                        debug=True))),
               ("redis", Httpd("event", extra=store_conf(
                   "ReqProfileStore redis://127.0.0.1:%d/0" % redis.port, debug=True))))
    sizes = (("50 ms at 1 ms", "/work/spin?kiter=%d" % max(1000, kiter // 4)),
             ("200 ms at 100 µs", "/work/i100us/spin?kiter=%d" % kiter))
    out = {}
    with servers[0][1], servers[1][1]:
        tails = {name: LogTail(s.error_log) for name, s in servers}
        for _, path in sizes:  # warm up: symbols, the sampler, the writer's connection
            for name, s in servers:
                save_run(s, tails[name], path)
        for name, s in servers:  # the directory at its limit
            for _ in range(STORE_DIR_LIMIT):
                plain(s.port, "/work/spin?kiter=1000")
            wait_records(tails[name], STORE_DIR_LIMIT)
        for size, path in sizes:
            redis_settled(redis.port)
            redis_cmd(redis.port, "FLUSHALL")
            mem0 = int(redis_info(redis.port, "memory")["used_memory"])
            runs = {name: [] for name, _ in servers}
            for r in range(STORE_ROUNDS):
                for name, s in rotate(servers, r):
                    runs[name].append(save_run(s, tails[name], path))
            sent = STORE_ROUNDS * STORE_REPEAT
            redis_settled(redis.port)
            held = redis_holdings(redis.port, mem0, expected=sent)
            out[size] = {
                "path": path,
                "samples": Fig([x["samples"] for x in runs["redis"] + runs["dir"]]).as_json(),
                "dir_ms": Fig([x["save_ms"] for x in runs["dir"]]).as_json(),
                "redis_ms": Fig([x["save_ms"] for x in runs["redis"]]).as_json(),
                "ratio": ratios([x["save_ms"] for x in runs["redis"]],
                                [x["save_ms"] for x in runs["dir"]]).as_json(),
                "dir_record_ms": Fig([x["record_save_ms"] for x in runs["dir"]]).as_json(),
                "redis_record_ms": Fig([x["record_save_ms"] for x in runs["redis"]]).as_json(),
                "held": held, "raw": runs}
        for name, s in servers:
            check_crashes(s, "store/cost/" + name)
    return out


def store_throughput(kiter, redis_cpus, workdir, cpus):
    """Parts 2 and 3 (and 4 at steady state): requests/s of servers saving
    every request, to nothing, a directory, Redis up, Redis stopped and
    Redis hung, interleaved; how many profiles were saved, written and
    counted as dropped."""
    threads = 2 * IDLE_CONCURRENCY
    limit = "ReqProfileStoreLimit %d" % STORE_LIMIT
    up = RedisServer(redis_cpus)
    down = RedisServer(redis_cpus)
    hung = RedisServer(redis_cpus)
    redises = (("redis", up), ("down", down), ("hung", hung))
    pdir = profile_dir(workdir, "throughput")
    confs = [("none", None),
             ("dir", "ReqProfileStore dir:%s" % pdir)] + [
        (name, "ReqProfileStore redis://127.0.0.1:%d/0\n%s" % (r.port, limit))
        for name, r in redises]
    servers = [(name, Httpd("event", extra=store_conf(store), threads=threads))
               for name, store in confs]
    workloads = [("%d ms" % ms, "/work/spin?kiter=%d" % max(1000, round(kiter * ms / 200.0)))
                 for ms in STORE_TP_MS]
    started = []
    try:
        for r in (up, down, hung):
            r.start()
            started.append(r)
        for _, s in servers:
            s.start()
            started.append(s)
            if cpus:
                pin_server(s, cpus)
        tails = {name: LogTail(s.error_log) for name, s in servers}
        for _, path in workloads:  # warm up: children, the writers' connections
            for _, s in servers:
                ab(s.port, path, True, 1)
        for _, r in redises:
            redis_settled(r.port)
            if redis_evals(r.port) == 0:
                raise RuntimeError("no profile reached redis-server %d in the warm-up" % r.port)
        # Drop counts are per child and absolute, warm-up included: the
        # stopped and hung servers' accounting starts at their start.
        warm = {v: {"records": len(log_records(tails[v].lines())),
                    "written": redis_cmd(r.port, "ZCARD", "reqprof:index") or 0}
                for v, r in (("down", down), ("hung", hung))}
        down.stop()   # the process ends: connections refused
        hung.pause()  # SIGSTOP: connections accepted, nothing answers
        redis_cmd(up.port, "FLUSHALL")
        mem0 = int(redis_info(up.port, "memory")["used_memory"])
        evals0 = redis_evals(up.port)
        for t in tails.values():
            t.lines()  # what the warm-up logged is left behind
        runs = {(w, v): [] for w, _ in workloads for v, _ in servers}
        totals = {v: {"records": 0, "not_saved": 0} for v, _ in servers}
        samples = []  # of the profiles Redis up got
        for r in range(STORE_TP_ROUNDS):
            for w, path in workloads:
                for v, s in rotate(servers, r):
                    rps = ab(s.port, path, True, STORE_TP_SECONDS)
                    recs = log_records(tails[v].lines())
                    not_saved = sum(1 for x in recs if x.get("saved") == "0")
                    totals[v]["records"] += len(recs)
                    totals[v]["not_saved"] += not_saved
                    save = [float(x["save_ms"]) for x in recs if "save_ms" in x]
                    if v == "redis":
                        samples += [int(x["samples"]) for x in recs if "samples" in x]
                    runs[(w, v)].append({
                        "rps": rps, "records": len(recs), "not_saved": not_saved,
                        "save_ms": statistics.mean(save) if save else None})
        time.sleep(0.3)
        for v, _ in servers:  # the last requests' records
            recs = log_records(tails[v].lines())
            totals[v]["records"] += len(recs)
            totals[v]["not_saved"] += sum(1 for x in recs if x.get("saved") == "0")
        written = redis_settled(up.port) - evals0
        held = redis_holdings(up.port, mem0)
        held["limit"] = STORE_LIMIT
        held["samples"] = statistics.median(samples) if samples else None
        # Redis back: the writers count what they dropped in reqprof:dropped.
        hung.resume()
        down = RedisServer(redis_cpus, port=down.port)
        down.start()
        started.append(down)
        counted = {}
        for v, r in (("down", down), ("hung", hung)):
            # Every profile ends up stored or counted dropped (writes that
            # timed out are settled by asking Redis once it answers). The
            # stopped one comes back empty: what it held before is added.
            held_before = warm[v]["written"] if v == "down" else 0
            want = warm[v]["records"] + totals[v]["records"]

            def accounted():
                return (held_before + redis_drops(r.port) +
                        (redis_cmd(r.port, "ZCARD", "reqprof:index") or 0))
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and accounted() < want:
                time.sleep(0.2)
            time.sleep(1.5)   # a late or repeated count would show as too many
            counted[v] = {"profiled": want, "dropped_counted": redis_drops(r.port),
                          "written": held_before +
                          (redis_cmd(r.port, "ZCARD", "reqprof:index") or 0)}
        for v, s in servers:
            check_crashes(s, "store/throughput/" + v)
    finally:
        for x in reversed(started):
            x.cleanup()
        for x in [s for _, s in servers] + [up, down, hung]:
            x.cleanup()  # those that did not start: their directories
    data = {}
    for w, path in workloads:
        base = [x["rps"] for x in runs[(w, "none")]]
        upr = [x["rps"] for x in runs[(w, "redis")]]
        entry = {"path": path}
        for v, _ in servers:
            rr = runs[(w, v)]
            entry[v] = {
                "rps": Fig([x["rps"] for x in rr]).as_json(),
                "save_ms": Fig([x["save_ms"] for x in rr]).as_json() if v != "none" else None,
                "not_saved_pct": Fig([100.0 * x["not_saved"] / x["records"] if x["records"]
                                      else None for x in rr]).as_json(),
                "raw": rr}
        for v in ("dir", "redis"):
            entry[v]["ratio"] = ratios([x["rps"] for x in runs[(w, v)]], base).as_json()
        for v in ("down", "hung"):
            entry[v]["ratio"] = ratios([x["rps"] for x in runs[(w, v)]], upr).as_json()
        data[w] = entry
    return {"workloads": data, "totals": totals, "written": written, "held": held,
            "counted": counted, "fs": fs_type(pdir), "threads": threads,
            "limit": STORE_LIMIT}


def section_store():
    kiter = results.get("kiter_200ms")
    cpus = {0} if ab_prefix() else None
    n = os.cpu_count() or 1
    # Redis away from httpd's CPU: its own where there is one, else ab's.
    redis_cpus = ({1} if n >= 3 else {n - 1}) if cpus else None
    workdir = tempfile.mkdtemp(prefix="reqprof-bench-store-")
    os.chmod(workdir, 0o755)
    try:
        if kiter is None:
            with Httpd("event") as s:
                kiter = calibrate(s.port)
            results["kiter_200ms"] = kiter
            log("spin kiter for ~%d ms: %d" % (TARGET_SPIN_MS, kiter))
        with RedisServer() as redis:
            cost = store_cost(kiter, redis, workdir)
        tp = store_throughput(kiter, redis_cpus, workdir, cpus)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    m = re.search(r"v=(\S+)", version)
    results["store"] = {"kiter": kiter, "rounds": STORE_ROUNDS, "repeat": STORE_REPEAT,
                        "tp_rounds": STORE_TP_ROUNDS, "tp_seconds": STORE_TP_SECONDS,
                        "concurrency": IDLE_CONCURRENCY, "pinned": bool(cpus),
                        "redis_cpus": sorted(redis_cpus) if redis_cpus else None,
                        "redis_version": m.group(1) if m else version,
                        "cost": cost, "throughput": tp}


# ---- the README section ----------------------------------------------------------------


def F(d):
    """A Fig back from its JSON form."""
    return Fig(d["runs"])


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "loadavg_start": os.getloadavg()}


class LoadMonitor:
    """What else ran on the machine while the bench did. Every INTERVAL
    seconds each process's CPU time (utime + stime, /proc/<pid>/stat) is
    read; what it used since the last reading is charged to it, unless it
    is the bench or one of its descendants (httpd, ab, perf, the helpers).
    A process is seen from its second reading on: one that starts and ends
    between two readings is missed."""

    INTERVAL = 2.0

    def __init__(self):
        self.me = os.getpid()
        self.hz = os.sysconf("SC_CLK_TCK")
        self.lock = threading.Lock()
        self.prev = {}
        self.charged = {}        # (pid, comm) -> ticks
        self.other_ticks = 0
        self.marks = []          # (label, monotonic time, other ticks, loadavg)
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def snapshot():
        procs = {}
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    st = f.read()
                fields = st[st.rindex(")") + 2:].split()
                procs[int(p)] = (int(fields[19]), int(fields[11]) + int(fields[12]),
                                 st[st.index("(") + 1:st.rindex(")")], int(fields[1]))
            except (OSError, ValueError, IndexError):
                continue
        return procs

    def ours(self, pid, procs):
        for _ in range(64):
            if pid == self.me:
                return True
            if pid not in procs:
                return False
            pid = procs[pid][3]
        return False

    def sample(self):
        procs = self.snapshot()
        with self.lock:
            for pid, (start, ticks, comm, _) in procs.items():
                old = self.prev.get(pid)
                if old is None or old[0] != start or ticks <= old[1]:
                    continue
                if self.ours(pid, procs):
                    continue
                self.charged[(pid, comm)] = self.charged.get((pid, comm), 0) + ticks - old[1]
                self.other_ticks += ticks - old[1]
            self.prev = procs

    def _run(self):
        while not self.stopping.wait(self.INTERVAL):
            self.sample()

    def start(self):
        self.sample()
        self.thread.start()

    def mark(self, label):
        self.sample()
        with self.lock:
            self.marks.append((label, time.monotonic(), self.other_ticks, os.getloadavg()[0]))

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        self.sample()

    def pct_of_machine(self, ticks, seconds):
        return 100.0 * ticks / self.hz / (seconds * (os.cpu_count() or 1)) if seconds > 0 else 0.0

    def summary(self):
        seconds = time.monotonic() - self.started
        per_section = {}
        for (label, t0, k0, load), (end, t1, k1, _) in zip(self.marks, self.marks[1:]):
            if label.startswith("start ") and end == "end " + label[len("start "):]:
                per_section[label[len("start "):]] = {
                    "other_cpu_pct_of_machine": self.pct_of_machine(k1 - k0, t1 - t0),
                    "loadavg_at_start": load}
        busiest = sorted(self.charged.items(), key=lambda kv: -kv[1])[:5]
        return {"interval_s": self.INTERVAL,
                "other_cpu_pct_of_machine": self.pct_of_machine(self.other_ticks, seconds),
                "busiest": [{"comm": comm, "pid": pid,
                             "pct_of_a_core": 100.0 * ticks / self.hz / seconds}
                            for (pid, comm), ticks in busiest if seconds > 0],
                "per_section": per_section}


def machine_state_text(m):
    """The machine state the tables were taken in, for the page."""
    text = ("**Machine state:** %s CPUs (`nproc`); load average %.2f at the start, %.2f "
            "at the end" % (m["nproc"], m["loadavg_start"][0],
                            m.get("loadavg_end", m["loadavg_start"])[0]))
    others = m.get("others")
    if not others:
        return text + "; other processes not observed."
    busy = [b for b in others["busiest"] if b["pct_of_a_core"] >= 1.0]
    text += ("; other processes (not the bench's own, read from /proc every %.0f s) used "
             "%.1f %% of the machine's CPU time while it ran" % (
                 others["interval_s"], others["other_cpu_pct_of_machine"]))
    if busy:
        text += ", the busiest " + ", ".join(
            "%s (%.0f %% of a core)" % (b["comm"], b["pct_of_a_core"]) for b in busy)
    if others["per_section"]:
        text += "; per section: " + ", ".join(
            "%s: %.0f %% (load %.2f)" % (k, v["other_cpu_pct_of_machine"], v["loadavg_at_start"])
            for k, v in sorted(others["per_section"].items()))
    return text + "."


# Every target the bench judges, in the order of the targets table: each has
# its row whatever happened (section failed, not run, size skipped, a run
# without samples), with "not measured" when there is no figure to judge.
PROFILING_TARGETS = {1000: 1.02, 100: 1.5}
MODES = ("not dumpable", "dumpable")
SECTION_OF = {"idle": "1", "prof": "2", "waits": "2", "acc": "5", "render": "6",
              "conc": "7", "sampler": "8", "store": "9", "routes": "10", "log": "11",
              "script": "12"}


def target_list():
    """[(key, figure, target)] of every target."""
    t = [("idle:" + name, "1. Idle throughput, " + name, "≥ 0.99x")
         for name, _, _ in IDLE_WORKLOADS]
    for mode in MODES:
        for name, us in INTERVALS:
            if us in PROFILING_TARGETS:
                for what in ("wall", "CPU"):
                    t.append(("prof:%s:%s:%s" % (name, mode, what),
                              "2. Profiling cost, %s, %s, %s" % (name, mode, what),
                              "≤ %.2fx" % PROFILING_TARGETS[us]))
    t += [("acc:err", "5. Accuracy: work_alpha share error, worst MPM × clock",
           "≤ 3 points (bench)"),
          ("acc:wait", "5. Accuracy: wait_in_poll share (wall), worst MPM", "≥ 95 % (bench)"),
          ("acc:count", "5. Accuracy: intervals / (duration ÷ interval), worst",
           "0.95–1.05x (bench)"),
          ("render", "6. Report, 10 000 samples × depth 50, realistic", "≤ 50 ms and ≤ 1 MB"),
          ("render:distinct", "6. Report, 10 000 samples × depth 50, all-distinct",
           "≤ 200 ms and ≤ 5 MB"),
          ("conc", "7. 16 concurrent profiled requests, throughput", "≥ 0.95x (bench)")]
    t += [("sampler:" + mode, "8. Sampler thread CPU, 8 concurrent, %s" % mode,
           "≤ 5 % of a core") for mode in MODES]
    for mode in MODES:
        for name in ("1ms", "100us"):
            t.append(("waits:%s:%s" % (name, mode), "8. Waits interrupted, %s, %s" % (name, mode),
                      "0 per wait"))
    for ms in STORE_TP_MS:
        for v, what in (("down", "Redis stopped"), ("hung", "Redis hung (SIGSTOP)")):
            t.append(("store:%s:%d ms" % (v, ms),
                      "9. Saving every request, %s: throughput against Redis up, %d ms requests"
                      % (what, ms), "≥ %.2fx (bench)" % STORE_DOWN_TARGET))
    t.append(("routes:page", "10. Group page of a route with 10 000 profiles in Redis",
              "≤ %.0f s" % ROUTE_PAGE_TARGET_S))
    t.append(("log:" + LOG_COST_WORKLOADS[0][0],
              "11. Log mode, added per logged request, " + LOG_COST_WORKLOADS[0][0],
              "≤ %.0f µs" % LOG_COST_TARGET_US))
    t.append(("script:20", "12. Script frames, added per sample at 20 PHP frames",
              "≤ %.0f µs (bench)" % SCRIPT_TARGET_US))
    return t


def unmeasured_text(key, res, reason=None):
    """Why a target has no figure."""
    sec = SECTION_OF[key.split(":")[0]]
    errors = res.get("errors") or {}
    if sec in errors:
        last = (errors[sec].strip().splitlines() or ["?"])[-1]
        return "not measured: section %s failed (%s)" % (sec, last)
    if res.get("only") and sec not in res["only"]:
        return "not measured: section %s not run" % sec
    return "not measured" + (": " + reason if reason else "")


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def render_markdown(res=None, crash_list=None):
    """The page section from a run's results (by default this run's)."""
    results = globals()["results"] if res is None else res
    crashes = globals()["crashes"] if crash_list is None else crash_list
    m = results["machine"]
    measured = {}  # target key -> (measured, verdict)
    reasons = {}   # target key -> why it has no figure

    def judge(key, text, v):
        measured[key] = (text, v)

    out = []
    out.append("## Benchmarks")
    out.append("")
    out.append(
        "Written by `make bench` (`bench/run.py`) on %s: %s CPUs (`nproc`), %s, "
        "kernel %s; the bench took %.1f minutes. Raw numbers: `build/out/bench.json`." % (
            results["date"], m["nproc"], m["cpu_model"], m["kernel"],
            results["duration_s"] / 60))
    out.append("")
    out.append(machine_state_text(m))
    out.append("")
    out.append(
        "Every figure is the median of several runs (the count is given per section), "
        "interleaved between the variants it compares with their order rotating each "
        "round, shown as median [min–max]. A ratio is taken per round, the variant over "
        "its baseline of the same round. **Spread rule:** when a ratio's rounds disagree by "
        "more than %.0f %% ((max − min) / median), the ratio is not printed — the table says "
        "\"noisy (spread X %%)\" — and its target is not judged. Absolute figures are always "
        "printed. The load generator (ab, or Python threads) shares the machine's CPUs "
        "with httpd." % (SPREAD_LIMIT * 100))
    out.append("")
    if crashes:
        out.append("**httpd children crashed during the bench:** " +
                   "; ".join("%s: %s" % (c["server"], c["lines"][0]) for c in crashes))
        out.append("")
    if results.get("errors"):
        out.append("**Sections that failed:** " + "; ".join(
            "%s: %s" % (k, v.splitlines()[-1]) for k, v in results["errors"].items()))
        out.append("")

    # 1
    sec = []
    if "idle" in results:
        idle = results["idle"]
        rows = []
        for name, d in idle["workloads"].items():
            r = F(d["ratio"])
            v = verdict_ratio(r, lambda x: x >= 0.99)
            off = fmt_ratio(F(d["present_ratio"])) if "present_ratio" in d else "—"
            floor = fmt_ratio(F(d["again_ratio"])) if "again_ratio" in d else "—"
            rows.append([name, fmt_abs(F(d["without_rps"]), "%.0f"),
                         fmt_abs(F(d["loaded_rps"]), "%.0f"), fmt_ratio(r), off, floor,
                         "≥ 0.99x", v])
            judge("idle:" + name, fmt_ratio(r), v)
        sec.append("### 1. Idle cost")
        sec.append("")
        sec.append(
            "Requests/s of an event-MPM httpd with mod_reqprof loaded and `ReqProfile On` "
            "but no trigger, against the same httpd without the module (%d threads per "
            "child); `ab -c %d`, %d s per run, %d rounds. The column *loaded, not On* is the "
            "same httpd with the module loaded but used nowhere (no `ReqProfile On`, log mode "
            "or Server-Timing, and no .htaccess file allowed to switch it on): it registers "
            "no request hook, and its children install no signal handler and build no "
            "symbol table, so what is left is what its presence brings (its libraries, "
            "one more module for httpd to merge configurations over). Every "
            "server here has `AllowOverride None`, Debian's default. The column *A/A* is a "
            "second httpd "
            "without the module, the same as the first: its ratio to the first is what this "
            "machine's noise alone gives, the floor the other ratios are read against.%s" % (
                idle["threads"], idle["concurrency"], idle["seconds_per_run"], idle["rounds"],
                " httpd is pinned to CPU 0 and ab to the last CPU (unpinned, the two trade "
                "places and throughput swings by 20 %)." if idle["pinned"] else ""))
        sec.append("")
        sec.append(md_table(["workload", "without module (req/s)", "loaded, On (req/s)",
                             "ratio", "loaded, not On: ratio", "A/A: ratio", "target",
                             "verdict"], rows))
        sec.append("")
        instr = idle.get("instructions")
        if instr:
            sec.append(
                "**Instructions per request.** Counted by callgrind in one httpd process "
                "(`-X`, the same configurations with 1 client and keep-alive): user-space "
                "instructions inside `ap_run_process_connection` (reading the request, every "
                "hook, the handler, logging), per request, from the difference between %d and "
                "%d requests so that start-up cancels out. The count moves by less than a "
                "hundred instructions from run to run (as the server's threads happen to "
                "wake), so it shows the module's own per-request work where throughput's noise "
                "hides it; the kernel's share of a request (the network stack), which "
                "throughput includes, is not in it." % INSTR_REQUESTS)
            sec.append("")
            irows = []
            for name, row in instr.items():
                base = row["without"]
                cells = [name, "%.0f" % base]
                for v in ("loaded", "present"):
                    cells.append("%+.0f (%.3fx)" % (row[v] - base, row[v] / base))
                irows.append(cells)
            sec.append(md_table(["workload", "without module", "loaded, On: added",
                                 "loaded, not On: added"], irows))
            sec.append("")

    # 2
    if "profiling" in results:
        p = results["profiling"]
        rows = []
        for mode, per in p["modes"].items():
            for name, us in INTERVALS:
                d = per[name]
                wr, cr = F(d["wall_ratio"]), F(d["cpu_ratio"])
                tgt = PROFILING_TARGETS.get(us)
                if tgt:
                    vw = verdict_ratio(wr, lambda x, t=tgt: x <= t)
                    vc = verdict_ratio(cr, lambda x, t=tgt: x <= t)
                    tt = "≤ %.2fx" % tgt
                    judge("prof:%s:%s:wall" % (name, mode), fmt_ratio(wr), vw)
                    judge("prof:%s:%s:CPU" % (name, mode), fmt_ratio(cr), vc)
                    row_verdict = "wall %s, CPU %s" % (vw, vc)
                else:
                    tt, row_verdict = "—", "—"
                rows.append([mode, name, fmt_ratio(wr), fmt_ratio(cr),
                             fmt_abs(F(d["us_per_signal"]), "%.1f", "µs"),
                             "%.0f" % F(d["signals"]).median,
                             "%.0f" % F(d["late"]).median, tt, row_verdict])
        base = p["modes"]["not dumpable"]["unprofiled"]["wall_us"]
        sec.append("### 2. Profiling cost")
        sec.append("")
        sec.append(
            "`/work/spin?kiter=%d` (a fixed amount of work, %.0f ms unprofiled [%.0f–%.0f]) "
            "profiled at each interval against the same request unprofiled, on the same "
            "server (event MPM): the handler's own wall time (`X-Rpwork-Wall-Us`) and thread "
            "CPU time (`X-Rpwork-Cpu-Us`). *not dumpable* is httpd's default (children drop "
            "privileges), *dumpable* has `CoreDumpDirectory /tmp`. \"Added per signal\" is "
            "the extra wall time divided by the signals the report counts. %d rounds, each run the mean of %d requests." % (
                p["kiter"], base["median"] / 1000, base["min"] / 1000, base["max"] / 1000,
                p["rounds"], p.get("repeat", 1)))
        sec.append("")
        sec.append(md_table(["children", "interval", "wall ratio", "CPU ratio",
                             "added per signal", "signals", "late intervals", "target",
                             "verdict"], rows))
        sec.append("")

    # 3
    if "floor" in results:
        fl = results["floor"]
        p = results.get("profiling", {}).get("modes")
        rows = []
        for name, us in INTERVALS:
            tg = fl["variants"]["tgkill " + name]
            tm = fl["variants"]["timer " + name]
            pk = "perf -F %d" % PERF_FREQ[us]
            if fl["perf"]:
                pr = fl["variants"][pk]
                perf_cell = "%s (-F %d)" % (fmt_ratio(F(pr["wall_ratio"])), PERF_FREQ[us])
            else:
                perf_cell = "perf unavailable"
            tgr = F(tg["wall_ratio"])
            cells = [name, fmt_ratio(tgr), fmt_ratio(F(tm["wall_ratio"])), perf_cell]
            above = []
            for mode in ("not dumpable", "dumpable"):
                if p is None:
                    cells.append("n/a (section 2 failed)")
                    above.append("n/a")
                    continue
                mr = F(p[mode][name]["wall_ratio"])
                cells.append(fmt_ratio(mr))
                if mr.noisy or tgr.noisy:
                    above.append("noisy")
                else:
                    above.append("%+.1f points" % ((mr.median - tgr.median) * 100))
            cells.append(" / ".join(above))
            cells.append("%s / %s" % (
                fmt_abs(F(tg["us_per_signal"]), "%.1f", "µs"),
                fmt_abs(F(p["not dumpable"][name]["us_per_signal"]), "%.1f", "µs")
                if p else "n/a"))
            rows.append(cells)
        sec.append("### 3. The floor: what any sampler pays")
        sec.append("")
        sec.append(
            "`bench/floor.c` runs the same spin loop (%d kiter) in a thread while "
            "(tgkill) a second thread sends it a realtime signal with an empty handler on "
            "absolute `clock_nanosleep` deadlines — how mod_reqprof's sampler thread "
            "delivers —, or (timer) a per-thread POSIX timer (`CLOCK_MONOTONIC`, "
            "`SIGEV_THREAD_ID`) signals it; and the loop alone under `perf record` "
            "(%s). Wall-time ratios against the loop alone, %d rounds; mod_reqprof's "
            "columns repeat section 2 (same run, same work). \"Above the floor\" is "
            "mod_reqprof's ratio minus the tgkill floor's, in points of the baseline." % (
                fl["kiter"],
                ("event `%s`, %s" % (fl["perf_event"], fl["perf_status"])) if fl["perf"]
                else "perf unavailable: " + fl["perf_status"], fl["rounds"]))
        sec.append("")
        sec.append(md_table(["interval", "floor: tgkill", "floor: POSIX timer",
                             "perf record", "mod_reqprof, not dumpable",
                             "mod_reqprof, dumpable",
                             "mod_reqprof above floor (not dumpable / dumpable)",
                             "added per signal: floor / mod_reqprof"], rows))
        sec.append("")

    # 4
    if "sample_cost" in results:
        sc = results["sample_cost"]
        rows = []
        for d in DEPTHS:
            e = sc["depths"][str(d)]
            rows.append([
                "%d (%d)" % (d, e["frames"]),
                "%.0f ns / %.0f ns" % (F(e["unw_mean_ns"]).median, F(e["unw_p99_ns"]).median),
                "%.0f ns / %.0f ns" % (F(e["trip_empty_mean_ns"]).median,
                                       F(e["trip_empty_p99_ns"]).median),
                "%.0f ns / %.0f ns" % (F(e["trip_unwind_mean_ns"]).median,
                                       F(e["trip_unwind_p99_ns"]).median),
                fmt_abs(F(e["floor_added_us_per_signal"]), "%.1f", "µs"),
                fmt_abs(F(e["sampler_added_us_per_sample"]), "%.1f", "µs"),
            ])
        sec.append("### 4. Per-sample cost")
        sec.append("")
        sec.append(
            "`bench/sample_cost.c`, linked against the core. *Capture*: at the given stack "
            "depth a thread signals itself 20 000 times into a handler installed like "
            "mod_reqprof's (`SA_SIGINFO | SA_RESTART`, libunwind's per-thread cache, warmed): "
            "`unw_backtrace` timed inside the handler, and the whole `tgkill` round trip with "
            "an empty handler and with the capturing one (mean / p99, median of %d runs). "
            "*End to end*: the spin loop (%d kiter) at that depth with nothing, with an empty "
            "handler signalled every 100 µs by a second thread (the floor), and with "
            "`rp_sampler` at 100 µs; the added wall time divided by the signals or samples "
            "taken (%d interleaved rounds). Depth column: requested (measured frames)." % (
                sc["runs"], sc["kiter"], sc["runs"]))
        sec.append("")
        sec.append(md_table(["stack depth", "unw_backtrace mean / p99",
                             "round trip, empty handler", "round trip, capturing handler",
                             "end to end: empty-handler floor per signal",
                             "end to end: rp_sampler per sample"], rows))
        sec.append("")

    # 5
    if "accuracy" in results:
        acc = results["accuracy"]
        rows = []
        figs = {"err": [], "wait": [], "count": []}  # one per MPM × clock; NaN stays
        gaps = {"err": [], "wait": [], "count": []}  # where a run had no figure
        for mpm, per in acc["mpms"].items():
            for clock in ("wall", "cpu"):
                e = per[clock]
                err = F(e["alpha_share_error_points"])
                cnt = F(e["cpu_count_ratio"])
                figs["err"].append(abs(err.median))
                figs["count"].append(cnt.median)
                for k, fig in (("err", err), ("count", cnt)):
                    if fig.incomplete:
                        gaps[k].append("%s %s" % (mpm, clock))
                if clock == "wall":
                    ws = F(e["wait_share_pct"])
                    wc = F(e["wait_count_ratio"])
                    figs["wait"].append(ws.median)
                    figs["count"].append(wc.median)
                    for k, fig in (("wait", ws), ("count", wc)):
                        if fig.incomplete:
                            gaps[k].append("%s %s wait" % (mpm, clock))
                    wait_cell = "%s; intervals %s" % (fmt_abs(ws, "%.1f", "%"),
                                                     fmt_abs(wc, "%.3f", "x"))
                    if "wait_signals" in e:
                        wait_cell += "; %s signals to the waiting thread" % fmt_abs(
                            F(e["wait_signals"]), "%.0f")
                    wait_values = (ws.median, wc.median)
                    w_ok = lambda v: v[0] >= 95 and 0.95 <= v[1] <= 1.05  # noqa: E731
                else:
                    wi = F(e["wait_intervals"])
                    wait_cell = "%s intervals (waiting is not counted)" % fmt_abs(wi, "%.0f")
                    wait_values = (wi.median,)
                    w_ok = lambda v: v[0] <= 5  # noqa: E731
                row_ok = (lambda v, w_ok=w_ok: abs(v[0]) <= 3.0 and 0.95 <= v[1] <= 1.05
                          and w_ok(v[2:]))
                rows.append([mpm, clock, fmt_abs(err, "%+.2f", "points"),
                             fmt_abs(F(e["alpha_beta_coverage_pct"]), "%.1f", "%"),
                             fmt_abs(cnt, "%.3f", "x"), wait_cell,
                             verdict((err.median, cnt.median) + wait_values, row_ok)])

        def gap_text(k):
            return "runs without a figure (%s)" % ", ".join(gaps[k]) if gaps[k] else None
        e_worst = worst(figs["err"])
        if e_worst is None:
            reasons["acc:err"] = gap_text("err")
        else:
            judge("acc:err", "%.2f points" % e_worst, verdict(e_worst, lambda x: x <= 3.0))
        w_worst = worst(figs["wait"], key=lambda x: -x)  # the lowest share
        if w_worst is None:
            reasons["acc:wait"] = gap_text("wait")
        else:
            judge("acc:wait", "%.1f %%" % w_worst, verdict(w_worst, lambda x: x >= 95))
        if missing(figs["count"]):
            reasons["acc:count"] = gap_text("count")
        else:
            lo, hi = min(figs["count"]), max(figs["count"])
            judge("acc:count", "%.3fx – %.3fx" % (lo, hi),
                  verdict((lo, hi), lambda x: 0.95 <= x[0] and x[1] <= 1.05))
        sec.append("### 5. Accuracy")
        sec.append("")
        sec.append(
            "`/work/cpu?ms=400&profile=1` spends its CPU 3:1 in `work_alpha` and `work_beta`: "
            "the error of work_alpha's reported share of the two, in points, and the two "
            "functions' share of all samples. `/work/wait?ms=200&profile=1`: the share of "
            "`wait_in_poll`, in httpd's default children (not dumpable: each wait is caught "
            "by one signal, except on prefork, whose request thread keeps its /proc "
            "descriptor) and in dumpable ones (`CoreDumpDirectory`: waits read in place), "
            "with the signals the waiting thread got. Sample count: intervals in "
            "the report against the report's "
            "wall time (cpu clock: its CPU time) divided by the interval (1 ms). %d rounds "
            "per MPM and configuration. Targets (the bench's, from the README's claims): error ≤ 3 points, "
            "wait share ≥ 95 %%, counts within 5 %%." % acc["rounds"])
        sec.append("")
        sec.append(md_table(["MPM", "clock", "work_alpha share error",
                             "alpha+beta of samples", "intervals / expected (cpu)",
                             "wait request", "verdict"], rows))
        sec.append("")

    # 6
    if "render" in results:
        rd = results["render"]
        rows = []
        for kind in RENDER_KINDS:
            prev = None
            for n in RENDER_SIZES:
                e = rd["kinds"].get(kind, {}).get(str(n))
                if e is None or e.get("skipped"):
                    why = ("skipped: projected ≥ %.0f s, %.0f MB" % (
                        e["projected_ms"] / 1000, e["projected_bytes"] / 1e6)
                        if e else "not run")
                    rows.append([kind, "%d" % n, why, "", "", "", "",
                                 NOT_MEASURED if n == 10000 else "—"])
                    if n == 10000 and kind == "realistic":
                        reasons["render"] = why
                    if n == 10000 and kind == "all-distinct":
                        reasons["render:distinct"] = why
                    prev = None
                    continue
                tot = F(e["total_ms"])
                size = F(e["bytes"]).median
                growth = ("×%.1f" % (tot.median / prev)) if prev else "—"
                prev = tot.median
                v = "—"
                if n == 10000:
                    ms_max, bytes_max = (200, 5e6) if kind == "all-distinct" else (50, 1e6)
                    ok = (lambda x, ms_max=ms_max, bytes_max=bytes_max:  # noqa: E731
                          x[0] <= ms_max and x[1] <= bytes_max)
                    v = verdict((tot.median, size), ok)
                    if v != NOT_MEASURED:
                        v += " (%s, %s)" % (
                            "time ok" if tot.median <= ms_max else "time over",
                            "size ok" if size <= bytes_max else "size over")
                    if kind == "realistic":
                        judge("render", "%.1f ms, %.2f MB" % (tot.median, size / 1e6),
                              verdict((tot.median, size), ok))
                    if kind == "all-distinct":
                        judge("render:distinct", "%.1f ms, %.2f MB" % (tot.median, size / 1e6),
                              verdict((tot.median, size),
                                      lambda x: x[0] <= 200 and x[1] <= 5e6))
                rows.append([kind, "%d" % n,
                             fmt_abs(F(e["build_ms"]), "%.1f", "ms"),
                             fmt_abs(F(e["render_ms"]), "%.1f", "ms"),
                             "%s (%s)" % (fmt_abs(tot, "%.1f", "ms"), growth),
                             "%.2f MB, %d nodes, %.0f B/node" % (
                                 size / 1e6, e["nodes"], size / max(e["nodes"], 1)),
                             ("%d" % e["runs"]) + ("" if e["runs"] >= 5 else " (too slow to repeat)"),
                             v])
        sec.append("### 6. Report cost and scale")
        sec.append("")
        sec.append(
            "`bench/render_cost.c`, linked against the core: a profile built a stack at a "
            "time with the core's profile builder from synthetic samples 50 frames deep, then "
            "`rp_html_render` (symbolization, cached per process in the module, not "
            "included). *realistic*: 200 distinct stacks (branching 4 × 5 × 10 at depths 10, "
            "20 and 35, skewed frequencies); *distinct-leaf*: every sample a distinct stack "
            "differing only in its innermost frame (one node with one child per sample); "
            "*all-distinct*: every sample a distinct stack below one shared outermost frame "
            "(49 new nodes per sample). Growth: total time over the size ten times "
            "smaller. Targets (for 10 000 samples): realistic ≤ 50 ms and ≤ 1 MB of HTML; "
            "all-distinct ≤ 200 ms and ≤ 5 MB (above 30 000 nodes the report's views keep "
            "the heaviest and sum the rest, and say so).")
        sec.append("")
        sec.append(md_table(["stacks", "samples", "tree build", "render", "total (growth)",
                             "HTML", "runs", "verdict"], rows))
        sec.append("")

    # 7
    if "concurrency" in results:
        c = results["concurrency"]
        r = F(c["ratio"])
        sec.append("### 7. Concurrency")
        sec.append("")
        sec.append(
            "%d clients at once, %d requests each, `/work/spin?kiter=%d` (about 50 ms), event "
            "MPM with %d threads in one child: requests/s profiled at 1 ms (the full report "
            "built and sent each time) against unprofiled; %d rounds. `ReqProfileMaxConcurrent 64` "
            "where the module has that directive." % (
                c["clients"], c["requests_per_client"], c["kiter"], c["threads"], c["rounds"]))
        sec.append("")
        v = verdict_ratio(r, lambda x: x >= 0.95)
        sec.append(md_table(["unprofiled (req/s)", "profiled (req/s)", "ratio", "target",
                             "verdict"],
                            [[fmt_abs(F(c["unprofiled_rps"]), "%.1f"),
                              fmt_abs(F(c["profiled_rps"]), "%.1f"), fmt_ratio(r),
                              "≥ 0.95x (bench)", v]]))
        sec.append("")
        judge("conc", fmt_ratio(r), v)

    # 8
    if "sampler" in results:
        sp = results["sampler"]
        rows = []
        for mode, per in sp["modes"].items():
            for cs, e in per.items():
                cpu = F(e["sampler_cpu_pct"])
                late = F(e["late_pct"])
                reported = (fmt_abs(F(e["reported_sampler_cpu_pct"]), "%.2f", "%")
                            if "reported_sampler_cpu_pct" in e else "—")
                v = "—"
                if cs == "8":
                    v = verdict_abs(cpu.median, lambda x: x <= 5.0)
                    if cpu.incomplete:
                        reasons["sampler:" + mode] = (
                            "no thread named %s found in %d of %d rounds" % (
                                sp.get("thread_name", SAMPLER_THREAD_NAME), cpu.missing_runs,
                                len(cpu.values)))
                    else:
                        judge("sampler:" + mode, "%.2f %%" % cpu.median, v)
                rows.append([mode, cs, fmt_abs(cpu, "%.2f", "%"), reported,
                             fmt_abs(late, "%.2f", "%"), "%d" % e["processes"],
                             "≤ 5 %" if cs == "8" else "—", v])
        sec.append("### 8. The sampler thread")
        sec.append("")
        sec.append(
            "N concurrent `%s` on an event-MPM httpd with 40 threads per child, 1 ms: the "
            "CPU time of the server's sampler threads (named `%s`; one per child serves all "
            "its threads), measured from outside — their `/proc/<pid>/task/<tid>/schedstat` "
            "read by the bench before and after each batch of N requests — over the batch's "
            "wall time, all sampler threads together; next to it what the reports' *Sampling* "
            "rows say (mean over the N reports, each over its own wall time). Late intervals "
            "(intervals that joined a later sample because the thread or the sampler was not "
            "running) as a share of all intervals; %d rounds. `ReqProfileMaxConcurrent 64` "
            "where the module has that directive." % (
                sp["path"], sp.get("thread_name", SAMPLER_THREAD_NAME), sp["rounds"]))
        sec.append("")
        sec.append(md_table(["children", "concurrent",
                             "sampler threads' CPU, measured (% of a core)",
                             "as the reports say", "late intervals", "child processes",
                             "target", "verdict"], rows))
        sec.append("")
        over = [(mode, cs, e["late_over_intervals_max"]) for mode, per in sp["modes"].items()
                for cs, e in per.items() if e["late_over_intervals_max"] > 1.0]
        if over:
            sec.append(
                "Late intervals above 100 %% cannot all be real: a report counted more late "
                "intervals than it has intervals (up to %.1f times as many, %s, %s "
                "concurrent), so the count includes some intervals twice." % (
                    max(over, key=lambda o: o[2])[2], max(over, key=lambda o: o[2])[0],
                    max(over, key=lambda o: o[2])[1]))
            sec.append("")
    if "waits" in results:
        wt = results["waits"]
        rows = []
        for mode, per in wt["modes"].items():
            for name, e in per.items():
                it = F(e["interrupted"])
                limit = 0  # sampling never interrupts a wait
                v = verdict_abs(it.max, lambda x, lim=limit: x <= lim)
                worst_text = NOT_MEASURED if it.incomplete else "%d" % it.max
                rows.append([mode, name, fmt_abs(it, "%.0f"), worst_text,
                             fmt_abs(F(e["wait_signals"]), "%.0f"),
                             "≤ %d per wait" % limit, v])
                judge("waits:%s:%s" % (name, mode), "max " + worst_text, v)
        sec.append(
            "Waits interrupted by sampling: `X-Rpwork-Interrupted` (poll returned EINTR) of "
            "`/work/wait?ms=%d&profile=1`; %d rounds; judged on the worst round." % (
                wt["wait_ms"], wt["rounds"]))
        sec.append("")
        sec.append(md_table(["children", "interval", "interrupted per wait", "worst",
                             "signals to the waiting thread", "target", "verdict"], rows))
        sec.append("")

    # 9
    if "store" in results:
        st = results["store"]
        cost, tp = st["cost"], st["throughput"]
        sec.append("### 9. Saving to the store")
        sec.append("")
        sec.append(
            "Event-MPM servers that profile every `/work` request (`ReqProfileLog On`) and save "
            "each profile to a directory (`ReqProfileStore dir:`, on %s, `ReqProfileDirLimit` at "
            "its default and filled to it first, so each save also prunes one) or to a Redis "
            "(`ReqProfileStore redis://`: redis-server %s on 127.0.0.1, started by the bench, "
            "no persistence). *Save* is the request thread's time to save one profile, after "
            "its response has gone, from the error log's `saved profile ID to STORE in X ms` "
            "(`LogLevel reqprof:debug`): rendering the saved formats and the sidecar, then "
            "writing the files and pruning (directory) or copying them into the child's queue "
            "for its writer thread (Redis). One request at a time, %d interleaved rounds, a run "
            "the mean of %d profiles." % (tp["fs"], st["redis_version"], st["rounds"],
                                          st["repeat"]))
        sec.append("")
        rows = []
        for size, e in cost.items():
            rows.append(["`%s` (%s)" % (e["path"], size), "%.0f" % F(e["samples"]).median,
                         fmt_abs(F(e["dir_ms"]), "%.3f", "ms"),
                         fmt_abs(F(e["redis_ms"]), "%.3f", "ms"), fmt_ratio(F(e["ratio"]), 2)])
        sec.append(md_table(["profile", "samples", "directory: save", "Redis: save",
                             "Redis / directory"], rows))
        sec.append("")
        sec.append(
            "**Throughput.** Requests/s with every request profiled and saved: to no store (log "
            "mode only, the baseline), a directory, Redis up, Redis stopped (its process ended "
            "after the warm-up: connections refused) and Redis hung (SIGSTOP after the warm-up: "
            "connections accepted, nothing answers, each command waits for "
            "`ReqProfileStoreTimeout`, 200 ms); `ab -k -c %d`, %d s per run, %d rounds, %d "
            "threads per child, `ReqProfileStoreLimit %d`.%s *Not saved*: the records with "
            "`saved=0` (for Redis, the child's queue was full; a profile queued and then "
            "dropped by the writer counts as saved there)." % (
                st["concurrency"], st["tp_seconds"], st["tp_rounds"], tp["threads"],
                tp["limit"],
                " httpd is pinned to CPU 0, ab to the last CPU and the Redis servers to CPU %s "
                "(the writer threads stay with httpd)." % ",".join(
                    str(c) for c in st["redis_cpus"])
                if st["pinned"] and st["redis_cpus"] else ""))
        sec.append("")
        rows = []
        labels = (("none", "no store (log mode only)", None),
                  ("dir", "directory", "no store"),
                  ("redis", "Redis up", "no store"),
                  ("down", "Redis stopped", "Redis up"),
                  ("hung", "Redis hung (SIGSTOP)", "Redis up"))
        for w, e in tp["workloads"].items():
            for v, label, over in labels:
                d = e[v]
                cells = ["`%s` (%s)" % (e["path"], w), label, fmt_abs(F(d["rps"]), "%.0f")]
                cells += (["—", "—"] if over is None else [fmt_ratio(F(d["ratio"])), over])
                cells.append(fmt_abs(F(d["not_saved_pct"]), "%.1f", "%") if v != "none"
                             else "—")
                if v in ("down", "hung"):
                    r = F(d["ratio"])
                    vv = verdict_ratio(r, lambda x: x >= STORE_DOWN_TARGET)
                    judge("store:%s:%s" % (v, w), fmt_ratio(r), vv)
                    cells += ["≥ %.2fx (bench)" % STORE_DOWN_TARGET, vv]
                else:
                    cells += ["—", "—"]
                rows.append(cells)
        sec.append(md_table(["workload", "store", "req/s", "ratio", "ratio over",
                             "not saved", "target", "verdict"], rows))
        sec.append("")
        tot, cnt = tp["totals"], tp["counted"]

        def share(a, b):
            return "%.1f %%" % (100.0 * a / b) if b else "n/a"
        def accounting(c):
            n, total = c["profiled"], c["written"] + c["dropped_counted"]
            return ("%d profiles, warm-up included; %d stored and %d counted dropped "
                    "(`reqprof:dropped`): %s" % (
                        n, c["written"], c["dropped_counted"],
                        "each profile once" if total == n else
                        "%d not accounted for" % (n - total) if total < n else
                        "%d counted twice" % (total - n)))
        sec.append(
            "Over all runs: Redis up wrote %d profiles (its `EVAL` calls) of %d requests "
            "profiled (%s; %d found the queue full). Redis stopped (started again, empty, at "
            "the end): %s. Redis hung (SIGCONT at the end; writes that had timed out on the "
            "writer's side are settled by asking it): %s." % (
                tp["written"], tot["redis"]["records"],
                share(tp["written"], tot["redis"]["records"]), tot["redis"]["not_saved"],
                accounting(cnt["down"]), accounting(cnt["hung"])))
        sec.append("")
        rows = []
        held_rows = [("`%s` (%s)" % (e["path"], size), F(e["samples"]).median, e["held"])
                     for size, e in cost.items()]
        held_rows.append(("the throughput runs' (%s), at the limit" % ", ".join(
            "`%s`" % e["path"] for e in tp["workloads"].values()),
            tp["held"].get("samples"), tp["held"]))
        for label, samples, h in held_rows:
            growth = h.get("used_memory_growth_per_profile")
            rows.append([label, "%.0f" % samples if samples is not None else "—",
                         "%d" % h["profiles"],
                         fmt_abs(F(h["stored_bytes"]), "%.0f", "B") if h["stored_bytes"]
                         else NOT_MEASURED,
                         fmt_abs(F(h["memory_usage"]), "%.0f", "B") if h["memory_usage"]
                         else NOT_MEASURED,
                         "%.0f B" % h["index_bytes_per_profile"]
                         if h["index_bytes_per_profile"] is not None else NOT_MEASURED,
                         "%.0f B" % growth if growth is not None else NOT_MEASURED,
                         "%.0f MB" % (growth * STORE_PROJECT_COUNT / 1e6)
                         if growth is not None else NOT_MEASURED])
        count_text = "{:,}".format(STORE_PROJECT_COUNT).replace(",", " ")
        fields = tp["held"].get("fields") or next(iter(cost.values()), {}).get(
            "held", {}).get("fields")
        fields_text = (": " + ", ".join("`%s`" % f for f in fields)) if fields else ""
        sec.append(
            "**What Redis holds.** Per profile: the bytes of its hash's values (`HSTRLEN` of "
            "its fields%s), the key's `MEMORY USAGE` (`SAMPLES 0`), the index's "
            "(`reqprof:index`) `MEMORY USAGE` over the profiles it names, and the growth of "
            "`INFO memory` `used_memory` from an empty database over the profiles held "
            "(index, expiry and allocator included); the last column is that growth times "
            "%s." % (fields_text, count_text))
        sec.append("")
        sec.append(md_table(["profiles", "samples", "held", "values", "MEMORY USAGE per key",
                             "index per profile", "used_memory growth per profile",
                             "%s profiles" % count_text], rows))
        sec.append("")

    # 10
    if "routes" in results:
        rt = results["routes"]
        sec.append("### 10. Route views")
        sec.append("")
        sec.append(
            "A route's merged flame graph sums its profiles' stacks (`.stacks`, "
            "rp_stacks). `bench/route_cost.c`, linked against the core: N profiles of 20 "
            "stacks of depth %d each (16 shared by the route, 4 of their own), summed, made "
            "into a profile and rendered as the HTML report; %d runs each, peak resident "
            "memory growth of the process." % (rt["depth"], ROUTE_RUNS))
        sec.append("")
        rows = []
        for n, d in rt["merge"].items():
            rows.append(["%s" % n, fmt_abs(F(d["sum_ms"]), "%.1f", "ms"),
                         fmt_abs(F(d["render_ms"]), "%.1f", "ms"),
                         fmt_abs(F(d["total_ms"]), "%.1f", "ms"), "%d" % d["nodes"],
                         "%.2f MB" % (d["bytes"] / 1e6), "%.0f MB" % d["peak_mb"]])
        sec.append(md_table(["profiles", "sum", "render", "total", "nodes", "report",
                             "peak memory"], rows))
        sec.append("")
        if "pages" in rt:
            rows = []
            for name, d in rt["pages"].items():
                rows.append([name, fmt_abs(F(d["seconds"]), "%.3f", "s"),
                             "%.2f MB" % (d["bytes"] / 1e6)])
            group = F(rt["pages"]["group page"]["seconds"])
            # The slowest run decides.
            v = verdict_abs(None if group.incomplete else group.max,
                            lambda x: x <= ROUTE_PAGE_TARGET_S)
            judge("routes:page", fmt_abs(group, "%.3f", "s"), v)
            sec.append(
                "The index over a Redis holding %d profiles of one route (real ones, copied "
                "under new ids), the time to the whole response, %d runs. The group page and "
                "the index have no script: the browser paints as the response arrives." % (
                    rt["profiles_held"], ROUTE_RUNS))
            sec.append("")
            sec.append(md_table(["page", "response time", "size"], rows))
            sec.append("")

    # 11
    if "log_cost" in results:
        lc = results["log_cost"]
        sec.append("### 11. Log mode")
        sec.append("")
        sec.append(
            "What `ReqProfileLog On` adds to every request it profiles and logs (a record per "
            "request to `ReqProfileLogFile`, default %d µs interval), against the same server "
            "with `ReqProfile On` and no log mode; and with `ReqProfileSampleRate %d` (1 request "
            "in %d profiled). Event MPM, %d threads, its processes pinned to one CPU and `ab -k "
            "-c %d` on the other, %d s per run, %d rounds. With the server on one CPU, "
            "1/throughput is its time per request, so the added time per request is "
            "1/(variant's requests/s) − 1/(baseline's) of the same round." % (
                lc["interval_us"], lc["rate"], lc["rate"], lc["threads"], lc["concurrency"],
                lc["seconds_per_run"], lc["rounds"]))
        sec.append("")
        rows = []
        for name, d in lc["workloads"].items():
            for label, key in (("every request", "log"), ("1 in %d" % lc["rate"], "rate")):
                added = F(d[key + "_added_us"])
                rows.append([name, label, fmt_abs(F(d["without_rps"]), "%.0f"),
                             fmt_abs(F(d[key + "_rps"]), "%.0f"), fmt_ratio(F(d[key + "_ratio"])),
                             fmt_abs(added, "%.1f", "µs")])
                if key == "log" and name == LOG_COST_WORKLOADS[0][0]:
                    judge("log:" + name, fmt_abs(added, "%.1f", "µs"),
                          verdict_abs(added.median, lambda x: x <= LOG_COST_TARGET_US))
        sec.append(md_table(["workload", "logged", "requests/s without log mode",
                             "requests/s with it", "ratio", "added per request"], rows))
        sec.append("")

    # 12
    if "script_frames" in results:
        sf = results["script_frames"]
        sec.append("### 12. Script frames")
        sec.append("")
        sec.append(
            "What reading a script engine's frames adds to each sample (the functions of a "
            "PHP page or a Lua handler spliced into the native stack). `bench/sample_cost.c` "
            "runs its spin loop %d frames deep under `rp_sampler` at %d µs, interleaved %d "
            "rounds: with no engine read, and with the engine's N frames read at every sample. "
            "PHP: an image of PHP 8.2's data in memory, laid out by the PHP headers the module "
            "is built with, read by the same code as in a mod_php child (one read of the VM "
            "stack and, per session, one of each function's header). Lua: Debian's liblua5.3, "
            "the loop called from Lua code N functions deep in every variant (one read per "
            "call info, one of the stack, one of many pieces for the closures). Added time per "
            "sample = the run's wall time over the unsampled run's, divided by its samples." % (
                sf["native_depth"], sf["interval_us"], sf["runs"]))
        sec.append("")
        rows = []
        for engine, depth in SCRIPT_CASES:
            e = sf["depths"].get("%s:%d" % (engine, depth))
            if e is None:
                continue
            added = F(e["added_us_per_sample"])
            rows.append(["%s, %d" % ({"php": "PHP", "lua": "Lua"}[engine], depth),
                         "%d" % e["sampled_frames"],
                         fmt_abs(F(e["native_us_per_sample"]), "%.1f", "µs"),
                         fmt_abs(F(e["script_us_per_sample"]), "%.1f", "µs"),
                         fmt_abs(added, "%.1f", "µs")])
            if (engine, depth) == ("php", 20):
                judge("script:20", fmt_abs(added, "%.1f", "µs"),
                      verdict_abs(added.median, lambda x: x <= SCRIPT_TARGET_US))
        sec.append(md_table(["engine, script frames", "frames per sample (native + script)",
                             "per sample, engine not read", "per sample, engine read",
                             "added by the script frames"], rows))
        sec.append("")

    out.append("### Targets")
    out.append("")
    out.append("Targets marked *(bench)* are the bench's own reading of the README's claims; "
               "the others are the project's.")
    out.append("")
    rows = []
    for key, what, target in target_list():
        if key in measured:
            text, v = measured[key]
        else:
            text, v = unmeasured_text(key, results, reasons.get(key)), NOT_MEASURED
        rows.append([what, target, text, v])
    out.append(md_table(["figure", "target", "measured", "verdict"], rows))
    out.append("")
    out.extend(sec)
    return "\n".join(out).rstrip() + "\n"


def write_doc(section):
    with open(BENCH_DOC) as f:
        text = f.read()
    block = MARK_START + "\n" + section + MARK_END
    if MARK_START in text and MARK_END in text and text.index(MARK_START) < text.index(MARK_END):
        before = text[:text.index(MARK_START)]
        after = text[text.index(MARK_END) + len(MARK_END):]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(BENCH_DOC, "w") as f:
        f.write(text)


# ---- 10. route views ------------------------------------------------------------------------

ROUTE_SIZES = (100, 1000, 10000)
ROUTE_RUNS = 3
ROUTE_PAGE_PROFILES = 10000
ROUTE_PAGE_TARGET_S = 1.0

# Copies profile ARGV[1] as ARGV[2] more, ids ARGV[1]..'-c'..n, scored now.
CLONE_SCRIPT = """
local fields = redis.call('HGETALL', 'reqprof:p:' .. ARGV[1])
for n = 1, tonumber(ARGV[2]) do
  local id = ARGV[1] .. n
  redis.call('HSET', 'reqprof:p:' .. id, unpack(fields))
  redis.call('ZADD', 'reqprof:index', ARGV[3], id)
end
return #fields
"""


def section_routes():
    """Summing N profiles' stacks into a route's flame graph (route_cost),
    and the index's group page and merged report over a Redis holding
    10 000 profiles of one route."""
    prog = os.path.join(OUT, "route_cost")
    merge = {}
    for n in ROUTE_SIZES:
        obj, _ = run_json([prog, str(n), str(ROUTE_RUNS)], timeout=600)
        runs = obj["runs"]
        merge[str(n)] = {
            "runs": len(runs),
            "total_ms": Fig([x["sum_ms"] + x["profile_ms"] + x["render_ms"]
                             for x in runs]).as_json(),
            "sum_ms": Fig([x["sum_ms"] for x in runs]).as_json(),
            "render_ms": Fig([x["render_ms"] for x in runs]).as_json(),
            "nodes": runs[0]["nodes"], "bytes": runs[0]["bytes"],
            "peak_mb": max(x["peak_kb"] for x in runs) / 1024.0}
    results["routes"] = {"merge": merge, "depth": 50}
    redis = RedisServer()
    server = Httpd("event", extra=store_conf(
        "ReqProfileStore redis://127.0.0.1:%d/0\nReqProfileStoreLimit %d\n"
        "ReqProfileIndexURL /profiles/\n<Location /profiles/>\n  SetHandler reqprof-index\n"
        "</Location>" % (redis.port, ROUTE_PAGE_PROFILES + 100)))
    try:
        redis.start()
        server.start()
        for _ in range(10):
            get(server.port, "/work/spin?kiter=5000")
        time.sleep(1.0)
        ids = [i.decode() if isinstance(i, bytes) else i
               for i in redis_cmd(redis.port, "ZRANGE", "reqprof:index", "0", "-1")]
        if not ids:
            raise RuntimeError("no profile reached Redis")
        per = ROUTE_PAGE_PROFILES // len(ids) - 1
        now_ms = str(int(time.time() * 1000))
        for i in ids:
            redis_cmd(redis.port, "EVAL", CLONE_SCRIPT, "0", i, str(per), now_ms)
        held = int(redis_cmd(redis.port, "ZCARD", "reqprof:index"))
        pages = {}
        for name, path in (("group page", "/profiles/?group=GET%20%2Fwork%2Fspin&hours=1"),
                           ("merged report", "/profiles/?merged=GET%20%2Fwork%2Fspin&hours=1"),
                           ("index page", "/profiles/")):
            times = []
            for _ in range(ROUTE_RUNS):
                started = time.monotonic()
                status, _, body = get(server.port, path, timeout=120)
                times.append(time.monotonic() - started)
                if status != 200:
                    raise RuntimeError("%s: HTTP %d" % (path, status))
            pages[name] = {"seconds": Fig(times).as_json(), "bytes": len(body)}
        results["routes"].update({"profiles_held": held, "pages": pages})
        check_crashes(server, "routes")
    finally:
        server.cleanup()
        redis.cleanup()


# ---- 11. log mode ----------------------------------------------------------------------------

LOG_COST_WORKLOADS = [("static 1 KiB, keep-alive", "/static-1k.txt"),
                      ("/work/spin?kiter=1, keep-alive", "/work/spin?kiter=1")]
LOG_COST_ROUNDS, LOG_COST_SECONDS, LOG_COST_RATE = 9, 2, 100
LOG_COST_TARGET_US = 10.0


def added_us(variant_rps, base_rps):
    """Per round: the time a request took more than in the baseline, in µs
    (1/throughput is the server's time per request: it runs on one CPU)."""
    return Fig([None if missing(v) or missing(b) or not v or not b else 1e6 / v - 1e6 / b
                for v, b in zip(variant_rps, base_rps)])


def section_log_cost():
    """What log mode adds per logged request, and per request at 1 in N."""
    common = "MaxKeepAliveRequests 0\nReqProfile On\n"
    threads = 2 * IDLE_CONCURRENCY
    log_dir = tempfile.mkdtemp(prefix="reqprof-bench-log-")
    log_conf = "ReqProfileLog On\nReqProfileLogFile %s/%%s.log\n" % log_dir
    without = Httpd("event", extra=common, threads=threads)
    logged = Httpd("event", extra=common + log_conf % "every", threads=threads)
    rated = Httpd("event", extra=common + log_conf % "rate" +
                  "ReqProfileSampleRate %d\n" % LOG_COST_RATE, threads=threads)
    variants = (("without", without), ("log", logged), ("rate", rated))
    for _, s in variants:
        with open(os.path.join(s.docroot, "static-1k.txt"), "w") as f:
            f.write("0123456789abcde\n" * 64)
    pinned = bool(ab_prefix())
    data = {}
    try:
        with without, logged, rated:
            if pinned:
                for _, s in variants:
                    pin_server(s, {0})
            for _, path in LOG_COST_WORKLOADS:
                for _, s in variants:
                    ab(s.port, path, True, 1)
            runs = {(w, v): [] for w, _ in LOG_COST_WORKLOADS for v, _ in variants}
            for r in range(LOG_COST_ROUNDS):
                for name, path in LOG_COST_WORKLOADS:
                    for v, s in rotate(variants, r):
                        runs[(name, v)].append(ab(s.port, path, True, LOG_COST_SECONDS))
            for name, _ in LOG_COST_WORKLOADS:
                w = runs[(name, "without")]
                d = {"without_rps": Fig(w).as_json()}
                for v in ("log", "rate"):
                    x = runs[(name, v)]
                    d[v + "_rps"] = Fig(x).as_json()
                    d[v + "_ratio"] = ratios(x, w).as_json()
                    d[v + "_added_us"] = added_us(x, w).as_json()
                data[name] = d
            for v, s in variants:
                check_crashes(s, "log/" + v)
        with open(os.path.join(log_dir, "every.log")) as f:
            records = sum(1 for line in f if "type=reqprof" in line)
        if records == 0:
            raise RuntimeError("log mode wrote no record")
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    results["log_cost"] = {"workloads": data, "rate": LOG_COST_RATE, "threads": threads,
                           "concurrency": IDLE_CONCURRENCY, "pinned": pinned,
                           "seconds_per_run": LOG_COST_SECONDS, "rounds": LOG_COST_ROUNDS,
                           "interval_us": 1000, "records": records}


# ---- 12. script frames ----------------------------------------------------------------------

# What reading a script engine's frames adds to a sample: sample_cost's
# sampler mode with a fourth variant, the same sampler reading the engine's
# frames: PHP (an image of its data laid out with the layout the module was
# built with: tests/unit/php_image.c) or Lua (Debian's liblua5.3, the loop
# called from Lua), as many script frames deep as SCRIPT_CASES say.
SCRIPT_CASES = (("php", 20), ("php", 60), ("lua", 5), ("lua", 20))
SCRIPT_NATIVE_DEPTH = 30
SCRIPT_INTERVAL_US = 100
SCRIPT_TARGET_US = 10.0  # added per sample at 20 PHP frames (bench)


def section_script_frames():
    prog = os.path.join(OUT, "sample_cost")
    kiter = results.get("kiter_200ms", 185000)
    data = {}
    for engine, depth in SCRIPT_CASES:
        samp, _ = run_json([prog, "sampler", str(SCRIPT_NATIVE_DEPTH), str(kiter),
                            str(SCRIPT_INTERVAL_US), str(SAMPLE_RUNS), str(depth), engine])
        plain_w = [x["wall_us"] for x in samp["plain"]]

        def per_sample(kind):
            return Fig([(x["wall_us"] - p) / max(x["samples"], 1)
                        for x, p in zip(samp[kind], plain_w)])
        native, script = per_sample("sampler"), per_sample("script")
        data["%s:%d" % (engine, depth)] = {
            "native_us_per_sample": native.as_json(),
            "script_us_per_sample": script.as_json(),
            "added_us_per_sample": Fig([s - n for s, n in zip(script.values, native.values)]
                                       ).as_json(),
            "sampled_frames": samp["sampled_frames"],
            "raw": samp,
        }
    results["script_frames"] = {"native_depth": SCRIPT_NATIVE_DEPTH, "kiter": kiter,
                                "interval_us": SCRIPT_INTERVAL_US, "runs": SAMPLE_RUNS,
                                "depths": data}


# ---- main ----------------------------------------------------------------------------------


SECTIONS = [
    ("1", "idle cost", section_idle),
    ("2", "profiling cost and waits", section_profiling),
    ("3", "floor", section_floor),
    ("4", "per-sample cost", section_sample_cost),
    ("5", "accuracy", section_accuracy),
    ("6", "report cost", section_render),
    ("7", "concurrency", section_concurrency),
    ("8", "sampler thread", section_sampler),
    ("9", "saving to the store", section_store),
    ("10", "route views", section_routes),
    ("11", "log mode", section_log_cost),
    ("12", "script frames", section_script_frames),
]


def main():
    started = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    results["machine"] = machine()
    results["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results["spread_limit"] = SPREAD_LIMIT
    results["errors"] = {}
    results["only"] = sorted(ONLY)
    monitor = LoadMonitor()
    monitor.start()
    log("building the C helpers")
    build_helpers()
    for key, name, fn in SECTIONS:
        if ONLY and key not in ONLY:
            continue
        t0 = time.monotonic()
        log("section %s: %s" % (key, name))
        monitor.mark("start " + key)
        try:
            fn()
        except Exception:  # noqa: BLE001 - recorded, the other sections still run
            log("section %s FAILED:\n%s" % (key, traceback.format_exc()))
            results["errors"][key] = scrub(traceback.format_exc())
        monitor.mark("end " + key)
        log("section %s took %.0f s" % (key, time.monotonic() - t0))
    monitor.stop()
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["machine"]["others"] = monitor.summary()
    results["duration_s"] = time.monotonic() - started
    results["crashes"] = crashes
    # A partial run (BENCH_ONLY) keeps its numbers apart from the full run's,
    # which docs/benchmarks.md holds.
    stem = "bench-partial" if ONLY else "bench"
    with open(os.path.join(OUT, stem + ".json"), "w") as f:
        json.dump(results, f, indent=1)
    section = render_markdown()
    with open(os.path.join(OUT, stem + ".md"), "w") as f:
        f.write(section)
    print(section)
    if ONLY:
        log("BENCH_ONLY set: docs/benchmarks.md left alone; build/out/bench-partial.json written")
    else:
        write_doc(section)
        log("docs/benchmarks.md updated between %s and %s" % (MARK_START, MARK_END))
    log("done in %.1f minutes" % (results["duration_s"] / 60))
    return 1 if (results["errors"] or crashes) else 0


if __name__ == "__main__":
    sys.exit(main())
