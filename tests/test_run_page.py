"""The run page (`index.html`) a reviewer would not send back (issue 29): a run on a synthetic cohort says so in a
banner and a run on a real cohort does not; the page is titled with the run's folder name; models are named as a
reader knows them; no path of this machine and no 40-character commit; the run beside the paper's figures, and the
paper's two DeLong comparisons, each read back against the run's own tables."""
import html, json, re, shutil
from pathlib import Path

import pandas as pd
import pytest

from sacroiliitis_dlr.pages import format_p
from sacroiliitis_dlr.reports import SYNTHETIC_BANNER, model_label, write_index


def tables(page: str) -> dict:
    "Every table of the page after an <h2>/<h3> heading, as {heading: [row cells, ...]} (cells unescaped, tags stripped)."
    out = {}
    for head, body in re.findall(r"<h[23]>(.*?)</h[23]>(.*?)(?=<h[23]>|$)", page, flags=re.S):
        t = re.search(r"<table.*?</table>", body, flags=re.S)
        if t: out[html.unescape(head)] = [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                                           for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)]
                                          for row in re.findall(r"<tr[^>]*>(.*?)</tr>", t.group(0), flags=re.S)]
    return out


def reader_text(page: str) -> str:
    "What a reader reads: no tags, no attributes, the lists of the run's files (file names) left out."
    return html.unescape(re.sub(r"<details>.*?</details>|<[^>]+>", " ", page, flags=re.S))


@pytest.fixture(scope="module")
def page(run):
    return (run[0] / "index.html").read_text()


def test_synthetic_run_has_the_banner_and_its_name(run, page):
    assert (run[0] / "cohort" / "oracle.csv").exists()  # what marks a synthetic cohort's run
    assert SYNTHETIC_BANNER in page and page.count(SYNTHETIC_BANNER) == 1
    assert page.index(SYNTHETIC_BANNER) < page.index("What the run found")  # above the results
    name = html.escape(run[0].name)
    assert f"<title>{name}</title>" in page and f"<h1>{name}</h1>" in page
    assert "sacroiliitis-dlr run:" not in page


def test_a_real_cohort_gets_no_banner(run, tmp_path):
    copy = shutil.copytree(run[0], tmp_path / "site-a-2024", symlinks=True)
    for f in ("cohort/oracle.csv", "summary/oracle_gaps.csv"): (copy / f).unlink()  # what only a synthetic cohort has
    text = write_index(copy, screenshots=False).read_text()
    assert SYNTHETIC_BANNER not in text and "synthetic" not in reader_text(text).lower()
    assert "<h1>site-a-2024</h1>" in text and "This run beside the paper" in text


def test_models_are_named_as_a_reader_knows_them(run, page):
    models = set(pd.read_csv(run[0] / "summary" / "metrics.csv").model)
    text = reader_text(page)
    assert not [m for m in models if "_" in m and m in text]  # dlr_signature, resnet50_T1WI, stack_logistic ...
    heads = re.findall(r"<th[^>]*>(.*?)</th>", page, flags=re.S)
    assert not [h for h in heads if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", h)], heads  # no snake_case header
    for m in ("dlr_signature", "clinical", "combined"): assert page.count(f"<th>{model_label(m)}</th>") == 2, m  # both cohorts
    for m in models: assert model_label(m) in text, m  # each model's report is linked by its name


def test_no_path_of_this_machine_and_a_short_commit(run, cohort, page):
    for p in {run[0], run[0].resolve(), run[0].parent, cohort, cohort.resolve()}: assert str(p) not in page, p
    assert not re.search(r"(?<![\w.])/(tmp|home|work|Users)/", reader_text(page))
    commit = json.loads((run[0] / "config.json").read_text())["git_commit"]
    if commit:
        sha = commit.split("+")[0]
        assert sha not in page and f"<code>{sha[:12]}" in page  # 12 characters, not 40
    assert f"<code>{cohort.name}</code>" in page  # the cohort by its folder's name


def test_the_run_beside_the_paper(run, page):
    t = tables(page)["This run beside the paper"]
    head, rows = t[0], {r[0]: dict(zip(t[0], r)) for r in t[1:]}
    assert head[:2] == ["Model", "This run's model"]
    paper = {"ResNet50 (the best base model)": ("0.839", "0.804"), "DLR signature (the best ensemble)": ("0.868", "0.825"),
             "Combined model": ("0.910", "0.856")}
    test = pd.read_csv(run[0] / "summary" / "metrics.csv").query("cohort == 'test'").set_index("model")
    train = pd.read_csv(run[0] / "summary" / "metrics.csv").query("cohort == 'train'").set_index("model")
    best = train[train.index.str.startswith("resnet50_")].auc.idxmax()  # chosen on the training cohort, out of fold
    for (name, (auc, acc)), model in zip(paper.items(), (best, "dlr_signature", "combined")):
        r, m = rows[name], test.loc[model]
        assert (r["Paper: AUC"], r["Paper: accuracy"], r["This run's model"]) == (auc, acc, model_label(model))
        assert r["This run: AUC (95% CI)"] == f"{m.auc:.3f} ({m.auc_lo:.3f}-{m.auc_hi:.3f})"
        assert r["This run: accuracy (95% CI)"].startswith(f"{m.accuracy:.3f} (") and r["This run: accuracy (95% CI)"].endswith(")")
    assert "doi:10.1016/j.ejrad.2024.111347" in page


def test_the_papers_two_delong_comparisons(run, page):
    t = tables(page)["Is the combined model better?"]
    rows = {r[0]: dict(zip(t[0], r)) for r in t[1:]}
    assert set(rows) == {"Combined model vs DLR signature", "Combined model vs Clinical model"}
    d = pd.read_csv(run[0] / "summary" / "delong.csv").query("cohort == 'test'")
    for other, label in (("dlr_signature", "DLR signature"), ("clinical", "Clinical model")):
        pair = d[((d.model_a == "combined") & (d.model_b == other)) | ((d.model_a == other) & (d.model_b == "combined"))].iloc[0]
        diff = pair["diff"] if pair.model_a == "combined" else -pair["diff"]  # combined minus the other
        r = rows[f"Combined model vs {label}"]
        assert r["Difference (95% CI)"].startswith(f"{round(diff, 3) + 0.0:.3f} (")  # never '-0.000'
        assert r["Paper: P"] == ("<0.05" if other == "dlr_signature" else "not in the abstract")
        assert r["P"] == format_p(pair.p_value)  # as every page prints a P value
        assert not re.fullmatch(r"0\.0+", r["P"])  # never '0.000'


def test_labels_agree_with_the_external_pages(run):
    "The run page, the reports and the external evaluation's pages name each model alike: one home, `core.model_label`."
    from sacroiliitis_dlr import core, external, reports
    assert reports.model_label is core.model_label and external._label is core.model_label
    models = set(pd.read_csv(run[0] / "summary" / "metrics.csv").model)
    assert {"dlr_signature", "combined", "resnet50_T1WI"} <= models
    assert all(model_label(m) != m for m in models)  # every model of a run has a reader's name
