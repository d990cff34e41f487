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


def _dicom_study(cohort, pid, folder):
    "The patient's two smoke images written as one DICOM study (coronal series as a scanner stores them, identifiers set)."
    from pydicom.uid import generate_uid
    from sacroiliitis_dlr.dicom import volume_to_dicom
    row = pd.read_csv(cohort/"manifest.csv", dtype={"patient_id": str}).set_index("patient_id").loc[pid]
    patient, study, files = dict(PatientName="Roe^Richard", PatientID="MRN7731204", AccessionNumber="ACC4410"), generate_uid(), {}
    for n, (m, desc) in enumerate([("T1WI", "T1W_TSE_COR"), ("FS-T2WI", "t2_tirm_cor")]):
        img = nib.load(cohort/row[f"image_{m}"])
        files[m] = volume_to_dicom(np.asarray(img.dataobj).astype(np.int16), img.affine, folder/desc, desc, patient, n + 1, study)
    return row, patient, files


def test_predict_from_dicom_study(run, cohort, tmp_path):
    "`predict --dicom`: the same probability and mask as the NIfTI files give, a SEG PACS can read back, the study's identifiers kept."
    import pydicom
    from sacroiliitis_dlr.pacs import read_seg_frames, sample_on_instances
    run_dir = run[0]
    split = pd.read_csv(run_dir/"cohort"/"split.csv", dtype={"patient_id": str})
    pid = split.patient_id[split.split == "test"].iloc[1]
    row, patient, files = _dicom_study(cohort, pid, tmp_path/"study")
    clinical = [f"{c}={row[c]}" for c in CLINICAL if pd.notna(row[c])]
    res = ok(cli("predict", run_dir, "--dicom", tmp_path/"study", "--clinical", *clinical, "--out", tmp_path/"from_dicom"))
    ok(cli("predict", run_dir, *[a for m in ("T1WI", "FS-T2WI") for a in ("--image", f"{m}={cohort/row[f'image_{m}']}")],
           "--clinical", *clinical, "--out", tmp_path/"from_nifti"))
    got, ref = (json.loads((tmp_path/d/"prediction.json").read_text()) for d in ("from_dicom", "from_nifti"))
    assert abs(got["combined"] - ref["combined"]) < 1e-6 and got["base_models"].keys() == ref["base_models"].keys()
    assert got["unlike_training"] == [] and got["combined_ci"]["prob_lo"] < got["combined"] < got["combined_ci"]["prob_hi"]
    assert "SEG" not in res.stderr and "seg.dcm" in res.stdout
    assert sorted(p.name for p in (tmp_path/"from_dicom").iterdir()) == ["mask.nii.gz", "prediction.html", "prediction.json",
                                                                           "result_sc.dcm", "seg.dcm"]
    # the SEG: one frame per T1WI instance, each referencing an instance of the source, equal to the NIfTI path's mask
    seg = pydicom.dcmread(tmp_path/"from_dicom"/"seg.dcm")
    source = [pydicom.dcmread(f) for f in files["T1WI"]]
    assert seg.Modality == "SEG" and int(seg.NumberOfFrames) == len(source)
    refs = {r.ReferencedSOPInstanceUID for fr in seg.PerFrameFunctionalGroupsSequence
            for d in fr.DerivationImageSequence for r in d.SourceImageSequence}
    assert refs == {ds.SOPInstanceUID for ds in source}
    assert (seg.PatientID, seg.StudyInstanceUID) == (patient["PatientID"], source[0].StudyInstanceUID)
    frames = read_seg_frames(tmp_path/"from_dicom"/"seg.dcm", files["T1WI"])
    nifti_mask = sample_on_instances(nib.load(tmp_path/"from_nifti"/"mask.nii.gz"), source) > 0
    assert frames.any() and np.array_equal(frames, nifti_mask), int((frames != nifti_mask).sum())
    sc = pydicom.dcmread(tmp_path/"from_dicom"/"result_sc.dcm")
    assert sc.StudyInstanceUID == source[0].StudyInstanceUID and sc.SamplesPerPixel == 3
    # the prediction's own files carry no identifier of the study (only the DICOM objects meant for PACS do)
    for f in ("prediction.json", "prediction.html"):
        text = (tmp_path/"from_dicom"/f).read_text()
        assert not any(s in text for s in ("Roe", "MRN7731204", "ACC4410", str(tmp_path))), f
