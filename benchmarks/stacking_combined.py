"""Issue 7's goals, measured on a finished run: test AUC order combined > DLR signature > best single CNN, and the
combined model's test AUC against the oracle (both) AUC from the cohort's oracle.csv (the ceiling; never read by a
model). Nothing is tuned here: it only reads the run folder's artefacts.

    .venv/bin/python benchmarks/stacking_combined.py --run reports/synthetic-cpu --cohort data/synthetic
    .venv/bin/python benchmarks/stacking_combined.py --run RUN --cohort COHORT --rerun   # also time both stages afresh

Appends a section to benchmarks/RESULTS.md (figures, machine, commit, date).
"""
import argparse, json, shutil, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from sacroiliitis_dlr.core import atomic_write
from sacroiliitis_dlr.metrics import auc_ci, delong_test
from _common import commit, machine

ROOT = Path(__file__).resolve().parents[1]


def rerun_times(run, cohort_dir):
    "Wall and CPU seconds of the stacking and combined stages rerun on a copy of the run folder."
    from sacroiliitis_dlr.combined import run_combined_stage
    from sacroiliitis_dlr.data import load_cohort
    from sacroiliitis_dlr.stacking import run_stacking_stage
    cohort = load_cohort(cohort_dir)
    with tempfile.TemporaryDirectory() as d:
        dst = Path(d)/"run"
        dst.mkdir()
        for part in ("config.json", "cohort", "classification"):
            src = run/part
            if src.is_dir(): shutil.copytree(src, dst/part, ignore=shutil.ignore_patterns("checkpoints", "gradcam"))
            else: shutil.copy(src, dst/part)
        out = {}
        for name, fn in (("stacking", run_stacking_stage), ("combined", run_combined_stage)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn(dst, cohort, quiet=True)
            out[name] = (time.perf_counter() - t0, time.process_time() - c0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="a run folder with finished stacking and combined stages")
    ap.add_argument("--cohort", required=True, help="the cohort folder (holding oracle.csv)")
    ap.add_argument("--rerun", action="store_true", help="also time both stages afresh on a copy of the run")
    ap.add_argument("--no-write", action="store_true", help="print only, do not append to RESULTS.md")
    a = ap.parse_args()
    run, cohort_dir = Path(a.run), Path(a.cohort)
    split = pd.read_csv(run/"cohort"/"split.csv", dtype={"patient_id": str})
    test = split[split.split == "test"].set_index("patient_id")
    oracle = pd.read_csv(cohort_dir/"oracle.csv", dtype={"patient_id": str}).set_index("patient_id").loc[test.index]
    met = pd.read_csv(run/"combined"/"metrics.csv")
    sel = json.loads((run/"combined"/"selection.json").read_text())
    ssel = json.loads((run/"stacking"/"selection.json").read_text())
    learners = pd.read_csv(run/"stacking"/"meta_learners.csv")
    t = met[met.cohort == "test"].set_index("model")
    y = test.label.values
    preds = pd.read_csv(run/"combined"/"predictions.csv", dtype={"patient_id": str})
    comb = preds[(preds.model == "combined") & (preds.split == "test")].set_index("patient_id").prob.loc[test.index]
    orc = {c: auc_ci(y, oracle[c]) for c in ("oracle_imaging", "oracle_clinical", "oracle_both")}
    vs_oracle = delong_test(y, comb.values, oracle.oracle_both.values)
    best = sel.get("best_base_model", sel.get("best_cnn"))  # best_cnn: runs before issue 17
    order = t.auc["combined"] > t.auc["dlr_signature"] > t.auc[best]
    gap = orc["oracle_both"][0] - t.auc["combined"]
    times = rerun_times(run, cohort_dir) if a.rerun else None
    cfg = json.loads((run/"config.json").read_text())

    lines = [f"## Stacking and combined model: issue 7 goals ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
             f"- machine: {machine()}", f"- commit: {commit()}",
             f"- run: `{run}` (profile {cfg['profile']['name']}, seed {cfg['seed']}), cohort `{cohort_dir}`: "
             f"{(split.split == 'train').sum()} train / {len(test)} test patients",
             f"- command: `.venv/bin/python benchmarks/stacking_combined.py --run {run} --cohort {cohort_dir}"
             f"{' --rerun' if a.rerun else ''}`",
             f"- DLR signature = `{ssel['selected']}` (nested-CV AUC {ssel['cv_auc']:.3f}); best single CNN (train OOF AUC) = "
             f"`{best}`; clinical factors selected: {', '.join(sel['selected'])}",
             f"- **order combined > DLR signature > best single CNN on test: {'met' if order else 'NOT met'}**",
             f"- **combined vs oracle (both): {t.auc['combined']:.3f} vs {orc['oracle_both'][0]:.3f}, gap {gap:.3f} "
             f"(goal <= 0.05: {'met' if gap <= 0.05 else 'NOT met'}); DeLong p = {vs_oracle.p_value:.3f}**", "",
             "| model (test cohort) | AUC (95% CI) | accuracy | sensitivity | specificity |", "|---|---|---:|---:|---:|"]
    for m in ("combined", "dlr_signature", best, "clinical"):
        r = t.loc[m]
        lines.append(f"| {m} | {r.auc:.3f} ({r.auc_lo:.3f}-{r.auc_hi:.3f}) | {r.accuracy:.3f} | {r.sensitivity:.3f} | {r.specificity:.3f} |")
    for c, (auc, lo, hi) in orc.items(): lines.append(f"| {c} (ceiling) | {auc:.3f} ({lo:.3f}-{hi:.3f}) | | | |")
    lines += ["", "| meta-learner | nested-CV AUC (95% CI) | test AUC (95% CI) |", "|---|---|---|"]
    for r in learners.itertuples():
        lines.append(f"| {r.learner}{' (selected)' if r.selected else ''} | {r.cv_auc:.3f} ({r.cv_auc_lo:.3f}-{r.cv_auc_hi:.3f}) "
                     f"| {r.test_auc:.3f} ({r.test_auc_lo:.3f}-{r.test_auc_hi:.3f}) |")
    if times:
        lines += ["", "| stage (rerun on a copy) | wall (s) | CPU (s) |", "|---|---:|---:|"]
        lines += [f"| {k} | {w:.1f} | {c:.1f} |" for k, (w, c) in times.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.no_write:
        res = ROOT/"benchmarks"/"RESULTS.md"
        atomic_write(res, res.read_text().rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
