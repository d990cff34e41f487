"""Every stage function takes the run's own profile when it is given none (issue 17).

The notebooks show each stage on a smoke run folder without a profile (10_segmentation, 11_classification,
12_stacking, 14_radiomics); this checks the contract for every stage the pipeline runs, and that the segmentation
stage refuses a run folder whose cohort stage has not run instead of making a split of its own."""
import inspect, os, re

import pytest


def test_every_stage_defaults_to_the_runs_profile():
    "A stage that takes a profile gets the run's when given none: through `core.stage_function`, or a default of None."
    from sacroiliitis_dlr.pipeline import default_stages
    for st in default_stages():
        func = st.resolve(); params = inspect.signature(func).parameters
        if "profile" not in params: continue  # a stage that takes no profile (the runner hands it only what it names)
        if hasattr(func, "__wrapped__"):  # stage_function: its wrapper resolves profile=None to the run's own
            assert inspect.signature(func, follow_wrapped=False).parameters["profile"].default is None, st.name
        else: assert params["profile"].default is None, f"stage {st.name}: profile defaults to {params['profile'].default!r}, not the run's"


def test_segmentation_has_one_split_reader():
    import sacroiliitis_dlr.segmentation as seg
    from sacroiliitis_dlr.data import read_split
    assert "read_split" not in seg.__all__
    assert seg.read_split is read_split  # the stage reads the split with data's reader, which raises when it is missing


def test_segmentation_without_a_split_names_the_cohort_stage(tmp_path):
    from sacroiliitis_dlr.core import init_run
    from sacroiliitis_dlr.data import Cohort, CohortError
    from sacroiliitis_dlr.segmentation import run_segmentation_stage
    import pandas as pd
    run = init_run(tmp_path / "run", "smoke", seed=0)
    cohort = Cohort(tmp_path, pd.DataFrame(dict(patient_id=["P0001"], label=[1], scanner=["S1"])), ("T1WI",), ())
    with pytest.raises(CohortError, match="run the cohort stage first"): run_segmentation_stage(run, cohort, quiet=True)
    assert not (run / "segmentation").exists()


# --- issue 25: a run folder loads without running code from it, and nothing is silently missing ---------------------

def _stage_loaders(run):
    "{file pattern under the run: a call that reads it}: the readers of every stored model and prediction table."
    import numpy as np
    import pandas as pd
    from sacroiliitis_dlr import classification, combined, evaluation, radiomics, segmentation, stacking
    table = pd.read_csv(run / "classification" / "predictions.csv", dtype={"patient_id": str})
    pid = table.patient_id[table.split == "test"].iloc[0]
    base = {m: p for m, p in pd.concat([table, pd.read_csv(run / "radiomics" / "predictions.csv", dtype={"patient_id": str})])
            .query("patient_id == @pid")[["model", "prob"]].itertuples(index=False)}
    roi = np.load(run / "rois" / f"{pid}.npz")["image"]
    return {
        "segmentation/unet.pt": lambda f: segmentation.load_unet(run / "segmentation"),
        "segmentation/profile.json": lambda f: segmentation.load_unet(run / "segmentation"),
        "classification/checkpoints/*": lambda f: classification.load_checkpoint(f.with_suffix(".pt")),
        "classification/predictions.csv": lambda f: classification.predict_cnn_models(run, roi),
        "radiomics/models/*": lambda f: radiomics.read_radiomics_model(f),
        "radiomics/config.json": lambda f: radiomics.predict_radiomics(run, roi, np.ones(roi.shape[1:], bool)),
        "radiomics/predictions.csv": lambda f: stacking.read_base_predictions(run),
        "stacking/predictions.csv": lambda f: evaluation.load_predictions(run),
        "stacking/dlr_signature.csv": lambda f: combined._read_signature(run),
        "stacking/selection.json": lambda f: stacking.apply_dlr_signature(run, base),
        f"stacking/{stacking.SIGNATURE_FILE}": lambda f: stacking.apply_dlr_signature(run, base),
        "combined/predictions.csv": lambda f: evaluation.load_predictions(run),
        "combined/encoder.json": lambda f: combined.apply_clinical_models(run, 0.5, {}),
        "combined/*_model.csv": lambda f: combined.apply_clinical_models(run, 0.5, {}),
    }


