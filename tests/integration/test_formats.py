"""The export formats through a real httpd: profile=text, speedscope,
collapsed, pprof and json. Each is checked for its headers and read back the
way its consumers read it:

- text: the call tree lines, parsed strictly;
- collapsed: every line parsed the way flamegraph.pl and inferno parse it
  (Debian packages no flamegraph.pl), plus the frame naming of rp_collapsed;
- speedscope: validated against the file-format schema that the npm package
  `speedscope` ships (fetched with `npm pack` into build/out at first use);
- pprof: decoded by the real pprof (`go tool pprof`, Debian's golang-go);
- json: mod_reqprof's own schema (docs/json-format.md).

In every format work_alpha and work_beta must hold the workload's 3:1 split:
work_alpha between 0.70 and 0.80 of the two (2:1 would be 0.667, 4:1 0.8),
measured on the CPU clock, and the five formats within 0.06 of each other.
A missing npm, schema or go is a failure, not a skip: CI installs them
(build/install-deps.sh).
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from http_util import raw_request, request
from httpd_harness import OUT

FORMATS = {
    # format: (content types accepted, download extension or None)
    "text": (("text/plain; charset=utf-8",), None),
    "speedscope": (("application/json",), "speedscope.json"),
    "collapsed": (("text/plain", "text/plain; charset=utf-8"), "collapsed.txt"),
    "pprof": (("application/octet-stream", "application/vnd.google.protobuf+gzip"),
              "pb.gz"),
    "json": (("application/json",), "json"),
}

SPEEDSCOPE_PACKAGE = "speedscope@1.25.0"
SPEEDSCOPE_DIR = os.path.join(OUT, "speedscope")
SCHEMA_PATH = os.path.join(SPEEDSCOPE_DIR, "file-format-schema.json")

WORK_PATH = "/work/cpu?ms=600&profile="


# ---- tools ------------------------------------------------------------------

def speedscope_schema():
    """The schema from the npm package, fetched once into build/out."""
    if not os.path.exists(SCHEMA_PATH):
        npm = shutil.which("npm")
        assert npm, "npm is missing (build/install-deps.sh installs it)"
        os.makedirs(SPEEDSCOPE_DIR, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=SPEEDSCOPE_DIR) as tmp:
            res = subprocess.run([npm, "pack", SPEEDSCOPE_PACKAGE, "--silent"],
                                 cwd=tmp, capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, "npm pack failed:\n" + res.stderr
            tgz = [f for f in os.listdir(tmp) if f.endswith(".tgz")]
            assert len(tgz) == 1, os.listdir(tmp)
            with tarfile.open(os.path.join(tmp, tgz[0])) as tar:
                member = tar.getmember("package/dist/release/file-format-schema.json")
                data = tar.extractfile(member).read()
            json.loads(data)
            with open(SCHEMA_PATH + ".part", "wb") as f:
                f.write(data)
            os.replace(SCHEMA_PATH + ".part", SCHEMA_PATH)
    with open(SCHEMA_PATH) as f:
        return json.load(f)


def go_binary():
    go = os.environ.get("GO") or shutil.which("go")
    assert go and os.path.exists(go), "go is missing (build/install-deps.sh installs golang-go)"
    return go


def run_pprof(body, *args):
    """Runs `go tool pprof ARGS FILE` on the profile; returns its stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "profile.pb.gz")
        with open(path, "wb") as f:
            f.write(body)
        env = dict(os.environ, HOME=tmp, PPROF_TMPDIR=tmp,
                   GOTOOLCHAIN="local")
        res = subprocess.run([go_binary(), "tool", "pprof"] + list(args) + [path],
                             capture_output=True, text=True, timeout=120, env=env)
        assert res.returncode == 0, "pprof failed:\n" + res.stderr
        return res.stdout, res.stderr


PPROF_DURATION_NANOS = 10  # profile.proto: Profile.duration_nanos


