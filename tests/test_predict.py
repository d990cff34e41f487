"`predict` through the command line: a copied run folder, with the cohort gone, gives a test patient's stored combined probability back from their files alone."
import json, os, shutil

import nibabel as nib
import numpy as np
import pandas as pd

from conftest import cli, ok

CLINICAL = ["age", "sex", "hla_b27", "crp", "esr", "symptom_duration", "ibp"]


def test_predict_from_copied_bundle(run, cohort, tmp_path):
    run_dir = run[0]
    bundle = tmp_path/"elsewhere"/"bundle"
    shutil.copytree(run_dir, bundle, ignore=shutil.ignore_patterns("cache"))  # no harmonised images travel with it
    split = pd.read_csv(bundle/"cohort"/"split.csv", dtype={"patient_id": str})
    pid = split.patient_id[split.split == "test"].iloc[0]
    row = pd.read_csv(cohort/"manifest.csv", dtype={"patient_id": str}).set_index("patient_id").loc[pid]
    (tmp_path/"patient").mkdir()
    images = {m: shutil.copy(cohort/row[f"image_{m}"], tmp_path/"patient"/f"{m}.nii.gz") for m in ("T1WI", "FS-T2WI")}
    clinical = [f"{c}={row[c]}" for c in CLINICAL if pd.notna(row[c])]
    away = cohort.with_name(cohort.name + "-away")
    os.rename(cohort, away)  # the run's cohort is not there: the bundle must not need it
    try: res = ok(cli("predict", bundle, *[a for m, f in images.items() for a in ("--image", f"{m}={f}")],
                      "--clinical", *clinical, "--out", tmp_path/"out"))
    finally: os.rename(away, cohort)
    got = json.loads((tmp_path/"out"/"prediction.json").read_text())
    stored = pd.concat(pd.read_csv(bundle/f, dtype={"patient_id": str}) for f in
                       ("classification/predictions.csv", "radiomics/predictions.csv", "stacking/predictions.csv",
                        "combined/predictions.csv"))
    stored = stored[(stored.patient_id == pid) & (stored.split == "test")].set_index("model").prob
    assert abs(got["combined"] - stored["combined"]) < 1e-6, (got["combined"], stored["combined"])
    assert abs(got["dlr_signature"] - stored["dlr_signature"]) < 1e-6
    assert abs(got["clinical"] - stored["clinical"]) < 1e-6
    for m, p in got["base_models"].items(): assert abs(p - stored[m]) < 1e-6, m
    met = pd.read_csv(bundle/"combined"/"metrics.csv").query("model == 'combined' and cohort == 'train'")
    assert got["cutoff"] == met.cutoff.iloc[0]
    assert f"{got['combined']:.4f}" in res.stdout and f"cut-off {got['cutoff']:.4f}" in res.stdout
    for part in ("DLR signature", "Clinical model", *(f"Base model {m}" for m in got["base_models"])): assert part in res.stdout
    mask, first = nib.load(tmp_path/"out"/"mask.nii.gz"), nib.load(images["T1WI"])
    assert mask.shape == first.shape and np.allclose(mask.affine, first.affine)
    assert np.asarray(mask.dataobj).sum() > 0 and mask.get_data_dtype() == np.uint8
    page = (tmp_path/"out"/"prediction.html").read_text()
    assert "data:image/png;base64," in page and f"{got['cutoff']:.4f}" in page and "<script" not in page


def test_predict_inputs_named(run, tmp_path):
    res = cli("predict", run[0], "--image", f"T1WI={tmp_path/'absent.nii.gz'}", "--clinical", "age=300", "height=1")
    assert res.returncode == 1, res.stderr
    for s in ("4 problem(s)", "--image FS-T2WI: no image given", "--image T1WI: file not found", "--clinical age=300",
              "--clinical height: not a clinical column"): assert s in res.stderr, (s, res.stderr)
    assert "Traceback" not in res.stderr and not (run[0]/"pipeline.log").read_text().count("[predict]")
