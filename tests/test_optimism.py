"""Issue 32, how optimistic the model is: the smoke run's combined stage writes Harrell's bootstrap validation of the
clinical and combined models (`combined/optimism.csv`, B from the profile), the summary stage passes it on unchanged,
and the summary report shows it as a table with a sentence on the combined model."""
import html

import numpy as np
import pandas as pd

from sacroiliitis_dlr.core import get_profile

INDEXES = {"AUC", "Dxy", "R2", "intercept", "slope", "Brier", "Emax", "D", "U", "Q", "g", "gp"}


def test_combined_stage_writes_the_bootstrap_validation(run):
    out = run[0]
    opt = pd.read_csv(out / "combined" / "optimism.csv")
    assert {"model", "index", "apparent", "optimism", "corrected", "B", "n_failed"} <= set(opt.columns)
    assert set(opt.model) == {"clinical", "combined"}
    for _, t in opt.groupby("model"): assert set(t["index"]) == INDEXES
    B = get_profile("smoke").combined.n_boot
    assert (opt.B == B).all() and (opt.n_failed < B).all() and (opt.n_failed >= 0).all()
    assert np.isfinite(opt.corrected).all()
    # what holds by construction: corrected = apparent - optimism (Emax: rms's corrected value only)
    rest = opt[opt["index"] != "Emax"]
    assert np.isfinite(rest[["apparent", "optimism"]]).all().all()
    np.testing.assert_allclose(rest.corrected, rest.apparent - rest.optimism, rtol=0, atol=1e-12)
    auc = opt.set_index(["model", "index"])
    assert ((auc.xs("AUC", level="index").corrected >= 0) & (auc.xs("AUC", level="index").corrected <= 1)).all()
    # the apparent indexes are those of the models the stage fitted (AUC and Brier on the training cohort)
    met = pd.read_csv(out / "summary" / "metrics.csv").set_index(["model", "cohort"])
    cal = pd.read_csv(out / "summary" / "calibration.csv").set_index(["model", "cohort"])
    for m in ("clinical", "combined"):
        assert abs(auc.apparent[(m, "AUC")] - met.auc[(m, "train")]) < 1e-9, m
        assert abs(auc.apparent[(m, "Brier")] - cal.brier[(m, "train")]) < 1e-6, m


def test_summary_passes_it_on_and_the_report_shows_it(run):
    out = run[0]
    assert (out / "summary" / "optimism.csv").read_bytes() == (out / "combined" / "optimism.csv").read_bytes()
    page = out / "reports" / "summary.html"
    assert page.exists()  # the `run` fixture renders the reports
    text = html.unescape(page.read_text())
    B = get_profile("smoke").combined.n_boot
    assert f"Internal validation: bootstrap optimism correction (Harrell; B = {B})" in text
    c = pd.read_csv(out / "summary" / "optimism.csv").query("model == 'combined'").set_index("index")
    assert "Combined: optimism-corrected" in text and "Calibration slope" in text
    assert (f"The combined model's optimism-corrected AUC is {c.corrected['AUC']:.3f}" in text
            and f"optimism-corrected calibration slope is {c.corrected['slope']:.3f}" in text)
    # with the sample-size verdict computed from the run itself (Riley et al. 2020 / 2021)
    from sacroiliitis_dlr.checklist import run_sample_size
    ss = run_sample_size(out)
    assert f"Sample size: development {ss.verdict}; test set {ss.test_verdict}." in text
    assert f"against Riley's minimum {ss.development.n} for {ss.development.parameters} candidate parameters" in text
    assert "pointwise 95% bootstrap percentile band" in text  # the combined model's calibration curve, with its uncertainty
