"""The Debian package (debian/, `make deb`) in the machine's own apache2.

test_changelog_matches_module_version runs anywhere. test_package needs
root, dpkg and the system apache2: it builds the package, checks it with
lintian, installs it (the module stays disabled), enables it, profiles a
request on an extra loopback port, then disables, removes and purges it and
checks that nothing of it is left and that apache2's configuration is as
valid as before. A second install checks what an admin who forgets
`a2dismod` gets: removing the package disables the module itself, and an
edited configuration survives removal but not purge. apache2 is left as
found: stopped if it was stopped, else running its original configuration
(gracefully restarted).
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from httpd_harness import free_port
from report_parser import Report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = "libapache2-mod-reqprof"
DEB_DIR = os.path.join(ROOT, "build", "out", "deb")
SO = "/usr/lib/apache2/modules/mod_reqprof.so"
AVAILABLE = ["/etc/apache2/mods-available/reqprof.load",
             "/etc/apache2/mods-available/reqprof.conf"]
ENABLED = ["/etc/apache2/mods-enabled/reqprof.load",
           "/etc/apache2/mods-enabled/reqprof.conf"]
SNIPPET = "/etc/apache2/conf-enabled/zz-reqprof-package-test.conf"
PAGE = b"<!DOCTYPE html>\n<p>reqprof package check</p>\n"


def module_version():
    with open(os.path.join(ROOT, "mod_reqprof", "rp_version.h")) as f:
        m = re.search(r'#define RP_VERSION "([^"]+)"', f.read())
    assert m, "mod_reqprof/rp_version.h defines no RP_VERSION"
    return m.group(1)


def changelog_version():
    with open(os.path.join(ROOT, "debian", "changelog")) as f:
        m = re.match(r"(\S+) \(([^)]+)\) ", f.readline())
    assert m and m.group(1) == PKG, "debian/changelog: unexpected first line"
    return m.group(2)


def test_changelog_matches_module_version():
    # A native package: the Debian version is the module's version.
    assert changelog_version() == module_version()


def run(*cmd, check=True, timeout=120, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}")
    return p


def pkg_status():
    p = run("dpkg-query", "-W", "-f=${Status}", PKG, check=False)
    return p.stdout.strip() if p.returncode == 0 else "not-installed"


def configtest():
    p = run("apache2ctl", "-t", check=False)
    return p.returncode, sorted(p.stdout.splitlines())


def system_pid():
    """The system apache2's parent pid (from its pid file), or None."""
    p = run("sh", "-c", ". /etc/apache2/envvars && echo $APACHE_PID_FILE")
    try:
        with open(p.stdout.strip()) as f:
            pid = int(f.read().split()[0])
        exe = os.readlink(f"/proc/{pid}/exe")
    except (OSError, ValueError, IndexError):
        return None
    return pid if os.path.basename(exe).startswith("apache2") else None


