"""End to end through the CLI on a `smoke` cohort: every stage and every report notebook, one metrics row per model
and cohort, a rerun that skips every stage, `report` re-executing only the notebooks, an interrupted stage that a
rerun does not trust, and a bad manifest that stops the run before anything trains."""
import json, os, shutil, subprocess, sys, time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from conftest import cli, ledger, ok

STAGES = ["cohort", "segmentation", "roi", "classification", "radiomics", "stacking", "combined", "summary", "reports"]
STAGE_DIRS = ["cohort", "segmentation", "rois", "classification", "radiomics", "stacking", "combined", "summary", "reports"]


def expected_models(cohort):
    from sacroiliitis_dlr.core import get_profile
    prof = get_profile("smoke")
    mods = [c[len("image_"):] for c in pd.read_csv(cohort / "manifest.csv", nrows=1).columns if c.startswith("image_")]
    return ([f"{a}_{m}" for a in prof.classification.archs for m in mods] + [f"radiomics_{m}" for m in mods]
            + [f"stack_{l}" for l in prof.stacking.learners] + ["dlr_signature", "clinical", "combined"])


def test_every_stage_ran_and_finished(run):
    out, res, secs = run
    print(f"smoke run: {secs:.0f} s")
    assert (out / "config.json").exists() and (out / "index.html").exists()
    for d in STAGE_DIRS: assert (out / d).is_dir(), d
    for f in ("cohort/split.csv", "cohort/validation.json", "classification/predictions.csv", "stacking/predictions.csv",
              "combined/predictions.csv", "summary/metrics.csv", "summary/delong.csv"):
        assert (out / f).exists(), f
    led = ledger(out)
    assert {k: v["state"] for k, v in led.items()} == {s: "done" for s in STAGES}
    for s in STAGES: assert f"{s}: running" in res.stdout and f"{s}: done in" in res.stdout, s
    assert not list(out.glob("*.tmp-*"))


def test_metrics_row_for_every_model_and_cohort(run, cohort):
    out = run[0]
    met = pd.read_csv(out / "summary" / "metrics.csv")
    assert list(met.columns[:11]) == ["model", "cohort", "n", "auc", "auc_lo", "auc_hi", "accuracy", "sensitivity",
                                      "specificity", "ppv", "npv"]  # first and unchanged; each proportion's Wilson CI follows
    models = expected_models(cohort)
    assert set(met.model) == set(models)
    from sacroiliitis_dlr.core import model_registry
    reg = pd.read_csv(out / "summary" / "models.csv")  # the registry the templates read: the run's models, in stage order
    assert reg.name.tolist() == model_registry(out).name.tolist() == list(dict.fromkeys(met.model))
    assert set(reg.kind) == {"cnn", "radiomics", "stack", "signature", "clinical", "combined"}
    assert met.groupby("model").cohort.apply(sorted).to_dict() == {m: ["test", "train"] for m in models}
    split = pd.read_csv(out / "cohort" / "split.csv")
    n = split.split.value_counts()
    assert (met.set_index("cohort").n == n.reindex(met.cohort).values).all()
    assert met.auc.between(0, 1).all() and (met.auc_lo <= met.auc).all() and (met.auc <= met.auc_hi).all()
    dl = pd.read_csv(out / "summary" / "delong.csv")
    assert set(dl.cohort) == {"train", "test"} and dl.p_value.between(0, 1).all()


def test_every_report_notebook_executed(run, cohort):
    out = run[0]
    rep = out / "reports"
    names = ["cohort", "segmentation", "summary"] + [f"model_{m}" for m in expected_models(cohort)]
    index = (out / "index.html").read_text()
    for n in names:
        nb = json.loads((rep / f"{n}.ipynb").read_text())
        assert nb["metadata"]["papermill"]["exception"] is None or nb["metadata"]["papermill"]["exception"] is False, n
        assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"], n
        assert (rep / f"{n}.html").stat().st_size > 10_000, n
        assert f"reports/{n}.html" in index, n
    pngs = sorted((rep / "figures").glob("*.png"))
    assert len(pngs) >= 2 * len(names) - 3
    for p in pngs: assert p.with_suffix(".pdf").exists(), p.name
    assert "summary/metrics.csv" in index and "http://" not in index and "https://" not in index  # opens offline: no external resources


