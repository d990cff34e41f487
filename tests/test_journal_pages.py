"""The pages a journal would print (issue 29): every HTML page of the smoke run read table by table.

Each page (the papermill reports, the run page, the checklist, the model card) is parsed with `html.parser`; a table
fails on a snake_case header, a column of row numbers, a P value printed as "0.0000" or "0.0", a JSON object in a
cell, or a proportion (accuracy, sensitivity, specificity, PPV, NPV) without its 95% CI; a page fails on "dtype:"."""
import json, re, shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from conftest import cli, ok

PROPORTIONS = {"accuracy", "sensitivity", "specificity", "ppv", "npv"}


class Tables(HTMLParser):
    "Every <table> of a page: its header cells (the last <thead> row) and its body rows (<th> row headers included)."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self._cell, self._row, self._head = [], None, None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table": self.tables.append(dict(header=[], rows=[]))
        elif tag == "thead": self._head = True
        elif tag == "tr" and self.tables: self._row = []
        elif tag in ("td", "th") and self._row is not None: self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip()); self._cell = None
        elif tag == "tr" and self._row is not None:
            t = self.tables[-1]
            if self._head: t["header"] = self._row
            else: t["rows"].append(self._row)
            self._row = None
        elif tag == "thead": self._head = False

    def handle_data(self, data):
        if self._cell is not None: self._cell.append(data)


def tables(page:Path)->list:
    p = Tables(); p.feed(page.read_text()); return p.tables


def pages(run_dir:Path)->list:
    "Every HTML page a reader opens: the run page, the checklist, the model card and the reports."
    found = sorted(p for p in run_dir.rglob("*.html") if ".tmp-" not in p.name)
    assert {"index.html", "model_card.html", "summary.html"} <= {p.name for p in found}, found
    assert any("checklist" in p.name for p in found), found
    return found


def problems(page:Path)->list:
    "What a journal's editor would send back in one page's tables."
    out, text = [], page.read_text()
    if "dtype:" in text: out.append("a pandas Series repr ('dtype:')")
    for k, t in enumerate(tables(page)):
        where = f"table {k + 1} {t['header'][:4]}"
        for h in t["header"]:
            if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", h): out.append(f"{where}: snake_case header {h!r}")
            if h.lower() in PROPORTIONS: out.append(f"{where}: {h!r} without its 95% CI")
        first = [r[0] for r in t["rows"] if r]
        if first and (not t["header"] or t["header"][0] == "") and all(re.fullmatch(r"\d+", c) for c in first) \
                and [int(c) for c in first] == list(range(int(first[0]), int(first[0]) + len(first))):
            out.append(f"{where}: a column of row numbers {first[:3]}")
        p_cols = [i for i, h in enumerate(t["header"]) if re.fullmatch(r"(.*[ _])?p(_value|_adjusted| value)?( \(.*\))?", h, flags=re.I)]
        for r in t["rows"]:
            for i, c in enumerate(r):
                if re.fullmatch(r"\{\s*['\"].*['\"]\s*:.*\}|\[\s*\{.*\}\s*\]", c, flags=re.S): out.append(f"{where}: a JSON object {c[:60]!r}")
            for i in p_cols:
                off = len(r) - len(t["header"])  # a row whose header cell is empty above its <th>
                if 0 <= i + off < len(r) and re.fullmatch(r"0\.0+", r[i + off]): out.append(f"{where}: P value {r[i + off]!r}")
    return out


def test_every_page_prints_tables_a_journal_would(run):
    found = pages(run[0])
    bad = {p.relative_to(run[0]).as_posix(): problems(p) for p in found}
    assert len(found) >= 8  # the run page, the card, the checklist, cohort, segmentation, summary and the model reports
    assert not {k: v for k, v in bad.items() if v}, bad  # the model card's test-cohort table included


