"""HTTP/2 over TLS (mod_ssl + mod_http2, Protocols h2 http/1.1) through a
real httpd, children running as the unprivileged user, with a self-signed
certificate made for the test: a profiled request gets its report over h2
with the workload's functions in it, streams on one connection are profiled
apart, and a request without the trigger is byte for byte what the same
server sends without mod_reqprof loaded."""
import os
import shutil
import subprocess
import tempfile

import pytest

from httpd_harness import MPMS, Httpd
from report_parser import Report
from safety_util import is_report

PREFORK_SKIP = ("mod_http2 does not serve h2 on prefork (AH10034: 'the HTTP/2 protocol will "
                "be inactive'): curl --http2 negotiated %s")

VARYING = ("date", "x-rpwork-wall-us", "x-rpwork-cpu-us")


@pytest.fixture(scope="module")
def cert():
    """A self-signed certificate for 127.0.0.1, valid for a day."""
    d = tempfile.mkdtemp(prefix="reqprof-tls-")
    os.chmod(d, 0o755)
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=60)
    yield key, crt
    shutil.rmtree(d, ignore_errors=True)


def tls_conf(cert, extra=""):
    key, crt = cert
    return ("Protocols h2 http/1.1\nSSLEngine on\nSSLCertificateFile %s\n"
            "SSLCertificateKeyFile %s\n%s" % (crt, key, extra))


def tls_server(mpm, cert, extra="", load_reqprof=True):
    return Httpd(mpm, extra=tls_conf(cert, extra), modules=("socache_shmcb", "ssl", "http2"),
                 load_reqprof=load_reqprof)


def require_h2(server):
    """Skips, saying why, where mod_http2 does not negotiate h2 (prefork);
    elsewhere h2 is a must."""
    (version, status, _, _), = curl(server, ["/work/cpu?ms=1"], "--http2")
    if server.mpm == "prefork" and version != "HTTP/2":
        pytest.skip(PREFORK_SKIP % version)
    assert (version, status) == ("HTTP/2", 200), (version, status)


def curl(server, paths, *args):
    """Fetches paths over one TLS connection with curl -k; returns per path
    (HTTP version, status, headers as (lower-case name, value) pairs in
    order, body)."""
    out_dir = tempfile.mkdtemp()
    try:
        cmd = ["curl", "-sS", "-k", "-i", "--max-time", "60"] + list(args)
        files = []
        for i, path in enumerate(paths):
            files.append(os.path.join(out_dir, "%d.out" % i))
            cmd += ["https://127.0.0.1:%d%s" % (server.port, path), "-o", files[-1]]
        subprocess.run(cmd, check=True, timeout=90, capture_output=True)
        results = []
        for name in files:
            with open(name, "rb") as f:
                head, sep, body = f.read().partition(b"\r\n\r\n")
            assert sep, head
            lines = head.decode("latin-1").split("\r\n")
            headers = [(n.strip().lower(), v.strip()) for n, _, v in
                       (l.partition(":") for l in lines[1:])]
            version, status = lines[0].split()[:2]
            results.append((version, int(status), headers, body))
        return results
    finally:
        shutil.rmtree(out_dir)


def check_cpu_report(body):
    report = Report(body.decode())
    assert report.summary["protocol"] == "HTTP/2.0", report.summary
    assert report.summary["status"] == "200"
    alpha, beta = report.weight_of("work_alpha"), report.weight_of("work_beta")
    assert report.weight_of("burn_cpu_split") >= 0.9 * report.weight_of("rpwork_handler") > 0
    assert alpha + beta >= 100, (alpha, beta)
    assert 0.6 <= alpha / (alpha + beta) <= 0.88, (alpha, beta)
    assert report.weight_of("wait_in_poll") == 0
    return report


@pytest.mark.parametrize("mpm", MPMS)
def test_h2_tls_report(mpm, cert):
    with tls_server(mpm, cert, "ReqProfile On\n") as server:
        require_h2(server)
        (version, status, headers, body), = curl(server, ["/work/cpu?ms=250&profile=1"],
                                                 "--http2")
        assert (version, status) == ("HTTP/2", 200), (version, status)
        assert dict(headers)["content-type"] == "text/html; charset=utf-8", headers
        assert is_report(body), body[:300]
        check_cpu_report(body)
        # Streams of one connection, each profiled on its own.
        cpu, wait, plain = curl(server, ["/work/cpu?ms=200&profile=1",
                                         "/work/wait?ms=200&profile=1", "/work/cpu?ms=5"],
                                "--http2", "--parallel", "--parallel-immediate")
        assert {cpu[0], wait[0], plain[0]} == {"HTTP/2"}
        check_cpu_report(cpu[3])
        waited = Report(wait[3].decode())
        assert waited.summary["protocol"] == "HTTP/2.0"
        assert waited.weight_of("wait_in_poll") >= 0.9 * waited.weight_of("rpwork_handler") > 0
        assert waited.weight_of("burn_cpu_split") == 0
        assert plain[3] == b"rpwork cpu done, poll interrupted 0 times\n"
        # HTTP/1.1 over the same TLS listener too.
        (version, status, _, body), = curl(server, ["/work/cpu?ms=150&profile=1"], "--http1.1")
        assert (version, status) == ("HTTP/1.1", 200)
        assert Report(body.decode()).weight_of("burn_cpu_split") > 0
        assert not server.crash_lines(), server.crash_lines()
        assert "[reqprof:" not in server.read_error_log(), server.read_error_log()


def normalise(headers):
    return [(n, v) for n, v in headers if n not in VARYING]


@pytest.mark.parametrize("mpm", MPMS)
def test_h2_tls_unprofiled_is_byte_identical(mpm, cert):
    with tls_server(mpm, cert, "ReqProfile On\n") as with_module, \
            tls_server(mpm, cert, load_reqprof=False) as without_module:
        require_h2(with_module)
        require_h2(without_module)
        for server in (with_module, without_module):
            path = os.path.join(server.docroot, "same.html")
            with open(path, "wb") as f:
                f.write(b"<h1>same</h1>\n" * 500)
            os.utime(path, (1700000000, 1700000000))
        requests = [
            (200, "/same.html"), (200, "/same.html?profile=0"),
            (206, "/same.html", "-r", "5-20"), (200, "/same.html", "-I"), (404, "/missing"),
            (200, "/work/cpu?ms=5"), (200, "/work/big?kb=300"),
            (500, "/work/status?code=500"),
        ]
        for status, path, *args in requests:
            a, = curl(with_module, [path], "--http2", *args)
            b, = curl(without_module, [path], "--http2", *args)
            assert a[:2] == b[:2] == ("HTTP/2", status), (path, a[:2], b[:2])
            assert normalise(a[2]) == normalise(b[2]), (path, a[2], b[2])
            assert a[3] == b[3], (path, len(a[3]), len(b[3]))
        for server in (with_module, without_module):
            assert not server.crash_lines(), server.crash_lines()
