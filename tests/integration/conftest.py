import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from httpd_harness import MPMS, Httpd  # noqa: E402

# Contexts every test server shares: each <Location> exercises one directive.
# Children run as httpd's default has them: privileges dropped, not dumpable
# (test_waits.py and test_sampler.py also cover dumpable children, with
# CoreDumpDirectory).
PROFILE_CONF = r"""
ReqProfile On
ReqProfileMaxConcurrent 16
<Location /work/off>
  ReqProfile Off
</Location>
<Location /work/cpuclock>
  ReqProfileClock cpu
</Location>
<Location /work/fast>
  ReqProfileInterval 250us
</Location>
<Location /work/param>
  ReqProfileParam prof
</Location>
<Location /work/deny>
  ReqProfileRequire "-R '10.0.0.0/8'"
</Location>
<Location /work/allow>
  ReqProfileRequire "-R '127.0.0.0/8' && %{HTTP:X-Profile-Token} == 'letmein'"
</Location>
ErrorDocument 410 /work/cpu?ms=60
"""


def start_checked(server):
    server.start()
    return server


@pytest.fixture(scope="module", params=MPMS)
def httpd(request):
    server = Httpd(request.param, extra=PROFILE_CONF)
    start_checked(server)
    yield server
    crashes = server.crash_lines()
    server.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


@pytest.fixture(autouse=True)
def no_crash_after_test(request):
    """Fails the test that left a crash line in its server's error log."""
    yield
    if "httpd" in request.fixturenames:
        server = request.getfixturevalue("httpd")
        crashes = server.crash_lines()
        assert not crashes, "crashed children:\n" + "\n".join(crashes)
