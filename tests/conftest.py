"""Shared fixtures: one smoke cohort and one smoke run through the CLI, made once for the whole pytest session.

Every test that needs a finished smoke run uses `run` (and copies it with `shutil.copytree` before changing anything);
a test makes a run of its own only where its assertion needs another configuration, and says why. The cohort and the run
lie in a study folder named like a patient (`Doe_John_study`), as a site might name it, so that tests/test_reports.py can
check that no byte of the run holds a path of this machine; the cohort carries two columns a site's manifest might add:
`bmi` (a predictor a run may declare with `--predictor bmi`) and `ward`, which no run declares (tests/test_safety.py
checks that no value of it reaches the run)."""
import json, os, subprocess, sys, time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CLI = str(BIN / "sacroiliitis-dlr")
WARD = ["WardQzx1", "WardQzx2", "WardQzx3"]  # the undeclared column's values: must never leave the manifest


def cli(*args, env=None, timeout=900):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\n--- stdout\n{res.stdout[-4000:]}\n--- stderr\n{res.stderr[-4000:]}"
    return res


def ledger(run): return json.loads((run / "pipeline.json").read_text())["stages"]


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    "The smoke cohort (`synth --profile smoke --seed 0`) in `<tmp>/Doe_John_study/cohort`, with the columns `bmi` and `ward` added."
    import numpy as np
    d = tmp_path_factory.mktemp("site") / "Doe_John_study" / "cohort"
    ok(cli("synth", "--out", d, "--profile", "smoke", "--seed", "0"))
    head, *rows = (d / "manifest.csv").read_text().splitlines()  # appended as text: the generator's columns keep their bytes
    bmi = np.random.default_rng(0).normal(25, 3, len(rows)).round(1)
    lines = [f"{head},bmi,ward", *(f"{r},{b},{WARD[i % 3]}" for i, (r, b) in enumerate(zip(rows, bmi)))]
    (d / "manifest.csv").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="session")
def run(cohort):
    "The smoke run with its reports, made once through the CLI beside the cohort (`<tmp>/Doe_John_study/smoke`); (run folder, its output, seconds)."
    out = cohort.parent / "smoke"
    t0 = time.monotonic()
    res = ok(cli("run", "--cohort", cohort, "--out", out, "--profile", "smoke", "--seed", "0", "--quiet"))
    return out, res, time.monotonic() - t0
