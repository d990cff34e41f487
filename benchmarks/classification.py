"""Benchmark of the classification stage (issue 6), run on demand.

1. fastai `Learner` loop vs a plain PyTorch loop: same network, seed, data, augmentation, optimiser (AdamW),
   one-cycle schedule, class-balanced loss, per-epoch validation AUC and best-epoch keeping; interleaved repeats,
   the fastest of each reported, and their ratio. Times are the process's CPU seconds (training is
   single-threaded, `classification.num_threads=1`), which a busy shared machine disturbs far less than wall time.
2. The whole stage (3 architectures x modalities x 5 folds) on a run folder with `cohort/split.csv` and `rois/`:
   wall time, time per fold per model, training samples per second, and each base model's OOF/test AUC next to
   the imaging oracle's test AUC (`oracle.csv` of the cohort).

Usage:
  .venv/bin/python benchmarks/classification.py --run RUN_DIR [--cohort COHORT_DIR] [--profile cpu]
      [--loop-only | --stage-only] [--reps 2] [--arch resnet50] [--n-jobs N] [--results FILE]
`--prepare` makes the run folder first: the synthetic cohort in --cohort (if missing; sacroiliitis_dlr.synthetic),
its split (data.split_cohort) and the ROIs cropped around the manual masks (rois.run_roi_stage), so the
benchmark needs no trained U-Net. `--toy N` writes toy ROIs for N patients instead.
Appends a section to benchmarks/RESULTS.md (or --results).
"""
import argparse, math, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score

from sacroiliitis_dlr.core import get_profile, seed_everything, read_run_profile, override, init_run
from sacroiliitis_dlr.classification import (make_model, train_model, ROIDataset, roi_augment, class_weights,
                                             predict_probs, torch_threads,
                                             inner_validation, run_classification_stage)
from sacroiliitis_dlr.data import read_split
from sacroiliitis_dlr.rois import load_rois
from sacroiliitis_dlr.testing import make_toy_run
from _common import commit, load_average, machine

HERE = Path(__file__).resolve().parent


