"""Per-route views: every profile's group (ReqProfileGroup, by default the
method and path), the index's groups table and a group's page, through
two real httpd (event and prefork) writing every request to one real
redis-server, and through a directory store."""
import html
import math
import re
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

from http_util import request
from httpd_harness import Httpd
from test_fleet import (Redis, index_rows, parse_record, profiles_dir, redis_conf,  # noqa: F401
                        redises, servers, start_httpd, start_redis, wait_until)

HOSTILE = '<script>alert("g")</script>&#x27;'

ROUTES_CONF = """ReqProfileLog On
<Location /work/io>
  ReqProfileGroup "io %{REQUEST_METHOD}"
</Location>
<Location /work/mixed>
  ReqProfileGroup "%{HTTP:X-Group}"
</Location>
"""


def nearest_rank(values, q):
    values = sorted(values)
    return values[max(1, math.ceil(q / 100.0 * len(values))) - 1]


def group_url(name, hours=1):
    return "/profiles/?group=%s&hours=%d" % (urllib.parse.quote(name, safe=""), hours)


def groups_table(page):
    """The index's groups table: name -> (count, p50, p95, slowest)."""
    out = {}
    for m in re.finditer(r'<tr class="rp-group-row">(.*?)</tr>', page):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))
        name = html.unescape(re.sub(r"<[^>]+>", "", cells[0]))
        out[name] = (int(cells[1]), float(cells[2]), float(cells[3]), float(cells[4]))
    return out


def stat_of(page):
    """The numbers of a group's page."""
    def num(cls):
        return float(re.search(r'<span class="rp-%s">([\d.]+)</span>' % cls, page).group(1))
    return (int(num("count")), num("p50"), num("p95"), num("p99"), num("max"))


def records_by_group(records):
    out = {}
    for rec in records:
        out.setdefault(rec["group"], []).append(rec)
    return out


def run_workload(servers_):
    """Requests of four groups on each server; the profile ids they got."""
    ids = []
    for n, server in enumerate(servers_):
        for ms in (3, 9, 5, 14, 7, 4):
            st, h, _ = request(server, "/work/cpu?ms=%d&n=%d" % (ms, n))
            assert st == 200
        for ms in (2, 6, 4):
            st, _, _ = request(server, "/work/io/wait?ms=%d" % ms)
            assert st == 200
        st, _, _ = request(server, "/work/mixed/cpu?ms=2", headers={"X-Group": HOSTILE})
        assert st == 200
    return ids


def stored_records(redis):
    out = []
    for profile_id in redis.index_ids():
        line = redis.call("HGET", "reqprof:p:" + profile_id, ".record").decode()
        rec = parse_record(line)
        rec["id"] = profile_id
        out.append(rec)
    return out


