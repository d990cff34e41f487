"`import-dicom` through the command line: a DICOM round trip of synthetic scans leaks no identifier, keeps voxels and affines, and gives a cohort `load_cohort` accepts."
import gzip, json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from pydicom.uid import generate_uid

from conftest import cli, ok
from sacroiliitis_dlr.data import load_cohort
from sacroiliitis_dlr.dicom import volume_to_dicom

IDENT = dict(PatientName="Doe^Janet", PatientBirthDate="19790312", AccessionNumber="ACC7730021")
CLINICAL = ["label", "age", "sex", "hla_b27", "crp", "esr", "symptom_duration", "ibp"]
N = 4
SLOPE = {"T1WI": 1.0, "FS-T2WI": 0.25}  # int16 with a header slope, as many scanners store it


def mrn(i): return f"MRN90041{i}"


@pytest.fixture(scope="module")
def dicom_site(cohort, tmp_path_factory):
    "N smoke patients written as DICOM (T1WI and STIR series, a localizer, identifiers set) and a clinical table keyed by MRN."
    root = tmp_path_factory.mktemp("dicom_site")
    man = pd.read_csv(cohort/"manifest.csv", dtype={"patient_id": str}).head(N)
    for i, row in man.iterrows():
        patient = dict(IDENT, PatientID=mrn(i), PatientName=f"{IDENT['PatientName']}{i}")
        study = generate_uid()
        for n, (m, desc) in enumerate([("T1WI", "T1W_TSE_COR"), ("FS-T2WI", "t2_tirm_cor")]):
            img = nib.load(cohort/row[f"image_{m}"])
            vol = np.round(np.asarray(img.dataobj)*1000).astype(np.int16)
            volume_to_dicom(vol, img.affine, root/"dicom"/f"{i}"/desc, desc, patient, n + 1, study, slope=SLOPE[m])
        volume_to_dicom(vol[:, :, :1], img.affine, root/"dicom"/f"{i}"/"scout", "localizer", patient, 9, study)
    man.assign(patient_id=[mrn(i) for i in man.index])[["patient_id", *CLINICAL]].to_csv(root/"clinical.csv", index=False)
    return root, man


@pytest.fixture(scope="module")
def imported(dicom_site):
    root, man = dicom_site
    res = ok(cli("import-dicom", root/"dicom", "--out", root/"cohort", "--id-map", root/"private"/"ids.csv",
                 "--clinical", root/"clinical.csv"))
    return root, man, res


def _bytes(f):
    raw = f.read_bytes()
    return [raw, gzip.decompress(raw)] if raw[:2] == b"\x1f\x8b" else [raw]


def test_no_identifier_in_any_byte(imported):
    root, _, res = imported
    files = [f for f in (root/"cohort").rglob("*") if f.is_file()]
    assert len(files) == 2*N + 2, sorted(map(str, files))  # images, manifest.csv, import.json: no sidecar
    needles = ["Doe", "Janet", "19790312", "1979", "ACC7730021", "MRN9004"]
    hits = [(f.name, s) for f in files for s in needles if any(s.encode() in b for b in _bytes(f))]
    assert hits == []
    # the scan can see them: the DICOM files carry every one, the ID map the record numbers
    assert {s for f in (root/"dicom").rglob("*.dcm") for s in needles if s.encode() in f.read_bytes()} == set(needles)
    assert mrn(0) in (root/"private"/"ids.csv").read_text()
    assert "MRN" not in res.stdout + res.stderr


def test_volumes_affines_and_cohort(imported, cohort):
    root, man, _ = imported
    c = load_cohort(root/"cohort", profile=None)
    assert c.modalities == ("T1WI", "FS-T2WI") and len(c) == N
    ids = pd.read_csv(root/"private"/"ids.csv", dtype=str).set_index("original_id").patient_id
    got = c.manifest.set_index("patient_id")
    for i, row in man.iterrows():
        pid = ids[mrn(i)]
        assert got.loc[pid, "label"] == row.label and got.loc[pid, "age"] == row.age
        for m in c.modalities:
            a = nib.as_closest_canonical(nib.load(cohort/row[f"image_{m}"]))
            b = nib.as_closest_canonical(nib.load(got.loc[pid, f"image_{m}"]))
            np.testing.assert_array_equal(np.asanyarray(b.dataobj), np.round(np.asarray(a.dataobj)*1000)*SLOPE[m])
            assert b.get_data_dtype() == np.int16
            np.testing.assert_allclose(b.affine, a.affine, atol=1e-4)


def test_refusals(imported):
    root, _, _ = imported
    res = cli("import-dicom", root/"dicom", "--out", root/"cohort", "--id-map", root/"ids2.csv")
    assert res.returncode == 1 and "exists and is kept" in res.stderr
    res = cli("import-dicom", root/"dicom", "--out", root/"c2", "--id-map", root/"c2"/"ids.csv")
    assert res.returncode == 1 and "inside the cohort folder" in res.stderr and not (root/"c2").exists()
    (root/"rules.json").write_text('{"T1WI": "t1", "FS-T2WI": "tirm", "DWI": "dwi"}')
    res = cli("import-dicom", root/"dicom", "--out", root/"c3", "--id-map", root/"ids3.csv", "--rules", root/"rules.json")
    assert res.returncode == 1 and f"{N} problem(s)" in res.stderr and "no series for ['DWI']" in res.stderr, res.stderr
    assert not (root/"c3").exists() and not (root/"ids3.csv").exists()


def test_only_documented_clinical_columns_are_copied(dicom_site):
    "A clinical column `group` holding patient names (too few rows to look like an identifier) stays home; import.json names it."
    root, _ = dicom_site
    names = [f"Zorrowska Janet{i}" for i in range(N)]
    pd.read_csv(root/"clinical.csv", dtype={"patient_id": str}).assign(group=names).to_csv(root/"clinical_group.csv", index=False)
    res = ok(cli("import-dicom", root/"dicom", "--out", root/"cohort_group", "--id-map", root/"private"/"ids.csv",
                 "--clinical", root/"clinical_group.csv"))
    out = root/"cohort_group"
    assert list(pd.read_csv(out/"manifest.csv").columns) == ["patient_id", "label", "scanner", "image_T1WI", "image_FS-T2WI",
                                                             *CLINICAL[1:]]
    assert json.loads((out/"import.json").read_text())["clinical_columns_dropped"] == ["group"]
    blob = b"".join(b for f in out.rglob("*") if f.is_file() for b in _bytes(f)) + (res.stdout + res.stderr).encode()
    assert not [n for n in names if n.encode() in blob] and b"Zorrowska" not in blob
