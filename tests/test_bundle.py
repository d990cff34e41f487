"""Issue 25 on the shared smoke run: a run folder another hospital can load without fear.

The bundle manifest refuses a missing, truncated or edited model file with the file named (`check` and `predict`);
a pickle payload planted in any file that `predict`, `check` or `report` reads runs no code, even when the manifest
is rewritten to match (the manifest is a check against accident, not a signature); `predict --force` never replaces a
run, a cohort or a file; an image whose header declares 1024^3 voxels is refused before it is decoded."""
import contextlib, gzip, hashlib, io, os, pickle, resource, shutil, subprocess, sys, time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import cli, ok

MODALITIES = ("T1WI", "FS-T2WI")
CLINICAL = ["age", "sex", "hla_b27", "crp", "esr", "symptom_duration", "ibp"]


def snapshot(root):
    "{relative path: sha256} of every file under `root`."
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


class _Payload:
    "Unpickling this creates `marker`: the proof that loading a file ran code from it."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))


def payload(marker)->bytes: return pickle.dumps(_Payload(marker))


@pytest.fixture(scope="module")
def patient(run, cohort, tmp_path_factory):
    "A test patient of the smoke run: {modality: NIfTI}, clinical values as COLUMN=VALUE, and their dict."
    split = pd.read_csv(run[0]/"cohort"/"split.csv", dtype={"patient_id": str})
    pid = split.patient_id[split.split == "test"].iloc[0]
    row = pd.read_csv(cohort/"manifest.csv", dtype={"patient_id": str}).set_index("patient_id").loc[pid]
    d = tmp_path_factory.mktemp("patient")
    images = {m: Path(shutil.copy(cohort/row[f"image_{m}"], d/f"{m}.nii.gz")) for m in MODALITIES}
    clinical = {c: row[c] for c in CLINICAL if pd.notna(row[c])}
    return images, [f"{c}={v}" for c, v in clinical.items()], clinical


def image_args(images): return [a for m, f in images.items() for a in ("--image", f"{m}={f}")]


def copy_bundle(run_dir, dest):
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("cache"))
    return dest


def test_check_and_predict_refuse_a_changed_bundle(run, patient, tmp_path):
    bundle = copy_bundle(run[0], tmp_path/"bundle")
    res = ok(cli("check", bundle))
    assert "the bundle is whole" in res.stdout
    ckpts = sorted(p.relative_to(bundle) for p in (bundle/"classification").rglob("*.pt"))
    unet = sorted(p.relative_to(bundle) for p in (bundle/"segmentation").rglob("*.pt"))
    assert len(ckpts) >= 4 and unet, (ckpts, unet)
    (bundle/ckpts[0]).unlink()                                                    # a fold checkpoint lost on the way
    (bundle/unet[0]).write_bytes((bundle/unet[0]).read_bytes()[:1000])            # a truncated copy
    enc = bundle/"combined"/"encoder.json"; enc.write_text(enc.read_text().replace("1", "2", 1))  # an edited model file
    (bundle/"stacking"/"notes.txt").write_text("added")                          # a file that was never part of it
    res = cli("check", bundle)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    for line in (f"{ckpts[0]}: missing", f"{unet[0]}: 1000 bytes, the bundle says", "combined/encoder.json: its content differs",
                 "stacking/notes.txt: not in the bundle"):
        assert line in res.stderr, (line, res.stderr)
    images, clinical, _ = patient
    res = cli("predict", bundle, *image_args(images), "--clinical", *clinical, "--out", tmp_path/"out")
    assert res.returncode == 1 and f"{ckpts[0]}: missing" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path/"out").exists()


def test_a_bundle_from_another_version_is_named(run, tmp_path):
    import json
    bundle = copy_bundle(run[0], tmp_path/"bundle")
    man = json.loads((bundle/"bundle.json").read_text()); man["version"] = "7.4.0"
    (bundle/"bundle.json").write_text(json.dumps(man))
    res = cli("check", bundle)
    assert res.returncode == 1 and "made by sacroiliitis-dlr 7.4.0" in res.stderr, res.stderr


