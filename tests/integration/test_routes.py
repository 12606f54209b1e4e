"""Per-route views: every profile's group (ReqProfileGroup, by default the
method and path), the index's groups table and a group's page, through
two real httpd (event and prefork) writing every request to one real
redis-server, and through a directory store."""
import html
import math
import re
import urllib.parse

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
