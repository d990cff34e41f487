"""Issue 14 through the CLI on a `smoke` cohort: unsafe patient IDs, identifier columns and cohorts that cannot be
split fail `validate` (and `run`, before anything is written) with one message and no traceback; no manifest value
of an undeclared column reaches a run folder; `--force` with another configuration is refused and `--replace`
killed half way leaves every finished stage whole; a user's file is never removed; one run at a time per folder;
Ctrl-C and a failing stage end in one message. Issue 25: a gzip bomb is refused from its header, image paths outside the
cohort, a ';' manifest and a duplicated column are named; `synth --force` and `import-dicom --force` replace only what
they made. The session's smoke cohort and run (tests/conftest.py: its manifest carries `bmi` and an undeclared `ward`)
are shared and copied; the runs made here are refused, stopped or cut short."""
import hashlib, json, os, shutil, signal, subprocess, sys, time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import CLI, WARD  # WARD: the values of the cohort's undeclared column `ward`: must never leave the manifest

STAGE_DIRS = ["cohort", "segmentation", "rois", "classification", "stacking", "combined", "summary"]


def cli(*args, timeout=600):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}"
    return res


def snapshot(root):
    "{relative path: sha256} of every file under `root`."
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def no_traceback(res):
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr[-3000:]


def edited(cohort, tmp_path, edit, name="bad"):
    "A copy of the cohort with `edit(manifest, folder)` applied; the manifest is written back."
    d = tmp_path / name
    shutil.copytree(cohort, d)
    man = pd.read_csv(d / "manifest.csv", dtype={"patient_id": str})
    man = edit(man, d) if edit else man
    man.to_csv(d / "manifest.csv", index=False)
    return d


def singular(path):
    "Rewrite a NIfTI so that its only affine (sform; no qform) is singular."
    img = nib.load(path)
    h = img.header.copy(); aff = img.affine.copy(); aff[:3, 0] = 0
    h.set_sform(aff, code=1); h.set_qform(None, code=0)
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), None, h), path)


# --- patient IDs -----------------------------------------------------------------------------------------------------

BAD_IDS = ["../../escape", "../../../escape_up3", "a/b", None, "x" * 300]


def test_unsafe_ids_are_refused_and_nothing_is_written_outside(cohort, tmp_path):
    def ids(man, d):
        for i, p in enumerate(BAD_IDS): man.loc[i, "patient_id"] = p
        return man
    bad = edited(cohort, tmp_path, ids)
    res = cli("validate", bad, "--profile", "smoke")
    assert res.returncode == 1; no_traceback(res)
    for row, shown in zip(range(2, 7), ["'../../escape'", "'../../../escape_up3'", "'a/b'", "patient_id: missing", "300 characters"]):
        assert any(l.startswith(f"  - row {row}: ") and shown in l for l in res.stderr.splitlines()), (row, res.stderr)
    before = snapshot(tmp_path)
    out = tmp_path / "deep" / "er" / "run"
    res = cli("run", "--cohort", bad, "--out", out, "--profile", "smoke", "--quiet", "--no-reports")
    assert res.returncode == 1 and "row 2: patient_id '../../escape'" in res.stderr; no_traceback(res)
    assert snapshot(tmp_path) == before and not (tmp_path / "deep").exists()
    assert not [p for p in tmp_path.parent.rglob("escape*")]


def test_writers_refuse_a_path_outside_their_folder(cohort, tmp_path):
    "Past validation too: the image cache will not write outside its folder whatever the ID."
    from sacroiliitis_dlr.core import RunFolderError
    from sacroiliitis_dlr.data import load_cohort, load_patient
    coh = load_cohort(cohort, check_files=False)
    coh.manifest.loc[0, "patient_id"] = "../../escape"
    with pytest.raises(RunFolderError, match="outside"): load_patient(coh, "../../escape", cache_dir=tmp_path / "run" / "cache")
    assert not list(tmp_path.rglob("escape*"))


# --- cohorts that validate cannot pass -------------------------------------------------------------------------------

def _header_only(man, d): return man.iloc[:0]
def _six(man, d): return man.iloc[:6]
def _one_class(man, d): return man.assign(label=1)
def _yes(man, d): man["label"] = man.label.astype(object); man.loc[4, "label"] = "yes"; return man
def _singular_patient(man, d):
    for c in ("image_T1WI", "image_FS-T2WI", "mask"): singular(d / man.loc[2, c])
    return man
