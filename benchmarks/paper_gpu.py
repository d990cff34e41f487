"""Paper-profile check on a GPU (issue 8), run on demand on a machine with CUDA.

The `paper` profile's code path, unchanged except for the number of epochs, on the synthetic default cohort:

1. the synthetic cohort (485 patients) and its split, as `make report` makes them;
2. the segmentation stage (`run_segmentation_stage`) with the paper U-Net (channels 32-320, patch (128, 32, 96),
   batch 2, 256 patches per epoch), `--seg-epochs` epochs instead of 300, then inference on all 485 patients;
3. the ROI stage at the paper ROI size (112, 32, 112) around the manual masks;
4. `train_fold` for fold 0 of each paper-width network (ResNet50, ResNet101, DenseNet121; first stride 2, batch 8,
   lr 1e-3) on FS-T2WI with `--cls-epochs` epochs instead of 100.

Every epoch is timed by an observing fastai callback (added to `fastai.learner.defaults.callbacks`, so the stage
code is untouched); the first epoch (cuDNN autotuning, allocator warm-up) is reported apart from the steady ones,
and the full paper schedule is extrapolated from the steady epochs. Results go to `--out` as JSON after every step
(a run cut short still leaves what it measured) and as a Markdown section.

Usage (device machine): python benchmarks/paper_gpu.py --work /tmp/paper --out $OUT [--seg-epochs 3] [--cls-epochs 4]
       data-loader workers: ... --skip-seg --n-patients 200 --archs resnet50 --workers 0,8
"""
import argparse, json, os, platform, sys, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import fastai.learner
from fastai.callback.core import Callback

from sacroiliitis_dlr.core import get_profile, override, init_run, git_commit
from sacroiliitis_dlr.synthetic import make_cohort
from sacroiliitis_dlr.data import load_cohort, read_split
from sacroiliitis_dlr.segmentation import run_segmentation_stage, run_roi_stage
from sacroiliitis_dlr.classification import load_rois, train_fold, count_parameters, make_model
from sacroiliitis_dlr.pipeline import run_cohort_stage


class EpochTimer(Callback):
    "Wall time of every epoch (CUDA synchronised), kept on the class so the driver can read it after a fit."
    order, epochs = 100, []
    def before_epoch(self):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        self.t0 = time.perf_counter()
    def after_epoch(self):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        EpochTimer.epochs.append(time.perf_counter() - self.t0)


def take_epochs():
    out, EpochTimer.epochs = list(EpochTimer.epochs), []
    return out


def epoch_summary(times, full_epochs):
    steady = times[1:] or times
    per = float(np.median(steady))
    return dict(epoch_s=[round(t, 2) for t in times], first_epoch_s=round(times[0], 2), steady_epoch_s=round(per, 2),
                full_schedule_epochs=full_epochs, full_schedule_min=round((times[0] + per * (full_epochs - 1)) / 60, 1))


def gpu_peak_gib():
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None


