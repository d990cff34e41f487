"""What every benchmark records beside its figures: the machine, the commit, and the time and memory of a command.

The scripts import it as `from _common import machine, commit, measured` (they run as `python benchmarks/<what>.py`,
so this folder is on the path). One home for each: the machine line of RESULTS.md reads the same in every section.
"""
import os, platform, signal, subprocess, sys, tempfile, time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    "The CPU's model name (from /proc/cpuinfo where there is one)."
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"): return line.split(":", 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> float:
    "The 1-minute load average (NaN where the system has none)."
    try: return os.getloadavg()[0]
    except OSError: return float("nan")


def _gpu() -> str:
    "The GPU torch sees, when the benchmark has imported torch (this module never imports it: it is slow to load)."
    torch = sys.modules.get("torch")
    if torch is None: return "not used"
    return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}" if torch.cuda.is_available() else f"none, torch {torch.__version__}"


def machine_facts() -> dict:
    "The machine as a dict (cores, usable cores, CPU, RAM, GPU, Python), for JSON results."
    try: usable = len(os.sched_getaffinity(0))
    except AttributeError: usable = os.cpu_count()
    try: ram = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError): ram = None
    torch = sys.modules.get("torch")
    cudnn = torch.backends.cudnn.version() if torch is not None and torch.cuda.is_available() else None
    return dict(cores=os.cpu_count(), usable_cores=usable, cpu=cpu_model(), ram_gib=ram, gpu=_gpu(),
                python=platform.python_version(), **({"cudnn": cudnn} if cudnn else {}))


def machine(load: bool = True) -> str:
    "The machine in one line of RESULTS.md: cores, CPU model, RAM, GPU, and the load average now (a shared machine)."
    f = machine_facts()
    cores = f"{f['cores']} cores" + (f" ({f['usable_cores']} usable)" if f["usable_cores"] != f["cores"] else "")
    line = f"{cores}, {f['cpu']}, {f['ram_gib']} GiB RAM, GPU {f['gpu']}, Python {f['python']}"
    return line + (f", load average {load_average():.1f} at start" if load else "")


def commit() -> str:
    "The package checkout's git commit (`+dirty` with uncommitted changes), '?' outside git."
    from sacroiliitis_dlr.core import git_commit
    return git_commit(ROOT) or "?"


def tree_rss(p) -> int:
    "Resident memory (bytes) of a `psutil.Process` and all its descendants."
    import psutil
    total = 0
    for q in [p] + p.children(recursive=True):
        try: total += q.memory_info().rss
        except psutil.Error: pass
    return total


class Measured(NamedTuple):
    "What `measured` saw of one command."
    returncode: int    # the command's exit status (negative: killed by that signal)
    seconds: float     # wall-clock time
    peak_rss: int      # peak resident memory of the command and its children, bytes
    load_mean: float   # mean 1-minute load average while it ran
    load_max: float    # its highest value
    output: str        # stdout and stderr together
    timed_out: bool    # killed after `timeout` seconds


def measured(cmd, timeout: float, every: float = 0.2) -> Measured:
    "Run `cmd`, sampling its memory and the load every `every` s; its whole process group is killed after `timeout` s."
    import psutil
    t0, peak, loads, late = time.monotonic(), 0, [], False
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak = max(peak, tree_rss(ps)); loads.append(load_average())
            if time.monotonic() - t0 > timeout:  # the whole group: fold-model workers and report kernels too
                late = True; os.killpg(proc.pid, signal.SIGTERM); time.sleep(5)
                if proc.poll() is None: os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(); break
            time.sleep(every)
        log.seek(0); text = log.read()
    loads = loads or [load_average()]
    return Measured(proc.returncode, time.monotonic() - t0, peak, sum(loads) / len(loads), max(loads), text, late)


def pipeline_lines(output: str) -> str:
    "The `[pipeline ...]` progress lines of a CLI run's output."
    return "".join(l + "\n" for l in output.splitlines() if l.startswith("[pipeline"))
