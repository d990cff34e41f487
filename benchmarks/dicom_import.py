"""`import-dicom` on clinical-resolution scans: seconds per patient and size of the cohort written (issue 16).

Writes `synth --acquisition clinical` patients (0.55-0.65 mm pixels, 25 slices of 3.3 mm, LSP/LAS) as DICOM, one file
per slice with the identifiers set, then times `sacroiliitis-dlr import-dicom` on them (one process: header scan,
dcm2niix per series, de-identified rewrite) and checks that no identifier reached the cohort.

    .venv/bin/python benchmarks/dicom_import.py --work /tmp/dicom-bench --n-patients 10
"""
import argparse, gzip, os, shutil, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.uid import generate_uid

from sacroiliitis_dlr.dicom import volume_to_dicom
from sacroiliitis_dlr.synthetic import make_cohort
from _common import commit, machine

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent/"sacroiliitis-dlr")
IDENT = dict(PatientName="Bench^Patient", PatientBirthDate="19700101", AccessionNumber="ACC000111")


def slices_last(vol, aff):
    "The volume with its thickest-voxel axis last, so that each DICOM file is an acquired slice."
    k = int(np.argmax(np.sqrt((aff[:3, :3]**2).sum(0))))
    order = [d for d in range(3) if d != k] + [k]
    return vol.transpose(order), aff[:, order + [3]]


def round_trip_error(a, b):
    "(max voxel difference, max affine difference in mm) between two NIfTIs of one grid, whatever their axis order."
    a, b = nib.as_closest_canonical(a), nib.as_closest_canonical(b)
    return float(np.abs(np.asarray(a.dataobj) - np.asarray(b.dataobj)).max()), float(np.abs(a.affine - b.affine).max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, type=Path); ap.add_argument("--n-patients", type=int, default=10)
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    man = make_cohort(a.work/"nifti", n_patients=a.n_patients, seed=0, profile="smoke", acquisition="clinical", overwrite=True)
    shutil.rmtree(a.work/"dicom", ignore_errors=True); (a.work/"ids.csv").unlink(missing_ok=True)
    t0 = time.monotonic(); n_files = 0
    for i, row in man.iterrows():
        patient, study = dict(IDENT, PatientID=f"MRN{i:06d}"), generate_uid()
        for n, (m, desc) in enumerate([("T1WI", "t1_tse_cor"), ("FS-T2WI", "t2_tirm_cor")]):
            img = nib.load(a.work/"nifti"/row[f"image_{m}"])
            vol, aff = slices_last(np.asarray(img.dataobj.get_unscaled()), img.affine)
            n_files += len(volume_to_dicom(vol, aff, a.work/"dicom"/f"{i}"/desc, desc, patient, n + 1, study,
                                           float(img.dataobj.slope), float(img.dataobj.inter)))  # int16 + slope, as stored
    t_write = time.monotonic() - t0
    t0 = time.monotonic()
    res = subprocess.run([CLI, "import-dicom", a.work/"dicom", "--out", a.work/"cohort", "--id-map", a.work/"ids.csv", "--force"],
                         capture_output=True, text=True)
    t_import = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    files = [f for f in (a.work/"cohort").rglob("*") if f.is_file()]
    leaks = [f.name for f in files for s in ("Bench", "19700101", "ACC000111", "MRN0")
             if s.encode() in (gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes())]
    ids = dict(line.split(",") for line in (a.work/"ids.csv").read_text().split()[1:])
    errs = [round_trip_error(nib.load(a.work/"nifti"/row[f"image_{m}"]), nib.load(a.work/"cohort"/"images"/f"{ids[f'MRN{i:06d}']}_{m}.nii.gz"))
            for i, row in man.iterrows() for m in ("T1WI", "FS-T2WI")]
    shape = nib.load(files[0] if files[0].suffix == ".gz" else next(f for f in files if f.suffix == ".gz")).shape
    size = sum(f.stat().st_size for f in files)
    text = (f"\n\n## DICOM import at clinical resolution (issue 16, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit()})\n\n"
            f"- machine: {machine(load=False)}; load average {os.getloadavg()[0]:.1f} at the end\n"
            f"- {a.n_patients} patients x 2 series, {n_files} DICOM files (volumes like {shape}, int16), written in {t_write:.1f} s\n"
            f"- `import-dicom`: {t_import:.1f} s in all, {t_import/a.n_patients:.2f} s per patient (header scan, dcm2niix per series, "
            f"de-identified rewrite); cohort {size/2**20:.1f} MiB; identifiers found in the cohort: {len(leaks)}\n"
            f"- round trip against the synthetic NIfTI: voxels differ by at most {max(e[0] for e in errs):g}, "
            f"affines by at most {max(e[1] for e in errs):.1e} mm\n")
    print(text)
    if not a.no_record:
        with open(ROOT/"benchmarks"/"RESULTS.md", "a") as f: f.write(text)


if __name__ == "__main__": main()
