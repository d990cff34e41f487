"Out-of-distribution checks on the smoke run: its own test patients pass, another scanner, field of view or mask does not."
import numpy as np
import nibabel as nib
import pandas as pd
import pytest

from sacroiliitis_dlr import data, predict, shift
from sacroiliitis_dlr.synthetic import make_cohort


@pytest.fixture(scope="module")
def envelope(run):
    return shift.training_envelope(run[0])


def test_envelope_from_training_patients(run, envelope):
    split = data.read_split(run[0])
    assert envelope.missing == () and envelope.n_patients == envelope.n_masks == int((split.split == "train").sum())
    assert set(envelope.scan) == set(predict.run_modalities(run[0]))


def test_own_test_patients_get_no_difference(run, cohort, envelope):
    "Every test patient, scan and mask made as `predict` makes them, is like the training scans."
    split, man = data.read_split(run[0]), pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str}).set_index("patient_id")
    mods = predict.run_modalities(run[0])
    test = split[split.split == "test"].patient_id.astype(str).tolist()
    assert test
    for pid in test:
        paths = {m: cohort / man.loc[pid, f"image_{m}"] for m in mods}
        grid = data.ras_grid(paths[mods[0]])
        _, native = predict.segment_patient(run[0], predict.load_patient_files(run[0], paths, pid), grid=grid)
        chk = shift.check_new_patient(envelope, paths, native, grid[1])
        assert chk.differences == (), (pid, chk.differences)
        assert chk.table.inside.all() and {"T1WI", "FS-T2WI", "mask"} <= set(chk.table.source)


def test_other_scanner_and_field_of_view(run, cohort, envelope, tmp_path):
    make_cohort(tmp_path / "s4", n_patients=2, profile="smoke", seed=3, n_jobs=1, scanners=("S4",))
    for pid in ("P0001", "P0002"):
        diffs = shift.scan_differences(envelope, {m: tmp_path / "s4" / "images" / f"{pid}_{m}.nii.gz" for m in envelope.scan})
        for m in envelope.scan: assert any(s.startswith(f"{m}: slice thickness") for s in diffs), diffs
    man = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str})
    test_pid = data.read_split(run[0]).query("split == 'test'").patient_id.astype(str).iloc[0]
    src = nib.load(cohort / man.set_index("patient_id").loc[test_pid, "image_T1WI"])
    k = int(np.argmin(src.header.get_zooms()[:3]))  # an in-plane axis: crop a fifth of it from each side (affine moved)
    n = src.shape[k] // 5
    nib.save(src.slicer[tuple(slice(n, -n) if i == k else slice(None) for i in range(3))], tmp_path / "cropped.nii.gz")
    diffs = shift.scan_differences(envelope, {"T1WI": tmp_path / "cropped.nii.gz"})
    assert diffs and all(s.startswith("T1WI: field of view") for s in diffs), diffs


def test_masks_that_are_not_two_joints(run, cohort, envelope):
    man = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str})
    shape, affine = data.ras_grid(cohort / man.image_T1WI.iloc[0])
    X, Y, Z = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    canal = (((X - (shape[0] - 1) / 2)**2 / 9 + (Z - 0.6 * shape[2])**2 / 16) < 1).astype(np.uint8)  # a blob on the midline
    border = np.ones(shape, np.uint8); border[1:-1, 1:-1, 1:-1] = 0                              # the skin edge
    for mask in (canal, border):
        diffs = shift.mask_differences(envelope, mask, affine)
        assert any(s.startswith("mask: not two joints") for s in diffs), diffs
        chk = shift.check_new_patient(envelope, {}, mask, affine)
        assert chk.differences == tuple(diffs) and not chk.table.inside.all()
