"""The built wheel, installed non-editable in a fresh virtual environment, runs `synth`, `run --profile smoke` and
`report` from a folder outside the checkout, with no SACROILIITIS_DLR_TEMPLATES: the templates ship inside it.

What a wheel can lose is files (a module, a template) and what it cannot reach is the checkout (its templates, its git
commit). So the wheel imports every module the checkout has, runs the cohort stage of a run on the cohort it made itself
(the runner, config.json and validation outside the checkout), and `report` re-renders every page of a copy of the
session's smoke run with the templates it ships; the stages' training code is the same code the shared run ran, so the
wheel does not train a second smoke run (that took a few minutes of the suite).

Installing every dependency afresh would download gigabytes, so the new environment sees this environment's
site-packages through a `.pth` path line and the wheel is installed with `--no-deps`. A directory added by a `.pth`
line does not get its own `.pth` files processed, so the editable install's finder there cannot shadow the wheel:
the test checks where the package is imported from. The dependencies' data files (nbconvert's templates under
share/jupyter) are linked in, as their own installation would have put them there."""
import json, os, shutil, subprocess, sys, sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def sh(*args, cwd, env, timeout=600):
    res = subprocess.run(list(map(str, args)), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{args[:3]}: exit {res.returncode}\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    "(venv folder, env, work folder): the wheel built from a copy of the source and installed alone in a new venv."
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp/"src"  # a copy: building in the checkout would leave build/ and egg-info there
    shutil.copytree(ROOT/"sacroiliitis_dlr", src/"sacroiliitis_dlr", ignore=shutil.ignore_patterns("__pycache__", "*.tmp-*"))
    for f in ("pyproject.toml", "README.md"): shutil.copy(ROOT/f, src/f)
    env = {k: v for k, v in os.environ.items() if k not in ("SACROILIITIS_DLR_TEMPLATES", "PYTHONPATH", "VIRTUAL_ENV")}
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp/"dist", src, cwd=tmp, env=env)
    whl, = (tmp/"dist").glob("sacroiliitis_dlr-*.whl")
    venv = tmp/"venv"
    sh(sys._base_executable, "-m", "venv", "--without-pip", venv, cwd=tmp, env=env)
    site = Path(sysconfig.get_path("purelib", vars={"base": venv, "platbase": venv}))
    (site/"deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # this venv's packages, after the new venv's own
    # the dependencies' data files (nbconvert's HTML templates) that their own install would have put in the new venv
    (venv/"share"/"jupyter").mkdir(parents=True)
    (venv/"share"/"jupyter"/"nbconvert").symlink_to(Path(sys.prefix)/"share"/"jupyter"/"nbconvert")
    sh(sys.executable, "-m", "pip", "--python", venv/"bin"/"python", "install", "--no-deps", "-q", whl, cwd=tmp, env=env)
    work = tmp/"work"; work.mkdir()
    return venv, dict(env, PATH=f"{venv/'bin'}:{env.get('PATH', '')}"), work


def test_package_comes_from_the_wheel(wheel_env):
    venv, env, work = wheel_env
    res = sh(venv/"bin"/"python", "-c", "import sacroiliitis_dlr, sacroiliitis_dlr.reports as p; "
             "print(sacroiliitis_dlr.__file__); print(p.templates_dir())", cwd=work, env=env)
    pkg, tpl = map(Path, res.stdout.split())
    assert pkg.is_relative_to(venv) and tpl.is_relative_to(venv), res.stdout
    assert sorted(f.name for f in tpl.glob("*.ipynb")) == sorted(f.name for f in (ROOT/"sacroiliitis_dlr"/"templates").glob("*.ipynb"))
    assert Path(shutil.which("sacroiliitis-dlr", path=env["PATH"])).is_relative_to(venv)


def test_every_module_imports_from_the_wheel(wheel_env):
    venv, env, work = wheel_env
    mods = sorted(p.stem for p in (ROOT/"sacroiliitis_dlr").glob("*.py") if not p.stem.startswith("__"))
    res = sh(venv/"bin"/"python", "-c", "import importlib, sys\nfor m in sys.argv[1:]: print(importlib.import_module(f'sacroiliitis_dlr.{m}').__file__)",
             *mods, cwd=work, env=env)
    files = list(map(Path, res.stdout.split()))
    assert len(files) == len(mods) and all(f.is_relative_to(venv) for f in files), res.stdout


def test_synth_run_report_without_checkout(wheel_env, run):
    venv, env, work = wheel_env
    exe = venv/"bin"/"sacroiliitis-dlr"
    sh(exe, "synth", "--profile", "smoke", "--out", "cohort", "--seed", "0", cwd=work, env=env)
    sh(exe, "run", "--cohort", "cohort", "--out", "run", "--profile", "smoke", "--seed", "0", "--quiet", "--no-reports",
       "--stages", "cohort", cwd=work, env=env)
    assert json.loads((work/"run"/"pipeline.json").read_text())["stages"]["cohort"]["state"] == "done"
    assert (work/"run"/"cohort"/"split.csv").is_file() and not (work/"run"/"segmentation").exists()
    bundle = work/"bundle"; shutil.copytree(run[0], bundle)  # the session's smoke run, its pages removed
    for p in [bundle/"index.html", *(bundle/"reports").glob("*.html")]: p.unlink()
    sh(exe, "report", "bundle", cwd=work, env=env)
    assert (bundle/"index.html").is_file()
    pages = sorted(p.name for p in (bundle/"reports").glob("*.html"))
    assert len(pages) >= 3 and "summary.html" in pages, pages
    assert not list(ROOT.glob("build")), "the checkout got a build folder"
