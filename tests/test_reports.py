"""What a person sees of a smoke run: each report's HTML shows its figures and no code, no output holds a temporary
path, the summary shows the NRI/IDI under its own heading, and the run page holds the final-model table and a figure.
Where Chromium is installed, the run's screenshots of index.html and summary.html are real pictures.
A run folder is a bundle that travels (issue 25): no byte of it holds the cohort's or its own absolute path, `report`
re-renders a copy where the cohort is absent, and HTML planted in config.json is shown escaped on every page."""
import html, json, re, shutil
from pathlib import Path

import pytest

from conftest import cli, ok

ROOT = Path(__file__).resolve().parents[1]
# the fewest embedded figures a reader must see in each report (issue "What a reader sees")
MIN_FIGURES = {"summary": 4, "cohort": 2, "segmentation": 3}


def figures(page: str) -> int: return len(re.findall(r'<img[^>]+src="data:image/', page))


def template_code_lines():
    "Every line of code of the report templates long enough to be recognised in a page."
    lines = set()
    for f in (ROOT / "sacroiliitis_dlr" / "templates").glob("*.ipynb"):  # shipped in the package
        for c in json.loads(f.read_text())["cells"]:
            if c["cell_type"] == "code":
                lines |= {l.strip() for l in "".join(c["source"]).splitlines() if len(l.strip()) > 30}
    return lines


@pytest.fixture(scope="module")
def pages(run):
    rep = run[0] / "reports"
    return {p.stem: p.read_text() for p in sorted(rep.glob("*.html")) if p.stem != "checklist"}  # a table page, no figures


def test_every_report_shows_its_figures(run, pages):
    gradcam = run[0] / "classification" / "gradcam"
    assert len(pages) >= 3 + 6, sorted(pages)
    for name, page in pages.items():
        if name.startswith("model_"):
            need = 3 if (gradcam / f"{name.removeprefix('model_')}.png").exists() else 2
        else:
            need = MIN_FIGURES[name]
        assert figures(page) >= need, f"{name}.html shows {figures(page)} figures, fewer than {need}"


def test_reports_show_no_code(pages):
    code = template_code_lines()
    assert len(code) > 50
    for name, page in pages.items():
        text = html.unescape(page)
        shown = [l for l in code if l in text]
        assert not shown, f"{name}.html shows code: {shown[:3]}"
        assert "plt.show()" not in text and "Traceback" not in text, name


def test_no_temporary_path_in_any_output(run):
    out = run[0]
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".html", ".ipynb", ".json", ".csv", ".log", ".md")]
    assert len(files) > 50
    leaks = [str(p.relative_to(out)) for p in files if ".tmp-" in p.read_text(errors="replace")]
    assert not leaks, f"temporary paths in {leaks[:5]}"


def test_summary_shows_nri_idi_under_its_own_heading(run, pages):
    r = json.loads((run[0] / "combined" / "nri_idi.json").read_text())
    page = pages["summary"]
    assert "Reclassification: the combined model against the DLR signature" in page
    for key in ("nri", "idi"): assert f"{r[key]:.3f} (" in page, key  # the estimate with its CI in one cell
    assert "Combined vs DLR signature (NRI/IDI)" not in page  # the DeLong table is no longer called NRI/IDI


def test_run_page_says_what_was_found(run):
    out = run[0]
    page = (out / "index.html").read_text()
    assert "What the run found" in page and "Test-cohort AUC (95% CI)" in page
    for m in ("DLR signature", "Clinical model", "Combined model"): assert page.count(f"<th>{m}</th>") == 2, m  # train and test
    assert figures(page) >= 1
    assert "Dice" in page and "oracle" in page
    for name in ("summary", "cohort", "segmentation", "model_combined"): assert f'href="reports/{name}.html"' in page
    assert "http://" not in page and "https://" not in page  # opens offline


def test_screenshots_are_pictures(run):
    from sacroiliitis_dlr.reports import chromium
    if chromium() is None: pytest.skip("Chromium is not installed (apt-get install chromium): no screenshots")
    import matplotlib.image as mpimg
    for name in ("index", "summary"):
        img = mpimg.imread(run[0] / "screenshots" / f"{name}.png")
        assert img.shape[1] >= 1000 and img[..., :3].std() > 0.05, name  # not a blank page


