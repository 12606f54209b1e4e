"""Starts throwaway Apache httpd instances on 127.0.0.1 for tests and the demo.

Each instance gets its own ServerRoot in a temporary directory, a generated
configuration, a free port and one MPM. The server is started in its own
session (setsid): httpd signals its whole process group on shutdown.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "build", "out")
REQPROF_SO = os.path.join(OUT, "mod_reqprof.so")
RPWORK_SO = os.path.join(OUT, "mod_rpwork.so")
APACHE2 = "/usr/sbin/apache2"
MODULE_DIR = "/usr/lib/apache2/modules"
MPMS = ("prefork", "worker", "event")

BASE_MODULES = ("authz_core", "authz_host", "mime", "dir", "alias", "headers")


def make_variable(name):
    """A variable of the Makefile as make expands it (CORE_LIBS, ...), so a
    test links what the module links without keeping its own list."""
    rule = "print-test-variable:\n\t@echo $(%s)\n" % name
    res = subprocess.run(["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-",
                          "print-test-variable"], input=rule, capture_output=True,
                         text=True, cwd=REPO, timeout=60, check=True)
    return res.stdout.split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unprivileged_user():
    for name in ("www-data", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user to run httpd children as")


class Httpd:
    """One httpd instance. `extra` is appended to the generated config;
    `reqprof_so` and `rpwork_so` load the modules from other paths than
    build/out, `env` adds to the server's environment, and `overrides` is
    the document root's AllowOverride (All, so that tests can use .htaccess
    files; Debian's default is None)."""

    def __init__(self, mpm="event", extra="", load_reqprof=True, modules=(),
                 threads=8, port=None, reqprof_so=REQPROF_SO, rpwork_so=RPWORK_SO,
                 env=None, overrides="All"):
        assert mpm in MPMS
        self.mpm = mpm
        self.reqprof_so = reqprof_so
        self.rpwork_so = rpwork_so
        self.env = env
        self.port = port or free_port()
        self.root = tempfile.mkdtemp(prefix="reqprof-httpd-")
        os.chmod(self.root, 0o755)
        self.docroot = os.path.join(self.root, "htdocs")
        os.makedirs(self.docroot)
        os.makedirs(os.path.join(self.root, "logs"))
        self.error_log = os.path.join(self.root, "logs", "error.log")
        self.conf_path = os.path.join(self.root, "httpd.conf")
        self.proc = None
        self.overrides = overrides
        self.write_config(extra, load_reqprof, modules, threads)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def write_config(self, extra, load_reqprof, modules, threads):
        user = unprivileged_user()
        lines = ["ServerRoot %s" % self.root,
                 "LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (self.mpm, MODULE_DIR, self.mpm)]
        for m in BASE_MODULES + tuple(modules):
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, MODULE_DIR, m))
        if load_reqprof:
            lines.append("LoadModule reqprof_module %s" % self.reqprof_so)
        lines.append("LoadModule rpwork_module %s" % self.rpwork_so)
        lines += [
            "Listen 127.0.0.1:%d" % self.port,
            "ServerName 127.0.0.1",
            "User %s" % user,
            "Group %s" % user,
            "PidFile %s/httpd.pid" % self.root,
            "DefaultRuntimeDir %s" % self.root,
            "ErrorLog %s" % self.error_log,
            "LogLevel warn",
            "DocumentRoot %s" % self.docroot,
            "TypesConfig /etc/mime.types",
            "KeepAlive On",
            "Timeout 30",
            "GracefulShutdownTimeout 3",
            "<Directory %s>" % self.docroot,
            "  Require all granted",
            "  AllowOverride %s" % self.overrides,
            "</Directory>",
            "<Location /work>",
            "  SetHandler rpwork",
            "</Location>",
        ]
        if self.mpm == "prefork":
            lines += ["StartServers 10", "MinSpareServers 5", "MaxSpareServers 12",
                      "MaxRequestWorkers 32"]
        else:
            lines += ["StartServers 1", "ServerLimit 2", "ThreadsPerChild %d" % threads,
                      "MaxRequestWorkers %d" % (threads * 2),
                      "MinSpareThreads 1", "MaxSpareThreads %d" % (threads * 2)]
        lines.append(extra)
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def config_test(self):
        """Runs `apache2 -t`; returns (exit code, output)."""
        res = subprocess.run([APACHE2, "-t", "-f", self.conf_path],
                             capture_output=True, text=True, timeout=30)
        return res.returncode, res.stdout + res.stderr

    def start(self, timeout=15):
        self.proc = subprocess.Popen(
            [APACHE2, "-f", self.conf_path, "-DFOREGROUND"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
            env=dict(os.environ, **self.env) if self.env else None)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("httpd exited at start: %s\n%s" % (
                    self.proc.stderr.read().decode(errors="replace"), self.read_error_log()))
            # A port freed a moment ago may still answer for another server:
            # this one is up when its own pid file exists and the port answers.
            if not os.path.exists(os.path.join(self.root, "httpd.pid")):
                time.sleep(0.05)
                continue
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    if self.proc.poll() is None:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("httpd did not start listening:\n" + self.read_error_log())

    def process_cpu_ticks(self):
        """CPU time (clock ticks) used so far by the server's processes."""
        total = 0
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                # fields[3] is the process group: setsid made it the parent's pid
                if int(fields[3]) == self.proc.pid:
                    total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue
        return total

    def wait_settled(self, timeout=10):
        """Waits until the server's processes stop using CPU: children still
        setting up (symbol tables, 10 prefork children on 2 CPUs) would
        otherwise slow the first requests, which tests that compare
        durations must not see."""
        deadline = time.time() + timeout
        last = self.process_cpu_ticks()
        while time.time() < deadline:
            time.sleep(0.15)
            now = self.process_cpu_ticks()
            if now == last:
                return self
            last = now
        return self

    def stop(self):
        """Stops httpd. worker and event get a graceful stop first: their
        hard stop (SIGTERM) has a race of httpd's own, close_worker_sockets
        reading a socket an exiting worker is freeing, that crashes a child
        now and then even without mod_reqprof loaded (4 stops in 80 of an
        event server that had just served three requests, here; none in 80
        with a graceful stop). GracefulShutdownTimeout bounds the wait."""
        if self.proc is not None and self.proc.poll() is None:
            signals = [signal.SIGTERM]
            if self.mpm != "prefork":
                signals.insert(0, signal.SIGWINCH)
            for sig in signals:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout=15)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def read_error_log(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def crash_lines(self):
        """Lines that show a crashed or killed child."""
        bad = ("exit signal", "Segmentation fault", "AddressSanitizer", "seg fault")
        return [l for l in self.read_error_log().splitlines() if any(b in l for b in bad)]

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