def pprof_field(body, number):
    """The value of the varint field `number` of the gzipped profile.proto
    Profile message, read without pprof (None if absent)."""
    data = gzip.decompress(body)
    pos = 0

    def varint():
        nonlocal pos
        value = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7f) << shift
            shift += 7
            if byte < 0x80:
                return value
    found = None
    while pos < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
            if field == number:
                found = value
        elif wire == 2:
            length = varint()
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise AssertionError("wire type %d in the profile" % wire)
    assert pos == len(data), "truncated profile"
    return found


# ---- parsers -------------------------------------------------------------------

# A row ends in "  +obj, obj" when library frames fold into it; the
# "[folded frames only]" row has the folded objects in the object's place.
TEXT_ROW = re.compile(
    r"^(?P<guide>(?:[\u2502 ] {2}|   )*(?:[\u251c\u2514]\u2500 )?)"
    r"(?P<ms>\d+\.\d{3}) ms +(?P<pct>\d+\.\d)%  (?P<func>\S(?:.*?\S)?)  (?P<obj>\S+(?:, \S+)*)"
    r"(?:  (?P<src>\S+:\d+))?(?:  \[cpu (?P<cpu>\d+\.\d{3}) ms, waiting (?P<wait>\d+\.\d{3}) ms\])?"
    r"(?:  \+(?P<folded>\S+(?:, \S+)*))?$")
TEXT_PRUNED = re.compile(
    r"^(?:[\u2502 ] {2}|   )*(?:[\u2514]\u2500 )?\u2026 (\d+) smaller frames? \((\d+\.\d{3}) ms\)$")


def parse_text(text):
    """Returns (header lines, rows), each row a dict with depth, ms, func,
    obj. Every line of the tree must be a row or a pruned-frames line."""
    head, sep, tree = text.partition("\n\n")
    assert sep, text[:500]
    lines = tree.rstrip("\n").split("\n")
    assert lines[0].startswith("Call tree"), lines[0]
    rows = []
    for line in lines[1:]:
        m = TEXT_ROW.match(line)
        if m:
            depth = len(m.group("guide")) // 3
            rows.append(dict(depth=depth, ms=float(m.group("ms")), func=m.group("func"),
                             obj=m.group("obj"), pct=float(m.group("pct")),
                             folded=m.group("folded").split(", ") if m.group("folded") else []))
            continue
        assert TEXT_PRUNED.match(line), "unexpected line: %r" % line
    assert rows
    # Depth grows by one at most from a line to the next.
    for a, b in zip(rows, rows[1:]):
        assert b["depth"] <= a["depth"] + 1, (a, b)
    return head.split("\n"), rows


def text_weight(rows, func):
    """Inclusive ms of func, counting nested occurrences once."""
    total, inside_depth = 0.0, None
    for row in rows:
        if inside_depth is not None and row["depth"] <= inside_depth:
            inside_depth = None
        if row["func"] == func and inside_depth is None:
            total += row["ms"]
            inside_depth = row["depth"]
    return total


FOLDED_LINE = re.compile(r"^(.*)\s+?(\d+(?:\.\d*)?)$")  # flamegraph.pl's
FRAME = re.compile(r"^[^;\n]+ \[[^\[\]\n;]*\]$")


def parse_collapsed(text):
    """Parses folded stacks strictly: returns [(frames, count)]."""
    assert text.endswith("\n")
    stacks = []
    for line in text[:-1].split("\n"):
        m = FOLDED_LINE.match(line)
        assert m, "flamegraph.pl would ignore: %r" % line
        stack, count = m.group(1), int(m.group(2))
        assert count > 0
        # flamegraph.pl reads "stack N M" as a differential profile: a
        # stack must never end in a number itself.
        assert not FOLDED_LINE.match(stack), line
        # Exactly one space before the count, no trailing whitespace.
        assert line == "%s %d" % (stack, count), line
        frames = stack.split(";")
        for frame in frames:
            assert frame == frame.strip() and frame, line
            assert FRAME.match(frame) or frame in ("[truncated stack]", "[no stack]"), \
                "frame not 'name [object]': %r" % frame
        stacks.append((frames, count))
    assert len({tuple(f) for f, _ in stacks}) == len(stacks), "duplicate stacks"
    return stacks


