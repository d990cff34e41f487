"Foundation checks that belong to no single notebook: nbdev configuration, export/clean idempotence, the CLI."
import json, shutil, subprocess, sys, tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _nbdev(cmd, cwd, *args):
    exe = BIN / cmd
    res = subprocess.run([str(exe) if exe.exists() else cmd, *args], cwd=cwd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res


def _project_copy(tmp_path):
    "A copy of the project's nbdev sources (pyproject, nbs/, package) to run nbdev commands on."
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "nbs", tmp_path / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "sacroiliitis_dlr", tmp_path / "sacroiliitis_dlr", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_allowed_cell_metadata_keys_is_a_list():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbdev"]
    # a plain string would be split into characters by nbdev 3 and the tag would be lost
    assert cfg["allowed_cell_metadata_keys"] == ["tags"]


def test_parameters_tag_survives_nbdev_clean(tmp_path):
    proj = _project_copy(tmp_path)
    nb = {"cells": [
            {"cell_type": "code", "execution_count": 3, "id": "abc",
             "metadata": {"tags": ["parameters"], "collapsed": True, "scrolled": True},
             "outputs": [], "source": ["run_dir = 'x'"]},
            {"cell_type": "code", "execution_count": 4, "metadata": {"scrolled": True}, "outputs": [], "source": ["1"]}],
          "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    f = proj / "nbs" / "tagged.ipynb"
    f.write_text(json.dumps(nb))
    _nbdev("nbdev-clean", proj, "--fname", str(f))
    cleaned = json.loads(f.read_text())
    assert cleaned["cells"][0]["metadata"] == {"tags": ["parameters"]}
    assert cleaned["cells"][1]["metadata"] == {}
    assert cleaned["cells"][0]["execution_count"] is None


def test_committed_tree_is_clean_and_exported(tmp_path):
    "nbdev-clean and nbdev-export on the committed notebooks change nothing."
    proj = _project_copy(tmp_path)
    _nbdev("nbdev-clean", proj)
    _nbdev("nbdev-export", proj)
    changed = [str(p.relative_to(proj)) for p in sorted(proj.rglob("*"))
               if p.is_file() and p.suffix in (".ipynb", ".py") and "__pycache__" not in p.parts
               and (not (ROOT / p.relative_to(proj)).exists() or (ROOT / p.relative_to(proj)).read_bytes() != p.read_bytes())]
    assert not changed, f"run nbdev-export and nbdev-clean, then commit: {changed}"


def test_cli_help_lists_subcommands():
    res = subprocess.run([str(BIN / "sacroiliitis-dlr"), "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    for cmd in ("synth", "validate", "run", "report", "profile"): assert cmd in res.stdout


def test_readme_is_generated_from_index():
    "README.md is what tools/readme.py makes of nbs/index.ipynb (edit the notebook, then `make readme`)."
    res = subprocess.run([str(BIN / "python"), str(ROOT / "tools" / "readme.py"), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
