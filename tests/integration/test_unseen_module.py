"""A module mod_reqprof never saw, built the way its users build theirs
(apxs) and kept where only root can read it, on httpd's default children
(not dumpable): its handler waits 300 ms in poll() inside one of its own
static functions, then burns 50 ms in another. The report shows the wait
under the waiting function, inside the handler, and the burn beside it."""
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from http_util import request
from httpd_harness import MPMS, Httpd
from report_parser import Report

SOURCE = r"""
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include <poll.h>
#include <string.h>
#include <time.h>

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static volatile int polled;

/* Not a tail call: the compiler would otherwise jump to poll() and the
 * function would not be on the stack while it waits. */
static __attribute__((noinline)) int await_backend(int ms)
{
    int rc = poll(NULL, 0, ms);
    polled += rc;
    return rc;
}

static __attribute__((noinline)) unsigned long crunch(double ms)
{
    static volatile unsigned long sink;
    double end = now_ms(CLOCK_THREAD_CPUTIME_ID) + ms;
    unsigned long x = sink + 1;
    while (now_ms(CLOCK_THREAD_CPUTIME_ID) < end) {
        for (int i = 0; i < 10000; i++) {
            x = x * 6364136223846793005ul + 1;
        }
    }
    sink = x;
    return x;
}

static int unseen_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "unseen") != 0) {
        return DECLINED;
    }
    await_backend(300);
    crunch(50);
    ap_set_content_type(r, "text/plain");
    ap_rputs("unseen done\n", r);
    return OK;
}

static void unseen_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(unseen_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA unseen_module = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, unseen_hooks};
"""


def base_name(func):
    return func.split(".")[0]


@pytest.fixture(scope="module")
def unseen_so():
    if os.geteuid() != 0:
        pytest.skip("needs root: the module is kept where only root can read it")
    apxs = shutil.which("apxs") or shutil.which("apxs2")
    assert apxs, "apxs (apache2-dev) is part of the build set"
    private = tempfile.mkdtemp(prefix="reqprof-unseen-")
    os.chmod(private, 0o700)
    src = os.path.join(private, "mod_unseen.c")
    with open(src, "w") as f:
        f.write(SOURCE)
    subprocess.run([apxs, "-c", "mod_unseen.c"], cwd=private, check=True,
                   capture_output=True)
    so = os.path.join(private, ".libs", "mod_unseen.so")
    assert os.path.exists(so)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
    yield so
    shutil.rmtree(private, ignore_errors=True)


@pytest.mark.parametrize("mpm", MPMS)
def test_wait_of_an_unseen_module_is_under_its_waiting_function(mpm, unseen_so):
    conf = ("LoadModule unseen_module %s\nReqProfile On\n"
            "<Location /unseen>\n  SetHandler unseen\n</Location>\n" % unseen_so)
    with Httpd(mpm, extra=conf) as server:
        status, _, body = request(server, "/unseen/x?profile=1")
        assert status == 200
        report = Report(body.decode())
        waited = report.wait
        # gcc may name its specialised copy await_backend.constprop.0.isra.0;
        # the report keeps that name, as perf and gdb show it.
        under = report.wait_under(lambda n: base_name(n.func) == "await_backend")
        # The wait: at least 80 % of it under the waiting function (in
        # practice all of it), inside the handler.
        assert waited >= 250, (waited, report.summary)
        assert under >= 0.8 * waited, (under, waited)
        node = max((n for n in report.nodes if base_name(n.func) == "await_backend"),
                   key=lambda n: n.wait)
        assert "unseen_handler" in node.path(), " > ".join(node.path())
        # The burn, named too, on CPU.
        crunched = sum(n.total for n in report.nodes if base_name(n.func) == "crunch")
        assert crunched >= 30, sorted({n.func for n in report.nodes})
        assert not server.crash_lines()
