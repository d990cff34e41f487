"""Riley's minimum sample size in a run (issue 32): `validate`'s line on the cohort, and the checklist's sample-size items
(TRIPOD+AI 10, CLAIM 21) of the smoke run, against `metrics.development_sample_size` and `validation_sample_size` by hand."""
import json

import numpy as np
import pandas as pd
from scipy.special import logit

from conftest import cli, ok
from sacroiliitis_dlr.checklist import RILEY_DEFAULT_NAGELKERKE, checklist_table, run_sample_size
from sacroiliitis_dlr.core import get_profile
from sacroiliitis_dlr.metrics import development_sample_size, validation_sample_size


def test_validate_prints_the_development_cohort_against_rileys_minimum(cohort):
    res = ok(cli("validate", cohort, "--profile", "smoke"))
    man = pd.read_csv(cohort / "manifest.csv")
    n, p = len(man), man.label.mean()
    n_dev = n - int(np.ceil(get_profile("smoke").cohort.test_size * n))
    # the DLR signature and the documented clinical columns: age, sex (F/M), hla_b27, crp, esr, symptom_duration, ibp
    by_hand = development_sample_size(8, p, nagrsquared=RILEY_DEFAULT_NAGELKERKE)
    line = res.stdout.splitlines()[-1]
    verdict = "sample size enough" if n_dev >= by_hand.n else "warning: sample size below Riley's minimum"
    assert line.startswith(f"{verdict}: development cohort (the training part of the split at test_size 0.2) {n_dev} patients "
                           f"against Riley's minimum {by_hand.n} for 8 candidate parameters"), line
    assert f"(shrinkage {by_hand.n_shrinkage}, optimism {by_hand.n_optimism}, overall risk {by_hand.n_risk}; binding: {by_hand.binding})" in line
    assert f"Riley's minimum: {by_hand.epp:.1f})" in line and "Riley et al. 2020's conservative default" in line
    assert res.returncode == 0 and "Traceback" not in res.stderr


def test_the_checklist_answers_the_sample_size_items(run):
    out, _, _ = run
    split = pd.read_csv(out / "cohort" / "split.csv")
    enc = json.loads((out / "combined" / "encoder.json").read_text())
    k = 1 + sum(len(c["terms"]) for c in enc["columns"].values())
    dev = development_sample_size(k, split.label.mean(), nagrsquared=RILEY_DEFAULT_NAGELKERKE)
    if (out / "combined" / "optimism.csv").exists():  # the run's own optimism-corrected R^2 (issue 32)
        o = pd.read_csv(out / "combined" / "optimism.csv").query("model == 'combined'").set_index("index").corrected
        dev = development_sample_size(k, split.label.mean(), nagrsquared=float(o["R2"]))
    pred = pd.read_csv(out / "combined" / "predictions.csv").query("model == 'combined' and split == 'train'")
    lp = logit(pred.prob.clip(1e-6, 1 - 1e-6))
    ss = run_sample_size(out)
    test = ss.validation
    assert (ss.development.n, ss.development.binding) == (dev.n, dev.binding)
    assert test.n == validation_sample_size(split.label.mean(), test.cstatistic, lp.mean(), lp.std()).n
    t = checklist_table(out).set_index(["guideline", "item"])
    for item in (("TRIPOD+AI", "10"), ("CLAIM 2024", "21")):
        a = t.loc[item]
        assert a.status == "run" and "Riley" in a.answer
        assert f"of {dev.n} for the combined model's {k} candidate parameters" in a.answer
        assert f"criteria shrinkage {dev.n_shrinkage}, optimism {dev.n_optimism}, overall risk {dev.n_risk}" in a.answer
        assert f"C-statistic {test.n_cstat}; binding: {test.binding}" in a.answer
    md, page = (out / "reports" / "checklist.md").read_text(), (out / "reports" / "checklist.html").read_text()
    assert "Riley et al.&#x27;s minimum sample size" in page or "Riley et al.'s minimum sample size" in page
    assert f"of {dev.n} for the combined model's {k} candidate parameters" in md
