"""Starts a throwaway httpd on 127.0.0.1 with mod_reqprof and the workload
module, prints the URLs to open, and stops cleanly on Ctrl-C."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
from httpd_harness import Httpd  # noqa: E402

INDEX = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>mod_reqprof demo</title>
</head><body><h1>mod_reqprof demo</h1><ul>
<li><a href="/work/mixed?cpu=120&amp;wait=80">CPU then waiting</a> &mdash;
    <a href="/work/mixed?cpu=120&amp;wait=80&amp;profile=1">profiled</a></li>
<li><a href="/work/cpu?ms=300">CPU, 3:1 between two static functions</a> &mdash;
    <a href="/work/cpu?ms=300&amp;profile=1">profiled</a></li>
<li><a href="/work/wait?ms=200">waiting in poll()</a> &mdash;
    <a href="/work/wait?ms=200&amp;profile=1">profiled</a></li>
<li><a href="/index.html?profile=1">this page, profiled</a></li>
</ul></body></html>
"""


def demo_port():
    """8080 unless it is taken (or DEMO_PORT says otherwise)."""
    wanted = int(os.environ.get("DEMO_PORT", "8080"))
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            return None


# httpd's default: children that dropped privileges and are not dumpable
# (waits show where they happen all the same). DEMO_DUMPABLE=1 adds
# CoreDumpDirectory, whose children let /proc show waits without a signal.
DUMPABLE_CONF = "CoreDumpDirectory /tmp\n"


def main():
    mpm = os.environ.get("MPM", "event")
    dumpable = os.environ.get("DEMO_DUMPABLE", "0") not in ("", "0")
    extra = (DUMPABLE_CONF if dumpable else "") + "ReqProfile On\n"
    server = Httpd(mpm, extra=extra, port=demo_port())
    with open(os.path.join(server.docroot, "index.html"), "w") as f:
        f.write(INDEX)
    server.start()
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("mod_reqprof demo: httpd (%s MPM%s) on %s" % (
        mpm, ", dumpable children" if dumpable else "", server.url))
    print("  without profiling: %s/work/mixed?cpu=120&wait=80" % server.url)
    print("  profiled:          %s/work/mixed?cpu=120&wait=80&profile=1" % server.url)
    print("  more examples:     %s/" % server.url)
    print("Error log: %s — press Ctrl-C to stop." % server.error_log)
    sys.stdout.flush()
    try:
        while not stop and server.proc.poll() is None:
            time.sleep(0.2)
    finally:
        crashed = server.crash_lines()
        server.cleanup()
        print("\nstopped." + (" Crashes seen:\n" + "\n".join(crashed) if crashed else ""))


if __name__ == "__main__":
    main()
