"""The bench's verdict rule (bench/run.py), checked without running the
bench: a figure that was not measured (None, NaN, a run without samples, a
section that failed or was not run, a size that was skipped, a sampler
thread that was not found) is "not measured", never "met"; every target has
its row in the targets table, whatever happened; the table says what state
the machine was in."""
import importlib.util
import math
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAN = float("nan")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_run", os.path.join(REPO, "bench", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def always(_):
    return True


# ---- the rule ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, NAN, (0.97, NAN), (None, 1.0), [], [1.0, NAN],
                                   "1.0", True])
def test_no_figure_is_never_met(bench, value):
    assert bench.verdict(value, always) == "not measured"
    assert bench.verdict_abs(value, always) == "not measured"


def test_a_figure_is_judged(bench):
    assert bench.verdict(2.0, lambda x: x <= 3) == "met"
    assert bench.verdict(4.0, lambda x: x <= 3) == "MISSED"
    assert bench.verdict((0.96, 1.01), lambda x: 0.95 <= x[0] and x[1] <= 1.05) == "met"
    assert bench.verdict(2.0, always, noisy=True) == "not judged (noisy)"


def test_a_figure_with_a_run_without_samples_is_not_measured(bench):
    fig = bench.Fig([1.0, NAN, 1.01])
    assert fig.incomplete and math.isnan(fig.median)
    assert bench.verdict_ratio(fig, always) == "not measured"
    assert bench.fmt_ratio(fig).startswith("not measured (1 of 3 runs")
    assert bench.fmt_abs(bench.Fig([None, 2.0])).startswith("not measured (1 of 2 runs")
    assert bench.verdict_ratio(bench.ratios([1.0, None], [1.0, 1.0]), always) == "not measured"
    assert bench.verdict_ratio(bench.Fig([1.0, 1.01, 1.0]), lambda x: x <= 1.02) == "met"


def test_the_worst_never_drops_a_missing_value(bench):
    # max() keeps whichever of NaN and a number comes first.
    assert max([1.0, NAN]) == 1.0
    assert bench.worst([1.0, NAN, 2.0]) is None
    assert bench.worst([NAN, 1.0]) is None
    assert bench.worst([]) is None
    assert bench.worst([1.0, 2.5, 2.0]) == 2.5
    assert bench.worst([97.0, 99.0], key=lambda x: -x) == 97.0


# ---- the targets table ---------------------------------------------------------------


def base_results(**kw):
    res = {"date": "2026-01-01 00:00 UTC", "duration_s": 60.0, "errors": {}, "only": [],
           "machine": {"nproc": 2, "cpu_model": "test CPU", "kernel": "6.1",
                       "loadavg_start": (0.5, 0.4, 0.3), "loadavg_end": (1.5, 1.0, 0.5),
                       "others": {"interval_s": 2.0, "other_cpu_pct_of_machine": 12.5,
                                  "busiest": [{"comm": "cc1", "pid": 42,
                                               "pct_of_a_core": 20.0}],
                                  "per_section": {"5": {"other_cpu_pct_of_machine": 30.0,
                                                        "loadavg_at_start": 1.2}}}}}
    res.update(kw)
    return res


