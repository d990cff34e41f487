"""Wall time and peak memory of each pipeline stage, and of a rerun with nothing to do.

Each stage runs through the CLI in its own process (`sacroiliitis-dlr run --stages <stage>`), so its peak memory is
its own: the resident set size of that process and its children (the report kernels), polled every 0.2 s. The
stage's own time (without Python start-up and imports) comes from the run's ledger, `pipeline.json`.

    .venv/bin/python benchmarks/pipeline.py                      # cpu profile, data/synthetic, reports/bench-cpu
    .venv/bin/python benchmarks/pipeline.py --profile smoke --cohort /tmp/smoke --out /tmp/bench-smoke

Appends a section to benchmarks/RESULTS.md (figures, machine, commit, date).
"""
import argparse, json, sys
from datetime import datetime, timezone
from pathlib import Path

from _common import commit, machine, measured as _measured, pipeline_lines


def measured(cmd, timeout):
    "Run `cmd` (`_common.measured`), printing its progress lines; (exit code, wall s, peak tree RSS, output); over `timeout` s: TimeoutError."
    m = _measured(cmd, timeout)
    if m.timed_out: raise TimeoutError(f"{' '.join(cmd)} ran over {timeout} s")
    print(pipeline_lines(m.output), end="", flush=True)
    return m.returncode, m.seconds, m.peak_rss, m.output

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "sacroiliitis-dlr")
STAGES = ["cohort", "segmentation", "roi", "classification", "radiomics", "stacking", "combined", "summary", "reports"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--cohort", default=str(ROOT / "data" / "synthetic"))
    ap.add_argument("--out", help="run folder (default: reports/bench-<profile>; must not hold a finished run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per stage")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    a = ap.parse_args(argv)
    out = Path(a.out or ROOT / "reports" / f"bench-{a.profile}")
    at_start = machine()
    synth = None
    if not (Path(a.cohort) / "manifest.csv").exists():
        rc, secs, peak, tail = measured([CLI, "synth", "--out", a.cohort, "--profile", a.profile, "--seed", str(a.seed)], a.timeout)
        assert rc == 0, tail
        synth = f"| (synth: the cohort) | ran | {secs:.1f} | | {peak / 2**20:.0f} |"
    base = [CLI, "run", "--cohort", a.cohort, "--out", str(out), "--profile", a.profile, "--seed", str(a.seed), "--quiet"]
    rows = []
    for st in STAGES:
        rc, secs, peak, tail = measured(base + ["--stages", st], a.timeout)
        if rc: sys.exit(f"stage {st} failed:\n{tail}")
        led = json.loads((out / "pipeline.json").read_text())["stages"][st]
        rows.append(dict(stage=st, wall_s=secs, stage_s=led.get("elapsed_s"), peak_mib=peak / 2**20,
                         action="ran" if f"{st}: running" in tail else "skipped"))
        print(f"== {st}: {secs:.1f} s wall, peak {peak / 2**20:.0f} MiB")
    rc, rerun_s, rerun_peak, tail = measured(base + ["--stages", ",".join(STAGES)], a.timeout)
    assert rc == 0 and ": running" not in tail, tail
    total = sum(r["wall_s"] for r in rows)
    lines = [f"\n## Pipeline stages, `{a.profile}` profile ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)\n",
             f"- machine: {at_start}\n- commit: {commit()}\n- command: `python benchmarks/pipeline.py {' '.join(argv or sys.argv[1:])}`"
             f" (cohort `{a.cohort}`, run `{out}`)\n- "
             f"Each stage in its own CLI process (wall includes Python start-up and imports, ~5-10 s); "
             f"stage = the stage function alone (ledger); peak = resident memory of the process and its children.\n",
             "| stage | action | wall (s) | stage (s) | peak memory (MiB) |", "|---|---|---:|---:|---:|"] + ([synth] if synth else [])
    lines += [f"| {r['stage']} | {r['action']} | {r['wall_s']:.1f} | {r['stage_s'] if r['stage_s'] is not None else '-'} "
              f"| {r['peak_mib']:.0f} |" for r in rows]
    lines += [f"| **all stages** | | **{total:.1f}** ({total / 60:.1f} min) | | **{max(r['peak_mib'] for r in rows):.0f}** |",
              f"| rerun, nothing to do | skipped all | {rerun_s:.1f} | | {rerun_peak / 2**20:.0f} |", ""]
    text = "\n".join(lines)
    print(text)
    res = Path(a.results)
    if not res.exists(): res.write_text("# Benchmarks\n")
    with open(res, "a") as f: f.write(text + "\n")


if __name__ == "__main__":
    main()