@pytest.fixture
def run_copy(run, tmp_path):
    "A copy of the shared run, for a test that runs into it (a refused run, for one, logs its traceback to pipeline.log)."
    dst = tmp_path / "copy"
    shutil.copytree(run[0], dst)
    return dst


def test_second_run_skips_every_stage(run_copy, cohort):
    out = run_copy
    before = {s: r["token"] for s, r in ledger(out).items()}
    mtime = (out / "summary" / "metrics.csv").stat().st_mtime_ns
    t0 = time.monotonic()
    res = ok(cli("run", "--cohort", cohort, "--out", out, "--profile", "smoke", "--seed", "0", "--quiet"))
    secs = time.monotonic() - t0
    print(f"rerun: {secs:.1f} s")
    for s in STAGES: assert f"{s}: skipped" in res.stdout, s
    assert ": running" not in res.stdout
    assert {s: r["token"] for s, r in ledger(out).items()} == before
    assert (out / "summary" / "metrics.csv").stat().st_mtime_ns == mtime  # nothing redone (its time is a benchmark's, not a test's)


def test_other_configuration_is_refused(run_copy, cohort):
    res = cli("run", "--cohort", cohort, "--out", run_copy, "--profile", "smoke", "--seed", "1", "--no-reports")
    assert res.returncode == 1 and "another configuration" in res.stderr


TINY_TEMPLATE = {"cells": [
    {"cell_type": "code", "execution_count": None, "metadata": {"tags": ["parameters"]}, "outputs": [],
     "source": "run_dir = ''\nprofile = 'smoke'\nfig_dir = None\ndpi = 100\nmodel = ''"},
    {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
     "source": "from pathlib import Path\nprint(len(Path(run_dir, 'summary', 'metrics.csv').read_text()), model)"}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}


def test_report_command_reexecutes_only_the_notebooks(run_copy, tmp_path):
    tpl = tmp_path / "templates"; tpl.mkdir()
    for n in ("cohort", "segmentation", "model", "summary"): (tpl / f"{n}.ipynb").write_text(json.dumps(TINY_TEMPLATE))
    before = ledger(run_copy)
    ok(cli("report", run_copy, env={"SACROILIITIS_DLR_TEMPLATES": str(tpl)}))
    after = ledger(run_copy)
    assert after["reports"]["token"] != before["reports"]["token"]
    assert {s: r["token"] for s, r in after.items() if s != "reports"} == {s: r["token"] for s, r in before.items() if s != "reports"}
    nb = nbformat.read(run_copy / "reports" / "model_combined.ipynb", as_version=4)
    assert "combined" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)


KILL_IN_STACKING = """
import os, sys
from pathlib import Path
import sacroiliitis_dlr.stacking as st
def killed(run_dir, *a, **k):
    tmp = Path(run_dir) / "stacking.tmp-killed"; tmp.mkdir()
    (tmp / "predictions.csv").write_text("patient_id,split,model,prob\\n")   # half-written
    os._exit(137)                                                            # killed: no cleanup at all
st.run_stacking_stage = killed
from sacroiliitis_dlr.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_interrupted_stage_is_not_trusted(run_copy, cohort):
    args = ["run", "--cohort", str(cohort), "--out", str(run_copy), "--profile", "smoke", "--seed", "0", "--quiet",
            "--no-reports"]
    res = subprocess.run([sys.executable, "-c", KILL_IN_STACKING, *args, "--stages", "stacking", "--force"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 137
    assert ledger(run_copy)["stacking"]["state"] == "running"
    res = ok(cli(*args))
    for s in ("stacking", "combined", "summary"): assert f"{s}: running" in res.stdout, s
    for s in ("cohort", "segmentation", "roi", "classification"): assert f"{s}: skipped" in res.stdout, s
    assert not list(run_copy.glob("*.tmp-*"))
    assert len(pd.read_csv(run_copy / "stacking" / "predictions.csv")) > 0


def test_bad_manifest_stops_before_training(cohort, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(cohort, bad)
    man = pd.read_csv(bad / "manifest.csv", dtype=str)
    victim = bad / man.loc[3, "image_T1WI"]
    victim.write_bytes(b"not a nifti file")
    out = tmp_path / "run"
    res = cli("run", "--cohort", bad, "--out", out, "--profile", "smoke")
    assert res.returncode == 1
    assert man.loc[3, "patient_id"] in res.stderr and victim.name in res.stderr, res.stderr
    assert not out.exists() or not any(out.iterdir())