def _singular_file(man, d): singular(d / man.loc[3, "image_T1WI"]); return man
def _mask_012(man, d):
    f = d / man.loc[5, "mask"]; img = nib.load(f); m = np.asanyarray(img.dataobj).copy(); m[m > 0] = 1
    m[tuple(np.argwhere(m)[0])] = 2
    nib.save(nib.Nifti1Image(m, img.affine, img.header), f)
    return man

BAD_COHORTS = {  # case: (edit, the cause one line must state, number of problem lines)
    "header only": (_header_only, "no patients", 1),
    "six patients": (_six, "need at least 8 patients of each label", 1),
    "one class": (_one_class, "both labels", 1),
    "label yes": (_yes, "patient P0005: label: 'yes' is not 0 or 1", 1),
    "singular affine, every file": (_singular_patient, "has a singular affine", 3),
    "singular affine, one file": (_singular_file, "P0004: image_T1WI: images/P0004_T1WI.nii.gz has a singular affine", 1),
    "mask values 0, 1, 2": (_mask_012, "P0006: mask: masks/P0006_mask.nii.gz has values other than 0 and 1 (2)", 1),
}


@pytest.mark.parametrize("case", list(BAD_COHORTS))
def test_bad_cohort_fails_validate_with_its_cause(cohort, tmp_path, case):
    edit, cause, n = BAD_COHORTS[case]
    res = cli("validate", edited(cohort, tmp_path, edit), "--profile", "smoke")
    assert res.returncode == 1, res.stdout; no_traceback(res)
    lines = [l for l in res.stderr.splitlines() if l.startswith("  - ")]
    assert len(lines) == n and all(cause in l for l in lines), res.stderr
    assert "field of view" not in res.stderr and "OrientationError" not in res.stderr


def test_run_stops_before_training_on_a_cohort_too_small(cohort, tmp_path):
    bad = edited(cohort, tmp_path, _six)
    out = tmp_path / "run"
    res = cli("run", "--cohort", bad, "--out", out, "--profile", "smoke", "--quiet")
    assert res.returncode == 1 and "cohort.n_folds" in res.stderr and "running" not in res.stdout; no_traceback(res)
    assert not out.exists()


# --- identifiers stay home -------------------------------------------------------------------------------------------

NAMES, BIRTHS, MRNS = [f"Zorrowska{i}" for i in range(40)], [f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}" for i in range(40)], \
                      [str(4410000 + 37 * i) for i in range(40)]


def test_identifier_columns_are_refused_by_name_without_their_values(cohort, tmp_path):
    bad = edited(cohort, tmp_path, lambda m, d: m.assign(patient_name=NAMES, birth_date=BIRTHS, mrn=[int(x) for x in MRNS]))
    out = tmp_path / "run"
    results = [cli("validate", bad, "--profile", "smoke"),
               cli("run", "--cohort", bad, "--out", out, "--profile", "smoke", "--quiet", "--no-reports")]
    for res in results:
        assert res.returncode == 1; no_traceback(res)
        for col in ("patient_name", "birth_date", "mrn"): assert f"column {col!r}: looks like an identifier" in res.stderr
    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file()) if out.exists() else b""
    text = "".join(r.stdout + r.stderr for r in results).encode() + written
    for v in NAMES + BIRTHS + MRNS: assert v.encode() not in text, v


def test_no_value_of_an_undeclared_column_reaches_the_run(run, cohort, tmp_path):
    "The shared run (every stage and report; `bmi` and `ward` undeclared), and a run's cohort stage with `bmi` declared."
    out, res, _ = run
    val = json.loads((out / "cohort" / "validation.json").read_text())
    assert "bmi" not in val["clinical_columns"] and "ward" not in val["clinical_columns"]
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file()) + (res.stdout + res.stderr).encode()
    for v in WARD: assert v.encode() not in blob, v
    assert b"ward" not in (out / "combined" / "univariable.csv").read_bytes()
    # a declared predictor is taken, the undeclared column still is not: the cohort stage alone decides the columns
    res = ok(cli("run", "--cohort", cohort, "--out", tmp_path / "bmi", "--profile", "smoke", "--seed", "0", "--quiet",
                 "--no-reports", "--predictor", "bmi", "--stages", "cohort"))
    val = json.loads((tmp_path / "bmi" / "cohort" / "validation.json").read_text())
    assert val["clinical_columns"][-1] == "bmi" and "ward" not in val["clinical_columns"]
    blob = b"".join(p.read_bytes() for p in (tmp_path / "bmi").rglob("*") if p.is_file()) + (res.stdout + res.stderr).encode()
    for v in WARD: assert v.encode() not in blob, v


