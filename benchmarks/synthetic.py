"""Benchmark: write the default synthetic cohort (485 patients, T1WI + FS-T2WI + masks, cpu profile) and load it.

Run on demand:  .venv/bin/python benchmarks/synthetic.py [--n-jobs 2] [--out /tmp/bench_cohort] [--keep]
Appends a section to benchmarks/RESULTS.md: write time, load_cohort (validation) time, load_patient time,
folder size, oracle AUCs, rater-vs-truth mask Dice, the machine (cores, CPU model), the commit and the date.
Target (issue 3): the cohort is written in under 2 minutes on 2 cores.
"""
import argparse, datetime, resource, shutil, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from sacroiliitis_dlr.synthetic import make_cohort
from sacroiliitis_dlr.data import load_cohort, load_patient, split_cohort
from _common import commit, load_average, machine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="cohort folder (default: a temporary folder, removed afterwards)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    a = ap.parse_args()
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp())/"cohort"
    load0 = load_average()
    cpu = lambda: sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    c0, t0 = cpu(), time.perf_counter(); man = make_cohort(out, seed=a.seed, profile=a.profile, n_jobs=a.n_jobs, overwrite=True)
    t_write, c_write = time.perf_counter() - t0, cpu() - c0
    t0 = time.perf_counter(); coh = load_cohort(out); t_load = time.perf_counter() - t0
    ids = list(coh.manifest.patient_id[:20])
    t0 = time.perf_counter()
    for p in ids: load_patient(coh, p)
    t_patient = (time.perf_counter() - t0)/len(ids)
    size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())/2**20
    orc = pd.read_csv(out/"oracle.csv").merge(man[["patient_id", "label"]], on="patient_id")
    aucs = {c: roc_auc_score(orc.label, orc[c]) for c in ("oracle_imaging", "oracle_clinical", "oracle_both")}
    lat = pd.read_csv(out/"latents.csv")
    sp = split_cohort(coh)
    lines = [f"## synthetic cohort: write + load ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
             f"- machine: {machine(load=False)}; load average before the run {load0:.2f} (machine shared)",
             f"- commit: {commit()}", f"- command: `python benchmarks/synthetic.py --n-jobs {a.n_jobs} --profile {a.profile} --seed {a.seed}`", "",
             "| measure | value |", "|---|---|",
             f"| patients (positive) | {len(man)} ({int(man.label.sum())}) |",
             f"| make_cohort, {a.n_jobs} processes, wall | {t_write:.1f} s (target < 120 s) |",
             f"| make_cohort, CPU time of all processes (wall on {a.n_jobs} idle cores is about CPU/{a.n_jobs}) | {c_write:.1f} s |",
             f"| load_cohort (validates every file) | {t_load:.1f} s |",
             f"| load_patient (harmonise, no cache), mean of 20 | {t_patient*1000:.0f} ms |",
             f"| folder size | {size_mb:.0f} MiB |",
             *[f"| AUC {k} (target {t}) | {v:.3f} |" for (k, v), t in zip(aucs.items(), (0.90, 0.75, 0.94))],
             f"| manual mask vs true SIJ region, Dice median [IQR] | {lat.mask_dice_vs_truth.median():.3f} "
             f"[{lat.mask_dice_vs_truth.quantile(.25):.3f}, {lat.mask_dice_vs_truth.quantile(.75):.3f}] |",
             f"| split train/test | {(sp.split == 'train').sum()}/{(sp.split == 'test').sum()} |", ""]
    text = "\n".join(lines)
    print(text)
    if not a.no_record:
        res = Path(__file__).parent/"RESULTS.md"
        with open(res, "a") as f: f.write(("" if res.exists() and res.stat().st_size else "# Benchmarks\n\n") + text + "\n")
    if not a.keep and not a.out: shutil.rmtree(out.parent)

if __name__ == "__main__": main()
