"""`evaluate` through the command line: a bundle evaluated on its own test patients gives the run's test statistics; an
update at a synthetic new site gives a derived bundle that `check` and `predict` accept, with the updated probability."""
import json, re, shutil

import numpy as np
import pandas as pd
import pytest

from conftest import cli, ok

CLINICAL = ["age", "sex", "hla_b27", "crp", "esr", "symptom_duration", "ibp"]


def _site_of(cohort, patient_ids, folder):
    "A cohort folder holding only `patient_ids` of `cohort` (manifest, images, masks, oracle and generator record)."
    man = pd.read_csv(cohort/"manifest.csv", dtype={"patient_id": str})
    man = man[man.patient_id.isin(patient_ids)]
    for rel in man[[c for c in man.columns if c.startswith("image_")] + ["mask"]].stack():
        (folder/rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cohort/rel, folder/rel)
    man.to_csv(folder/"manifest.csv", index=False)
    orc = pd.read_csv(cohort/"oracle.csv", dtype={"patient_id": str})
    orc[orc.patient_id.isin(patient_ids)].to_csv(folder/"oracle.csv", index=False)
    shutil.copy2(cohort/"generator.json", folder/"generator.json")
    return folder


def test_evaluate_own_test_patients(run, cohort, tmp_path):
    run_dir = run[0]
    split = pd.read_csv(run_dir/"cohort"/"split.csv", dtype={"patient_id": str})
    site = _site_of(cohort, split.patient_id[split.split == "test"], tmp_path/"own-test")
    out = tmp_path/"eval"
    ok(cli("evaluate", run_dir, "--cohort", site, "--out", out, "--quiet"))
    got = pd.read_csv(out/"predictions.csv", dtype={"patient_id": str})
    stored = pd.concat(pd.read_csv(run_dir/f, dtype={"patient_id": str}) for f in
                       ("classification/predictions.csv", "radiomics/predictions.csv", "stacking/predictions.csv",
                        "combined/predictions.csv"))
    j = got.merge(stored[stored.split == "test"], on=["patient_id", "model"], suffixes=("", "_run"), validate="one_to_one")
    assert len(j) == len(got) and j.model.nunique() == got.model.nunique() >= 9  # every model of the chain
    assert (j.prob - j.prob_run).abs().max() < 1e-12, j.assign(d=(j.prob - j.prob_run).abs()).nlargest(3, "d")
    mine = pd.read_csv(out/"metrics.csv").set_index("model")
    runs = pd.read_csv(run_dir/"summary"/"metrics.csv").query("cohort == 'test'").set_index("model").loc[mine.index]
    for c in ("n", "auc", "auc_lo", "auc_hi", "accuracy", "sensitivity", "specificity", "ppv", "npv"):
        assert np.allclose(mine[c], runs[c], rtol=0, atol=1e-12, equal_nan=True), c
    cuts = pd.read_csv(run_dir/"summary"/"cutoffs.csv").set_index("model").cutoff
    assert (mine.cutoff == cuts.loc[mine.index]).all()
    ev = json.loads((out/"evaluation.json").read_text())
    assert ev["cohort"]["n"] == len(j.patient_id.unique()) and ev["update"] is None and ev["cohort"]["synthetic"]
    page = (out/"report.html").read_text()
    comb = mine.loc["combined"]
    assert f"{comb.auc:.3f} ({comb.auc_lo:.3f}-{comb.auc_hi:.3f})" in page  # the AUC with its CI, as the table prints it
    assert page.count("data:image/png;base64,") >= 3 and "<script" not in page
    assert str(tmp_path) not in page and "/home/" not in page and "def " not in page
    assert (out/"oracle.csv").exists() and (out/"masks").is_dir()
    res = cli("evaluate", run_dir, "--cohort", site, "--out", out)  # never overwritten unless asked
    assert res.returncode == 1 and "exists and is kept" in res.stderr


@pytest.fixture(scope="module")
def new_site(tmp_path_factory):
    "A synthetic new site: 40 patients on the 1.5 T scanner S4, 30% prevalence, another seed."
    d = tmp_path_factory.mktemp("site")/"site-s4"
    ok(cli("synth", "--out", d, "--profile", "smoke", "--seed", "1", "--scanner", "S4", "--n-patients", "40", "--prevalence", "0.3"))
    return d


def test_update_gives_a_derived_bundle(run, new_site, tmp_path):
    man = pd.read_csv(new_site/"manifest.csv", dtype={"patient_id": str})
    assert set(man.scanner) == {"S4"} and man.label.sum() == 12
    out = tmp_path/"eval-s4"
    res = ok(cli("evaluate", run[0], "--cohort", new_site, "--out", out, "--update", "intercept", "--n-boot", "20", "--quiet"))
    assert "updated_bundle" in res.stdout
    ev = json.loads((out/"evaluation.json").read_text())
    assert ev["update"]["method"] == "intercept" and ev["cohort"]["scanners"] == {"S4": 40}
    derived = out/"updated_bundle"
    upd = json.loads((derived/"combined"/"update.json").read_text())
    assert upd["derived_from"]["manifest_sha256"] == ev["bundle"]["manifest_sha256"] and upd["site"] == "site-s4"
    old = pd.read_csv(run[0]/"combined"/"combined_model.csv").set_index("term").coef
    new = pd.read_csv(derived/"combined"/"combined_model.csv").set_index("term").coef
    assert (new.drop("const") == old.drop("const")).all() and new["const"] != old["const"]  # only the intercept moved
    ok(cli("check", derived))  # its own manifest: the bundle is whole
    honest = pd.read_csv(out/"updated.csv").set_index("estimate")
    assert list(honest.index) == ["apparent", "optimism", "corrected"] and abs(honest.loc["apparent", "citl"]) < 1e-8
    updated = pd.read_csv(out/"updated_predictions.csv", dtype={"patient_id": str}).set_index("patient_id")
    row = man.set_index("patient_id").iloc[0]
    images = [a for m in ("T1WI", "FS-T2WI") for a in ("--image", f"{m}={new_site/row[f'image_{m}']}")]
    clinical = [f"{c}={row[c]}" for c in CLINICAL if pd.notna(row[c])]
    ok(cli("predict", derived, *images, "--clinical", *clinical, "--out", tmp_path/"pred"))
    got = json.loads((tmp_path/"pred"/"prediction.json").read_text())
    assert abs(got["combined"] - updated.loc[row.name, "prob"]) < 1e-9, (got["combined"], updated.loc[row.name, "prob"])
    page = (out/"report.html").read_text()
    assert "Recalibration in the large was asked for" in page and "optimism-corrected" in page


def test_site_problems_named_before_any_work(run, new_site, tmp_path):
    site = tmp_path/"bad-site"
    shutil.copytree(new_site, site)
    man = pd.read_csv(site/"manifest.csv").drop(columns=["crp"]).assign(label=1)
    man.to_csv(site/"manifest.csv", index=False)
    res = cli("evaluate", run[0], "--cohort", site, "--out", tmp_path/"e")
    assert res.returncode == 1 and not (tmp_path/"e").exists()
    for s in ("column crp", "every patient has label 1"): assert s in res.stderr, (s, res.stderr)
    assert "Traceback" not in res.stderr and re.search(r"2 problem\(s\)", res.stderr)