def test_groups_across_two_servers(redises, servers):
    """Every record names its group; the index's table and each group's
    page give exactly the count, the nearest-rank p50/p95/p99 and the
    slowest of the group's records over both servers, the five slowest in
    order, and only the group's profiles (narrowed by server). Names with
    HTML in them appear escaped and percent-encoded in links."""
    redis = start_redis(redises)
    web_e = start_httpd(servers, "event", redis_conf("e.test", redis, more=ROUTES_CONF))
    web_p = start_httpd(servers, "prefork", redis_conf("p.test", redis, more=ROUTES_CONF))
    run_workload([web_e, web_p])
    assert wait_until(lambda: len(redis.index_ids()) == 20, timeout=10), len(redis.index_ids())
    records = stored_records(redis)
    groups = records_by_group(records)
    assert set(groups) == {"GET /work/cpu", "io GET", HOSTILE}
    assert len(groups["GET /work/cpu"]) == 12 and len(groups["io GET"]) == 6

    # The log records carry the group too.
    for server in (web_e, web_p):
        assert 'group="GET /work/cpu"' in server.read_error_log()
        assert "group=\"io GET\"" in server.read_error_log()

    st, _, body = request(web_p, "/profiles/")
    assert st == 200
    page = body.decode()
    assert "<script>alert" not in page
    table = groups_table(page)
    assert set(table) == set(groups)
    for name, recs in groups.items():
        durs = [float(r["dur_ms"]) for r in recs]
        count, p50, p95, slowest = table[name]
        assert count == len(recs)
        assert p50 == pytest.approx(nearest_rank(durs, 50), abs=0.06)
        assert p95 == pytest.approx(nearest_rank(durs, 95), abs=0.06)
        assert slowest == pytest.approx(max(durs), abs=0.06)
    assert "?group=%s&amp;hours=1" % urllib.parse.quote(HOSTILE, safe="") in page
    # Slowest group first.
    assert list(table) == sorted(table, key=lambda g: -table[g][3])

    for name, recs in groups.items():
        st, _, body = request(web_e, group_url(name))
        assert st == 200
        page = body.decode()
        assert "<script>alert" not in page
        durs = [float(r["dur_ms"]) for r in recs]
        count, p50, p95, p99, slowest = stat_of(page)
        assert count == len(recs)
        assert (p50, p95, p99, slowest) == pytest.approx(
            (nearest_rank(durs, 50), nearest_rank(durs, 95), nearest_rank(durs, 99), max(durs)),
            abs=0.0006)
        section = page[page.index('class="rp-slowest"'):]
        section = section[:section.index("</table>")]
        shown = re.findall(r'<tr class="rp-slow" data-id="([^"]+)"', section)
        expected = [r["id"] for r in sorted(recs, key=lambda r: -float(r["dur_ms"]))][:5]
        assert shown == expected
        listed = {row["id"] for row in index_rows(page)}
        assert listed == {r["id"] for r in recs}
        # Narrowed to one server.
        st, _, body = request(web_e, group_url(name) + "&server=p.test")
        assert {row["id"] for row in index_rows(body.decode())} == \
            {r["id"] for r in recs if r["server"] == "p.test"}
    # The route's flame graphs with a hostile name: escaped there too.
    for view in ("merged", "diff"):
        st, _, body = request(web_e, "/profiles/?%s=%s&hours=1"
                              % (view, urllib.parse.quote(HOSTILE, safe="")))
        assert st == 200 and b"<script>alert" not in body, view
    # A group with no profile in the window says so.
    st, _, body = request(web_e, group_url("GET /nowhere"))
    assert st == 200 and "No profile of this group" in body.decode()


def test_groups_with_a_directory_store(servers):
    """The same views over a directory store (the slowest kept past the
    limit are a shared store's only)."""
    server = Httpd("event", extra="")
    servers.append(server)
    path = profiles_dir(server)
    server.write_config("ReqProfile On\nReqProfileDir %s\nReqProfileDirLimit 100 100M\n"
                        "<Location /profiles/>\n  SetHandler reqprof-index\n</Location>\n"
                        % path + ROUTES_CONF, True, (), 8)
    server.start()
    run_workload([server])
    # Saved as each request is logged, just after its response.
    assert wait_until(lambda: len(index_rows(request(server, "/profiles/")[2].decode())) == 10)
    st, _, body = request(server, "/profiles/")
    page = body.decode()
    table = groups_table(page)
    assert set(table) == {"GET /work/cpu", "io GET", HOSTILE}
    assert table["GET /work/cpu"][0] == 6 and table["io GET"][0] == 3
    st, _, body = request(server, group_url("io GET"))
    page = body.decode()
    assert stat_of(page)[0] == 3
    assert 'class="rp-kept"' not in page
    assert len(index_rows(page)) == 3


# ---- merged and differential flame graphs ---------------------------------------------

def stacks_of(redis, profile_id):
    """A profile's saved stacks: stack -> (cpu_us, wait_us)."""
    out = {}
    for line in redis.saved(profile_id, ".stacks").decode().splitlines():
        stack, cpu, wait = line.rsplit(" ", 2)
        out[stack] = (int(cpu), int(wait))
    return out


def summed(redis, ids):
    total = {}
    for profile_id in ids:
        for stack, (cpu, wait) in stacks_of(redis, profile_id).items():
            c, w = total.get(stack, (0, 0))
            total[stack] = (c + cpu, w + wait)
    return total


def collapsed(text):
    out = {}
    for line in text.splitlines():
        stack, count = line.rsplit(" ", 1)
        out[stack] = int(count)
    return out