# --- --force, --replace and the user's own files ---------------------------------------------------------------------

def _wait_for(path, text, proc, timeout=300):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists() and text in path.read_text(): return True
        if proc.poll() is not None: return False
        time.sleep(0.2)
    return False


def test_other_configuration_needs_replace_and_a_killed_replace_loses_nothing(run, cohort, tmp_path):
    from sacroiliitis_dlr.pipeline import _decide, default_stages, read_ledger
    copy = tmp_path / "copy"; shutil.copytree(run[0], copy)
    (copy / "notes.txt").write_text("my notes"); (copy / "mine").mkdir(); (copy / "mine" / "x.txt").write_text("mine")
    old = snapshot(copy)
    common = ["--cohort", cohort, "--out", copy, "--profile", "smoke", "--quiet", "--no-reports"]
    res = cli("run", *common, "--force", "--seed", "1")
    assert res.returncode == 1 and "another configuration (seed 0 -> 1)" in res.stderr and "--replace" in res.stderr
    no_traceback(res)
    assert {k: v for k, v in snapshot(copy).items() if k != "pipeline.log"} == {k: v for k, v in old.items() if k != "pipeline.log"}  # refused before anything was written (the log has the traceback)
    proc = subprocess.Popen([CLI, "run", *map(str, common), "--replace", "--seed", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try: assert _wait_for(copy / "pipeline.log", "classification: running (made with another configuration)", proc)
    finally: os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    new, led = snapshot(copy), read_ledger(copy)
    cfg = json.loads((copy / "config.json").read_text())
    assert cfg["seed"] == 1
    for f in ("notes.txt", "mine/x.txt"): assert new[f] == old[f]
    for d in STAGE_DIRS:  # each finished stage folder: the old one whole, or a complete replacement
        was = {k: v for k, v in old.items() if k.startswith(d + "/")}
        now = {k: v for k, v in new.items() if k.startswith(d + "/")}
        rec = led["stages"][d if d != "rois" else "roi"]
        if now == was: continue
        assert rec["state"] == "done" and rec["config"] == cfg["config_hash"], d
        assert sorted(k[len(d) + 1:] for k in now) == rec["files"], d
    replaced = [d for d in ("cohort", "segmentation", "roi") if led["stages"][d].get("config") == cfg["config_hash"]]
    assert replaced == ["cohort", "segmentation", "roi"]
    tokens = {n: r.get("token") for n, r in led["stages"].items() if r.get("state") == "done"}
    for st in default_stages(False):  # what the resumed run would do: nothing of the old configuration is trusted
        why = _decide(st, copy, led, False, set(), tokens, cfg["config_hash"])
        assert (why is None) == (st.name in replaced), (st.name, why)


def test_a_file_the_package_did_not_write_stops_a_replacement(run, cohort, tmp_path):
    copy = tmp_path / "copy"; shutil.copytree(run[0], copy)
    (copy / "summary" / "notes.txt").write_text("mine")
    old = snapshot(copy)
    res = cli("run", "--cohort", cohort, "--out", copy, "--profile", "smoke", "--quiet", "--no-reports", "--stages", "summary",
              "--force")
    assert res.returncode == 1 and "did not write (notes.txt)" in res.stderr; no_traceback(res)
    assert {k: v for k, v in snapshot(copy).items() if k.startswith("summary/")} == {k: v for k, v in old.items() if k.startswith("summary/")}
    (tmp_path / "theirs").mkdir(); (tmp_path / "theirs" / "a.txt").write_text("x")
    res = cli("run", "--cohort", cohort, "--out", tmp_path / "theirs", "--profile", "smoke")
    assert res.returncode == 1 and "holds no sacroiliitis-dlr run" in res.stderr and len(res.stderr.splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "theirs").iterdir()) == ["a.txt"]


# --- one run at a time -----------------------------------------------------------------------------------------------

HOLD = "import sys, time\nfrom sacroiliitis_dlr.core import run_lock\nwith run_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(600)\n"


def test_a_second_run_is_refused_while_the_first_holds_the_lock(run, cohort, tmp_path):
    copy = tmp_path / "copy"; shutil.copytree(run[0], copy)
    args = ["run", "--cohort", cohort, "--out", copy, "--profile", "smoke", "--quiet", "--no-reports"]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = cli(*args)
        assert res.returncode == 1 and f"in use by another run (pid {holder.pid}" in res.stderr; no_traceback(res)
    finally: holder.kill(); holder.wait()  # killed: the lock file stays, the lock does not
    res = ok(cli(*args))
    from sacroiliitis_dlr.pipeline import default_stages
    assert res.stdout.count(": skipped") == len(default_stages(reports=False))  # every stage was up to date


# --- one message for Ctrl-C and for a failing stage ------------------------------------------------------------------

def test_ctrl_c_says_where_it_stopped(cohort, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([CLI, "run", "--cohort", str(cohort), "--out", str(out), "--profile", "smoke", "--quiet",
                             "--no-reports", "--predictor", "bmi"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            # a shell's background job ignores SIGINT and its children inherit that: give Ctrl-C back
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try: assert _wait_for(out / "pipeline.log", "segmentation: running", proc)
    finally:
        time.sleep(1); os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == (
        "sacroiliitis-dlr run: interrupted in stage segmentation; finished stages are kept, and the same command resumes the run"), err
    assert "KeyboardInterrupt" in (out / "pipeline.log").read_text()  # the traceback is kept in the log
    assert json.loads((out / "pipeline.json").read_text())["stages"]["segmentation"]["state"] == "interrupted"


FAIL_IN_STACKING = """
import sys
import sacroiliitis_dlr.stacking as st
def broken(*a, **k): raise ValueError("the meta-learners disagree")
st.run_stacking_stage = broken
from sacroiliitis_dlr.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_failing_stage_is_one_line_and_its_traceback_is_in_the_log(run, cohort, tmp_path):
    copy = tmp_path / "copy"; shutil.copytree(run[0], copy)
    args = ["run", "--cohort", str(cohort), "--out", str(copy), "--profile", "smoke", "--quiet", "--no-reports",
            "--stages", "stacking", "--force"]
    res = subprocess.run([sys.executable, "-c", FAIL_IN_STACKING, *args], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1; no_traceback(res)
    assert res.stderr.splitlines()[0] == "sacroiliitis-dlr run: stage stacking: ValueError: the meta-learners disagree"
    log = (copy / "pipeline.log").read_text()
    assert "Traceback" in log and "the meta-learners disagree" in log
    for folder in (copy.resolve(), cohort.resolve()): assert str(folder) not in log  # the log travels with the run folder
    assert 'File "/' not in log  # no file of this machine by its absolute path (site-packages/..., <...>/pipeline.py)
    res = subprocess.run([sys.executable, "-c", FAIL_IN_STACKING, *args, "--debug"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "Traceback" in res.stderr
    assert json.loads((copy / "pipeline.json").read_text())["stages"]["stacking"]["state"] == "failed"


def test_out_naming_a_file_is_one_line(cohort, tmp_path):
    (tmp_path / "f").write_text("x")
    res = cli("run", "--cohort", cohort, "--out", tmp_path / "f", "--profile", "smoke")
    assert res.returncode == 1 and res.stderr == f"sacroiliitis-dlr run: {tmp_path / 'f'} is a file, not a folder: give --out a new or empty folder\n"


# --- inputs at their worst (issue 25) --------------------------------------------------------------------------------

def gzip_bomb(path, shape=(1024, 1024, 1024), dtype=np.int16):
    "A real .nii.gz of `shape` zeros (2 GiB for 1024^3 int16) in about 2 MB: 1 MiB gzip members of zeros, concatenated."
    import gzip
    hdr = nib.Nifti1Header(); hdr.set_data_shape(shape); hdr.set_data_dtype(dtype); hdr.set_sform(np.eye(4), code=1)
    hdr["vox_offset"] = 352
    block = gzip.compress(bytes(2**20), 9)
    with open(path, "wb") as f:
        f.write(gzip.compress(hdr.binaryblock + bytes(4)))
        for _ in range(int(np.prod(shape)) * np.dtype(dtype).itemsize // 2**20): f.write(block)
    return Path(path)


# A small Python process starts the CLI and reports its child's peak memory: a child forked straight from pytest
# would count pytest's own pages (shared until exec) in its peak, and pytest holds over 1 GiB by then.
_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "print(f'PEAK_KIB {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', file=sys.stderr); sys.exit(r.returncode)")


def measured(*args):
    "(CompletedProcess, wall seconds, peak resident memory in bytes) of the CLI run as a child of a small process."
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", _PEAK, CLI, *map(str, args)], capture_output=True, text=True)
    secs = time.monotonic() - t0
    err, _, peak = res.stderr.rpartition("PEAK_KIB ")
    return subprocess.CompletedProcess(res.args, res.returncode, res.stdout, err), secs, int(peak) * 1024


def test_a_gzip_bomb_is_refused_from_its_header(cohort, tmp_path):
    "Two patients' images declare 1024^3 int16 (2 GiB each, 4 GiB as float32); two patients are checked at once."
    def bombs(man, d):
        for i in (1, 2): gzip_bomb(d / man.loc[i, "image_T1WI"])
        return man.head(12)
    bad = edited(cohort, tmp_path, bombs)
    f = bad / "images" / "P0002_T1WI.nii.gz"
    assert f.stat().st_size < 3 * 2**20 and nib.load(f).shape == (1024, 1024, 1024)
    res, secs, peak = measured("validate", bad, "--profile", "smoke")
    assert res.returncode == 1; no_traceback(res)
    for pid in ("P0002", "P0003"):
        line = f"  - patient {pid}: image_T1WI: images/{pid}_T1WI.nii.gz: its header declares (1024, 1024, 1024) = 1,073,741,824 voxels, more than the cap of 134,217,728"
        assert any(l.startswith(line) for l in res.stderr.splitlines()), res.stderr
    assert secs < 5 and peak < 2**30, (secs, peak / 2**20)


def test_image_paths_outside_the_cohort_are_named(cohort, tmp_path):
    "Up and out, absolute, and a symbolic link that leads out: each named with its patient and column, none opened."
    elsewhere = tmp_path / "elsewhere"; elsewhere.mkdir()
    def out_of_folder(man, d):
        for i in (1, 2, 3): shutil.move(d / man.loc[i, "mask"], elsewhere / f"{man.patient_id[i]}.nii.gz")
        man.loc[1, "mask"] = "../../elsewhere/P0002.nii.gz"  # resolves to tmp_path/../elsewhere: does not exist, still named
        man.loc[2, "mask"] = str(elsewhere / "P0003.nii.gz")
        (d / "masks" / "link.nii.gz").symlink_to(elsewhere / "P0004.nii.gz"); man.loc[3, "mask"] = "masks/link.nii.gz"
        return man
    bad = edited(cohort, tmp_path, out_of_folder)
    res = cli("validate", bad, "--profile", "smoke")
    assert res.returncode == 1; no_traceback(res)
    lines = [l for l in res.stderr.splitlines() if l.startswith("  - ")]
    assert [l.split(":")[0] for l in lines] == ["  - patient P0002", "  - patient P0003", "  - patient P0004"], res.stderr
    assert all(": mask: " in l and "lies outside the cohort folder" in l for l in lines)
    assert "../../elsewhere/P0002.nii.gz" in lines[0] and str(elsewhere / "P0003.nii.gz") in lines[1]
    from sacroiliitis_dlr.data import load_cohort
    man = pd.read_csv(bad / "manifest.csv"); man.loc[1, "mask"] = "../elsewhere/P0002.nii.gz"; man.to_csv(bad / "manifest.csv", index=False)
    coh = load_cohort(bad, allow_outside=True)  # asked for: the files they lead to are read and checked
    assert coh.manifest["mask"][3] == str((elsewhere / "P0004.nii.gz").resolve())


def test_a_semicolon_manifest_is_one_problem_and_a_duplicate_column_is_named(cohort, tmp_path):
    semi = edited(cohort, tmp_path, None, "semi")
    pd.read_csv(semi / "manifest.csv").to_csv(semi / "manifest.csv", sep=";", index=False)
    res = cli("validate", semi, "--profile", "smoke")
    assert res.returncode == 1; no_traceback(res)
    assert [l for l in res.stderr.splitlines() if l.startswith("  - ")] == [
        "  - manifest.csv uses ';' as its delimiter; the layout asks for commas (save it as comma-separated CSV)"], res.stderr
    def age_twice(man, d): return pd.concat([man, man[["age"]] + 7], axis=1)  # `age` twice, other values
    dup = edited(cohort, tmp_path, age_twice, "dup")
    text = (dup / "manifest.csv").read_text(); (dup / "manifest.csv").write_text(text.replace(",age.1", ",age", 1))
    res = cli("validate", dup, "--profile", "smoke")
    assert res.returncode == 1; no_traceback(res)
    lines = [l for l in res.stderr.splitlines() if l.startswith("  - ")]
    assert len(lines) == 1 and lines[0].startswith("  - manifest.csv: column 'age' appears 2 times (columns 7 and 16)"), res.stderr


# --- --force is never a weapon: synth and import-dicom replace only what they made ----------------------------------

def _targets(run, cohort, tmp_path):
    "A run folder (a copy of the smoke run), a real cohort (no generator.json, no import.json) and a file."
    run_copy = tmp_path / "run"; shutil.copytree(run[0], run_copy)
    real = tmp_path / "real"; shutil.copytree(cohort, real); (real / "generator.json").unlink()
    f = tmp_path / "notes.txt"; f.write_text("mine")
    return {run_copy: "is a run folder (the model bundle): it is kept", real: "holds no {marker}", f: "is a file, not a folder"}


def test_synth_force_replaces_only_a_synthetic_cohort(run, cohort, tmp_path):
    targets = _targets(run, cohort, tmp_path)
    before = snapshot(tmp_path)
    for out, says in targets.items():
        res = cli("synth", "--out", out, "--profile", "smoke", "--n-patients", "12", "--force")
        assert res.returncode == 1 and says.format(marker="generator.json") in res.stderr, res.stderr; no_traceback(res)
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "real", "run"]
    mine = tmp_path / "mine"; shutil.copytree(cohort, mine)  # a synthetic cohort is replaced
    ok(cli("synth", "--out", mine, "--profile", "smoke", "--n-patients", "12", "--force"))
    assert len(pd.read_csv(mine / "manifest.csv")) == 12


def test_import_dicom_force_replaces_only_an_earlier_import(run, cohort, tmp_path):
    from sacroiliitis_dlr.dicom import volume_to_dicom
    man = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str}).head(1)
    for m, desc in (("T1WI", "T1W_TSE_COR"), ("FS-T2WI", "t2_tirm_cor")):
        img = nib.load(cohort / man.loc[0, f"image_{m}"])
        volume_to_dicom(np.round(np.asarray(img.dataobj) * 1000).astype(np.int16), img.affine, tmp_path / "dicom" / desc,
                        desc, dict(PatientID="MRN1"), 1 if m == "T1WI" else 2)
    ids = tmp_path.parent / f"{tmp_path.name}-ids.csv"  # outside every --out
    targets = _targets(run, cohort, tmp_path)
    before = snapshot(tmp_path)
    for out, says in targets.items():
        res = cli("import-dicom", tmp_path / "dicom", "--out", out, "--id-map", ids, "--force")
        assert res.returncode == 1 and says.format(marker="import.json") in res.stderr, res.stderr; no_traceback(res)
    assert snapshot(tmp_path) == before and not ids.exists()
    ok(cli("import-dicom", tmp_path / "dicom", "--out", tmp_path / "imported", "--id-map", ids))
    ok(cli("import-dicom", tmp_path / "dicom", "--out", tmp_path / "imported", "--id-map", ids, "--force"))  # its own: replaced
    assert sorted(p.name for p in (tmp_path / "imported").iterdir()) == ["images", "import.json", "manifest.csv"]
