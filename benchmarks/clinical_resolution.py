"""The whole pipeline on the clinical-resolution synthetic cohort: wall time, peak memory and test Dice (issue 16).

The cohort is `synth --acquisition clinical` (0.55-0.65 mm pixels on 323-382 x 200-236 matrices, 25 slices of
3.3 mm, stored LSP/LAS/RSP, int16 with a header slope); the run is one `sacroiliitis-dlr run` process, so its
peak memory is the resident set of that process and all its children (fold-model workers, report kernels),
polled every 0.5 s. Stage times come from the run's ledger (`pipeline.json`), the target spacing from
`cohort/plan.json`, Dice (test cohort, on each patient's native 0.6 mm grid) from `segmentation/agreement.csv`.

    .venv/bin/python benchmarks/clinical_resolution.py --work /tmp/clinical            # 485 patients, cpu profile
    .venv/bin/python benchmarks/clinical_resolution.py --work /tmp/cs --n-patients 24 --profile smoke --no-reports

Goals (issue 16): under 30 minutes and 8 GiB for `run --profile cpu`, test Dice >= 0.90. Appends a section to
benchmarks/RESULTS.md unless --no-record.
"""
import argparse, json, sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from _common import commit, machine, measured, pipeline_lines

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "sacroiliitis-dlr")
GOAL_MIN, GOAL_GIB, GOAL_DICE = 30, 8, 0.90  # issue 16


def du(path):
    "Bytes under `path`."
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) if Path(path).exists() else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="folder for the cohort (work/cohort) and the run (work/run)")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--n-patients", type=int, help="default: the profile's (485 for cpu)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-reports", action="store_true", help="skip the report notebooks (say so in the results)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed for the synthesis and for the run, each")
    ap.add_argument("--until", help="UTC time HH:MM (today) by which everything stops; what was measured is recorded")
    ap.add_argument("--note", default="", help="what else ran on the machine, for the results")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    a = ap.parse_args(argv)
    work = Path(a.work); cohort, run = work / "cohort", work / "run"
    now = datetime.now(timezone.utc)
    stop = now.replace(hour=int(a.until[:2]), minute=int(a.until[3:5]), second=0) if a.until else None
    left = lambda: a.timeout if stop is None else min(a.timeout, (stop - datetime.now(timezone.utc)).total_seconds())
    size = ["--n-patients", str(a.n_patients)] if a.n_patients else []
    synth = None
    if not (cohort / "manifest.csv").exists():
        cmd = [CLI, "synth", "--out", str(cohort), "--acquisition", "clinical", "--profile", a.profile, "--seed", str(a.seed)] + size
        m = measured(cmd, left(), every=0.5); rc, secs, peak, load, tail = m.returncode, m.seconds, m.peak_rss, (m.load_mean, m.load_max), m.output
        if rc: sys.exit(f"synth failed ({rc}):\n{tail[-3000:]}")
        synth = dict(wall_s=secs, peak=peak, load=load)
        print(f"== synth: {secs:.1f} s, peak {peak / 2**30:.2f} GiB, {du(cohort) / 2**30:.2f} GiB on disk", flush=True)
    cmd = [CLI, "run", "--cohort", str(cohort), "--out", str(run), "--profile", a.profile, "--seed", str(a.seed), "--quiet"]
    cmd += ["--no-reports"] if a.no_reports else []
    m = measured(cmd, left(), every=0.5); rc, secs, peak, load, tail = m.returncode, m.seconds, m.peak_rss, (m.load_mean, m.load_max), m.output
    print(pipeline_lines(tail), end="", flush=True)
    finished = rc == 0
    led = json.loads((run / "pipeline.json").read_text())["stages"] if (run / "pipeline.json").exists() else {}
    plan = json.loads((run / "cohort" / "plan.json").read_text()) if (run / "cohort" / "plan.json").exists() else {}
    fp = json.loads((run / "cohort" / "fingerprint.json").read_text())["summary"] if (run / "cohort" / "fingerprint.json").exists() else {}
    agr = run / "segmentation" / "agreement.csv"
    dice = pd.read_csv(agr).set_index("scanner") if agr.exists() else None
    n = fp.get("n_patients", a.n_patients)
    lines = [f"\n## Clinical-resolution cohort, whole `{a.profile}` pipeline (issue 16, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)\n",
             f"- machine: {machine()}; 1-min load average during the run: mean {load[0]:.1f}, max {load[1]:.1f}"
             + (f"; {a.note}" if a.note else ""),
             f"- commit: {commit()}; command: `python benchmarks/clinical_resolution.py {' '.join(argv or sys.argv[1:])}`",
             f"- cohort: {n} patients, `synth --acquisition clinical` (spacing median {fp.get('spacing_mm', {}).get('median')} mm, "
             f"RAS x, y, z; shape median {fp.get('shape', {}).get('median')}; stored orientations {fp.get('orientations')}; "
             f"{fp.get('n_scaled')} images with a header slope); {du(cohort) / 2**30:.2f} GiB on disk",
             f"- plan: target spacing {plan.get('target_spacing_mm')} mm ({plan.get('rule')}); harmonised shape median "
             f"{plan.get('median_shape_voxels')}; U-Net patch {plan.get('patch_size_voxels')} voxels = {plan.get('patch_mm')} mm; "
             f"image cache {du(run / 'cache') / 2**20:.0f} MiB",
             f"- reports: {'not run (--no-reports)' if a.no_reports else 'run'}; the run {'finished' if finished else f'did NOT finish (exit {rc}' + (f', stopped at --until {a.until} UTC' if stop and datetime.now(timezone.utc) >= stop else '') + ')'}",
             "", "| step | wall | peak memory (process tree) |", "|---|---:|---:|"]
    if synth: lines.append(f"| synth --acquisition clinical | {synth['wall_s'] / 60:.1f} min | {synth['peak'] / 2**30:.2f} GiB |")
    lines.append(f"| **run --profile {a.profile}** | **{secs / 60:.1f} min** (goal < {GOAL_MIN}) | **{peak / 2**30:.2f} GiB** (goal < {GOAL_GIB}) |")
    order = ["cohort", "segmentation", "roi", "classification", "radiomics", "stacking", "combined", "summary", "reports"]
    lines += [f"| stage {s} | {led[s]['elapsed_s'] / 60:.1f} min | |" for s in sorted(led, key=lambda s: order.index(s) if s in order else 99)
              if led[s].get("elapsed_s") is not None]
    if dice is not None:
        per = ", ".join(f"{s} {dice.loc[s, 'dice_mean']:.3f}" for s in dice.index if s != "all")
        lines += ["", f"Test Dice (n = {int(dice.loc['all', 'n'])}, against the manual masks on each patient's native grid): "
                      f"**{dice.loc['all', 'dice_mean']:.3f}** (goal >= {GOAL_DICE}; {per}); HD95 mean "
                      f"{dice.loc['all', 'hd95_mean_mm']:.2f} mm; volume ICC {dice.loc['all', 'icc']:.3f}."]
    if not finished: lines += ["", "Last output of the run:", "```", *tail.splitlines()[-15:], "```"]
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.no_record:
        with open(a.results, "a") as f: f.write(text)
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
