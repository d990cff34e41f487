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

5. (issue 19) today's path against the new ones, in one run, on fold 0 of each network: `today` is the paper
   profile as it is (8 loader workers doing the augmentation); `workers0` the augmentation in the training process;
   `gpuaug` the same MONAI transforms applied to each ROI of the batch on the GPU (the loader only copies);
   `bf16` bf16 autocast (fastai's MixedPrecision, where `torch.cuda.is_bf16_supported()`); `cl3d` channels-last-3d
   weights and inputs; `new` all three. Each variant's steady epoch time, its ratio to `today`, the GPU utilisation
   (nvidia-smi, sampled every 0.5 s during the fit), the validation AUC (4 epochs: noisy) and, for bf16 and
   channels-last, the largest logit difference from fp32 on one batch (same weights) are reported;
6. (issue 19) several fold models per GPU: 1, 2, 4 ResNet50 fold models at once on GPU 0 through the submitit local
   executor (`jobs.ExecutorConfig(jobs_per_gpu=N)`, the package's own path), each job's fit time from its checkpoint;
7. the whole paper profile on one GPU extrapolated from the above: U-Net 300 epochs + 30 fold models x 100 epochs,
   scaled to the full cohort's training ROIs per fold, for today's path and for the fastest variant with the best
   number of models per GPU (assuming the two gains compose: a figure to check with a real grid run).

Usage (device machine, about 8-9 minutes on an H100): python benchmarks/paper_gpu.py --work /tmp/paper --out $OUT
       a dry run on a CPU: ... --profile smoke --n-patients 40 --seg-epochs 1 --cls-epochs 2 --concurrent 1,2
"""
import argparse, json, os, subprocess, sys, threading, time
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
from sacroiliitis_dlr.segmentation import run_segmentation_stage
from sacroiliitis_dlr.rois import run_roi_stage
from fastai.callback.fp16 import MixedPrecision
from monai.utils import convert_to_tensor

from sacroiliitis_dlr.classification import train_fold, count_parameters, make_model, train_folds_submitit
from sacroiliitis_dlr.rois import load_rois
from sacroiliitis_dlr.jobs import ExecutorConfig
from sacroiliitis_dlr.data import run_cohort_stage
from _common import machine_facts as machine


class EpochTimer(Callback):
    "Wall time of every epoch (CUDA synchronised), kept on the class so the driver can read it after a fit."
    order, epochs = 100, []
    def before_epoch(self):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        self.t0 = time.perf_counter()
    def after_epoch(self):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        EpochTimer.epochs.append(time.perf_counter() - self.t0)


class GPUAugment(Callback):
    "The training set's MONAI transforms applied to each ROI of the batch on its device, instead of in the loader."
    order = 5
    def before_fit(self):
        ds = self.dls.train.dataset
        self.tf, ds.transform = ds.transform, None
    def before_batch(self):
        if self.training and self.tf is not None:
            self.learn.xb = (torch.stack([convert_to_tensor(self.tf(x), track_meta=False) for x in self.xb[0]]),)
    def after_fit(self): self.dls.train.dataset.transform = self.tf


class BF16(MixedPrecision):
    "bf16 autocast (no gradient scaling: bf16 has fp32's range)."
    def __init__(self): super().__init__(amp_mode="bf16")


class ChannelsLast3d(Callback):
    "Channels-last-3d weights and inputs (cuDNN's NDHWC kernels)."
    order = 6
    def before_fit(self): self.learn.model.to(memory_format=torch.channels_last_3d)
    def before_batch(self): self.learn.xb = tuple(x.contiguous(memory_format=torch.channels_last_3d) for x in self.xb)


VARIANTS = {"today": (), "workers0": (), "gpuaug": (GPUAugment,), "bf16": (BF16,), "cl3d": (ChannelsLast3d,),
            "new": (GPUAugment, BF16, ChannelsLast3d)}


class GPUUtil:
    "GPU 0's utilisation (%), sampled with nvidia-smi every 0.5 s in a thread while the block runs; None without it."
    def __enter__(self):
        self.samples, self.stop = [], threading.Event()
        def sample():
            while not self.stop.wait(0.5):
                try: out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                           "-i", "0"], capture_output=True, text=True, timeout=5).stdout.strip()
                except (OSError, subprocess.TimeoutExpired): return
                if out.isdigit(): self.samples.append(int(out))
        self.thread = threading.Thread(target=sample, daemon=True); self.thread.start()
        return self
    def __exit__(self, *exc): self.stop.set(); self.thread.join()
    @property
    def mean(self): return round(float(np.mean(self.samples)), 1) if self.samples else None


def logit_difference(arch, profile, images, variant):
    "Largest |logit| difference between fp32 and `variant` (bf16 or cl3d) for one batch, same weights (None on a CPU)."
    if not torch.cuda.is_available() or variant not in ("bf16", "cl3d", "new"): return None
    torch.manual_seed(0)
    model = make_model(arch, profile).cuda().eval()
    x = torch.as_tensor(images[:profile.classification.batch_size, 1:2]).cuda()
    with torch.no_grad():
        ref = model(x).float()
        if variant in ("cl3d", "new"):
            model = model.to(memory_format=torch.channels_last_3d); x = x.contiguous(memory_format=torch.channels_last_3d)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=variant in ("bf16", "new")): out = model(x).float()
    return round(float((out - ref).abs().max()), 4)


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


def extrapolate(res, a, paper, n_train):
    "The whole paper profile on one GPU, today's path and the fastest one, from the measured epochs (minutes)."
    steps, full = res["steps"], 264  # training ROIs of a fold model of the 485-patient cohort (4/5 of 388, less validation)
    scale = full / n_train if n_train else 1.0
    seg = steps.get("segmentation", {}).get("steady_epoch_s")
    seg_min = seg * paper.segmentation.epochs / 60 if seg else None
    per_arch = lambda v: [steps[k]["steady_epoch_s"] for k in steps if k.startswith("classification_") and k.endswith("_" + v)]
    grid = lambda per_epoch: 2 * 5 * sum(per_epoch) * scale * paper.classification.epochs / 60  # 2 modalities x 5 folds
    conc = {int(k.rsplit("x", 1)[1]): s["model_epoch_s"] for k, s in steps.items() if k.startswith("concurrent_")}
    gain = conc[1] / min(conc.values()) if conc.get(1) else 1.0
    variants = [v for v in a.variants.split(",") if len(per_arch(v)) == len(a.archs.split(","))]
    if "today" not in variants: return
    best = min(variants, key=lambda v: sum(per_arch(v)))
    today_min, best_min = grid(per_arch("today")), grid(per_arch(best)) / gain
    res["estimate"] = dict(training_rois_scale=round(scale, 2), unet_min=seg_min and round(seg_min, 1),
                           grid_today_min=round(today_min, 1), fastest_variant=best, models_per_gpu_gain=round(gain, 2),
                           grid_new_min=round(best_min, 1),
                           paper_today_min=round(today_min + (seg_min or 0), 1), paper_new_min=round(best_min + (seg_min or 0), 1),
                           cnn_epoch_speedup={v: round(sum(per_arch("today")) / sum(per_arch(v)), 2) for v in variants})


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
    ap.add_argument("--variants", default="today,gpuaug,bf16,cl3d,new", help=f"comma-separated, of {sorted(VARIANTS)}")
    ap.add_argument("--concurrent", default="1,2,4", help="ResNet50 fold models at once on GPU 0 (submitit local jobs); empty: skip")
    ap.add_argument("--profile", default="paper", help="another profile only to try the script out (e.g. smoke on a CPU)")
    a = ap.parse_args()
    base_callbacks = list(fastai.learner.defaults.callbacks) + [EpochTimer]
    fastai.learner.defaults.callbacks = list(base_callbacks)
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
    run_cohort_stage(run, cohort, profile=paper, seed=0)
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
    run_roi_stage(run, cohort, profile=override(paper, roi__mask_source="manual"), quiet=True)
    split = read_split(run)
    images, mods = load_rois(run, split.patient_id, paper.roi.size)
    step("roi", seconds=round(time.perf_counter() - t0, 1), roi_size=paper.roi.size, shape=list(images.shape))

    cls_profile = override(paper, classification__epochs=a.cls_epochs)
    n_train_full = None
    for arch in a.archs.split(","):
        for v in a.variants.split(","):
            prof = override(cls_profile, classification__num_workers=0) if v == "workers0" else cls_profile
            fastai.learner.defaults.callbacks = list(base_callbacks) + list(VARIANTS[v])
            name = f"classification_{arch}_{v}"
            torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
            t0 = time.perf_counter()
            with GPUUtil() as util:
                info = train_fold(arch, "FS-T2WI", 0, images, tuple(mods), split, work/name, prof, seed=0, quiet=True)
            n_train_full = info["n_train"]
            step(name, seconds=round(time.perf_counter() - t0, 1), n_train=info["n_train"], variant=v,
                 batch=paper.classification.batch_size, params_m=round(count_parameters(make_model(arch, paper)) / 1e6, 2),
                 gpu_peak_gib=gpu_peak_gib(), gpu_util_pct=util.mean, val_auc=round(info["val_auc"], 3),
                 logit_max_diff=logit_difference(arch, paper, images, v), **epoch_summary(take_epochs(), paper.classification.epochs))
    fastai.learner.defaults.callbacks = list(base_callbacks)
    for n in [int(c) for c in a.concurrent.split(",") if c]:
        name = f"concurrent_resnet50_x{n}"
        t0 = time.perf_counter()
        with GPUUtil() as util:
            train_folds_submitit(run, [("resnet50", "FS-T2WI", k) for k in range(n)], work/name, cls_profile, 0,
                                 ExecutorConfig("submitit", cluster="local", jobs=n, jobs_per_gpu=n,
                                                gpus=(0,) if torch.cuda.is_available() else (), timeout_min=30), quiet=True)
        fits = [json.loads((work/name/f"resnet50_FS-T2WI_fold{k}.json").read_text())["seconds"] for k in range(n)]
        step(name, wall_seconds=round(time.perf_counter() - t0, 1), fit_seconds=[round(f, 1) for f in fits],
             gpu_util_pct=util.mean, model_epoch_s=round(max(fits) / (n * a.cls_epochs), 3))
    extrapolate(res, a, paper, n_train_full)
    save()

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
    if "estimate" in res: lines += ["", f"- estimate: {res['estimate']}"]
    (out/"results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
