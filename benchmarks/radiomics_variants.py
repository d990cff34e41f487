"""Radiomics base-model variants on a finished cpu-profile run folder: each variant's out-of-fold AUC on the training
cohort (the CNNs' folds), T1WI and FS-T2WI. Test AUCs are never computed here: the recipe is chosen on these numbers.

    flock /tmp/sdlr-heavy.lock .venv/bin/python benchmarks/radiomics_variants.py reports/synthetic-cpu  (about 20 min on 2 cores)
"""
import sys, warnings, datetime
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sacroiliitis_dlr.rois import load_rois
from sacroiliitis_dlr.data import read_split
from sacroiliitis_dlr.core import RadiomicsConfig
from sacroiliitis_dlr.radiomics import joint_masks, mirp_features
from sacroiliitis_dlr.segmentation import load_mask
import torch
from monai.transforms import Resize
from _common import commit, machine

def roi_grid_masks(run, split, size):
    "ROI-grid masks from segmentation/masks and each ROI's box (runs whose masks share the ROI stage's grid)."
    out = []
    for pid in split.patient_id:
        with np.load(run/"rois"/f"{pid}.npz") as z: box = z["box"]
        m = load_mask(run/"segmentation"/"masks"/f"{pid}.nii.gz", ras=True)[0]
        crop = torch.from_numpy(m[tuple(slice(a, b) for a, b in box)].astype(np.float32)[None])
        out.append(np.asarray(Resize(size, mode="trilinear", anti_aliasing=True)(crop))[0] > 0.5)
    return np.stack(out)

def model(kind, k=None):
    steps = [VarianceThreshold(1e-12), StandardScaler()] + ([SelectKBest(f_classif, k=k)] if k else [])
    if kind == "l1": clf = LogisticRegressionCV(Cs=np.logspace(-2, 1, 8), penalty="l1", solver="liblinear", cv=5, scoring="roc_auc", max_iter=2000)
    else: clf = LogisticRegressionCV(Cs=np.logspace(-3, 1, 9), cv=5, scoring="roc_auc", max_iter=2000)
    return make_pipeline(*steps, clf)

def oof_auc(F, split, kind="l2", k=None):
    F = F.replace([np.inf, -np.inf], np.nan); F = F.loc[:, F.notna().all()]
    tr = split[split.split == "train"].set_index("patient_id"); oof = pd.Series(np.nan, index=tr.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in sorted(tr.fold.unique()):
            fit, held = tr.index[tr.fold != f], tr.index[tr.fold == f]
            oof.loc[held] = model(kind, min(k, F.shape[1]) if k else None).fit(F.loc[fit].values, tr.label.loc[fit]).predict_proba(F.loc[held].values)[:, 1]
    return roc_auc_score(tr.label, oof)

Q = [1, 5, 10, 25, 50, 75, 90, 95, 99, 2.5, 97.5, 0.5, 99.5]
def pct(v): return np.r_[np.percentile(v, Q), v.mean(), v.std()]

def main(run):
    run = Path(run); split = read_split(run); ids = split.patient_id
    rois, mods = load_rois(run, ids); masks = roi_grid_masks(run, split, rois.shape[2:])
    joints = [joint_masks(m) for m in masks]; rows = []
    for c, mod in enumerate(mods):
        img = rois[:, c]
        box = pd.DataFrame([pct(i.ravel()) for i in img], index=ids)
        inm = pd.DataFrame([pct(i[m]) for i, m in zip(img, masks)], index=ids)
        L = np.array([pct(i[j["left"]]) for i, j in zip(img, joints)]); R = np.array([pct(i[j["right"]]) for i, j in zip(img, joints)])
        V = {("15 percentiles", "whole ROI box"): box, ("15 percentiles", "inside the SIJ mask"): inm,
             ("15 percentiles", "each joint, side by side"): pd.DataFrame(np.c_[L, R], index=ids),
             ("15 percentiles", "each joint, max and min"): pd.DataFrame(np.c_[np.maximum(L, R), np.minimum(L, R)], index=ids)}
        fm = mirp_features(list(img), list(masks), RadiomicsConfig(families=("statistics", "intensity_histogram", "glcm"))).set_index(ids)
        fl = mirp_features(list(img), [j["left"] for j in joints], RadiomicsConfig()).set_index(ids)
        fr = mirp_features(list(img), [j["right"] for j in joints], RadiomicsConfig()).set_index(ids)
        side = pd.concat([fl.add_suffix("_L"), fr.add_suffix("_R")], axis=1)
        V[("MIRP statistics + histogram + GLCM", "inside the SIJ mask")] = fm
        V[("MIRP, all 8 families", "each joint, max and min")] = pd.concat([np.maximum(fl, fr).add_suffix("_max"), np.minimum(fl, fr).add_suffix("_min")], axis=1)
        for name, rx in [("statistics + histogram", "^(stat|ih)_"), ("statistics + histogram + GLCM", "^(stat|ih|cm)_"),
                         ("statistics + histogram + GLSZM + GLDZM", "^(stat|ih|szm|dzm)_"), ("texture families only", "^(cm|rlm|szm|dzm|ngt|ngl)_")]:
            V[(f"MIRP, {name}", "each joint, side by side")] = side.filter(regex=rx)
        V[("MIRP, all 8 families", "each joint, side by side")] = side
        for (feat, where), F in V.items():
            for kind, k in (("L2", None), ("L1", None), ("L2 after top-20 ANOVA filter", 20)):
                a = oof_auc(F, split, kind.lower()[:2], k); rows.append(dict(modality=mod, features=feat, where=where, model=kind, n_features=F.shape[1], oof_auc=round(a, 3)))
                print(rows[-1], flush=True)
    res = pd.DataFrame(rows)
    with open(Path(__file__).parent/"RESULTS.md", "a") as f:
        f.write(f"\n## Radiomics variants, training-cohort out-of-fold AUC ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)\n\n"
                f"- run folder {run}; machine: {machine()}; commit {commit()}\n\n"
                + res.pivot_table(index=["features", "where", "model"], columns="modality", values="oof_auc", sort=False).to_markdown() + "\n")

if __name__ == "__main__": main(sys.argv[1] if len(sys.argv) > 1 else "reports/synthetic-cpu")
