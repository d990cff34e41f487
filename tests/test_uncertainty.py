"""How sure the prediction is (issue 28): a derived bundle (the combined model updated at a site) does not carry the
original model's covariance, so a prediction with it has no confidence interval and says why; the original bundle has one."""
import shutil

import numpy as np
import pandas as pd
import pytest

from sacroiliitis_dlr.combined import apply_clinical_models, covariance_path, read_update
from sacroiliitis_dlr.core import verify_bundle
from sacroiliitis_dlr.data import CLINICAL_RANGES
from sacroiliitis_dlr.external import SiteUpdate, write_derived_bundle


@pytest.fixture(scope="module")
def bundle(run, cohort):
    "The session's smoke run (finished stacking and combined stages, a bundle manifest; read only); (run folder, one patient's clinical values)."
    man = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str})
    clin = man.iloc[0][list(CLINICAL_RANGES)].to_dict()
    return run[0], {k: (None if pd.isna(v) else v) for k, v in clin.items()}


def _intercept_update(run_dir, shift=0.4):
    "A recalibration in the large as `external.update_site_model` would return it."
    coefs = pd.read_csv(run_dir / "combined" / "combined_model.csv")
    coefs.loc[coefs.term == "const", "coef"] += shift
    return SiteUpdate(method="intercept", reason="asked for", tests=pd.DataFrame(), coefs=coefs, prob=np.zeros(0),
                      honest=pd.DataFrame(), cutoff=None)


def test_the_bundle_gives_a_ci(bundle):
    run_dir, clin = bundle
    assert covariance_path(run_dir).exists() and covariance_path(run_dir, "clinical").exists()
    res = apply_clinical_models(run_dir, 0.7, clin)
    ci = res["combined_ci"]
    assert set(ci) == {"level", "prob_lo", "prob_hi", "lp", "se_lp"} and ci["level"] == 0.95
    assert ci["prob_lo"] < res["combined"] < ci["prob_hi"] and ci["se_lp"] > 0 and res["combined_ci_note"] is None


def test_a_derived_bundle_drops_the_original_covariance(bundle, tmp_path):
    run_dir, clin = bundle
    derived = write_derived_bundle(run_dir, tmp_path / "derived", _intercept_update(run_dir), dict(site="test site"))
    verify_bundle(derived)  # its own manifest covers what it holds
    assert not covariance_path(derived).exists()
    assert covariance_path(derived, "clinical").exists()  # the clinical model is unchanged: its covariance still belongs to it
    assert read_update(derived)["method"] == "intercept"
    before, after = apply_clinical_models(run_dir, 0.7, clin), apply_clinical_models(derived, 0.7, clin)
    assert after["combined"] > before["combined"] and after["clinical"] == before["clinical"]
    assert after["combined_ci"] is None and "updated at another site" in after["combined_ci_note"]


def test_an_old_bundle_gives_no_ci_and_the_same_probabilities(bundle, tmp_path):
    run_dir, clin = bundle
    old = tmp_path / "old"; shutil.copytree(run_dir / "combined", old / "combined")
    covariance_path(old).unlink()
    a, b = apply_clinical_models(run_dir, 0.3, clin), apply_clinical_models(old, 0.3, clin)
    assert {k: a[k] for k in ("combined", "clinical", "imputed")} == {k: b[k] for k in ("combined", "clinical", "imputed")}
    assert b["combined_ci"] is None and "made before the combined stage stored" in b["combined_ci_note"]


def test_no_update_keeps_the_covariance(bundle, tmp_path):
    "The closed test's 'none' keeps the coefficients, and so the covariance that belongs to them."
    run_dir, clin = bundle
    upd = _intercept_update(run_dir, shift=0.0)
    derived = write_derived_bundle(run_dir, tmp_path / "derived", SiteUpdate(**{**upd.__dict__, "method": "none"}), dict(site="test site"))
    verify_bundle(derived)
    a, b = apply_clinical_models(run_dir, 0.7, clin), apply_clinical_models(derived, 0.7, clin)
    assert b["combined_ci"] is not None and abs(b["combined_ci"]["prob_lo"] - a["combined_ci"]["prob_lo"]) < 1e-12