def collapsed_weight(stacks, func):
    prefix = func + " ["
    return sum(c for frames, c in stacks if any(f.startswith(prefix) for f in frames))


def json_tree_weight(doc, func):
    """Inclusive weight of func in the JSON tree, nested occurrences once."""
    names = [f["name"] for f in doc["frames"]]

    def walk(node, inside):
        here = node["frame"] is not None and names[node["frame"]] == func
        if here and not inside:
            return node["total"]
        return sum(walk(c, inside or here) for c in node["children"])
    return walk(doc["tree"], False)


RAW_SAMPLE = re.compile(r"^\s*((?:\d+\s+)*\d+): ((?:\d+ ?)*)\s*$")
RAW_LOCATION = re.compile(r"^\s*(\d+): 0x[0-9a-f]+ (?:M=(\d+) )?(.+?) (\S*):(\d+) s=(\d+)$")


def parse_pprof_raw(out):
    """Reads `pprof -raw`: returns (header dict, sample types, samples as
    (values, location ids, label line), locations id -> function)."""
    header, types, samples, locations = {}, None, [], {}
    section = "header"
    for line in out.splitlines():
        if line == "Samples:":
            section = "samples"
            continue
        if line.startswith("Locations"):
            section = "locations"
            continue
        if line.startswith("Mappings"):
            section = "mappings"
            continue
        if section == "header":
            key, _, value = line.partition(": ")
            header.setdefault(key, []).append(value)
        elif section == "samples":
            if types is None:
                types = [t.replace("[dflt]", "") for t in line.split()]
                continue
            m = RAW_SAMPLE.match(line)
            if m:
                values = [int(v) for v in m.group(1).split()]
                assert len(values) == len(types), line
                samples.append([values, [int(i) for i in m.group(2).split()], ""])
            else:
                assert samples and line.strip(), line
                samples[-1][2] += line.strip()
        elif section == "locations":
            m = RAW_LOCATION.match(line)
            assert m, "location line: %r" % line
            locations[int(m.group(1))] = m.group(3)
    assert types and samples and locations
    return header, types, samples, locations


# ---- helpers ---------------------------------------------------------------------

def fetch(httpd, fmt, path=WORK_PATH):
    status, headers, body = request(httpd, path + fmt)
    assert status == 200, body[:300]
    return headers, body


def check_headers(headers, fmt, body):
    types, extension = FORMATS[fmt]
    assert headers["content-type"] in types, headers["content-type"]
    assert headers["cache-control"] == "no-store"
    assert headers["content-length"] == str(len(body))
    disposition = headers.get("content-disposition")
    if extension is None:
        assert disposition is None or not disposition.startswith("attachment"), disposition
        return None
    m = re.fullmatch(r'attachment; filename="reqprof-(\d+)-([0-9A-Za-z]+)\.%s"'
                     % re.escape(extension), disposition or "")
    assert m, disposition
    return int(m.group(1))


# The split is judged on the CPU clock: a wall-clock share also counts the
# time the thread sat preempted, which smears it on a busy machine (0.70 to
# 0.76 was seen here for 1200 ms on the wall clock with the 2 CPUs
# oversubscribed), and accuracy under load is the benchmark's business. On
# the CPU clock, 1200 ms runs gave 0.738 to 0.752 idle and 0.726 to 0.759
# loaded; back-to-back runs in the five formats differed by at most 0.01
# idle and 0.045 with the machine's load average above 10. The range is
# what tells 3:1 (0.75) from 2:1 (0.667) and 4:1 (0.8): a 4:1 bug lands
# above 0.80 in about half the shares, so across the formats and MPMs it
# cannot pass; a single format off by 2:1 or more also breaks agreement.
SPLIT_PATH = "/work/cpuclock/cpu?ms=1200&profile="
SPLIT_LOW, SPLIT_HIGH = 0.70, 0.80
SPLIT_AGREE = 0.06  # the widest gap allowed between two formats' shares


def share_of(alpha, beta, what):
    assert alpha > 0 and beta > 0, (what, alpha, beta)
    return alpha / (alpha + beta)


