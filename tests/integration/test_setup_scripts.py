"""build/install-deps.sh never stops a server it did not start.

A throwaway httpd (its process is named apache2, as the system's is) stands for
the server that was running before the install. APACHE_CONFDIR points
apache2ctl, and the script, at a configuration directory whose envvars and
apache2.conf name that server, so a script that stops "the" apache2 after an
install (`apache2ctl stop`) would stop this one and nothing on the machine.

The install itself runs for real only where nothing is missing (it then
installs nothing); the path taken when something is installed runs with
RP_DEPS_DRY_RUN=1, a stand-in for apt-get and a policy-rc.d in a temporary
directory."""
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

from httpd_harness import REPO, Httpd

SCRIPT = os.path.join(REPO, "build", "install-deps.sh")
PAGE = b"served by the server that was running before\n"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs httpd as root, like the other tests")


def packages(set_name):
    out = subprocess.run(["bash", SCRIPT, set_name, "--list"], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    return out.split()


def installed(pkg):
    if pkg == "npm":
        return subprocess.run(["sh", "-c", "command -v npm"], capture_output=True).returncode == 0
    res = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return res.returncode == 0 and "install ok installed" in res.stdout


def confdir_for(h, tmp):
    """A configuration directory as apache2ctl reads one (APACHE_CONFDIR):
    apache2.conf is the server's configuration, envvars names its pid file."""
    d = os.path.join(tmp, "apache2-conf")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "apache2.conf"), "w") as f:
        f.write("Include %s\n" % h.conf_path)
    with open(os.path.join(d, "envvars"), "w") as f:
        f.write("export APACHE_RUN_USER=www-data\nexport APACHE_RUN_GROUP=www-data\n"
                "export APACHE_PID_FILE=%s/httpd.pid\nexport APACHE_RUN_DIR=%s/run\n"
                "export APACHE_LOCK_DIR=%s/lock\nexport APACHE_LOG_DIR=%s/logs\n"
                % (h.root, h.root, h.root, h.root))
    return d