def _hashing()->bool:
    "Whether the `open` being audited comes from the bundle check's hashing (which reads bytes and parses nothing)."
    f = sys._getframe(2)
    for _ in range(4):
        if f is None: return False
        if f.f_code.co_name == "_file_entry": return True
        f = f.f_back
    return False


def _opened_files(fn, root):
    "The files under `root` that `fn()` opens to read them (an audit hook; hooks cannot be removed, so it switches itself off)."
    seen, root = set(), str(Path(root).resolve())
    state = {"on": True}
    def hook(event, args):
        if state["on"] and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) and not _hashing():
            p = os.path.realpath(os.fsdecode(args[0]))
            if p.startswith(root + os.sep) and os.path.isfile(p): seen.add(os.path.relpath(p, root))
    sys.addaudithook(hook)
    try: fn()
    finally: state["on"] = False
    return sorted(seen)


def _kinds(reads)->list:
    """The first and the last file of each kind among `reads` (same folder, same name but for a fold or patient number).
    Files of one kind are read by one reader, and each file replaced costs a prediction: the smoke run's prediction
    opens 119 files (32 masks, 60 checkpoint files, 10 radiomics models), 47 of them a kind's first or last. The first and
    the last of each kind still catch a reader that treats the first (or the last) file apart."""
    import re
    kinds = {}
    for r in reads: kinds.setdefault((str(Path(r).parent), re.sub(r"(fold|P)\d+", r"\1#", Path(r).name)), []).append(r)
    return sorted({f for files in kinds.values() for f in (files[0], files[-1])})


def test_no_code_runs_from_any_file_predict_reads(run, patient, tmp_path):
    "Each kind of file the prediction path opens (`_kinds`), replaced in turn by a pickle payload with the manifest rewritten to match."
    from sacroiliitis_dlr.core import write_bundle_manifest
    from sacroiliitis_dlr.predict import predict_new_patient
    bundle = copy_bundle(run[0], tmp_path/"bundle")
    images, _, clinical = patient
    quiet = lambda: contextlib.redirect_stdout(io.StringIO())
    with quiet(): reads = _opened_files(lambda: predict_new_patient(bundle, images, clinical), bundle)
    assert "config.json" in reads and any(r.endswith(".pt") for r in reads) and any(r.startswith("stacking/") for r in reads), reads
    marker = tmp_path/"PWNED"
    for rel in [r for r in _kinds(reads) if r != "bundle.json"]:
        original = (bundle/rel).read_bytes()
        (bundle/rel).write_bytes(payload(marker)); write_bundle_manifest(bundle)
        try:
            with quiet(), pytest.raises(Exception) as err: predict_new_patient(bundle, images, clinical)
        finally: (bundle/rel).write_bytes(original)
        assert not marker.exists(), f"loading {rel} ran the payload"
        assert Path(rel).name in str(err.value) or Path(rel).stem in str(err.value), (rel, str(err.value)[:500])
    write_bundle_manifest(bundle)
    ok(cli("check", bundle))


def test_no_code_runs_from_planted_files_on_report_check_and_resume(run, cohort, tmp_path):
    "A payload in every loadable file of the bundle at once, and under the names the package once used for pickles."
    from sacroiliitis_dlr.core import bundle_files, write_bundle_manifest
    bundle = copy_bundle(run[0], tmp_path/"bundle")
    marker = tmp_path/"PWNED"
    planted = [r for r in bundle_files(bundle) if Path(r).suffix in {".json", ".pt", ".skops", ".csv", ".npz", ".npy", ".gz"}]
    planted += ["stacking/dlr_signature.joblib", "stacking/models/logistic.joblib", "classification/model.pkl"]
    for rel in planted:
        (bundle/rel).parent.mkdir(parents=True, exist_ok=True); (bundle/rel).write_bytes(payload(marker))
    res = cli("check", bundle)
    assert res.returncode == 1 and "\n  - config.json: " in res.stderr and not marker.exists(), res.stderr
    res = cli("report", bundle)
    assert res.returncode == 1 and not marker.exists(), res.stderr[-2000:]
    write_bundle_manifest(bundle)  # as a hostile sender would
    for args in (("check", bundle), ("report", bundle),
                 ("run", "--cohort", cohort, "--out", bundle, "--profile", "smoke", "--seed", "0", "--quiet")):
        res = cli(*args, timeout=900)
        assert not marker.exists(), f"{args[0]} ran the payload"
        assert "Traceback" not in res.stderr, res.stderr[-2000:]