def wait_for(cond, what, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def serving(url):
    try:
        get(url)
        return True
    except OSError:
        return False


def preconditions():
    if os.geteuid() != 0:
        pytest.skip("needs root: installs the package into the system apache2")
    for tool in ("dpkg", "dpkg-buildpackage", "lintian", "apache2ctl",
                 "a2enmod", "a2dismod", "a2query"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (build/install-deps.sh installs it)")
    arch = run("dpkg", "--print-architecture").stdout.strip()
    if arch != "amd64":
        pytest.skip(f"debian/control builds for amd64 only (this machine: {arch})")
    if pkg_status() != "not-installed":
        pytest.skip(f"{PKG} is already on this machine ({pkg_status()}); "
                    "the test would remove it")
    present = [f for f in [SO] + AVAILABLE if os.path.exists(f)]
    if present:
        pytest.skip("a mod_reqprof installed outside the package (make install?) "
                    f"would be replaced: {', '.join(present)}")
    rc, lines = configtest()
    if rc != 0:
        pytest.skip("the system apache2's configuration does not pass "
                    "apache2ctl -t before the test:\n" + "\n".join(lines))


def build_and_lint():
    run("make", "--no-print-directory", "deb", cwd=ROOT, timeout=600)
    version = module_version()
    deb = os.path.join(DEB_DIR, f"{PKG}_{version}_amd64.deb")
    assert os.path.exists(deb), os.listdir(DEB_DIR)
    # Errors and warnings fail; overrides, if any, carry their reasons in
    # debian/libapache2-mod-reqprof.lintian-overrides.
    p = run("lintian", "--fail-on", "error,warning", "--display-info", deb,
            check=False, timeout=300)
    report = [line for line in p.stdout.splitlines()
              if "running with root privileges" not in line]
    assert p.returncode == 0, "lintian:\n" + "\n".join(report)
    assert not [line for line in report if re.match(r"[EW]: ", line)], report
    # The package's own Depends: the Apache ABI dh_apache2 computes.
    depends = run("dpkg-deb", "-f", deb, "Depends").stdout
    assert "apache2-api-" in depends, depends
    # Maintainer scripts: no postinst (installed disabled); prerm disables
    # the module on removal, postrm forgets it on purge.
    scripts = tempfile.mkdtemp(prefix="reqprof-deb-control-")
    try:
        run("dpkg-deb", "-e", deb, scripts)
        assert not os.path.exists(os.path.join(scripts, "postinst"))
        for name in ("prerm", "postrm"):
            with open(os.path.join(scripts, name)) as f:
                text = f.read()
            assert "apache2_invoke dismod $conf" in text, (name, text)
            assert re.search(r"for conf in reqprof\s*;", text), (name, text)
        with open(os.path.join(scripts, "conffiles")) as f:
            assert sorted(f.read().split()) == sorted(AVAILABLE)
    finally:
        shutil.rmtree(scripts)
    return deb


def package_files():
    """Files (not directories) of the installed package."""
    out = run("dpkg", "-L", PKG).stdout.splitlines()
    return sorted(f for f in out if f.startswith("/") and not os.path.isdir(f))


def leftovers():
    """Anything named after the module in apache2's configuration or state."""
    found = []
    for top in ("/etc/apache2", "/var/lib/apache2"):
        for d, _, files in os.walk(top):
            found += [os.path.join(d, f) for f in files if "reqprof" in f]
    return sorted(found)


def test_package():
    preconditions()
    deb = build_and_lint()
    baseline_test = configtest()
    baseline_files = leftovers()
    was_running = system_pid()
    docroot = tempfile.mkdtemp(prefix="reqprof-deb-docroot-")
    try:
        exercise(deb, docroot, was_running, baseline_test, baseline_files)
    finally:
        restore(was_running, docroot)


def exercise(deb, docroot, was_running, baseline_test, baseline_files):
    # Installed, not enabled.
    run("dpkg", "-i", deb)
    assert pkg_status() == "install ok installed"
    assert run("a2query", "-q", "-m", "reqprof", check=False).returncode != 0
    assert not any(os.path.lexists(f) for f in ENABLED)
    files = package_files()
    assert SO in files and set(AVAILABLE) <= set(files), files
    assert not [f for f in files if "rpwork" in f or "rpsighog" in f], files

    # Enabled, configured, serving a profile on an extra loopback port.
    run("a2enmod", "reqprof")
    port = free_port()
    os.chmod(docroot, 0o755)
    with open(os.path.join(docroot, "page.html"), "wb") as f:
        f.write(PAGE)
    with open(SNIPPET, "w") as f:
        f.write(f"""# Written by tests/integration/test_debian_package.py; removed by it.
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    Alias /reqprof-check "{docroot}"
    <Directory "{docroot}">
        Require local
    </Directory>
    <Location /reqprof-check>
        ReqProfile On
    </Location>
</VirtualHost>
""")
    rc, lines = configtest()
    assert rc == 0, "\n".join(lines)
    run("apache2ctl", "graceful" if was_running else "start")
    base = f"http://127.0.0.1:{port}/reqprof-check/page.html"
    wait_for(lambda: serving(base), f"apache2 on 127.0.0.1:{port}")
    status, _, body = get(base)
    assert (status, body) == (200, PAGE)
    status, headers, body = get(base + "?profile=1")
    assert status == 200, body[:2000]
    assert headers.get("Content-Type", "").startswith("text/html"), dict(headers)
    html = body.decode("utf-8")
    assert "<h1>mod_reqprof: request profile</h1>" in html, html[:2000]
    assert (f'<meta name="generator" content="mod_reqprof {module_version()}">'
            in html)
    report = Report(html)
    assert report.summary.get("uri") == "/reqprof-check/page.html?profile=1", \
        report.summary
    assert report.summary.get("method") == "GET", report.summary
    assert report.data is not None, "no embedded profile data"

    # Disabled by the admin, then removed and purged.
    os.unlink(SNIPPET)
    run("a2dismod", "reqprof")
    if was_running:
        run("apache2ctl", "graceful")
    else:
        stop_system_apache()
    run("dpkg", "-r", PKG)
    removed(files)
    run("dpkg", "-P", PKG)
    purged(files, baseline_files)
    assert configtest() == baseline_test

    # Removed while still enabled, with an edited configuration: removal
    # disables the module (apache2ctl -t stays clean without the .so), the
    # edit survives removal, purge takes it.
    run("dpkg", "-i", deb)
    run("a2enmod", "reqprof")
    with open(AVAILABLE[1], "a") as f:
        f.write("# edited by the admin\n")
    run("dpkg", "-r", PKG)
    assert not any(os.path.lexists(f) for f in ENABLED)
    removed(files)
    with open(AVAILABLE[1]) as f:
        assert f.read().endswith("# edited by the admin\n")
    assert configtest() == baseline_test
    run("dpkg", "-P", PKG)
    purged(files, baseline_files)
    assert configtest() == baseline_test


def removed(files):
    """After dpkg -r: the module disabled and its files gone, apart from the
    conffiles (dpkg keeps them, edited or not, until purge)."""
    assert pkg_status() == "deinstall ok config-files"
    assert not any(os.path.lexists(f) for f in ENABLED)
    left = [f for f in files if os.path.lexists(f)]
    assert sorted(left) == sorted(AVAILABLE), left


def purged(files, baseline_files):
    assert pkg_status() == "not-installed"
    left = [f for f in files if os.path.lexists(f)]
    assert not left, left
    assert not os.path.exists("/usr/share/doc/" + PKG)
    assert leftovers() == baseline_files


def stop_system_apache():
    pid = system_pid()
    if pid is None:
        return
    run("apache2ctl", "stop", check=False)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), "apache2 to stop")


def restore(was_running, docroot):
    """apache2 as found, whatever failed above."""
    if os.path.exists(SNIPPET):
        os.unlink(SNIPPET)
    if pkg_status() != "not-installed":
        subprocess.run(["a2dismod", "-q", "reqprof"], capture_output=True)
        subprocess.run(["dpkg", "-P", PKG], capture_output=True)
    if was_running:
        if system_pid() is None:
            subprocess.run(["apache2ctl", "start"], capture_output=True)
        else:
            subprocess.run(["apache2ctl", "graceful"], capture_output=True)
    else:
        stop_system_apache()
    shutil.rmtree(docroot, ignore_errors=True)
