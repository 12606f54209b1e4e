"""ReqProfileCollapse through a real httpd, every MPM: library frames fold the
same way in the text format, the HTML report's data and the log records.

- the default rule folds the C library, APR, apache2 and the MPM in the text
  tree (a "Folded:" line names them; a folded caller ends in "+object");
- custom patterns use the one syntax: '*' and '?' are wildcards, brackets
  match themselves ("[kernel]*" folds the kernel's frames, "mod_rp[w]ork.so"
  is no character class and folds nothing);
- "ReqProfileCollapse none" shows every frame;
- an inner <Location> with its own ReqProfileCollapse replaces the outer
  list (it is not merged with it);
- frames=all asks the text format for every frame;
- log records' top functions are the module's own, the library folded;
- bad patterns stop `apache2 -t` with a message naming the directive.

The objects the HTML report's script folds are the ones the module lists in
its data ("folded"); they are checked here against a reference of the
syntax, and tests/integration/test_browser.py checks that the script folds
exactly those.
"""
import json
import os
import re
import time

import pytest

from http_util import request
from httpd_harness import MPMS, Httpd
from report_parser import Report
from test_formats import parse_text

CONF = r"""
ReqProfile On
ReqProfileMaxConcurrent 16
ReqProfileLogFile logs/reqprof.log
<Location /work/custom>
  ReqProfileCollapse [kernel]* libc.so* mod_rp[w]ork.so
</Location>
<Location /work/none>
  ReqProfileCollapse none
</Location>
<Location /work/outer>
  ReqProfileCollapse apache2
  ReqProfileCollapse mod_mpm_*.so
</Location>
<Location /work/outer/inner>
  ReqProfileCollapse libc.so* [kernel]*
</Location>
<Location /work/logged>
  ReqProfileLog On
</Location>
<Location /work/logged/custom>
  ReqProfileCollapse [kernel]* libc.so* [vdso]
</Location>
<Location /work/logged/none>
  ReqProfileCollapse none
</Location>
"""

DEFAULT_FOLDED = ("libc.so.6", "apache2", "libapr-1.so.0", "[vdso]")
FOLDED_ONLY = "[folded frames only]"
# Ask for 3:1 CPU and a poll(): frames of the workload, libc (poll,
# clock_gettime), the kernel (the poll's system call), apache2, the MPM.
MIXED = "mixed?cpu=60&wait=40"


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    h = Httpd(request.param, extra=CONF)
    h.start()
    yield h
    crashes = h.crash_lines()
    h.cleanup()
    assert not crashes, "crashed children:\n" + "\n".join(crashes)