def test_merged_flame_graph_is_the_sum_of_its_requests(redises, servers):
    """A route's merged profile over both servers holds exactly the stacks
    of its requests, each weighing the time they took there (on CPU and
    waiting), and renders as a report and in every format."""
    redis = start_redis(redises)
    web_e = start_httpd(servers, "event", redis_conf("e.test", redis, more=ROUTES_CONF))
    web_p = start_httpd(servers, "prefork", redis_conf("p.test", redis, more=ROUTES_CONF))
    run_workload([web_e, web_p])
    assert wait_until(lambda: len(redis.index_ids()) == 20, timeout=10)
    groups = records_by_group(stored_records(redis))
    for name in ("GET /work/cpu", "io GET"):
        ids = [r["id"] for r in groups[name]]
        expected = summed(redis, ids)
        assert expected
        st, _, body = request(web_e, "/profiles/?merged=%s&hours=1&format=collapsed"
                              % urllib.parse.quote(name, safe=""))
        assert st == 200
        assert collapsed(body.decode()) == {s: c + w for s, (c, w) in expected.items()}
        st, headers, body = request(web_p, "/profiles/?merged=%s&hours=1"
                                    % urllib.parse.quote(name, safe=""))
        assert st == 200 and headers["content-type"].startswith("text/html")
        page = body.decode()
        assert "%d profiles, the last 1 hour" % len(ids) in page
        leaf = "work_alpha" if name == "GET /work/cpu" else "wait_in_poll"
        assert leaf in page
        for fmt in ("text", "speedscope", "pprof", "json"):
            st, _, body = request(web_p, "/profiles/?merged=%s&hours=1&format=%s"
                                  % (urllib.parse.quote(name, safe=""), fmt))
            assert st == 200 and len(body) > 0, fmt
    # The waiting time stays waiting: the io route's JSON says how much.
    io_wait = sum(w for c, w in summed(redis, [r["id"] for r in groups["io GET"]]).values())
    assert io_wait > 0
    st, _, body = request(web_e, "/profiles/?merged=io%20GET&hours=1&format=text")
    assert "wait" in body.decode().lower()
    # How one request was sampled (signals, late intervals) says nothing of
    # a sum: the sampling line says what the profile is instead.
    sampling = [l for l in body.decode().splitlines() if l.startswith("Sampling:")]
    assert len(sampling) == 1
    assert "the stacks of %d saved profiles, summed" % len(groups["io GET"]) in sampling[0]
    assert "signals" not in sampling[0]
    # An unknown format is a 404, an empty window an empty profile.
    assert request(web_e, "/profiles/?merged=io%20GET&format=nope")[0] == 404
    st, _, body = request(web_e, "/profiles/?merged=nothing%20here&hours=1&format=collapsed")
    assert st == 200 and body == b""


MIX_CONF = """ReqProfileLog On
<Location /work>
  ReqProfileGroup "mix"
</Location>
"""


def frames(page):
    """The diff graph's frames: name -> list of (before %, after %, fill,
    classes)."""
    out = {}
    for m in re.finditer(r'<g class="([^"]*)" data-name="([^"]*)" data-before="([\d.]+)" '
                         r'data-after="([\d.]+)"><title>[^<]*</title><rect [^>]*fill="(#[0-9a-f]+)"',
                         page):
        out.setdefault(html.unescape(m.group(2)), []).append(
            (float(m.group(3)), float(m.group(4)), m.group(5), m.group(1)))
    return out


def share(stacks, frame):
    """The share of a summed stack set's time that passed through frame."""
    total = sum(c + w for c, w in stacks.values())
    through = sum(c + w for s, (c, w) in stacks.items() if frame in s.split(";"))
    return 100.0 * through / total


def copy_to_the_past(redis, profile_id, minutes):
    """The same profile, as if its request had started minutes ago."""
    stamp, rest = profile_id.split("Z-", 1)
    t = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)
    t -= timedelta(minutes=minutes)
    new_id = t.strftime("%Y%m%dT%H%M%S.%f") + "Z-" + rest
    fields = redis.call("HGETALL", "reqprof:p:" + profile_id)
    redis.call("HSET", "reqprof:p:" + new_id, *fields)
    redis.call("ZADD", "reqprof:index", int(t.timestamp() * 1000), new_id)
    return new_id