def test_cut_off_metrics_have_their_wilson_intervals(run):
    met = pd.read_csv(run[0]/"summary"/"metrics.csv")
    assert list(met.columns[:11]) == ["model", "cohort", "n", "auc", "auc_lo", "auc_hi", "accuracy", "sensitivity",
                                      "specificity", "ppv", "npv"]  # the columns readers rely on, first and unchanged
    for k, stem in (("accuracy", "accuracy"), ("sensitivity", "sens"), ("specificity", "spec"), ("ppv", "ppv"), ("npv", "npv")):
        m = met.dropna(subset=[k])
        assert len(m) and (m[f"{stem}_lo"] <= m[k] + 1e-12).all() and (m[k] <= m[f"{stem}_hi"] + 1e-12).all(), k
        assert (m[f"{stem}_hi"] - m[f"{stem}_lo"] > 0).all(), k  # a real interval, on a cohort of a few dozen patients
    # the summary report prints each of them with its interval, as the CSV holds it
    page = (run[0]/"reports"/"summary.html").read_text()
    r = met.query("model == 'combined' and cohort == 'test'").iloc[0]
    assert f"{r.sensitivity:.3f} ({r.sens_lo:.3f}-{r.sens_hi:.3f})" in page
    assert f"{r.npv:.3f} ({r.npv_lo:.3f}-{r.npv_hi:.3f})" in page


def test_the_checks_catch_what_they_look_for(tmp_path):
    "The page checks above fail on the faults of issue 29, planted in a page of their own."
    raw = pd.DataFrame({"model_a": ["combined"], "p_value": ["0.0000"], "sensitivity": [0.8], "params": ['{"C": 0.1}']})
    page = tmp_path/"raw.html"
    page.write_text(raw.to_html() + "<pre>0    1\ndtype: int64</pre>")
    found = " | ".join(problems(page))
    for what in ("snake_case header 'model_a'", "'sensitivity' without its 95% CI", "a column of row numbers",
                 "P value '0.0000'", "a JSON object", "dtype:"):
        assert what in found, (what, found)
    from sacroiliitis_dlr.pages import html_table
    page.write_text(html_table(raw.assign(p_value=0.0, sens_lo=0.6, sens_hi=0.9)))  # the presenter fixes every one
    assert problems(page) == []


def test_planted_values_are_printed_as_a_journal_would(run, tmp_path):
    "P values of exactly 0 and 1e-5 planted in a copy of the run print as '<0.001'; selection.json prints as a table, not JSON."
    from sacroiliitis_dlr.reports import execute_reports, notebooks_to_html, templates_dir
    d = tmp_path/"run"
    shutil.copytree(run[0], d)
    f = d/"summary"/"delong.csv"
    dl = pd.read_csv(f)
    finals = ["dlr_signature", "clinical", "combined"]
    fin = dl.model_a.isin(finals) & dl.model_b.isin(finals) & (dl.cohort == "test")
    assert fin.sum() == 3
    dl.loc[fin, "p_value"], dl.loc[fin, "p_adjusted"] = 0.0, 1e-5
    dl.to_csv(f, index=False)
    nb = d/"reports"/"summary_planted.ipynb"  # only the summary report is executed again
    res = execute_reports([(templates_dir()/"summary.ipynb", nb, dict(run_dir=str(d), profile="smoke"))], n_jobs=1, quiet=True)
    assert not res[0]["error"], res[0]["error"]
    page = notebooks_to_html([nb])[0]
    assert problems(page) == []
    delong = [t for t in tables(page) if t["header"][-1:] == ["P (Holm)"]]  # summary/delong.csv's (comparisons.csv ends in 'Adjustment')
    assert len(delong) == 1, [t["header"] for t in tables(page)]
    for h in ("P", "P (Holm)"):
        col = delong[0]["header"].index(h)
        assert [r[col] for r in delong[0]["rows"]] == ["<0.001"]*3, (h, delong[0]["rows"])
    text = page.read_text()
    sel = json.loads((d/"stacking"/"selection.json").read_text())
    assert not re.search(r'(&quot;|")cv_auc(&quot;|")\s*:', text)  # selection.json is a table, never a JSON dump
    assert f"{sel['cv_auc']:.3f}" in text and repr(sel["cv_auc"]) not in text  # its numbers rounded