def pid_of(h):
    try:
        with open(os.path.join(h.root, "httpd.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() == "apache2"
    except OSError:
        return False


def assert_serving(h, pid):
    assert h.proc.poll() is None, "the server that was running before was stopped"
    assert pid_of(h) == pid and alive(pid), "the server that was running before was replaced"
    with urllib.request.urlopen(h.url + "/index.html", timeout=10) as r:
        assert r.status == 200 and r.read() == PAGE


@pytest.fixture
def running():
    """The server that runs before the install."""
    h = Httpd(load_reqprof=False, mpm="event")
    with open(os.path.join(h.docroot, "index.html"), "wb") as f:
        f.write(PAGE)
    h.start()
    pid = pid_of(h)
    assert pid == h.proc.pid
    try:
        yield h, pid
    finally:
        h.cleanup()


def run_script(set_name, env, timeout=120):
    res = subprocess.run(["bash", SCRIPT, set_name], capture_output=True, text=True,
                         env=dict(os.environ, **env), timeout=timeout)
    return res.returncode, res.stdout + res.stderr


def fake_apt(tmp, policy, extra_on_install=""):
    """A stand-in for apt-get that logs its arguments and what the policy-rc.d
    in place answers for a service start while it runs."""
    log = os.path.join(tmp, "apt.log")
    path = os.path.join(tmp, "apt-get")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "echo \"apt-get $*\" >>%(log)s\n"
                "if [ -x %(policy)s ]; then %(policy)s apache2 start; echo \"policy $?\" >>%(log)s;"
                " else echo 'policy none' >>%(log)s; fi\n"
                "case \"$1\" in install) %(extra)s ;; esac\n"
                "exit 0\n" % {"log": log, "policy": policy, "extra": extra_on_install or ":"})
    os.chmod(path, 0o755)
    return path, log


def test_sets_are_nested_and_split_by_purpose():
    build, demo, test = packages("build"), packages("demo"), packages("test")
    assert set(build) < set(demo) < set(test)
    assert "apache2" not in build and "apache2-dev" in build
    assert {"apache2", "curl"} <= set(demo)
    assert "php8.2-dev" in build and "libapache2-mod-php8.2" in test
    for tool in ("chromium", "valgrind", "golang-go", "clang", "check"):
        assert tool not in demo and tool in test
    for pkg in ("valgrind", "check", "chromium", "golang-go", "python3-pytest",
                "python3-jsonschema", "clang", "libclang-rt-dev", "apache2-utils", "npm",
                "libc6-dbg", "lintian", "debhelper"):
        assert pkg in test
    res = subprocess.run(["bash", SCRIPT, "everything"], capture_output=True, text=True)
    assert res.returncode == 2 and "build|demo|test" in res.stderr


def test_demo_with_everything_present_leaves_the_running_server_alone(running):
    missing = [p for p in packages("demo") if not installed(p)]
    if missing:
        pytest.skip("the demo set is not complete here (%s): the script would install it"
                    % " ".join(missing))
    h, pid = running
    with tempfile.TemporaryDirectory() as tmp:
        rc, out = run_script("demo", {"APACHE_CONFDIR": confdir_for(h, tmp)})
    assert rc == 0, out
    assert "nothing to install" in out, out
    assert_serving(h, pid)


def test_an_install_leaves_the_server_that_was_running_alone(running):
    """The path taken when packages are installed, apache2 among them, while an
    apache2 runs: it runs on, and apt ran under a policy-rc.d that forbids
    service starts, written for the install and removed after it."""
    h, pid = running
    with tempfile.TemporaryDirectory() as tmp:
        policy = os.path.join(tmp, "policy-rc.d")
        apt, log = fake_apt(tmp, policy)
        rc, out = run_script("demo", {"APACHE_CONFDIR": confdir_for(h, tmp),
                                      "RP_DEPS_DRY_RUN": "1", "RP_DEPS_APT_GET": apt,
                                      "RP_POLICY_RC_D": policy})
        assert rc == 0, out
        with open(log) as f:
            calls = f.read().splitlines()
        assert not os.path.exists(policy), "the temporary policy-rc.d was left behind"
    assert "installing " in out and " apache2 " in out, out
    assert calls[0] == "apt-get update -qq" and calls[1] == "policy 101", calls
    assert calls[2].startswith("apt-get install ") and " apache2 " in calls[2] + " ", calls
    assert calls[3] == "policy 101", calls
    assert "left alone" in out and "stopping" not in out, out
    time.sleep(0.5)
    assert_serving(h, pid)


def test_an_existing_policy_rc_d_is_left_as_it_is(running):
    h, pid = running
    with tempfile.TemporaryDirectory() as tmp:
        policy = os.path.join(tmp, "policy-rc.d")
        mine = "#!/bin/sh\n# the admin's\nexit 0\n"
        with open(policy, "w") as f:
            f.write(mine)
        os.chmod(policy, 0o755)
        apt, log = fake_apt(tmp, policy)
        rc, out = run_script("build", {"APACHE_CONFDIR": confdir_for(h, tmp),
                                       "RP_DEPS_DRY_RUN": "1", "RP_DEPS_APT_GET": apt,
                                       "RP_POLICY_RC_D": policy})
        assert rc == 0, out
        with open(policy) as f:
            assert f.read() == mine
        with open(log) as f:
            assert "policy 0" in f.read()
    assert "left as it is" in out, out
    assert_serving(h, pid)


def test_a_server_the_install_started_is_stopped_and_only_that_one(running):
    """Where a policy let the apache2 package start its service, that server
    (not running before) is stopped, and the one that was running before is not."""
    h, pid = running
    started = Httpd(load_reqprof=False, mpm="prefork")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            policy = os.path.join(tmp, "policy-rc.d")
            with open(policy, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(policy, 0o755)
            start = ("/usr/sbin/apache2 -f %s -k start; i=0; while [ ! -s %s/httpd.pid ] "
                     "&& [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done"
                     % (started.conf_path, started.root))
            apt, _ = fake_apt(tmp, policy, start)
            rc, out = run_script("demo", {"APACHE_CONFDIR": confdir_for(started, tmp),
                                          "RP_DEPS_DRY_RUN": "1", "RP_DEPS_APT_GET": apt,
                                          "RP_POLICY_RC_D": policy})
        assert rc == 0, out
        # The script has stopped that server by now and httpd removes its pid
        # file as it exits, so the pid is the one the script names.
        m = re.search(r"started its service \(pid (\d+)\), which was not running before: "
                      r"stopping that one", out)
        assert m, out
        new_pid = int(m.group(1))
        assert new_pid != pid
        deadline = time.time() + 15
        while alive(new_pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(new_pid), "the server the install started still runs"
        assert_serving(h, pid)
    finally:
        p = pid_of(started)
        if p and alive(p):
            os.kill(p, signal.SIGTERM)
        started.cleanup()


def test_make_refuses_other_platforms_before_compiling():
    """A compiler for another architecture: make stops with a clear message
    before it compiles (or installs) anything; the deps targets still run."""
    with tempfile.TemporaryDirectory() as tmp:
        cc = os.path.join(tmp, "cc")
        log = os.path.join(tmp, "cc.log")
        with open(cc, "w") as f:
            f.write("#!/bin/sh\necho \"$*\" >>%s\n"
                    "[ \"$1\" = -dumpmachine ] && echo aarch64-linux-gnu && exit 0\nexit 1\n" % log)
        os.chmod(cc, 0o755)
        for goal in ("all", "demo", "test", "install", "module"):
            res = subprocess.run(["make", "-C", REPO, "CC=" + cc, "OUT=" + tmp + "/out", goal],
                                 capture_output=True, text=True, timeout=60)
            assert res.returncode != 0, goal
            assert "x86-64 Linux only" in res.stderr and "aarch64-linux-gnu" in res.stderr, res.stderr
            assert "install-deps" not in res.stdout, res.stdout
        with open(log) as f:
            assert set(f.read().split()) == {"-dumpmachine"}, "the compiler was asked to compile"
        res = subprocess.run(["make", "-C", REPO, "CC=" + cc, "deps-build", "-n"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and "install-deps.sh build" in res.stdout, res.stderr


def mods_listing(mods):
    return sorted((name, os.readlink(os.path.join(mods, name))) for name in os.listdir(mods))


def test_modules_package_scripts_enable_are_put_back(tmp_path):
    # mod_php's package script enables php8.2 in Debian's apache2
    # configuration and switches it to prefork: what was enabled before is
    # put back, and said; an install that changes nothing says nothing.
    confdir = tmp_path / "apache2"
    mods, avail = confdir / "mods-enabled", confdir / "mods-available"
    mods.mkdir(parents=True)
    avail.mkdir()
    for name in ("mpm_event.load", "mpm_event.conf", "mpm_prefork.load", "php8.2.load",
                 "dir.load"):
        (avail / name).write_text("")
    for name in ("mpm_event.load", "mpm_event.conf", "dir.load"):
        os.symlink("../mods-available/" + name, mods / name)
    before = mods_listing(mods)
    switch = ("rm -f %(m)s/mpm_event.load %(m)s/mpm_event.conf; "
              "ln -s ../mods-available/mpm_prefork.load %(m)s/; "
              "ln -s ../mods-available/php8.2.load %(m)s/" % {"m": mods})
    apt, _ = fake_apt(str(tmp_path), str(tmp_path / "no-policy"), extra_on_install=switch)
    env = {"APACHE_CONFDIR": str(confdir), "RP_DEPS_DRY_RUN": "1", "RP_DEPS_APT_GET": apt}
    rc, out = run_script("build", env)
    assert rc == 0, out
    assert mods_listing(mods) == before, out
    assert "put back as they were" in out, out
    apt, _ = fake_apt(str(tmp_path), str(tmp_path / "no-policy"))
    rc, out = run_script("build", dict(env, RP_DEPS_APT_GET=apt))
    assert rc == 0 and mods_listing(mods) == before and "put back" not in out, out