def plain_fit(arch, x_tr, y_tr, x_va, y_va, profile, seed):
    "The same training as `train_model`, written as a plain PyTorch loop."
    cfg = profile.classification
    with torch_threads(cfg.num_threads):
        seed_everything(seed)
        model = make_model(arch, profile)
        ds = ROIDataset(x_tr, y_tr, roi_augment(seed))
        dl = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, drop_last=len(ds) > cfg.batch_size)
        vdl = torch.utils.data.DataLoader(ROIDataset(x_va, y_va), batch_size=2 * cfg.batch_size)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * len(dl), pct_start=0.25)
        loss_fn = nn.CrossEntropyLoss(weight=class_weights(y_tr))
        best, best_state = -math.inf, None
        t0 = time.perf_counter()
        for _ in range(cfg.epochs):
            model.train()
            for xb, yb in dl:
                loss = loss_fn(model(xb), yb)
                opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            model.eval(); outs, ys = [], []
            with torch.no_grad():
                for xb, yb in vdl: outs.append(model(xb)); ys.append(yb)
            out, yv = torch.cat(outs), torch.cat(ys)
            loss_fn(out, yv).item()
            auc = roc_auc_score(yv.numpy(), torch.softmax(out, 1)[:, 1].numpy())
            if auc > best or best_state is None:
                best, best_state = auc, {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(best_state)
        return model, time.perf_counter() - t0, best


def loop_benchmark(run, profile, arch, reps, seed=0):
    split = read_split(run)
    images, mods = load_rois(run, split.patient_id, profile.roi.size)
    x = images[:, [mods.index(mods[-1])]]
    y = split.label.to_numpy()
    fit = np.flatnonzero((split.split == "train").to_numpy() & (split.fold.to_numpy() != 0))
    tr, va = inner_validation(y[fit], profile.classification.val_fraction, seed)
    args = (x[fit[tr]], y[fit[tr]], x[fit[va]], y[fit[va]])
    res = {"fastai": [], "plain": []}
    for r in range(reps):
        for kind in (("fastai", "plain") if r % 2 == 0 else ("plain", "fastai")):
            t0, c0 = time.perf_counter(), time.process_time()
            if kind == "fastai": train_model(arch, *args, profile=profile, seed=seed, quiet=True)
            else: plain_fit(arch, *args, profile, seed)
            # CPU time of this (single-threaded) process: on a shared machine wall time mostly measures the others
            res[kind].append(time.process_time() - c0)
            print(f"  {kind:6s} rep {r}: {res[kind][-1]:.1f} s CPU, {time.perf_counter() - t0:.1f} s wall (load {load_average():.1f})", flush=True)
    n = len(tr) * profile.classification.epochs
    return dict(arch=arch, modality=mods[-1], n_train=len(tr), epochs=profile.classification.epochs,
                fastai_s=min(res["fastai"]), plain_s=min(res["plain"]), ratio=min(res["fastai"]) / min(res["plain"]),
                fastai_samples_per_s=n / min(res["fastai"]), plain_samples_per_s=n / min(res["plain"]),
                all_fastai=[round(v, 1) for v in res["fastai"]], all_plain=[round(v, 1) for v in res["plain"]])


def stage_benchmark(run, profile, cohort, seed=0):
    t0 = time.perf_counter()
    out = run_classification_stage(run, profile=profile, seed=seed, force=True, quiet=True)
    wall = time.perf_counter() - t0
    log = pd.read_csv(out/"training_log.csv")
    per_model = log.groupby("model").agg(folds=("fold", "size"), s_per_fold=("seconds", "mean"), cpu_s_per_fold=("cpu_seconds", "mean"),
                                         samples_per_s=("samples_per_s", "mean"), best_epoch=("best_epoch", "mean"))
    bm = pd.read_csv(out/"base_metrics.csv")
    aucs = bm.pivot(index="model", columns="split", values="auc").rename(columns={"train_oof": "oof_auc", "test": "test_auc"})
    acc = bm[bm.split == "test"].set_index("model").accuracy.rename("test_acc")
    table = per_model.join(aucs).join(acc)
    oracle = None
    if cohort and (Path(cohort)/"oracle.csv").exists():
        split = read_split(run)
        orc = pd.read_csv(Path(cohort)/"oracle.csv", dtype={"patient_id": str}).merge(split, on="patient_id")
        te = orc[orc.split == "test"]
        oracle = roc_auc_score(te.label, te.oracle_imaging)
    return wall, table, oracle, log


def prepare(run, cohort_dir, profile, seed=0, n_jobs=None):
    "Synthetic cohort (if missing), split and ROIs around the manual masks."
    from sacroiliitis_dlr.synthetic import make_cohort
    from sacroiliitis_dlr.data import load_cohort, split_cohort
    from sacroiliitis_dlr.rois import run_roi_stage
    t0 = time.perf_counter()
    if not (Path(cohort_dir)/"manifest.csv").exists(): make_cohort(cohort_dir, seed=seed, profile=profile, n_jobs=n_jobs)
    cohort = load_cohort(cohort_dir)
    run = init_run(run, profile, seed=seed)
    (run/"cohort").mkdir(exist_ok=True)
    split_cohort(cohort, profile.cohort.test_size, profile.cohort.n_folds, seed=seed).to_csv(run/"cohort"/"split.csv", index=False)
    run_roi_stage(run, cohort, profile=override(profile, roi__mask_source="manual"), quiet=True)
    print(f"prepared {run} in {time.perf_counter() - t0:.0f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run folder with cohort/split.csv and rois/")
    ap.add_argument("--cohort", default=None, help="cohort folder (for oracle.csv)")
    ap.add_argument("--profile", default=None, help="default: the run's own")
    ap.add_argument("--toy", type=int, default=0, help="write toy ROIs for this many patients into --run first")
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--loop-only", action="store_true")
    ap.add_argument("--stage-only", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--results", default=str(HERE/"RESULTS.md"), help="file the section is appended to")
    ap.add_argument("--n-jobs", type=int, default=None, help="override classification.n_jobs")
    ap.add_argument("--prepare", action="store_true", help="make cohort (if missing), split and ROIs first")
    ap.add_argument("--note", default="", help="a line added to the section")
    a = ap.parse_args()
    run = Path(a.run)
    if a.toy: make_toy_run(run, a.profile or "cpu", n_patients=a.toy)
    if a.prepare: prepare(run, a.cohort, get_profile(a.profile or "cpu"), n_jobs=a.n_jobs)
    profile = get_profile(a.profile) if a.profile else read_run_profile(run)
    if a.n_jobs: profile = override(profile, classification__n_jobs=a.n_jobs)
    lines = [f"\n## Classification ({profile.name} profile) - {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n",
             f"- machine: {machine()} (shared machine)",
             f"- commit: {commit()}; run: {run}{' (toy ROIs)' if a.toy else ''}; cohort: {a.cohort}",
             f"- profile.classification: {profile.classification}; roi.size {profile.roi.size}"]
    if a.note: lines.append(f"- {a.note}")
    if not a.stage_only:
        print("fastai vs plain loop ...", flush=True)
        r = loop_benchmark(run, profile, a.arch, a.reps)
        lines += ["", f"fastai Learner vs plain PyTorch loop ({r['arch']}_{r['modality']}, fold 0, {r['n_train']} training ROIs, "
                  f"{r['epochs']} epochs, fastest of {a.reps} interleaved repeats):", "",
                  "| loop | CPU seconds | samples/CPU-s | all repeats (CPU s) |", "|---|---|---|---|",
                  f"| fastai | {r['fastai_s']:.1f} | {r['fastai_samples_per_s']:.0f} | {r['all_fastai']} |",
                  f"| plain | {r['plain_s']:.1f} | {r['plain_samples_per_s']:.0f} | {r['all_plain']} |",
                  "", f"fastai/plain ratio: **{r['ratio']:.3f}** (goal <= 1.10)"]
        print("\n".join(lines[-8:]), flush=True)
    if not a.loop_only:
        print("whole stage ...", flush=True)
        wall, table, oracle, log = stage_benchmark(run, profile, a.cohort)
        lines += ["", f"Whole stage: **{wall / 60:.1f} min** wall for {int(table.folds.sum())} fold models "
                  f"(goal < 20 min, aim 10); load average at end {load_average():.1f}; training CPU time {log.cpu_seconds.sum() / 60:.1f} min, "
                  f"i.e. about {log.cpu_seconds.sum() / 60 / profile.classification.n_jobs:.1f} min wall on {profile.classification.n_jobs} idle cores", "",
                  table.round(3).reset_index().to_markdown(index=False)]
        if oracle is not None:
            best = table.test_auc.max()
            lines += ["", f"Imaging oracle test AUC {oracle:.3f}; best single base model test AUC {best:.3f} "
                      f"({table.test_auc.idxmax()}); gap {oracle - best:.3f} (goal <= 0.10)"]
        print("\n".join(lines[-40:]), flush=True)
    if not a.no_write:
        with open(a.results, "a") as f: f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