def machine():
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return dict(cores=os.cpu_count(), gpu=gpu, torch=torch.__version__, python=platform.python_version(),
                cudnn=torch.backends.cudnn.version() if torch.cuda.is_available() else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/paper-gpu", help="cohort and run folders go here")
    ap.add_argument("--out", default=".", help="results.json and results.md are written here")
    ap.add_argument("--seg-epochs", type=int, default=3)
    ap.add_argument("--cls-epochs", type=int, default=4)
    ap.add_argument("--archs", default="resnet50,densenet121,resnet101")
    ap.add_argument("--n-jobs", type=int, default=os.cpu_count())
    ap.add_argument("--n-patients", type=int, default=0, help="a smaller synthetic cohort (0: the profile's 485)")
    ap.add_argument("--skip-seg", action="store_true", help="no segmentation stage (ROIs come from the manual masks anyway)")
    ap.add_argument("--workers", default="", help="comma-separated classification.num_workers values to compare, e.g. 0,8")
    ap.add_argument("--profile", default="paper", help="another profile only to try the script out (e.g. smoke on a CPU)")
    a = ap.parse_args()
    fastai.learner.defaults.callbacks = list(fastai.learner.defaults.callbacks) + [EpochTimer]
    work, out = Path(a.work), Path(a.out); out.mkdir(parents=True, exist_ok=True)
    paper = get_profile(a.profile)
    if a.n_patients:
        paper = override(paper, cohort__n_patients=a.n_patients, cohort__n_positive=round(a.n_patients * 288 / 485))
    res = dict(date=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", machine=machine(), commit=git_commit(),
               seg_epochs=a.seg_epochs, cls_epochs=a.cls_epochs, steps={})
    def save(): (out/"results.json").write_text(json.dumps(res, indent=1))
    def step(name, **kv):
        res["steps"][name] = kv; save(); print(name, kv, flush=True)

    t0 = time.perf_counter()
    make_cohort(work/"cohort", seed=0, profile=paper, n_jobs=a.n_jobs)
    cohort = load_cohort(work/"cohort")
    step("cohort", seconds=round(time.perf_counter() - t0, 1), n=len(cohort.manifest))

    run = init_run(work/"run", paper, seed=0)
    run_cohort_stage(run, cohort, paper, seed=0, quiet=True)
    seg_profile = override(paper, segmentation__epochs=a.seg_epochs)
    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    t0 = time.perf_counter()
    seg = None if a.skip_seg else run_segmentation_stage(run, cohort, seg_profile, seed=0, quiet=True)
    if seg is not None:
        timing, agree = json.loads((seg/"timing.json").read_text()), pd.read_csv(seg/"agreement.csv")
        step("segmentation", stage_seconds=round(time.perf_counter() - t0, 1), device=timing["device"],
         train_seconds=round(timing["train_seconds"], 1), infer_s_per_patient=round(timing["infer_seconds_per_patient"], 3),
         gpu_peak_gib=gpu_peak_gib(), unet=dict(channels=paper.segmentation.channels, patch=paper.segmentation.patch_size,
         batch=paper.segmentation.batch_size, patches_per_epoch=paper.segmentation.patches_per_epoch),
         test_agreement=agree.round(3).to_dict("records"), **epoch_summary(take_epochs(), paper.segmentation.epochs))

    t0 = time.perf_counter()
    run_roi_stage(run, cohort, override(paper, roi__mask_source="manual"), quiet=True)
    split = read_split(run)
    images, mods = load_rois(run, split.patient_id, paper.roi.size)
    step("roi", seconds=round(time.perf_counter() - t0, 1), roi_size=paper.roi.size, shape=list(images.shape))

    cls_profile = override(paper, classification__epochs=a.cls_epochs)
    jobs = [(arch, None) for arch in a.archs.split(",")] if not a.workers else \
           [(arch, int(w)) for arch in a.archs.split(",") for w in a.workers.split(",")]
    for arch, w in jobs:
        prof = cls_profile if w is None else override(cls_profile, classification__num_workers=w)
        name = f"classification_{arch}" + ("" if w is None else f"_workers{w}")
        torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
        t0 = time.perf_counter()
        info = train_fold(arch, "FS-T2WI", 0, images, tuple(mods), split, work/name, prof, seed=0, quiet=True)
        step(name, seconds=round(time.perf_counter() - t0, 1), n_train=info["n_train"],
             batch=paper.classification.batch_size, params_m=round(count_parameters(make_model(arch, paper)) / 1e6, 2),
             gpu_peak_gib=gpu_peak_gib(), val_auc=round(info["val_auc"], 3),
             **epoch_summary(take_epochs(), paper.classification.epochs))

    lines = [f"\n## Paper profile on a GPU ({res['date']})\n",
             f"- machine: {res['machine']}", f"- commit: {res['commit']}",
             f"- command: `python benchmarks/paper_gpu.py {' '.join(sys.argv[1:])}`", "",
             "| step | epochs run | first epoch (s) | steady epoch (s) | full paper schedule (min) | GPU peak (GiB) | other |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, s in res["steps"].items():
        if "epoch_s" in s:
            other = {k: v for k, v in s.items() if k not in ("epoch_s", "first_epoch_s", "steady_epoch_s", "full_schedule_min",
                                                               "full_schedule_epochs", "gpu_peak_gib", "test_agreement")}
            lines.append(f"| {name} | {len(s['epoch_s'])} | {s['first_epoch_s']} | {s['steady_epoch_s']} | "
                         f"{s['full_schedule_min']} ({s['full_schedule_epochs']} epochs) | {s['gpu_peak_gib']} | {other} |")
        else: lines.append(f"| {name} | | | | | | {s} |")
    (out/"results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
