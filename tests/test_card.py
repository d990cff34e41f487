"The smoke run's model card (issue 27): at the run folder's root, a page with no code and no path of this machine, with the run's numbers."
import re

import pandas as pd


def test_model_card_written_with_the_run(run):
    out, _, _ = run
    page, md = (out/"model_card.html").read_text(), (out/"model_card.md").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<h1>Model card: smoke</h1>" in page and md.startswith("# Model card: smoke")
    assert not re.search(r"<script|\bimport \w|\bdef \w+\(|Traceback", page)  # a page for readers: no code
    for p in {str(out), str(out.resolve()), str(out.parent.parent), "/home/", "/root/"}:
        assert p not in page and p not in md, p  # no path of this machine
    r = pd.read_csv(out/"summary"/"metrics.csv").query("model == 'combined' and cohort == 'test'").iloc[0]
    auc = f"{r.auc:.3f} ({r.auc_lo:.3f} to {r.auc_hi:.3f})"
    assert f"<td>{auc}</td>" in page and f"| {auc} |" in md  # the combined model's test AUC with its CI
    for s in ("Intended use", "Training data", "Known limits", "Versions and hashes"): assert f"<h2>{s}</h2>" in page, s
    assert 'href="model_card.html"' in (out/"index.html").read_text()
