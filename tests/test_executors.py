"Issue 19: the classification grid through submitit's local executor, end to end through the CLI, on copies of the smoke run."
import json, os, shutil, signal, subprocess, time
from pathlib import Path

import psutil

from conftest import CLI, cli, ok

PREDICTIONS = Path("classification") / "predictions.csv"


def rerun_classification(cohort, out, *extra):
    "The arguments of `run` that retrain the classification stage of the smoke run in `out`."
    return ["run", "--cohort", cohort, "--out", out, "--profile", "smoke", "--seed", "0", "--quiet", "--no-reports",
            "--stages", "classification", "--force", "--executor", "submitit", *extra]


def executor_file(folder, **settings):
    f = Path(folder) / "executor.json"
    f.write_text(json.dumps(dict(cluster="local", timeout_min=30, **settings)))
    return f


def test_submitit_local_gives_byte_identical_predictions(run, cohort, tmp_path):
    copy = tmp_path / "copy"; shutil.copytree(run[0], copy)
    before = json.loads((copy / "config.json").read_text())
    ok(cli(*rerun_classification(cohort, copy, "--executor-config", executor_file(tmp_path, jobs=2))))
    assert (copy / PREDICTIONS).read_bytes() == (run[0] / PREDICTIONS).read_bytes()
    after = json.loads((copy / "config.json").read_text())
    assert after["config_hash"] == before["config_hash"]          # the executor is not part of the configuration
    assert after["executor"]["kind"] == "submitit" and after["executor"]["jobs"] == 2
    assert len(list((copy / "classification.jobs").glob("*_log.out"))) == 2   # two jobs, their logs in the run folder
    assert not (copy / "classification.partial").exists()


def _job_process(jobs_folder):
    "The process running a submitit job whose files go to `jobs_folder` (the local controller's child)."
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "submitit.core._submit" in cmd and any(str(jobs_folder) in c for c in cmd): return p
    return None


def test_a_preempted_job_is_requeued_and_resumes_from_its_finished_folds(run, cohort, tmp_path):
    copy = tmp_path / "copy"; shutil.copytree(run[0], copy)
    args = rerun_classification(cohort, copy, "--executor-config", executor_file(tmp_path, jobs=1))
    proc = subprocess.Popen([CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    ckpts, jobs = copy / "classification.partial" / "checkpoints", (copy / "classification.jobs").resolve()
    try:
        t0 = time.monotonic()
        while not (first := sorted(ckpts.glob("*.json")) if ckpts.exists() else []) and proc.poll() is None:
            assert time.monotonic() - t0 < 300, "no fold model finished in 5 minutes"
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[0]
        first = first[0]; mtime = first.stat().st_mtime_ns
        task = _job_process(jobs)
        assert task is not None, "the job's process was not found"
        task.send_signal(signal.SIGUSR2)  # what SLURM sends a job before preempting it or at its time limit
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    assert proc.returncode == 0, out
    assert (copy / PREDICTIONS).read_bytes() == (run[0] / PREDICTIONS).read_bytes()
    # the fold model finished before the preemption was not trained again: its checkpoint is the same file
    assert (copy / "classification" / "checkpoints" / first.name).stat().st_mtime_ns == mtime
    [log] = (copy / "classification.jobs").glob("*_log.err")
    assert "Caught signal SIGUSR2" in log.read_text()
    [stdout] = (copy / "classification.jobs").glob("*_log.out")
    starts = [l for l in stdout.read_text().splitlines() if l.startswith("classification job 1/1 1/30:")]
    assert len(starts) == 2, stdout.read_text()[-2000:]         # the job ran twice: once cut short, once requeued


def test_a_bad_executor_config_stops_before_anything_runs(run, cohort, tmp_path):
    copy = tmp_path / "copy"; shutil.copytree(run[0], copy)
    bad = tmp_path / "cluster.toml"; bad.write_text('partiton = "gpu"\n')
    res = cli(*rerun_classification(cohort, copy, "--executor-config", bad))
    assert res.returncode == 1 and "partiton" in res.stderr and "Traceback" not in res.stderr
    assert json.loads((copy / "config.json").read_text()).get("executor") == json.loads((run[0] / "config.json").read_text()).get("executor")