def _loader_for(loaders, rel):
    from fnmatch import fnmatch
    return next((call for pat, call in loaders.items() if fnmatch(rel, pat)), None)


def test_a_pickle_payload_in_any_model_file_runs_nothing(run, tmp_path):
    "Every file the model loaders read, replaced by a pickle that would create a marker: refused, named, and nothing runs."
    import pickle, shutil
    from sacroiliitis_dlr.stacking import SIGNATURE_FILE
    copy = tmp_path / "run"; shutil.copytree(run[0], copy)
    assert (copy / "stacking" / SIGNATURE_FILE).exists() and not list(copy.rglob("*.joblib")) and not list(copy.rglob("*.pkl"))
    marker = tmp_path / "payload_ran"

    class Payload:
        def __reduce__(self): return (os.system, (f"touch {marker}",))
    payload = pickle.dumps(Payload())
    loaders = _stage_loaders(copy)
    files = sorted(p for d in ("segmentation", "classification", "radiomics", "stacking", "combined")
                   for p in (copy / d).rglob("*") if p.is_file() and p.suffix in (".pt", ".json", ".csv", ".skops"))
    tried = 0
    for f in files:
        rel = str(f.relative_to(copy)); call = _loader_for(loaders, rel)
        if call is None: continue
        good = f.read_bytes()
        call(f)  # the untouched file loads
        f.write_bytes(payload)
        with pytest.raises(Exception) as err: call(f)
        assert str(f) in str(err.value), f"{rel}: {err.value}"
        assert type(err.value).__module__.startswith("sacroiliitis_dlr"), f"{rel}: {type(err.value).__name__}: {err.value}"
        assert not marker.exists(), f"the payload in {rel} ran"
        f.write_bytes(good); tried += 1
    assert tried >= 30 + 30 + 10 + 4, tried  # checkpoints and their records, radiomics models, the stacking files


def test_a_missing_or_truncated_fold_checkpoint_is_named(run, tmp_path):
    "A deleted fold checkpoint is named (never a mean over the rest); a truncated one is named with the reason."
    import shutil
    import numpy as np
    import pandas as pd
    from sacroiliitis_dlr.classification import ClassificationError, predict_cnn_models
    copy = tmp_path / "run"; shutil.copytree(run[0], copy)
    pid = pd.read_csv(copy / "cohort" / "split.csv", dtype={"patient_id": str}).patient_id.iloc[0]
    roi = np.load(copy / "rois" / f"{pid}.npz")["image"]
    before = predict_cnn_models(copy, roi)
    f = copy / "classification" / "checkpoints" / "resnet50_T1WI_fold3.pt"; good = f.read_bytes()
    f.unlink()
    with pytest.raises(ClassificationError, match=f"{f} is missing"): predict_cnn_models(copy, roi)
    f.write_bytes(good[:len(good) // 2])
    with pytest.raises(ClassificationError, match=f"{f} is not a readable checkpoint: "): predict_cnn_models(copy, roi)
    f.write_bytes(good)
    assert predict_cnn_models(copy, roi) == before


def test_a_bad_probability_stops_stacking_and_reports_naming_the_file(run, tmp_path):
    "1.7 and abc in classification/predictions.csv: one error naming the file, lines and patients, before any fitting."
    import shutil
    import pandas as pd
    from sacroiliitis_dlr.evaluation import EvaluationError, load_predictions
    from sacroiliitis_dlr.stacking import StackingError, run_stacking_stage
    copy = tmp_path / "run"; shutil.copytree(run[0], copy)
    f = copy / "classification" / "predictions.csv"
    t = pd.read_csv(f, dtype={"patient_id": str}).astype({"prob": object})
    t.loc[[0, 5], "prob"] = ["1.7", "abc"]; t.to_csv(f, index=False)
    want = f"{f}: prob is not a probability in [0, 1] at line 2 (patient {t.patient_id[0]}), line 7 (patient {t.patient_id[5]})"
    with pytest.raises(StackingError, match=re.escape(want)): run_stacking_stage(copy, force=True, quiet=True)
    with pytest.raises(EvaluationError, match=re.escape(want)): load_predictions(copy)
    assert (copy / "stacking" / "predictions.csv").read_bytes() == (run[0] / "stacking" / "predictions.csv").read_bytes()
