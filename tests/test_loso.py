"Leave-one-scanner-out testing never trains on the held-out scanner's patients (issue 18), on the smoke profile."
import contextlib, io, shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch

from sacroiliitis_dlr.cli import build_parser
from sacroiliitis_dlr.pipeline import run_pipeline
from sacroiliitis_dlr.loso import loso_dir, run_loso

HELD_OUT = "S1"  # the largest scanner of the smoke cohort: the fewest training patients, the quickest sub-run


def perturbed_copy(cohort, out, scanner):
    "The cohort with the labels of `scanner`'s patients flipped and their images replaced by noise."
    shutil.copytree(cohort, out)
    man = pd.read_csv(out/"manifest.csv", dtype={"patient_id": str})
    held = man.scanner == scanner
    man.loc[held, "label"] = 1 - man.loc[held, "label"]
    man.to_csv(out/"manifest.csv", index=False)
    rng = np.random.default_rng(1)
    for col in [c for c in man.columns if c.startswith("image_")]:
        for rel in man.loc[held, col]:
            img = nib.load(out/rel)
            data = np.asarray(img.dataobj, dtype=np.float32)
            noisy = rng.permutation(data.ravel()).reshape(data.shape) + rng.normal(0, data.std() + 1, data.shape)
            nib.save(nib.Nifti1Image(noisy.astype(np.float32), img.affine, img.header), out/rel)
    return out


def loso_run(cohort, out):
    "A main run folder with its cohort stage, then the LOSO sub-run of HELD_OUT through the summary (no reports)."
    with contextlib.redirect_stdout(io.StringIO()):
        run = run_pipeline(cohort, out, "smoke", seed=0, stages=["cohort"], reports=False, quiet=True)
        run_loso(run, cohort, scanners=[HELD_OUT], quiet=True, reports=False)  # the run records no cohort path (issue 25)
    return loso_dir(run, HELD_OUT)


@pytest.fixture(scope="module")
def pair(cohort, tmp_path_factory):
    "The LOSO sub-runs of the smoke cohort and of its copy whose held-out patients are perturbed."
    tmp = tmp_path_factory.mktemp("loso")
    a = loso_run(cohort, tmp/"run-a")
    b = loso_run(perturbed_copy(cohort, tmp/"cohort-b", HELD_OUT), tmp/"run-b")
    return a, b


def _others(sub, table):
    "The rows of a prediction table for the patients of the other scanners (the sub-run's training cohort)."
    split = pd.read_csv(sub/"cohort"/"split.csv", dtype={"patient_id": str})
    p = pd.read_csv(sub/table, dtype={"patient_id": str})
    keep = set(split.patient_id[split.scanner != HELD_OUT])
    return p[p.patient_id.isin(keep)].sort_values(list(p.columns.drop("prob"))).reset_index(drop=True)


def test_split_holds_the_scanner_out(pair):
    a, _ = pair
    split = pd.read_csv(a/"cohort"/"split.csv")
    assert set(split[split.split == "test"].scanner) == {HELD_OUT}
    assert set(split[split.split == "train"].scanner) and HELD_OUT not in set(split[split.split == "train"].scanner)
    assert sorted(split[split.split == "train"].fold.unique()) == [0, 1, 2, 3, 4]


def test_models_do_not_see_the_held_out_patients(pair):
    a, b = pair
    # the perturbation reached the sub-run: its held-out labels are flipped
    la, lb = (pd.read_csv(s/"cohort"/"split.csv").query("split == 'test'").label.to_numpy() for s in pair)
    assert (la != lb).all()
    # the U-Net's weights are the same
    wa, wb = (torch.load(s/"segmentation"/"unet.pt", weights_only=True) for s in pair)
    wa, wb = (w.get("state_dict", w) if isinstance(w, dict) else w for w in (wa, wb))
    for k in wa:
        if torch.is_tensor(wa[k]): assert torch.equal(wa[k], wb[k]), k
    # every model's predictions for the other scanners' patients are the same (out-of-fold for the CNNs)
    for table in ("classification/predictions.csv", "stacking/predictions.csv", "combined/predictions.csv"):
        pa, pb = _others(a, table), _others(b, table)
        assert len(pa) and pa.drop(columns="prob").equals(pb.drop(columns="prob")), table
        np.testing.assert_array_equal(pa.prob.to_numpy(), pb.prob.to_numpy(), err_msg=table)
    # the fitted clinical and combined models and the DLR signature's choice are the same
    for f in ("combined/combined_model.csv", "combined/clinical_model.csv", "stacking/selection.json", "summary/cutoffs.csv"):
        assert (a/f).read_bytes() == (b/f).read_bytes(), f


def test_held_out_results_differ(pair):
    "The held-out patients' metrics do change: the test is not vacuous."
    ma, mb = (pd.read_csv(s/"summary"/"metrics.csv").query("model == 'combined' and cohort == 'test'").auc.item() for s in pair)
    assert ma != mb


def test_loso_summary_written(pair):
    a, _ = pair
    tab = pd.read_csv(a.parent/"summary.csv")
    assert set(tab.held_out) == {HELD_OUT} and set(tab.model) == {"dlr_signature", "clinical", "combined"}
    assert tab.n.unique().tolist() == [20] and tab.oracle_auc.notna().all()
    assert (a/"config.json").exists() and "loso_holdout" in (a/"config.json").read_text()


def test_cli_validation_option():
    args = build_parser().parse_args(["run", "--cohort", "c", "--out", "o", "--validation", "loso"])
    assert args.validation == "loso"
    assert build_parser().parse_args(["run", "--cohort", "c", "--out", "o"]).validation == "internal"