def test_predict_force_never_replaces_a_run_a_cohort_or_a_file(run, cohort, patient, tmp_path):
    images, clinical, _ = patient
    afile = tmp_path/"notes.txt"; afile.write_text("keep me")
    before = {d: snapshot(d) for d in (run[0], cohort)}
    for out, says in ((run[0], "run folder"), (cohort, "holds no prediction.json"), (afile, "is a file")):
        res = cli("predict", run[0], *image_args(images), "--clinical", *clinical, "--out", out, "--force")
        assert res.returncode == 1 and says in res.stderr and "Traceback" not in res.stderr, (out, res.stderr)
    assert afile.read_text() == "keep me"
    for d, snap in before.items(): assert snapshot(d) == snap, f"{d} changed"
    # an earlier prediction is what --force replaces
    ok(cli("predict", run[0], *image_args(images), "--clinical", *clinical, "--out", tmp_path/"pred"))
    ok(cli("predict", run[0], *image_args(images), "--clinical", *clinical, "--out", tmp_path/"pred", "--force"))
    assert sorted(p.name for p in (tmp_path/"pred").iterdir()) == ["mask.nii.gz", "prediction.html", "prediction.json"]


def gzip_bomb(path):
    "A small .nii.gz whose header declares 1024^3 int16 voxels (2 GiB once decoded)."
    hdr = nib.Nifti1Header(); hdr.set_data_shape((1024, 1024, 1024)); hdr.set_data_dtype(np.int16)
    hdr.set_qform(np.diag([1., 1., 1., 1.]), 1); hdr.set_sform(np.diag([1., 1., 1., 1.]), 1)
    raw = hdr.binaryblock + b"\0"*4  # header and extension flag; then zeros, compressed to nothing
    with gzip.open(path, "wb") as f:
        f.write(raw)
        zeros = bytes(1 << 24)
        for _ in range(128): f.write(zeros)  # 2 GiB of zeros is ~2 MB compressed
    return path


_REFUSE = """
import json, sys, time
from sacroiliitis_dlr.predict import predict_new_patient
run, images, clinical = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
import resource
before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.monotonic()  # the imports (torch, MONAI, fastai) done
try: predict_new_patient(run, images, clinical); print("ACCEPTED")
except Exception as e: print(type(e).__name__, e)
print("SECONDS", time.monotonic() - t0)
print("ADDED_GIB", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)/2**20)
"""
# a small process runs the check and reports its child's peak memory: a child forked straight from pytest would count
# pytest's own pages (shared until exec, over 1 GiB by then) in its peak
_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "print('PEAK_GIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/2**20); sys.exit(r.returncode)")


def test_gzip_bomb_refused_before_decoding(run, patient, tmp_path):
    "The header's 1024^3 voxels (2 GiB as int16) are refused in under 5 s, the refusal adding under 64 MiB of memory."
    import json
    images, _, clinical = patient
    bomb = gzip_bomb(tmp_path/"bomb.nii.gz")
    assert bomb.stat().st_size < 4*2**20
    res = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-c", _REFUSE, str(run[0]),
                          json.dumps({"T1WI": str(bomb), "FS-T2WI": str(images["FS-T2WI"])}),
                          json.dumps({k: str(v) for k, v in clinical.items()})], capture_output=True, text=True, timeout=300)
    out = res.stdout
    assert "ACCEPTED" not in out and "bomb.nii.gz" in out and "1024" in out, (out, res.stderr[-2000:])
    seconds, added = float(out.split("SECONDS")[1].split()[0]), float(out.split("ADDED_GIB")[1].split()[0])
    peak = float(out.split("PEAK_GIB")[1].split()[0])
    assert seconds < 5, seconds
    # the prediction stack's imports alone take about 1 GiB (torch, MONAI, fastai: measured 1.04 GiB in all); the check
    # itself must add next to nothing, where decoding the image would add 2-4 GiB
    assert added < 1/16, (added, peak)
