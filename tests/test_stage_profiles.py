"""Every stage function takes the run's own profile when it is given none (issue 17).

The notebooks show each stage on a smoke run folder without a profile (10_segmentation, 11_classification,
12_stacking, 14_radiomics); this checks the contract for every stage the pipeline runs, and that the segmentation
stage refuses a run folder whose cohort stage has not run instead of making a split of its own."""
import inspect

import pytest


def test_every_stage_defaults_to_the_runs_profile():
    from sacroiliitis_dlr.pipeline import default_stages
    for st in default_stages():
        params = inspect.signature(st.resolve()).parameters
        assert "profile" in params, st.name
        assert params["profile"].default is None, f"stage {st.name}: profile defaults to {params['profile'].default!r}, not the run's"


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
