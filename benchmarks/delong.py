"""Benchmark: the paired DeLong test on 10^5 patients (target < 1 s), with the O(mn) placement-value
definition as the ratio baseline on a size it can do. Run on demand:

    .venv/bin/python benchmarks/delong.py [--n 100000] [--repeats 5] [--no-append]

Prints the timings and appends a section to benchmarks/RESULTS.md (machine, commit, date).
"""
import argparse, datetime, platform, statistics, time
from pathlib import Path

import numpy as np

from sacroiliitis_dlr.core import atomic_write
from sacroiliitis_dlr.metrics import delong_cov, delong_matrix, delong_test
from _common import commit, machine

RESULTS = Path(__file__).parent / "RESULTS.md"


def data(n, seed=0, ties=True):
    "Two correlated scores on n patients, 60% positive; rounded so that there are ties."
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.6).astype(int)
    common = rng.normal(size=n)
    a, b = 1.2 * y + common + rng.normal(size=n), 0.9 * y + common + rng.normal(size=n)
    return (y, np.round(a, 2), np.round(b, 2)) if ties else (y, a, b)


def timeit(fn, repeats):
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def brute_cov(y, scores):
    "AUCs and DeLong covariance from the O(mn) definition."
    X, Y = scores[:, y == 1], scores[:, y == 0]
    m, n = X.shape[1], Y.shape[1]
    psi = (X[:, :, None] > Y[:, None, :]) + 0.5 * (X[:, :, None] == Y[:, None, :])
    aucs, V10, V01 = psi.mean(axis=(1, 2)), psi.mean(axis=2), psi.mean(axis=1)
    return aucs, np.cov(V10) / m + np.cov(V01) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()

    rows = []
    y, a, b = data(args.n)
    med, best = timeit(lambda: delong_test(y, a, b), args.repeats)
    rows.append((f"delong_test paired, n = {args.n:,} (ties)", med, best))
    y2, a2, b2 = data(args.n, ties=False)
    med2, best2 = timeit(lambda: delong_test(y2, a2, b2), args.repeats)
    rows.append((f"delong_test paired, n = {args.n:,} (no ties)", med2, best2))
    rows.append((f"delong_test unpaired, n = {args.n:,} + {args.n:,}",
                 *timeit(lambda: delong_test(y, a, b, paired=False), args.repeats)))
    scores = {f"m{i}": s for i, s in enumerate([a, b, a + b, a - 0.3 * b, 0.5 * a + b])}
    rows.append((f"delong_matrix, 5 models (10 pairs), n = {args.n:,}",
                 *timeit(lambda: delong_matrix(y, scores), args.repeats)))

    # ratio against the O(mn) definition, on a size the brute force can do, in this same run
    nb = 2_000
    yb, ab, bb = data(nb, seed=1)
    S = np.vstack([ab, bb])
    fast = timeit(lambda: delong_cov(yb, S), args.repeats)[0]
    brute = timeit(lambda: brute_cov(yb, S), max(1, args.repeats // 2))[0]
    assert np.allclose(delong_cov(yb, S)[1], brute_cov(yb, S)[1], rtol=0, atol=1e-12)
    rows.append((f"delong_cov fast (Sun & Xu), n = {nb:,}", fast, fast))
    rows.append((f"delong_cov brute force O(mn), n = {nb:,}", brute, brute))

    r = delong_test(y, a, b)
    target = "met" if med < 1.0 else "NOT met"
    lines = [f"| {what} | {m * 1000:.1f} | {bst * 1000:.1f} |" for what, m, bst in rows]
    print("\n".join(lines))
    print(f"fast/brute ratio at n = {nb}: brute force is {brute / fast:.0f}x slower")
    print(f"target < 1 s for delong_test on {args.n:,} patients: {target} ({med:.3f} s median)")

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = "\n".join([
        f"## DeLong test, {args.n:,} patients ({now})", "",
        f"- machine: {machine()}, {platform.platform()}, numpy {np.__version__}",
        f"- commit: {commit()}",
        f"- command: `.venv/bin/python benchmarks/delong.py --n {args.n} --repeats {args.repeats}`",
        f"- **delong_test (paired) on {args.n:,} patients: {med:.3f} s median of {args.repeats}** "
        f"(target < 1 s: {target}); AUCs {r.auc_a:.4f} vs {r.auc_b:.4f}, z = {r.statistic:.2f}",
        f"- the O(mn) brute-force definition is {brute / fast:.0f}x slower than the midrank algorithm at n = {nb:,} "
        f"(same covariance to 1e-12)", "",
        "| what | median (ms) | best (ms) |", "|---|---:|---:|", *lines, "", ""])
    if not args.no_append:
        old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
        atomic_write(RESULTS, old + section)
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