def glob(pattern, name):
    """Reference of the documented syntax: '*' any run, '?' one character,
    everything else (brackets too) itself."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, name, re.S) is not None


def text(server, path, query=""):
    sep = "&" if "?" in path else "?"
    status, headers, body = request(server, "%s%sprofile=text%s" % (path, sep, query))
    assert status == 200, body[:300]
    assert headers["content-type"] == "text/plain; charset=utf-8"
    out = body.decode("utf-8")
    head, rows = parse_text(out)
    folded_line = [l for l in head if l.startswith("Folded:")]
    assert len(folded_line) <= 1, head
    return out, rows, folded_line[0] if folded_line else None


def objects_shown(rows):
    """Objects of the rows that stand for frames (the folded-only row
    lists objects instead)."""
    return {r["obj"] for r in rows if r["func"] != FOLDED_ONLY}


def folded_in(rows):
    return {o for r in rows for o in r["folded"]}


def folded_line_names(line):
    m = re.fullmatch(r"Folded: +(.*) into their callers \(ReqProfileCollapse; "
                     r"frames=all shows every frame\)", line)
    assert m, line
    return m.group(1).split(", ")


def report_data(server, path):
    sep = "&" if "?" in path else "?"
    status, _, body = request(server, path + sep + "profile=1")
    assert status == 200
    return Report(body.decode("utf-8")).data


def json_doc(server, path):
    sep = "&" if "?" in path else "?"
    status, _, body = request(server, path + sep + "profile=json")
    assert status == 200
    return json.loads(body)


def assert_module_decided(data, patterns):
    """The report's "folded" list is the objects the patterns match, by
    the documented syntax."""
    assert data["collapse"] == patterns, data["collapse"]
    objects = data["objects"]
    assert sorted(data["folded"]) == data["folded"]
    want = [i for i, o in enumerate(objects) if any(glob(p, o) for p in patterns)]
    assert data["folded"] == want, ([objects[i] for i in data["folded"]],
                                    [objects[i] for i in want])


def mpm_object(server):
    return "mod_mpm_%s.so" % server.mpm


# ---- the text format ------------------------------------------------------------

def test_default_rule_folds_library_frames_in_text(server):
    out, rows, folded = text(server, "/work/" + MIXED)
    shown = objects_shown(rows)
    for obj in DEFAULT_FOLDED + (mpm_object(server),):
        assert obj not in shown, "%s frames not folded:\n%s" % (obj, out)
    assert "mod_rpwork.so" in shown
    # The tree starts at the module's code, as the report's default view.
    top = [r["func"] for r in rows if r["depth"] == 0]
    assert "rpwork_handler" in top, out
    # poll() in libc folds into wait_in_poll, which names it.
    poll = next(r for r in rows if r["func"] == "wait_in_poll")
    assert "libc.so.6" in poll["folded"], out
    # The header names what was folded: what the rows name, and the
    # request loop's objects (folded into nothing: above the handler).
    assert folded is not None, out
    names = folded_line_names(folded)
    assert "libc.so.6" in names and "apache2" in names and mpm_object(server) in names
    assert folded_in(rows) <= set(names)
    for r in rows:
        if r["func"] == FOLDED_ONLY:
            assert set(r["obj"].split(", ")) <= set(names), r
    assert not any(glob(p, o) for o in shown for p in ("libc.so*", "apache2", "mod_mpm_*.so"))


def test_frames_all_shows_every_frame(server):
    out, rows, folded = text(server, "/work/" + MIXED, "&frames=all")
    assert folded is None, out
    assert folded_in(rows) == set(), out
    assert FOLDED_ONLY not in out
    shown = objects_shown(rows)
    assert {"libc.so.6", "apache2", mpm_object(server), "mod_rpwork.so"} <= shown, shown
    assert any(r["func"] == "rpwork_handler" and r["depth"] > 0 for r in rows)
    # "all" in any case; only "all" asks for it, and the first "frames"
    # decides (parameter names are case-sensitive, as the trigger's).
    _, rows, folded = text(server, "/work/" + MIXED, "&frames=ALL")
    assert folded is None and "apache2" in objects_shown(rows)
    for query in ("&frames=some", "&frames", "&frames=none&frames=all", "&FRAMES=all"):
        out, rows, folded = text(server, "/work/" + MIXED, query)
        assert folded is not None and "apache2" not in objects_shown(rows), (query, out)


def test_none_shows_every_frame(server):
    out, rows, folded = text(server, "/work/none/" + MIXED)
    assert folded is None, out
    assert folded_in(rows) == set() and FOLDED_ONLY not in out
    shown = objects_shown(rows)
    assert {"libc.so.6", "apache2", mpm_object(server)} <= shown, shown
    data = report_data(server, "/work/none/" + MIXED)
    assert data["collapse"] == [] and data["folded"] == []


def test_custom_patterns_use_the_one_syntax(server):
    out, rows, folded = text(server, "/work/custom/" + MIXED)
    shown = objects_shown(rows)
    # "[kernel]*": brackets match themselves, so the kernel's frames fold.
    assert "[kernel]" not in shown, out
    poll = next(r for r in rows if r["func"] == "wait_in_poll")
    assert poll["ms"] > 0
    assert "libc.so.6" in poll["folded"], out
    # "mod_rp[w]ork.so" is not a character class: the workload stays.
    assert "mod_rpwork.so" in shown and any(r["func"] == "work_alpha" for r in rows), out
    # The list replaces the default: apache2 and the MPM are shown.
    assert "apache2" in shown and mpm_object(server) in shown, shown
    assert "libc.so.6" not in shown
    names = folded_line_names(folded)
    assert "libc.so.6" in names and "mod_rpwork.so" not in names, names
    # The HTML report's data: the module's decision, by the same syntax.
    patterns = ["[kernel]*", "libc.so*", "mod_rp[w]ork.so"]
    data = report_data(server, "/work/custom/" + MIXED)
    assert_module_decided(data, patterns)
    objects = [data["objects"][i] for i in data["folded"]]
    assert "mod_rpwork.so" not in objects and "libc.so.6" in objects
    assert json_doc(server, "/work/custom/" + MIXED)["collapse"] == patterns


def test_default_rule_in_report_data(server):
    data = report_data(server, "/work/" + MIXED)
    assert_module_decided(data, ["libc.so*", "libpthread.so*", "ld-linux*", "[vdso]",
                                 "libapr-1.so*", "libaprutil-1.so*", "apache2", "httpd",
                                 "mod_mpm_*.so", "libphp*.so", "liblua*.so*"])
    objects = [data["objects"][i] for i in data["folded"]]
    assert "libc.so.6" in objects and mpm_object(server) in objects


def test_inner_location_replaces_outer_list(server):
    # Outer: apache2 and the MPM (two lines, added up), the C library shown.
    out, rows, folded = text(server, "/work/outer/cpu?ms=60")
    shown = objects_shown(rows)
    assert "apache2" not in shown and mpm_object(server) not in shown, out
    assert "libc.so.6" in shown, out
    assert json_doc(server, "/work/outer/cpu?ms=20")["collapse"] == ["apache2", "mod_mpm_*.so"]
    # Inner: its own list alone; apache2 and the MPM are back.
    out, rows, folded = text(server, "/work/outer/inner/cpu?ms=60")
    shown = objects_shown(rows)
    assert "libc.so.6" not in shown, out
    assert "apache2" in shown and mpm_object(server) in shown, out
    names = folded_line_names(folded)
    assert "libc.so.6" in names and set(names) <= {"libc.so.6", "[kernel]"}, folded
    data = report_data(server, "/work/outer/inner/cpu?ms=20")
    assert_module_decided(data, ["libc.so*", "[kernel]*"])


# ---- log records -------------------------------------------------------------------

def records(server):
    path = os.path.join(server.root, "logs", "reqprof.log")
    if not os.path.exists(path):
        return []
    out = []
    token = re.compile(r'([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')
    with open(path) as f:
        for line in f:
            rec = {}
            for m in token.finditer(line.strip()):
                v = m.group(2) or ""
                rec[m.group(1)] = json.loads(v) if v.startswith('"') else v
            out.append(rec)
    return out


def record_for(server, path):
    status, _, _ = request(server, path)
    assert status == 200
    deadline = time.time() + 10
    while time.time() < deadline:
        found = [r for r in records(server) if r.get("path") == path.split("?")[0]]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError("no record for %s" % path)


def tops(rec):
    return [rec["top%d" % i] for i in range(1, 6) if "top%d" % i in rec]


def test_log_records_top_functions_are_the_modules(server):
    # Default rule: CPU in the workload, clock_gettime (libc, vDSO) folded.
    rec = record_for(server, "/work/logged/cpu?ms=80")
    assert set(tops(rec)[:2]) == {"work_alpha", "work_beta"}, rec
    assert not any("clock_gettime" in t for t in tops(rec)), rec
    # "[kernel]*" with the library: the poll and its system call fold into
    # the function that called them.
    rec = record_for(server, "/work/logged/custom/wait?ms=80")
    assert rec["top1"] == "wait_in_poll", rec
    assert not [t for t in tops(rec) if "poll" in t and t != "wait_in_poll"], rec
    # With none, the wait is the system call's (or libc's poll's) own time.
    rec = record_for(server, "/work/logged/none/wait?ms=80")
    assert rec["top1"] != "wait_in_poll", rec
    assert "poll" in rec["top1"], rec


# ---- configuration -------------------------------------------------------------------

def config_test(extra):
    h = Httpd("event", extra=extra)
    try:
        return h.config_test()
    finally:
        h.cleanup()


@pytest.mark.parametrize("line, message", [
    ("ReqProfileCollapse /usr/lib/x86_64-linux-gnu/libc.so.6", "holds '/'"),
    ("ReqProfileCollapse \\[vdso\\]", "no escapes"),
    ("ReqProfileCollapse \"lib\tc\"", "control character"),
    ("ReqProfileCollapse " + "x" * 129, "longer than 128 bytes"),
    ("ReqProfileCollapse none libc.so*", "'none' must stand alone"),
    ("ReqProfileCollapse libc.so* none", "'none' must stand alone"),
    ("ReqProfileCollapse none\nReqProfileCollapse libc.so*", "'none' must stand alone"),
    ("<Location /x>\nReqProfileCollapse lib/*\n</Location>", "holds '/'"),
])
def test_bad_patterns_are_refused(line, message):
    code, output = config_test(line)
    assert code != 0, output
    assert "ReqProfileCollapse" in output and message in output, output


@pytest.mark.parametrize("line", [
    "ReqProfileCollapse [vdso] [kernel]* lib[ab].so* ?x*",
    "ReqProfileCollapse NONE",
    "ReqProfileCollapse " + "x" * 128,
    "ReqProfileCollapse libc.so*\nReqProfileCollapse apache2",
    "<Location /x>\nReqProfileCollapse none\n</Location>\nReqProfileCollapse libc.so*",
])
def test_good_patterns_are_accepted(line):
    code, output = config_test(line)
    assert code == 0, output
    assert "Syntax OK" in output
