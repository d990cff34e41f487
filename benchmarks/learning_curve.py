"""Learning curve of one base CNN per modality: does it learn with more training patients?

Writes a separate, larger synthetic cohort (its own seed, so the default cohort's test patients are never touched),
crops the SIJ ROI of every patient from the manual mask, and trains `classification.train_model` (cpu profile) on
the first `n` patients for each `n`, scoring the last `--n-test` patients. The oracle AUCs of the same held-out
patients give each modality's ceiling. Results are appended to benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/learning_curve.py                       # 2,400 patients, n = 310, 900, 1800
    .venv/bin/python benchmarks/learning_curve.py --n-patients 600 --sizes 100,300 --n-test 200 --out /tmp/lc
"""
import argparse, multiprocessing, platform, sys, time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from _common import commit, machine

ROOT = Path(__file__).resolve().parents[1]


def build(out:Path, n_patients:int, seed:int, profile:str):
    "The cohort (written once) and one (N, C, *roi) array of manual-mask ROIs with the labels."
    from sacroiliitis_dlr.synthetic import make_cohort
    from sacroiliitis_dlr.data import load_cohort, load_patient
    from sacroiliitis_dlr.rois import roi_crop
    if not (out/"cohort").exists(): make_cohort(out/"cohort", n_patients=n_patients, seed=seed, profile=profile)
    if (out/"rois.npz").exists(): return
    c = load_cohort(out/"cohort")
    rois = [roi_crop((p := load_patient(c, pid)).image, p.mask, p.affine, profile=profile) for pid in c.manifest.patient_id]
    np.savez(out/"rois.npz", X=np.stack(rois), y=c.manifest.label.values.astype(int), ids=c.manifest.patient_id.values,
             modalities=np.array(c.modalities))


def train_one(args):
    "Train on the first `n` patients (inner validation split as in the stage), score the held-out tail."
    out, arch, modality, n, n_test, seed, profile = args
    from sklearn.metrics import roc_auc_score
    from sacroiliitis_dlr.classification import train_model, predict_probs, inner_validation
    from sacroiliitis_dlr.core import get_profile
    d = np.load(out/"rois.npz"); X, y = d["X"], d["y"]
    ch = list(d["modalities"]).index(modality)
    test, pool = np.arange(len(y) - n_test, len(y)), np.arange(n)
    tr, va = inner_validation(y[pool], get_profile(profile).classification.val_fraction, seed)
    model, info = train_model(arch, X[pool[tr], ch:ch+1], y[pool[tr]], X[pool[va], ch:ch+1], y[pool[va]],
                              profile, seed, quiet=True)
    p = predict_probs(model, X[test, ch:ch+1])
    return dict(arch=arch, modality=modality, n_train=int(n), test_auc=round(float(roc_auc_score(y[test], p)), 3),
                val_auc=round(info["val_auc"], 3), best_epoch=info["best_epoch"], epochs=info["epochs"],
                seconds=round(info["seconds"], 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/learning_curve")
    ap.add_argument("--n-patients", type=int, default=2400)
    ap.add_argument("--n-test", type=int, default=600)
    ap.add_argument("--sizes", default="310,900,1800", help="training patients (the stage trains on ~310 per fold)")
    ap.add_argument("--modalities", default="T1WI,FS-T2WI")
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--seed", type=int, default=123, help="cohort seed (not 0: the default cohort's)")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--results", default=str(ROOT/"benchmarks"/"RESULTS.md"))
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in a.sizes.split(",")]
    if max(sizes) > a.n_patients - a.n_test: sys.exit(f"--sizes: {max(sizes)} + --n-test {a.n_test} > --n-patients {a.n_patients}")
    t0 = time.time(); build(out, a.n_patients, a.seed, a.profile); t_build = time.time() - t0
    jobs = sorted([(out, a.arch, m, n, a.n_test, 0, a.profile) for m in a.modalities.split(",") for n in sizes],
                  key=lambda j: -j[3])  # longest first
    # spawn, not fork: the parent has started torch's thread pools, which a forked child can deadlock on
    with ProcessPoolExecutor(a.n_jobs, mp_context=multiprocessing.get_context("spawn")) as ex: rows = list(ex.map(train_one, jobs))
    res = pd.DataFrame(rows).sort_values(["modality", "n_train"])
    from sklearn.metrics import roc_auc_score
    man = pd.read_csv(out/"cohort"/"manifest.csv", dtype={"patient_id": str})
    orc = pd.read_csv(out/"cohort"/"oracle.csv", dtype={"patient_id": str}).merge(man[["patient_id", "label"]])
    tail = orc.set_index("patient_id").loc[man.patient_id.iloc[-a.n_test:]]
    ceil = {c.removeprefix("oracle_"): round(float(roc_auc_score(tail.label, tail[c])), 3) for c in orc if c.startswith("oracle_")}
    print(res.to_string(index=False)); print("oracle AUCs of the held-out patients:", ceil)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"\n## Learning curve of the base CNNs, {a.profile} profile ({now})\n\n"
            f"- machine: {machine()}, {platform.platform()}; {a.n_jobs} models trained side by side, one thread each\n"
            f"- commit: {commit()}\n"
            f"- command: `{' '.join(['python', 'benchmarks/learning_curve.py', *sys.argv[1:]])}`\n"
            f"- cohort: `make_cohort(n_patients={a.n_patients}, seed={a.seed})` (cohort + ROIs {t_build:.0f} s); ROIs from the "
            f"manual masks; {a.arch} trained on the first n patients (inner validation split as in the stage), scored on "
            f"the last {a.n_test}\n- oracle AUCs of those {a.n_test} patients: "
            + ", ".join(f"{k} {v}" for k, v in ceil.items()) + "\n\n" + res.to_markdown(index=False) + "\n")
    with open(a.results, "a") as f: f.write(text)
    print(f"appended to {a.results}")


if __name__ == "__main__": main()