def assert_alpha_leads(alpha, beta, what):
    """On the wall clock (the format tests' own requests): both functions
    there, work_alpha ahead. Their exact weights are judged on the CPU clock
    (test_split_is_three_to_one_in_every_format)."""
    assert alpha > beta > 0, (what, alpha, beta)


# ---- tests ------------------------------------------------------------------------

def test_text(httpd):
    headers, body = fetch(httpd, "text")
    check_headers(headers, "text", body)
    text = body.decode("utf-8")
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]", text)
    head, rows = parse_text(text)
    assert head[0] == "mod_reqprof: GET %stext HTTP/1.1" % WORK_PATH
    assert any(l.startswith("Status:   200 ") for l in head), head
    assert any(l.startswith("Samples:  ") and "interval 1000 us, clock wall" in l
               for l in head), head
    alpha, beta = text_weight(rows, "work_alpha"), text_weight(rows, "work_beta")
    assert_alpha_leads(alpha, beta, "text")
    node = next(r for r in rows if r["func"] == "work_alpha")
    assert node["obj"] == "mod_rpwork.so"
    # The top frames hold the whole profile.
    top = sum(r["ms"] for r in rows if r["depth"] == 0)
    assert (alpha + beta) / top > 0.85, (alpha, beta, top)


def test_collapsed(httpd):
    headers, body = fetch(httpd, "collapsed")
    check_headers(headers, "collapsed", body)
    stacks = parse_collapsed(body.decode("utf-8"))
    alpha = collapsed_weight(stacks, "work_alpha")
    beta = collapsed_weight(stacks, "work_beta")
    assert_alpha_leads(alpha, beta, "collapsed")
    total = sum(c for _, c in stacks)
    assert (alpha + beta) / total > 0.85
    assert total >= 150, total  # ~200 intervals of 1 ms, more under load
    frames = {f for fs, _ in stacks for f in fs}
    assert "work_alpha [mod_rpwork.so]" in frames
    assert any(f.startswith("burn_cpu_split [mod_rpwork.so]") for f in frames)


def test_speedscope(httpd):
    import jsonschema
    schema = speedscope_schema()
    headers, body = fetch(httpd, "speedscope")
    check_headers(headers, "speedscope", body)
    doc = json.loads(body.decode("utf-8"))
    jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert doc["exporter"] == "mod_reqprof"
    assert doc["name"] == "GET " + WORK_PATH + "speedscope"
    (profile,) = doc["profiles"]
    assert profile["type"] == "sampled" and profile["unit"] == "milliseconds"
    assert profile["startValue"] == 0
    assert len(profile["samples"]) == len(profile["weights"]) > 0
    assert abs(profile["endValue"] - sum(profile["weights"])) < 1e-6
    frames = doc["shared"]["frames"]
    for stack in profile["samples"]:
        assert all(0 <= i < len(frames) for i in stack)

    def weight(func):
        return sum(w for stack, w in zip(profile["samples"], profile["weights"])
                   if any(frames[i]["name"] == func for i in stack))
    assert_alpha_leads(weight("work_alpha"), weight("work_beta"), "speedscope")
    alpha = next(f for f in frames if f["name"] == "work_alpha")
    assert alpha["file"] in ("mod_rpwork.so", "mod_rpwork.c") or \
        alpha["file"].endswith("/mod_rpwork.c"), alpha
    # Stacks are root first: the handler comes before work_alpha.
    names = [[frames[i]["name"] for i in s] for s in profile["samples"]]
    deep = next(n for n in names if "work_alpha" in n)
    assert deep.index("rpwork_handler") < deep.index("work_alpha"), deep


