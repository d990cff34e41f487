"""`predict` from a DICOM study against the same patient's NIfTI files, and on scans unlike the training scans (issue 28).

For the first N test patients of a finished run, each patient's two images are written as one DICOM study (coronal
series, identifiers set, as `tests/test_predict.py` does), then predicted twice in fresh processes: `predict --dicom`
and `predict --image` on the original NIfTI files. Recorded: the wall-clock time of each, the combined probability with
its 95% CI, the difference between the two paths, the DICOM SEG read back against the NIfTI path's mask (voxel for
voxel, on the source instances), and any warning. Then N patients of another site (e.g. the 1.5 T scanner S4) through
`predict --image`, with the warnings they get:

    .venv/bin/python benchmarks/predict_dicom.py --run reports/synthetic-cpu --cohort data/synthetic --site data/site-b \\
        --work /tmp/predict-dicom

The section is appended to benchmarks/RESULTS.md with the machine and the commit. Not part of `make test`.
"""
import argparse, json, shutil, sys
from datetime import datetime, timezone
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from _common import commit, machine, measured

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent/"sacroiliitis-dlr")
CLINICAL = ["age", "sex", "hla_b27", "crp", "esr", "symptom_duration", "ibp"]
MODALITIES = (("T1WI", "T1W_TSE_COR"), ("FS-T2WI", "t2_tirm_cor"))


def manifest(cohort): return pd.read_csv(Path(cohort)/"manifest.csv", dtype={"patient_id": str}).set_index("patient_id")


def write_study(cohort, row, folder):
    "The patient's images as one DICOM study; {modality: the series' files}."
    from pydicom.uid import generate_uid
    from sacroiliitis_dlr.dicom import volume_to_dicom
    patient, study, files = dict(PatientName="Bench^Patient", PatientID="BENCH0001"), generate_uid(), {}
    for n, (m, desc) in enumerate(MODALITIES):
        img = nib.load(Path(cohort)/row[f"image_{m}"])
        vol = np.asarray(img.dataobj)
        assert np.array_equal(vol, np.round(vol)), f"{row[f'image_{m}']}: not whole numbers"
        files[m] = volume_to_dicom(vol.astype(np.int16), img.affine, folder/desc, desc, patient, n + 1, study)
    return files


def predict(run, out, *args):
    "One `predict` in a fresh process: (Measured, prediction.json)."
    m = measured([CLI, "predict", str(run), *map(str, args), "--out", str(out)], timeout=1800)
    if m.returncode != 0: sys.exit(f"predict failed ({m.returncode}):\n{m.output[-3000:]}")
    return m, json.loads((out/"prediction.json").read_text())


def clinical(row): return ["--clinical", *[f"{c}={row[c]}" for c in CLINICAL if pd.notna(row[c])]]


def one_test_patient(run, cohort, row, work):
    "The DICOM and the NIfTI path for one patient: the row of the results table."
    import pydicom
    from sacroiliitis_dlr.pacs import read_seg_frames, sample_on_instances
    files = write_study(cohort, row, work/"study")
    md, jd = predict(run, work/"dicom", "--dicom", work/"study", *clinical(row))
    mn, jn = predict(run, work/"nifti", *[a for m, _ in MODALITIES for a in ("--image", f"{m}={Path(cohort)/row[f'image_{m}']}")], *clinical(row))
    frames = read_seg_frames(work/"dicom"/"seg.dcm", files["T1WI"])
    ref = sample_on_instances(nib.load(work/"nifti"/"mask.nii.gz"), [pydicom.dcmread(f) for f in files["T1WI"]]) > 0
    ci = jd["combined_ci"]
    return dict(dicom_s=md.seconds, nifti_s=mn.seconds, combined=f"{jd['combined']:.3f} ({ci['prob_lo']:.3f}-{ci['prob_hi']:.3f})",
                diff=abs(jd["combined"] - jn["combined"]), frames=len(frames), mask_equal=bool(np.array_equal(frames, ref)),
                warnings=len(jd["unlike_training"]) + len(jn["unlike_training"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True); ap.add_argument("--cohort", required=True, help="the run's own cohort")
    ap.add_argument("--site", required=True, help="a cohort from scanners the run never saw")
    ap.add_argument("--work", required=True, help="a scratch folder (replaced)"); ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--also", default="nothing else", help="what else ran on the machine meanwhile")
    ap.add_argument("--no-append", action="store_true")
    a = ap.parse_args()
    work = Path(a.work); shutil.rmtree(work, ignore_errors=True); work.mkdir(parents=True)
    head, man = machine(), manifest(a.cohort)
    split = pd.read_csv(Path(a.run)/"cohort"/"split.csv", dtype={"patient_id": str})
    rows = []
    for pid in split.patient_id[split.split == "test"].head(a.n):
        rows.append(dict(patient=pid, **one_test_patient(a.run, a.cohort, man.loc[pid], work/pid)))
    site, site_rows = manifest(a.site), []
    for pid in site.index[:a.n]:
        row = site.loc[pid]
        _, j = predict(a.run, work/f"site-{pid}", *[x for m, _ in MODALITIES for x in ("--image", f"{m}={Path(a.site)/row[f'image_{m}']}")], *clinical(row))
        site_rows.append(f"- site patient {pid} (scanner {row.get('scanner', '?')}): combined {j['combined']:.3f}; "
                         f"{len(j['unlike_training'])} warning(s): " + " | ".join(j["unlike_training"]))
    t = pd.DataFrame(rows)
    sec = [f"\n## predict from a DICOM study, and scans unlike the training scans (issue 28) ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)\n",
           f"- machine: {head}; meanwhile: {a.also}", f"- commit: {commit()}",
           f"- command: `.venv/bin/python benchmarks/predict_dicom.py --run {a.run} --cohort {a.cohort} --site {a.site} --work <tmp> --n {a.n}`", "",
           "| test patient | `predict --dicom` | `predict --image` | combined (95% CI), DICOM path | difference to the NIfTI path | SEG frames | SEG = NIfTI mask | warnings |",
           "|---|---:|---:|---|---:|---:|---|---:|"]
    sec += [f"| {r.patient} | {r.dicom_s:.1f} s | {r.nifti_s:.1f} s | {r.combined} | {r.diff:.1e} | {r.frames} | {'yes' if r.mask_equal else 'NO'} | {r.warnings} |"
            for r in t.itertuples()]
    sec += ["", *site_rows, ""]
    text = "\n".join(sec); print(text)
    if not a.no_append:
        with open(ROOT/"benchmarks"/"RESULTS.md", "a") as f: f.write(text)


if __name__ == "__main__": main()
