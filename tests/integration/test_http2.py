"""HTTP/2 (h2c): each stream runs on an h2 worker thread; its profile must
hold its own work."""
import shutil
import subprocess
import tempfile
import os

import pytest

from httpd_harness import Httpd
from report_parser import Report

H2_CONF = "ReqProfile On\nProtocols h2c http/1.1\n"


def curl_h2(server, paths):
    """Fetches paths over one HTTP/2 connection; returns their bodies."""
    out_dir = tempfile.mkdtemp()
    try:
        args = ["curl", "-sS", "--http2-prior-knowledge", "--parallel",
                "--parallel-immediate", "--max-time", "60"]
        outputs = []
        for i, p in enumerate(paths):
            out = os.path.join(out_dir, "%d.out" % i)
            outputs.append(out)
            args += [server.url + p, "-o", out]
        subprocess.run(args, check=True, timeout=90)
        bodies = []
        for out in outputs:
            with open(out, "rb") as f:
                bodies.append(f.read())
        return bodies
    finally:
        shutil.rmtree(out_dir)


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_h2_streams_are_profiled_separately(mpm):
    with Httpd(mpm, extra=H2_CONF, modules=("http2",)) as server:
        paths = ["/work/cpu?ms=150&profile=1", "/work/wait?ms=150&profile=1",
                 "/work/cpu?ms=5"]
        cpu, wait, plain = curl_h2(server, paths)
        cpu_report, wait_report = Report(cpu.decode()), Report(wait.decode())
        assert cpu_report.summary["protocol"] == "HTTP/2.0"
        assert cpu_report.weight_of("burn_cpu_split") > 100
        assert cpu_report.weight_of("wait_in_poll") == 0
        assert wait_report.weight_of("wait_in_poll") > 100
        assert wait_report.weight_of("burn_cpu_split") == 0
        assert plain == b"rpwork cpu done, poll interrupted 0 times\n"
        assert not server.crash_lines()
