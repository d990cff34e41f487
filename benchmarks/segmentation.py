"""Segmentation benchmark: train the 3D U-Net at a profile on a cohort, segment every patient, and append the
training time, inference time per patient and the test cohort's agreement (Dice, HD95, volume ICC) to
benchmarks/RESULTS.md with the machine it ran on.

    .venv/bin/python benchmarks/segmentation.py --cohort data/synthetic --profile cpu --seed 0
"""
from __future__ import annotations
import argparse, datetime, shutil, tempfile, time
from pathlib import Path
import pandas as pd, torch
from sacroiliitis_dlr.core import get_profile, init_run, load_json
from sacroiliitis_dlr.data import load_cohort, split_cohort
from sacroiliitis_dlr.segmentation import run_segmentation_stage
from sacroiliitis_dlr.rois import run_roi_stage
from _common import commit, machine

HERE = Path(__file__).parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohort", default="data/synthetic")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run", help="run folder to keep (default: a temporary one, removed afterwards)")
    ap.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args(argv)
    profile = get_profile(args.profile)
    cohort = load_cohort(args.cohort)
    run = Path(args.run) if args.run else Path(tempfile.mkdtemp(prefix="bench-seg-")) / "run"
    init_run(run, profile, args.seed, force=True, extra=dict(cohort=str(Path(args.cohort).absolute())))
    # the segmentation stage reads the run's split (data.read_split); write only that, not the cohort stage's plan,
    # so the image grid is the one the earlier results in RESULTS.md were measured on
    (run/"cohort").mkdir(parents=True, exist_ok=True)
    split_cohort(cohort.manifest, test_size=profile.cohort.test_size, n_folds=profile.cohort.n_folds,
                 seed=args.seed).to_csv(run/"cohort"/"split.csv", index=False)
    t0 = time.perf_counter()
    seg = run_segmentation_stage(run, cohort, profile, seed=args.seed, force=True, quiet=True)
    stage_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_roi_stage(run, cohort, profile=profile, force=True, quiet=True)
    roi_s = time.perf_counter() - t0
    timing, agree = load_json(seg / "timing.json"), pd.read_csv(seg / "agreement.csv")
    pp = pd.read_csv(seg / "agreement_per_patient.csv", dtype={"patient_id": str})
    test = pp[pp.split == "test"]
    overall = agree[agree.scanner == "all"].iloc[0]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tag = f"segmentation_{profile.name}_{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M}"
    cfg = profile.segmentation
    table = agree.round(3).to_markdown(index=False) if hasattr(agree, "to_markdown") else agree.round(3).to_string(index=False)
    text = f"""
## Segmentation: 3D U-Net at the `{profile.name}` profile ({stamp})

- machine: {machine()}
- commit: {commit()}; cohort: `{args.cohort}` ({len(cohort.manifest)} patients), seed {args.seed}
- network: channels {cfg.channels}, strides {cfg.strides}, residual units {cfg.num_res_units}, patch {cfg.patch_size},
  {cfg.epochs} epochs x {cfg.patches_per_epoch} patches, batch {cfg.batch_size}, lr {cfg.lr}
- training patients {timing['n_train']} + validation {timing['n_valid']}; **training time {timing['train_seconds']:.0f} s**
- **inference {timing['infer_seconds_per_patient']:.3f} s per patient** (sliding window + post-processing, {timing['n_segmented']} patients);
  whole segmentation stage {stage_s:.0f} s; ROI stage {roi_s:.0f} s
- **test Dice {overall.dice_mean:.3f} (SD {overall.dice_sd:.3f}), HD95 mean {overall.hd95_mean_mm:.2f} mm / median {overall.hd95_median_mm:.2f} mm**
  (slice thickness median {test.slice_mm.median():.2f} mm; {int(overall.n_empty)} empty predictions);
  volume ICC(A,1) {overall.icc:.3f} [{overall.icc_lo:.2f}, {overall.icc_hi:.2f}], Pearson r {overall.r:.3f} [{overall.r_lo:.3f}, {overall.r_hi:.3f}]

{table}

![Bland-Altman](figures/{tag}_bland_altman.png) ![overlays](figures/{tag}_overlays.png) ![training](figures/{tag}_training.png)
"""
    print(text)
    if not args.no_append:
        figs = HERE / "figures"; figs.mkdir(exist_ok=True)
        for f in ("bland_altman", "overlays", "training"):
            if (seg / "figures" / f"{f}.png").exists(): shutil.copy(seg / "figures" / f"{f}.png", figs / f"{tag}_{f}.png")
        res = HERE / "RESULTS.md"
        if not res.exists(): res.write_text("# Benchmark results\n")
        with open(res, "a") as f: f.write(text)
    if not args.run: shutil.rmtree(run.parent, ignore_errors=True)

if __name__ == "__main__": main()
