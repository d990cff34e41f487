"Shared fixtures: one smoke cohort and one smoke run through the CLI, made once for the whole pytest session."
import json, os, subprocess, sys, time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CLI = str(BIN / "sacroiliitis-dlr")


def cli(*args, env=None, timeout=900):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\n--- stdout\n{res.stdout[-4000:]}\n--- stderr\n{res.stderr[-4000:]}"
    return res


def ledger(run): return json.loads((run / "pipeline.json").read_text())["stages"]


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    d = tmp_path_factory.mktemp("cohort") / "smoke"
    ok(cli("synth", "--out", d, "--profile", "smoke", "--seed", "0"))
    return d


@pytest.fixture(scope="session")
def run(cohort, tmp_path_factory):
    "The smoke run, made once through the CLI; (run folder, its output, seconds)."
    out = tmp_path_factory.mktemp("runs") / "smoke"
    t0 = time.monotonic()
    res = ok(cli("run", "--cohort", cohort, "--out", out, "--profile", "smoke", "--seed", "0", "--quiet"))
    return out, res, time.monotonic() - t0
