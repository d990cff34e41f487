"""`evaluate` on a new site: the wall-clock time and peak memory of a finished run applied to a site's cohort, without and
with updating, and what it found (issue 27).

Make the site first (a 1.5 T scanner the default cohort never uses, 30% prevalence, another seed), then time:

    .venv/bin/sacroiliitis-dlr synth --out /tmp/site-b --profile cpu --seed 1 --scanner S4 --n-patients 200 --prevalence 0.3
    .venv/bin/python benchmarks/external.py --run reports/synthetic-cpu --site /tmp/site-b --work /tmp/external-bench

Each command runs once in its own process (the package's imports included); the results are appended to
benchmarks/RESULTS.md with the machine, the commit and the load average while it ran. Not part of `make test`.
"""
import argparse, json, shutil, sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from _common import commit, machine, measured

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent/"sacroiliitis-dlr")


def run_one(run, site, out, update):
    "One `evaluate` in a fresh process: its `Measured` (a failure stops the benchmark with the command's output)."
    cmd = [CLI, "evaluate", str(run), "--cohort", str(site), "--out", str(out), "--quiet"] + (["--update"] if update else [])
    m = measured(cmd, timeout=3600)
    if m.returncode != 0: sys.exit(f"{' '.join(cmd)} failed ({m.returncode}):\n{m.output[-3000:]}")
    return m


def findings(out):
    "The combined model's AUC beside the oracle, its calibration, and the update's honest estimate (when made)."
    met = pd.read_csv(out/"metrics.csv").set_index("model").loc["combined"]
    cal = pd.read_csv(out/"calibration.csv").set_index("model").loc["combined"]
    lines = [f"combined AUC {met.auc:.3f} ({met.auc_lo:.3f}-{met.auc_hi:.3f}); sensitivity {met.sensitivity:.3f}, "
             f"specificity {met.specificity:.3f} at the training cut-off {met.cutoff:.3f}",
             f"calibration in the large {cal.citl:.3f} ({cal.citl_lo:.3f} to {cal.citl_hi:.3f}), slope {cal.slope:.3f} "
             f"({cal.slope_lo:.3f} to {cal.slope_hi:.3f}), E/O {cal.e_o:.3f}"]
    if (out/"oracle.csv").exists():
        o = pd.read_csv(out/"oracle.csv").set_index("model").loc["combined"]
        lines.append(f"oracle AUC {o.oracle_auc:.3f}; gap {o.gap:.3f} ({o.gap_lo:.3f}-{o.gap_hi:.3f})")
    if (out/"updated.csv").exists():
        ev = json.loads((out/"evaluation.json").read_text())
        c = pd.read_csv(out/"updated.csv").set_index("estimate").loc["corrected"]
        lines.append(f"update chosen: {ev['update']['method']}; optimism-corrected calibration in the large {c.citl:.3f}, "
                     f"slope {c.slope:.3f}, AUC {c.auc:.3f}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a finished run folder (the bundle)")
    ap.add_argument("--site", required=True, help="the site's cohort folder")
    ap.add_argument("--work", required=True, help="a scratch folder (replaced)")
    ap.add_argument("--also", default="nothing else", help="what else ran on the machine meanwhile (for RESULTS.md)")
    ap.add_argument("--no-append", action="store_true", help="print the section, do not append it to RESULTS.md")
    a = ap.parse_args()
    work = Path(a.work); shutil.rmtree(work, ignore_errors=True); work.mkdir(parents=True)
    head = machine()
    n = len(pd.read_csv(Path(a.site)/"manifest.csv"))
    plain, upd = run_one(a.run, a.site, work/"plain", False), run_one(a.run, a.site, work/"updated", True)
    sec = [f"\n## External evaluation of {n} patients (issue 27) ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)\n",
           f"- machine: {head}; meanwhile: {a.also}", f"- commit: {commit()}",
           f"- command: `.venv/bin/python benchmarks/external.py --run {a.run} --site {a.site} --work <tmp>`", "",
           "| command | wall-clock | peak memory | load average (mean / max) |", "|---|---:|---:|---:|"]
    for name, m in (("evaluate", plain), ("evaluate --update", upd)):
        sec.append(f"| `{name}` | {m.seconds/60:.1f} min ({m.seconds:.0f} s) | {m.peak_rss/2**30:.2f} GiB | {m.load_mean:.1f} / {m.load_max:.1f} |")
    sec += ["", *[f"- {l}" for l in findings(work/"updated")], ""]
    text = "\n".join(sec)
    print(text)
    if not a.no_append:
        with open(ROOT/"benchmarks"/"RESULTS.md", "a") as f: f.write(text)


if __name__ == "__main__": main()