def targets_table(page):
    """{figure: (target, measured, verdict)} from the targets table."""
    part = page.split("### Targets", 1)[1]
    rows = {}
    for line in part.splitlines():
        if line.startswith("### "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("figure", "---"):
            rows[cells[0]] = tuple(cells[1:])
    return rows


def assert_every_target_has_its_row(bench, rows):
    figures = [what for _, what, _ in bench.target_list()]
    assert sorted(rows) == sorted(figures)


def fig(bench, values):
    return bench.Fig(values).as_json()


def test_every_target_is_listed_when_every_section_failed(bench):
    errors = {k: "Traceback ...\nRuntimeError: section %s broke" % k
              for k, _, _ in bench.SECTIONS}
    page = bench.render_markdown(base_results(errors=errors), [])
    rows = targets_table(page)
    assert_every_target_has_its_row(bench, rows)
    for what, (_, measured, v) in rows.items():
        assert v == "not measured", (what, v)
        assert re.match(r"not measured: section (\d+) failed \(RuntimeError: section \1 broke\)",
                        measured), (what, measured)


def test_sections_not_run_are_said(bench):
    page = bench.render_markdown(base_results(only=["6"]), [])
    rows = targets_table(page)
    assert_every_target_has_its_row(bench, rows)
    assert rows["7. 16 concurrent profiled requests, throughput"][1:] == (
        "not measured: section 7 not run", "not measured")


def accuracy(bench, wall_err_runs):
    ok = fig(bench, [0.1, -0.2, 0.3])
    count = fig(bench, [1.0, 1.0, 1.0])
    per_clock = {
        "wall": {"alpha_share_error_points": fig(bench, wall_err_runs),
                 "alpha_beta_coverage_pct": fig(bench, [99.0] * 3),
                 "cpu_count_ratio": count, "wait_share_pct": fig(bench, [99.0] * 3),
                 "wait_count_ratio": count},
        "cpu": {"alpha_share_error_points": ok,
                "alpha_beta_coverage_pct": fig(bench, [99.0] * 3),
                "cpu_count_ratio": count, "wait_intervals": fig(bench, [1, 0, 1])}}
    mpms = {"prefork": per_clock,
            "worker": dict(per_clock, wall=dict(per_clock["wall"],
                                                alpha_share_error_points=ok)),
            "event": dict(per_clock, wall=dict(per_clock["wall"],
                                               alpha_share_error_points=ok))}
    return {"rounds": 3, "interval_us": 1000, "mpms": mpms}


def test_a_run_without_samples_makes_the_worst_case_not_measured(bench):
    # prefork's wall-clock runs: one had no work_alpha or work_beta samples
    # (NaN); every other figure would meet its target.
    page = bench.render_markdown(base_results(accuracy=accuracy(bench, [0.2, NAN, 0.1])), [])
    rows = targets_table(page)
    assert_every_target_has_its_row(bench, rows)
    _, measured, v = rows["5. Accuracy: work_alpha share error, worst MPM × clock"]
    assert v == "not measured" and "prefork wall" in measured, measured
    assert rows["5. Accuracy: wait_in_poll share (wall), worst MPM"][2] == "met"
    prefork_wall = [l for l in page.splitlines() if l.startswith("| prefork | wall |")]
    assert prefork_wall and prefork_wall[0].endswith("| not measured |"), prefork_wall
    # The same runs with a figure each: judged.
    page = bench.render_markdown(base_results(accuracy=accuracy(bench, [0.2, 5.0, 0.1])), [])
    assert targets_table(page)["5. Accuracy: work_alpha share error, worst MPM × clock"][2] \
        == "met"
    page = bench.render_markdown(base_results(accuracy=accuracy(bench, [4.0, 5.0, 4.5])), [])
    assert targets_table(page)["5. Accuracy: work_alpha share error, worst MPM × clock"][2] \
        == "MISSED"


def render_results(bench, realistic_10k):
    def size(ms):
        return {"runs": 3, "build_ms": fig(bench, [ms / 2] * 3),
                "render_ms": fig(bench, [ms / 2] * 3), "total_ms": fig(bench, [ms] * 3),
                "bytes": fig(bench, [5e5] * 3), "nodes": 1000}
    kinds = {k: {"1000": size(2), "10000": size(20), "100000": size(200)}
             for k in bench.RENDER_KINDS}
    kinds["realistic"]["10000"] = realistic_10k
    return {"depth": 50, "kinds": kinds}


def test_a_skipped_size_is_not_measured(bench):
    skipped = {"skipped": True, "projected_ms": 200000.0, "projected_bytes": 2e9}
    page = bench.render_markdown(base_results(render=render_results(bench, skipped)), [])
    rows = targets_table(page)
    assert_every_target_has_its_row(bench, rows)
    _, measured, v = rows["6. Report, 10 000 samples × depth 50, realistic"]
    assert v == "not measured" and "skipped" in measured, measured


def sampler_results(bench, cpu_runs):
    entry = {"sampler_cpu_pct": fig(bench, cpu_runs),
             "reported_sampler_cpu_pct": fig(bench, [1.0] * len(cpu_runs)),
             "sampler_threads": 1, "late_pct": fig(bench, [0.0] * len(cpu_runs)),
             "late_over_intervals_max": 0.0, "processes": 1, "interrupted_max": 0}
    per = {c: entry for c in ("1", "8", "32")}
    return {"path": "/work/mixed", "interval_us": 1000, "rounds": len(cpu_runs),
            "thread_name": "reqprof-sampler", "modes": {m: per for m in bench.MODES}}


def test_a_sampler_thread_not_found_is_not_measured(bench):
    page = bench.render_markdown(base_results(sampler=sampler_results(bench, [1.0, None])), [])
    rows = targets_table(page)
    for mode in bench.MODES:
        _, measured, v = rows["8. Sampler thread CPU, 8 concurrent, %s" % mode]
        assert v == "not measured" and "reqprof-sampler" in measured, measured
    page = bench.render_markdown(base_results(sampler=sampler_results(bench, [1.0, 1.2])), [])
    rows = targets_table(page)
    assert rows["8. Sampler thread CPU, 8 concurrent, dumpable"][1:] == ("1.10 %", "met")


def test_nothing_is_met_when_every_figure_is_nan(bench):
    res = base_results(accuracy=accuracy(bench, [NAN] * 3),
                       sampler=sampler_results(bench, [NAN] * 3))
    for clock in ("wall", "cpu"):
        for mpm in res["accuracy"]["mpms"].values():
            for k, v in mpm[clock].items():
                mpm[clock] = dict(mpm[clock], **{k: fig(bench, [NAN] * 3)})
    page = bench.render_markdown(res, [])
    rows = targets_table(page)
    assert_every_target_has_its_row(bench, rows)
    assert not [what for what, (_, _, v) in rows.items() if v.startswith("met")], rows
    assert "| met" not in page


def test_the_machine_state_is_printed_with_the_table(bench):
    page = bench.render_markdown(base_results(), [])
    state = [l for l in page.splitlines() if l.startswith("**Machine state:**")]
    assert state, page[:1000]
    assert page.index(state[0]) < page.index("### Targets")
    assert "2 CPUs" in state[0] and "load average 0.50 at the start, 1.50 at the end" in state[0]
    assert "12.5 % of the machine's CPU time" in state[0] and "cc1 (20 % of a core)" in state[0]
    assert "5: 30 % (load 1.20)" in state[0]