def template_functions() -> dict:
    "The functions each report template defines (by name), from its code cells."
    import ast
    found = {}
    for f in sorted((ROOT / "sacroiliitis_dlr" / "templates").glob("*.ipynb")):
        for c in json.loads(f.read_text())["cells"]:
            if c["cell_type"] == "code":
                found.setdefault(f.stem, set()).update(n.name for n in ast.walk(ast.parse("".join(c["source"])))
                                                       if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return found


# the presentation helpers a template may keep: the package has nothing like them (issue "One home for each idea")
TEMPLATE_HELPERS = {"cohort": {"show_plane"}, "summary": {"wide"}, "loso": {"test_scores"}}


def test_templates_define_no_function_of_the_package():
    import importlib, pkgutil
    import sacroiliitis_dlr
    package = {name for m in pkgutil.iter_modules(sacroiliitis_dlr.__path__) if not m.name.startswith("_")
               for name in getattr(importlib.import_module(f"sacroiliitis_dlr.{m.name}"), "__all__", ())}
    assert {"load_predictions", "save_report_figure", "format_ci", "table1"} <= package
    defined = template_functions()
    assert set(defined) >= {"cohort", "segmentation", "model", "summary", "loso"}
    for name, funcs in defined.items():
        assert not funcs & package, f"{name}.ipynb defines {sorted(funcs & package)}: import them from the package"
        assert funcs <= TEMPLATE_HELPERS.get(name, set()), f"{name}.ipynb defines {sorted(funcs)}: is it in the package?"


def shown_table(page: str, header: str):
    "The first HTML table of `page` with a column `header`: {row name: [cell texts]}."
    from bs4 import BeautifulSoup
    for t in BeautifulSoup(page, "html.parser").find_all("table"):
        if header in [th.get_text(strip=True) for th in t.find_all("th")]:
            rows = [[c.get_text(strip=True) for c in r.find_all(["th", "td"])] for r in t.find("tbody").find_all("tr")]
            return {cells[0]: cells[1:] for cells in rows}  # the row name: a row header, or the first column (no index shown)
    raise AssertionError(f"no table with a column {header!r}")


def test_cohort_report_shows_table1_of_the_library(run, cohort, pages):
    import math
    import pandas as pd
    from sacroiliitis_dlr.data import CLINICAL_LABELS, CLINICAL_RANGES, load_table1, read_split
    from sacroiliitis_dlr.tables import GROUPS, P_COLUMNS, table1
    out = run[0]
    val = json.loads((out / "cohort" / "validation.json").read_text())
    man = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str, "sex": str})
    t1 = table1(man, read_split(out), val["clinical_columns"], ranges=CLINICAL_RANGES, labels=CLINICAL_LABELS)
    pd.testing.assert_frame_equal(load_table1(out), t1)  # cohort/table1.csv where the run wrote it
    assert len(t1) == 1 + len(val["clinical_columns"]) >= 5
    from sacroiliitis_dlr.pages import format_p, header
    shown = shown_table(pages["cohort"], header(P_COLUMNS[0]))
    assert list(shown) == list(t1.index)
    for factor, row in t1.iterrows():
        cells = shown[factor]
        assert cells[:4] == [row[g] for g in GROUPS], factor
        for text, p in zip(cells[4:], row[list(P_COLUMNS)]):
            assert text == format_p(p), (factor, text, p)  # '-' when missing, '<0.001', three decimals


# --- issue 25: a bundle that travels ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def named(run, cohort):
    "The shared smoke run, made from a folder named like a study with a patient's name: (study folder, cohort, run)."
    study = cohort.parent
    assert study.name == "Doe_John_study" and run[0].parent == study  # tests/conftest.py puts them there
    return study, cohort, run[0]


def files_holding(folder: Path, needles) -> dict:
    "needle -> the files under `folder` whose bytes hold it (every file, binary ones included)."
    found = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            for n in needles:
                if n.encode() in data: found.setdefault(n, []).append(str(p.relative_to(folder)))
    return found


def test_no_path_of_this_machine_in_the_run(named):
    study, cohort, run = named
    assert (run / "index.html").exists() and len(list(run.rglob("*.ipynb"))) >= 9  # the executed notebooks are searched too
    leaks = files_holding(run, [str(cohort), str(cohort.resolve()), str(run), str(run.resolve()), str(study), "Doe_John"])
    assert not leaks, f"absolute paths in the run folder: {json.dumps(leaks)[:2000]}"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["cohort_name"] == "cohort" and len(cfg["manifest_sha256"]) == 64


def bundle_copy(run: Path, dest: Path) -> Path:
    "A copy of a finished run somewhere else (another site's disk)."
    shutil.copytree(run, dest, symlinks=True)
    return dest


def pages_of(run: Path) -> dict:
    return {str(p.relative_to(run)): p.read_text() for p in [run / "index.html", *sorted((run / "reports").glob("*.html"))]}


def test_report_renders_where_the_cohort_is_absent(named, tmp_path):
    study, cohort, run = named
    copy = bundle_copy(run, tmp_path / "other-site" / "bundle")
    away = study.parent / "moved-away"
    cohort.rename(away)  # the cohort is not at the receiving site
    try:
        for p in (copy / "reports").glob("*.html"): p.unlink()
        ok(cli("report", copy))
    finally:
        away.rename(cohort)
    pages = pages_of(copy)
    want = {"cohort", "segmentation", "summary", "checklist"} | {f"model_{m}" for m in ("dlr_signature", "clinical", "combined")}
    assert want <= {Path(k).stem for k in pages}, sorted(pages)
    assert figures(pages["reports/cohort.html"]) >= MIN_FIGURES["cohort"]  # the example slices come from the run folder
    assert "made before it existed" not in pages["reports/cohort.html"]
    assert not files_holding(copy, [str(copy), str(tmp_path)])  # nor the copy's own path


BAD = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def test_html_in_config_is_shown_escaped_on_every_page(named, tmp_path):
    from sacroiliitis_dlr import core
    copy = bundle_copy(named[2], tmp_path / "bundle")
    cfg = json.loads((copy / "config.json").read_text())
    cfg.update(seed=BAD, cohort_name=BAD, profile={**cfg["profile"], "name": BAD})
    (copy / "config.json").write_text(json.dumps(cfg))
    if hasattr(core, "write_bundle_manifest"): core.write_bundle_manifest(copy)  # as an attacker would rewrite it too
    ok(cli("report", copy))
    pages = pages_of(copy)
    for name, page in pages.items():
        assert "<script>alert" not in page and "<img src=x" not in page and "onerror=alert(1)>" not in page, name
    for name in ("index.html", "reports/summary.html", "reports/cohort.html", "reports/checklist.html"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[name], f"{name} does not show the value escaped"
    assert pages["index.html"].count(html.escape(BAD)) == 3  # the seed, the profile's name and the cohort's name
