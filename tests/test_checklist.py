"The smoke run's reporting checklist (issue 18): every answer points at files that exist, and TRIPOD+AI is mostly answered."
import pandas as pd

from sacroiliitis_dlr.checklist import answered_fraction, checklist_table


def test_checklist_written_by_the_reports_stage(run):
    out, _, _ = run
    md, page = (out/"reports"/"checklist.md").read_text(), (out/"reports"/"checklist.html").read_text()
    assert "## TRIPOD+AI" in md and "## CLAIM 2024" in md and "| 27c |" in md and "| 44 |" in md
    assert "<h2>TRIPOD+AI</h2>" in page and 'href="../summary/by_scanner.csv"' in page
    assert 'href="reports/checklist.html"' in (out/"index.html").read_text()


def test_every_answer_points_at_a_file_that_exists(run):
    out, _, _ = run
    t = checklist_table(out)
    answered = t[t.status != "authors"]
    assert len(answered) and (answered.source != "").all()
    for r in answered.itertuples():
        for p in r.source.split("; "):
            assert (out/p).exists(), f"{r.guideline} {r.item}: {p} is not in the run folder"
    assert (t[t.status == "authors"].source == "").all()


def test_fraction_of_tripod_ai_answered(run):
    out, _, _ = run
    t = checklist_table(out)
    assert (t.guideline == "TRIPOD+AI").sum() == 52 and (t.guideline == "CLAIM 2024").sum() == 44
    assert answered_fraction(t, "TRIPOD+AI") >= 0.6
    assert answered_fraction(t, "TRIPOD+AI", partial=False) >= 0.4
    # the items only the authors can answer stay theirs
    authors = set(t[(t.guideline == "TRIPOD+AI") & (t.status == "authors")].item)
    assert {"1", "3a", "17", "18a", "18b", "19", "25"} <= authors


def test_by_scanner_table_in_the_summary(run):
    out, _, _ = run
    b = pd.read_csv(out/"summary"/"by_scanner.csv")
    split = pd.read_csv(out/"cohort"/"split.csv")
    test = split[split.split == "test"]
    assert set(b.model) == {"dlr_signature", "clinical", "combined"}
    assert set(b.scanner) == set(test.scanner) | {"all"}
    met = pd.read_csv(out/"summary"/"metrics.csv").query("cohort == 'test'").set_index("model")
    for m, g in b[b.scanner == "all"].set_index("model").iterrows():
        assert abs(g.auc - met.loc[m, "auc"]) < 1e-12 and abs(g.specificity - met.loc[m, "specificity"]) < 1e-12
    assert (b[b.scanner != "all"].groupby("model").n.sum() == len(test)).all()
    assert "By scanner" in (out/"reports"/"summary.html").read_text()