def test_json(httpd):
    headers, body = fetch(httpd, "json")
    pid = check_headers(headers, "json", body)
    doc = json.loads(body.decode("utf-8"))
    assert doc["format"] == "mod_reqprof" and doc["version"] == 1
    req = doc["request"]
    assert req["method"] == "GET" and req["uri"] == WORK_PATH + "json"
    assert req["protocol"] == "HTTP/1.1" and req["status"] == 200
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", req["started"])
    assert doc["process"]["pid"] == pid
    assert doc["process"]["mpm"] == httpd.mpm
    s = doc["sampling"]
    assert s["clock"] == "wall" and s["interval_us"] == 1000
    assert s["wall_ms"] >= 200 and s["cpu_ms"] >= 150
    assert s["samples"] == len(doc["samples"]) > 0
    assert s["intervals"] == doc["tree"]["total"] == sum(x["weight"] for x in doc["samples"])
    assert "handler" in doc["phases"] and doc["phases"]["handler"]["first_us"] >= 0
    assert doc["phases"]["handler"]["intervals"] > 0
    for key in ("proc_readable", "signals", "wait_signals", "remote_unwinds",
                "stale_unwinds", "late_intervals", "sampler_cpu_ms", "dropped",
                "truncated_stacks", "wait_intervals"):
        assert key in s, key
    # Every sample points at a node of the tree; times only grow.
    ids = {}

    def index(node):
        ids[node["id"]] = node
        for c in node["children"]:
            index(c)
    index(doc["tree"])
    assert all(x["node"] in ids for x in doc["samples"])
    times = [x["t_us"] for x in doc["samples"]]
    assert times == sorted(times)
    assert_alpha_leads(json_tree_weight(doc, "work_alpha"),
                        json_tree_weight(doc, "work_beta"), "json")
    alpha = next(f for f in doc["frames"] if f["name"] == "work_alpha")
    assert alpha["object"] == "mod_rpwork.so" and alpha["resolved"] is True
    # What the report's views fold by default, and which objects are modules.
    assert "libc.so*" in doc["collapse"] and "apache2" in doc["collapse"]
    assert {"object": "mod_rpwork.so", "module": "rpwork_module"} in doc["modules"]


def test_pprof(httpd):
    headers, body = fetch(httpd, "pprof")
    check_headers(headers, "pprof", body)
    assert body[:2] == b"\x1f\x8b"
    out, _ = run_pprof(body, "-raw")
    header, types, samples, locations = parse_pprof_raw(out)
    assert header["PeriodType"] == ["wall nanoseconds"], header
    assert header["Period"] == ["1000000"], header
    assert any(c.startswith("mod_reqprof: GET %spprof" % WORK_PATH)
               for c in header.get("Comment", [])), header
    assert types == ["samples/count", "wall/nanoseconds", "cpu/nanoseconds"], types
    assert all("phase:[" in labels and "waiting:[" in labels for _, _, labels in samples)
    count, wall = types.index("samples/count"), types.index("wall/nanoseconds")
    cpu = types.index("cpu/nanoseconds")
    period = int(header["Period"][0])
    # Each sample's values agree with each other: its wall value is whole
    # intervals, at least one per sample merged into it; its CPU value the
    # same when the thread ran, 0 when it waited.
    for v, _, labels in samples:
        assert v[wall] % period == 0 and v[wall] >= v[count] * period >= period, (v, labels)
        assert v[cpu] == (0 if "waiting:[true]" in labels else v[wall]), (v, labels)
    # The values add up to the total: one interval per period of the
    # sampled request, so the wall values sum to the profile's duration
    # (DurationNanos, read from the file itself) within 5 % and one
    # interval, as the report's own count does (test_sampler.py).
    total = sum(v[wall] for v, _, _ in samples)
    duration = pprof_field(body, PPROF_DURATION_NANOS)
    assert duration and abs(total - duration) <= 0.05 * duration + period, (total, duration)

    def weight(func):
        ids = {i for i, name in locations.items() if name == func}
        assert ids, (func, locations)
        return sum(v[wall] for v, locs, _ in samples if ids & set(locs))
    assert_alpha_leads(weight("work_alpha"), weight("work_beta"), "pprof -raw")
    # pprof's own aggregation agrees.
    top, _ = run_pprof(body, "-top", "-sample_index=wall", "-unit=ms", "-nodecount=200")
    m = re.search(r"of ([\d.]+)ms total", top)
    assert m and abs(float(m.group(1)) - total / 1e6) < 1, (top[:400], total)
    cum = {}
    for line in top.splitlines():
        m = re.match(r"^\s*([\d.]+)ms\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)ms\s+[\d.]+%\s+(.+)$", line)
        if m:
            cum[m.group(3)] = float(m.group(2))
    assert_alpha_leads(cum.get("work_alpha", 0), cum.get("work_beta", 0), "pprof -top")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_hostile_request_text_in_every_format(httpd, fmt):
    """Bytes that are not UTF-8, quotes and backslashes in the URI stay
    harmless in every format."""
    raw = (b"GET /work/cpu?ms=20&profile=" + fmt.encode() +
           b"&x=\xff\xfe\"\\<'%1b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    response = raw_request(httpd, raw)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    uri = "/work/cpu?ms=20&profile=%s&x=\ufffd\ufffd\"\\<'%%1b" % fmt
    if fmt == "pprof":
        out, _ = run_pprof(body, "-raw")
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", out)
        assert ("Comment: mod_reqprof: GET %s HTTP/1.1" % uri) in out.splitlines()
        return
    text = body.decode("utf-8")  # valid UTF-8 whatever the request held
    if fmt in ("json", "speedscope"):
        doc = json.loads(text)
        got = doc["request"]["uri"] if fmt == "json" else doc["name"][len("GET "):]
        assert got == uri
    elif fmt == "text":
        assert text.split("\n")[0] == "mod_reqprof: GET %s HTTP/1.1" % uri
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]", text)
    else:
        parse_collapsed(text)  # request text never reaches folded stacks
        assert "\ufffd" not in text