def test_differential_flame_graphs(redises, servers):
    """A profile against its route, and the last hour against the hour
    before (profiles put there by copying real ones): the function whose
    share grew is red with the shares the stacks give, the one that shrank
    blue, frames of one side only marked; names are escaped."""
    redis = start_redis(redises)
    server = start_httpd(servers, "event", redis_conf("d.test", redis, more=MIX_CONF))
    for _ in range(4):
        assert request(server, "/work/cpu?ms=12")[0] == 200
        assert request(server, "/work/io/wait?ms=12")[0] == 200
    assert wait_until(lambda: len(redis.index_ids()) == 8, timeout=10)
    records = stored_records(redis)
    io_id = next(r["id"] for r in records if r["path"] == "/work/io/wait")
    all_ids = [r["id"] for r in records]
    before, after = summed(redis, all_ids), stacks_of(redis, io_id)

    st, _, body = request(server, "/profiles/?diff=mix&hours=1&id=" + io_id)
    assert st == 200
    page = body.decode()
    got = frames(page)
    (b, a, fill, cls), = got["wait_in_poll"]
    assert b == pytest.approx(share(before, "wait_in_poll [mod_rpwork.so]"), abs=0.02)
    assert a == pytest.approx(share(after, "wait_in_poll [mod_rpwork.so]"), abs=0.02)
    assert a > b + 30
    assert fill.startswith("#ff") and fill != "#ffffff", fill   # red: grew
    (b, a, fill, cls), = got["work_alpha"]
    assert a == 0 and b == pytest.approx(share(before, "work_alpha [mod_rpwork.so]"), abs=0.02)
    assert "rp-only-before" in cls and fill.endswith("ff") and not fill.startswith("#ff"), fill
    assert "profile " + io_id in page and "8 profiles" in page

    # The hour before holds copies of the four CPU profiles only.
    for r in records:
        if r["path"] == "/work/cpu":
            copy_to_the_past(redis, r["id"], 70)
    st, _, body = request(server, "/profiles/?diff=mix&hours=1")
    page = body.decode()
    assert "the 1 hour before, 4 profiles" in page and "the last 1 hour, 8 profiles" in page
    got = frames(page)
    (b, a, fill, cls), = got["work_alpha"]
    assert b > a > 0 and not fill.startswith("#ff")           # shrank: blue
    assert "rp-only-after" in got["wait_in_poll"][0][3]
    # A function table by self time: growth first, shrinkage last.
    rows = re.findall(r'<tr class="rp-diff-func[^"]*"><td class="mono">([^<]*)</td>', page)
    assert rows[0] == "[syscall poll]" and rows[-1] == "work_alpha", rows

    # An empty side says so; a bad id is a 404.
    st, _, body = request(server, "/profiles/?diff=nothing&hours=1")
    assert st == 200 and "has no samples" in body.decode()
    assert request(server, "/profiles/?diff=mix&hours=1&id=../../x")[0] == 404


CLONE = """
local fields = redis.call('HGETALL', 'reqprof:p:' .. ARGV[1])
for n = 1, tonumber(ARGV[2]) do
  redis.call('HSET', 'reqprof:p:' .. ARGV[1] .. n, unpack(fields))
  redis.call('ZADD', 'reqprof:index', ARGV[3], ARGV[1] .. n)
end
return 1
"""


def test_a_large_group_page_lists_its_newest_rows(redises, servers):
    """A group of 603 profiles: its numbers cover all of them, its table the
    newest 500, and the page says so."""
    redis = start_redis(redises)
    server = start_httpd(servers, "event", redis_conf("l.test", redis, more=ROUTES_CONF))
    for ms in (2, 3, 4):
        assert request(server, "/work/cpu?ms=%d" % ms)[0] == 200
    assert wait_until(lambda: len(redis.index_ids()) == 3, timeout=10)
    first = redis.index_ids()[0]
    score = redis.call("ZSCORE", "reqprof:index", first)
    redis.call("EVAL", CLONE, 0, first, 600, score)
    st, _, body = request(server, group_url("GET /work/cpu"))
    page = body.decode()
    assert stat_of(page)[0] == 603
    assert len(index_rows(page)) == 500
    assert "The newest 500 of the 603 profiles that match are listed." in page