# ---- the 3:1 split, in every format, on the CPU clock --------------------------------


def weights(fmt, body):
    """(work_alpha, work_beta) as the format carries them: inclusive
    weights, nested occurrences once."""
    if fmt == "text":
        _, rows = parse_text(body.decode("utf-8"))
        return text_weight(rows, "work_alpha"), text_weight(rows, "work_beta")
    if fmt == "collapsed":
        stacks = parse_collapsed(body.decode("utf-8"))
        return collapsed_weight(stacks, "work_alpha"), collapsed_weight(stacks, "work_beta")
    if fmt == "json":
        doc = json.loads(body.decode("utf-8"))
        assert doc["sampling"]["clock"] == "cpu", doc["sampling"]
        return json_tree_weight(doc, "work_alpha"), json_tree_weight(doc, "work_beta")
    if fmt == "speedscope":
        doc = json.loads(body.decode("utf-8"))
        (profile,) = doc["profiles"]
        names = [f["name"] for f in doc["shared"]["frames"]]

        def weight(func):
            return sum(w for stack, w in zip(profile["samples"], profile["weights"])
                       if any(names[i] == func for i in stack))
    else:
        assert fmt == "pprof", fmt
        out, _ = run_pprof(body, "-raw")
        header, types, samples, locations = parse_pprof_raw(out)
        assert header["PeriodType"] == ["cpu nanoseconds"], header
        column = types.index("cpu/nanoseconds")

        def weight(func):
            ids = {i for i, name in locations.items() if name == func}
            return sum(v[column] for v, locs, _ in samples if ids & set(locs))
    return weight("work_alpha"), weight("work_beta")


@pytest.fixture(scope="module")
def split_exports(httpd):
    """The same request on the CPU clock, once in each format, back to
    back on one server (a request is rendered in one format only)."""
    return {fmt: fetch(httpd, fmt, SPLIT_PATH)[1] for fmt in sorted(FORMATS)}


def test_split_is_three_to_one_in_every_format(split_exports):
    """Each format carries the workload's 3:1 split, and the formats agree
    with each other: a weighting bug in one exporter (or in all) fails."""
    shares = {fmt: share_of(*weights(fmt, body), fmt) for fmt, body in split_exports.items()}
    for fmt, share in shares.items():
        assert SPLIT_LOW <= share <= SPLIT_HIGH, (fmt, shares)
    assert max(shares.values()) - min(shares.values()) <= SPLIT_AGREE, shares
