"""Comparison with R: `sacroiliitis_dlr.metrics` and the segmentation ICC against R 4.2 (pROC, rms, Hmisc, psych)
on 18 generated data sets of 30-2,000 patients, with ties, separation and constant scores. Run on demand:

    .venv/bin/python benchmarks/r_comparison.py [--no-append] [--keep DIR] [--part all|issue15|issue27|issue28|issue32]

`--part issue32` compares `metrics.bootstrap_optimism` with `rms::validate` fed the same resamples, and the Riley
sample sizes (`development_sample_size`, `validation_sample_size`) with the published formulas written in R.
`--part issue28` compares the combined probability's confidence interval (`combined.linear_predictor_ci`: the
delta method on the linear predictor) with `predict(rms::lrm(...), newdata, se.fit=TRUE)` and `predict(glm(...),
newdata, type="link", se.fit=TRUE)` on simulated data sets shaped like the combined model.
`--part issue27` compares what an external evaluation and its model updating compute (`metrics.calibration_summary`,
`metrics.auc_ci`, `updating.fit_update`, `updating.closed_testing`) with `rms::val.prob`, `pROC`, `glm` and `anova`
on simulated sites where a stored logistic model is miscalibrated.

Installs Debian's `r-base-core r-cran-proc r-cran-rms r-cran-hmisc r-cran-psych` with apt-get when Rscript is
missing (needs root), computes the same quantities in both languages, prints the largest absolute difference
per quantity and appends a section to benchmarks/RESULTS.md (machine, commit, date). Not part of `make test`.
"""
import argparse, datetime, math, os, platform, shutil, subprocess, sys, tempfile, warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sacroiliitis_dlr.core import atomic_write
from sacroiliitis_dlr import metrics as M
from sacroiliitis_dlr import updating as U
from sacroiliitis_dlr.segmentation import volume_agreement
from _common import commit, machine

RESULTS = Path(__file__).parent / "RESULTS.md"
R_PACKAGES = ["r-base-core", "r-cran-proc", "r-cran-rms", "r-cran-hmisc", "r-cran-psych"]
NB_THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.05), 2)
CAT_THRESHOLDS = (0.2, 0.5)


def ensure_r():
    "Rscript on the PATH, installing Debian's R packages when it is missing."
    if shutil.which("Rscript"): return
    if os.geteuid() != 0: sys.exit(f"Rscript not found; install it with: apt-get install -y {' '.join(R_PACKAGES)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *R_PACKAGES], check=True, env=env)


def r_versions(pkgs=("pROC", "rms", "Hmisc", "psych")):
    code = ('cat(R.version$major, ".", R.version$minor, sep=""); for (p in c(' + ", ".join(f'"{p}"' for p in pkgs) + ')) '
            'cat("", p, as.character(packageVersion(p))); cat("\\n")')
    return subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True).stdout.strip()


# ---------------------------------------------------------------- the data sets
def expit(x): return 1 / (1 + np.exp(-x))


def make_dataset(kind, n, seed):
    "Outcome, three probability models (a, b, c), two mask volumes per patient."
    rng = np.random.default_rng(seed)
    prev = 0.1 if kind == "rare" else 0.5
    y = (rng.random(n) < prev).astype(int)
    y[:2] = (0, 1)  # both classes, always
    common = rng.normal(size=n)
    lin = lambda d, s: d * y + common + rng.normal(scale=s, size=n) + math.log(prev / (1 - prev))
    pa, pb, pc = expit(lin(1.2, 0.8)), expit(lin(0.9, 1.0)), expit(lin(0.4, 1.2))
    if kind == "ties":  # probabilities on a 0.05 grid: many ties, within and across classes
        pa, pb, pc = (np.clip(np.round(p * 20) / 20, 0.05, 0.95) for p in (pa, pb, pc))
    if kind == "separation":  # model a separates the classes perfectly
        pa = np.where(y == 1, rng.uniform(0.6, 0.99, n), rng.uniform(0.01, 0.4, n))
    if kind == "constant":  # model a says the same for everybody
        pa = np.full(n, 0.3)
    manual = rng.normal(12, 3, n)
    auto = 0.95 * manual + 0.5 + rng.normal(scale=1.0, size=n)
    if kind == "ties": manual, auto = np.round(manual), np.round(auto)
    return pd.DataFrame(dict(y=y, pa=pa, pb=pb, pc=pc, auto=auto, manual=manual))


DATASETS = ([("continuous", n) for n in (30, 100, 300, 1000, 2000)] + [("ties", n) for n in (30, 100, 300, 1000, 2000)]
            + [("rare", n) for n in (100, 500, 2000)] + [("separation", n) for n in (30, 200)]
            + [("constant", n) for n in (30, 300, 1000)])


# ---------------------------------------------------------------- Python
def python_side(kind, d):
    "Quantity name -> value, from this package."
    y, pa, pb, pc = d.y.to_numpy(), d.pa.to_numpy(), d.pb.to_numpy(), d.pc.to_numpy()
    out = {}
    aucs, cov = M.delong_cov(y, np.vstack([pa, pb]))
    out.update(auc_a=aucs[0], auc_b=aucs[1], var_a=cov[0, 0], var_b=cov[1, 1])
    _, lo, hi = M.auc_ci(y, pb)
    out.update(ci_lo_b=lo, ci_hi_b=hi)
    t = M.delong_test(y, pa, pb)
    out.update(paired_z=t.statistic, paired_p=t.p_value)
    h = np.arange(len(y)) < len(y) // 2
    u = M.delong_test(y[h], pb[h], pc[~h], paired=False, y_b=y[~h])
    out.update(unpaired_t=u.statistic, unpaired_df=u.df, unpaired_p=u.p_value)
    dm = M.delong_matrix(y, {"a": pa, "b": pb, "c": pc}, adjust="holm")
    for i, p in enumerate(dm.p_adjusted): out[f"holm_{i}"] = p
    out["youden_b"] = M.youden_cutoff(y, pb)
    if kind != "constant": out["youden_a"] = M.youden_cutoff(y, pa)
    for name, p in (("a", pa), ("b", pb)):
        if kind == "separation" and name == "a": continue  # the logistic fits diverge: no calibration fit exists
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cs = M.calibration_summary(y, p)
        out.update({f"{k}_{name}": cs[k] for k in ("brier", "spiegelhalter_z", "spiegelhalter_p", "emax", "e90", "eavg",
                                                     "citl", "slope", "slope_intercept")})
        out[f"citl_lo_{name}"], out[f"citl_hi_{name}"] = cs["citl_ci"]
        out[f"slope_lo_{name}"], out[f"slope_hi_{name}"] = cs["slope_ci"]
    nb = M.net_benefit(y, pb, NB_THRESHOLDS)
    for t_, v in zip(NB_THRESHOLDS, nb.net_benefit): out[f"nb_{t_:.2f}"] = v
    ri = M.nri_idi(y, pc, pb)
    out.update(nri=ri["nri"], nri_se=ri["nri_se"], nri_p=ri["nri_p"], idi=ri["idi"], idi_se=ri["idi_se"], idi_p=ri["idi_p"])
    cn = M.categorical_nri(y, pc, pb, CAT_THRESHOLDS)
    out.update(cat_nri=cn.nri, cat_nri_se=cn.se, cat_nri_p=cn.p_value)
    va = volume_agreement(d.auto, d.manual)
    out.update(icc=va["icc"], icc_lo=va["icc_lo"], icc_hi=va["icc_hi"])
    return out


# ---------------------------------------------------------------- R
R_SCRIPT = r"""
suppressPackageStartupMessages({library(pROC); library(rms); library(Hmisc); library(psych)})
args <- commandArgs(TRUE); dir <- args[1]
nb_t <- as.numeric(strsplit(args[2], ",")[[1]]); cat_t <- as.numeric(strsplit(args[3], ",")[[1]])
meta <- read.csv(file.path(dir, "datasets.csv"), stringsAsFactors = FALSE)
rows <- list()
# glm stops on the change in deviance (1e-8 by default) and takes its covariance from the weights of the iterate
# before the last: converged tightly, then refitted from the converged coefficients, it is evaluated at the MLE
tight <- glm.control(epsilon = 1e-16, maxit = 100)
for (k in seq_len(nrow(meta))) {
  ds <- meta$dataset[k]; kind <- meta$kind[k]
  d <- read.csv(file.path(dir, paste0(ds, ".csv"))); y <- d$y
  res <- c()
  put <- function(name, v) res[name] <<- as.numeric(v)
  roc_ <- function(yy, s) roc(yy, s, levels = c(0, 1), direction = "<", quiet = TRUE)
  ra <- roc_(y, d$pa); rb <- roc_(y, d$pb); rc <- roc_(y, d$pc)
  put("auc_a", auc(ra)); put("auc_b", auc(rb))
  put("var_a", var(ra, method = "delong")); put("var_b", var(rb, method = "delong"))
  ci <- ci.auc(rb, method = "delong"); put("ci_lo_b", ci[1]); put("ci_hi_b", ci[3])
  t <- roc.test(ra, rb, method = "delong", paired = TRUE); put("paired_z", t$statistic); put("paired_p", t$p.value)
  h <- seq_along(y) <= length(y) %/% 2
  u <- roc.test(roc_(y[h], d$pb[h]), roc_(y[!h], d$pc[!h]), method = "delong", paired = FALSE)
  put("unpaired_t", u$statistic); put("unpaired_df", u$parameter); put("unpaired_p", u$p.value)
  ps <- c(roc.test(ra, rb, method = "delong", paired = TRUE)$p.value,
          roc.test(ra, rc, method = "delong", paired = TRUE)$p.value,
          roc.test(rb, rc, method = "delong", paired = TRUE)$p.value)
  adj <- p.adjust(ps, method = "holm"); for (i in 1:3) put(paste0("holm_", i - 1), adj[i])
  # Youden's J from counts, exactly; the highest of the tied maxima, positive when score >= cut
  youden <- function(s) {
    cuts <- sort(unique(s)); m <- sum(y == 1); n <- sum(y == 0)
    j <- sapply(cuts, function(c) sum(s >= c & y == 1) * n - sum(s >= c & y == 0) * m)
    max(cuts[j == max(j)])
  }
  put("youden_b", youden(d$pb)); if (kind != "constant") put("youden_a", youden(d$pa))
  for (nm in c("a", "b")) {
    if (kind == "separation" && nm == "a") next
    p <- d[[paste0("p", nm)]]
    v <- suppressWarnings(val.prob(p, y, pl = FALSE))
    if (length(unique(p)) == 1) {
      # rms 6.5's constant-p branch returns 19 values under 18 names (Emax and E90 read 0, S:z reads |p - mean(y)|):
      # compute what it means, with val.prob's own formulas
      z <- sum((y - p) * (1 - 2 * p)) / sqrt(sum((1 - 2 * p) * (1 - 2 * p) * p * (1 - p)))
      er <- abs(sort(p) - lowess(p, y, iter = 0)$y)  # approx() needs two distinct x; the smooth is in sorted order
      v <- c(Brier = mean((y - p)^2), "S:z" = z, "S:p" = 2 * pnorm(-abs(z)), Emax = max(er),
             E90 = unname(quantile(er, 0.9)), Eavg = mean(er))
    }
    for (q in c("Brier", "S:z", "S:p", "Emax", "E90", "Eavg"))
      put(paste0(c(Brier = "brier", "S:z" = "spiegelhalter_z", "S:p" = "spiegelhalter_p", Emax = "emax",
                   E90 = "e90", Eavg = "eavg")[[q]], "_", nm), v[[q]])
    f0 <- glm(y ~ 1, offset = qlogis(p), family = binomial, control = tight)
    f0 <- glm(y ~ 1, offset = qlogis(p), family = binomial, control = tight, start = coef(f0))  # vcov at the MLE
    ci0 <- confint.default(f0)
    put(paste0("citl_", nm), coef(f0)[1]); put(paste0("citl_lo_", nm), ci0[1, 1]); put(paste0("citl_hi_", nm), ci0[1, 2])
    if (length(unique(p)) > 1) {
      f1 <- glm(y ~ qlogis(p), family = binomial, control = tight)
      f1 <- glm(y ~ qlogis(p), family = binomial, control = tight, start = coef(f1)); ci1 <- confint.default(f1)
      put(paste0("slope_", nm), coef(f1)[2]); put(paste0("slope_intercept_", nm), coef(f1)[1])
      put(paste0("slope_lo_", nm), ci1[2, 1]); put(paste0("slope_hi_", nm), ci1[2, 2])
    } else for (q in c("slope_", "slope_intercept_", "slope_lo_", "slope_hi_")) put(paste0(q, nm), NA)
  }
  for (tt in nb_t) {
    called <- d$pb >= tt
    put(sprintf("nb_%.2f", tt), sum(called & y == 1) / length(y) - sum(called & y == 0) / length(y) * tt / (1 - tt))
  }
  x <- improveProb(x1 = d$pc, x2 = d$pb, y = y)
  put("nri", x$nri); put("nri_se", x$se.nri); put("nri_p", 2 * pnorm(-abs(x$z.nri)))
  put("idi", x$idi); put("idi_se", x$se.idi); put("idi_p", 2 * pnorm(-abs(x$z.idi)))
  # PredictABEL::reclassification's categorical NRI: improveProb on the category numbers
  br <- c(0, cat_t, 1)
  c1 <- cut(d$pc, breaks = br, include.lowest = TRUE, right = FALSE)
  c2 <- cut(d$pb, breaks = br, include.lowest = TRUE, right = FALSE)
  xc <- improveProb(x1 = as.numeric(c1) / nlevels(c1), x2 = as.numeric(c2) / nlevels(c2), y = y)
  put("cat_nri", xc$nri); put("cat_nri_se", xc$se.nri); put("cat_nri_p", 2 * pnorm(-abs(xc$z.nri)))
  icc <- ICC(cbind(d$auto, d$manual), lmer = FALSE)$results["Single_random_raters", ]
  put("icc", icc$ICC); put("icc_lo", icc[["lower bound"]]); put("icc_hi", icc[["upper bound"]])
  rows[[k]] <- data.frame(dataset = ds, quantity = names(res), value = unname(res))
}
write.csv(do.call(rbind, rows), file.path(dir, "r_results.csv"), row.names = FALSE)
"""


def r_side(folder, datasets):
    "Long table dataset, quantity, value, from R."
    for name, _, d in datasets: d.to_csv(folder / f"{name}.csv", index=False, float_format="%.17g")
    pd.DataFrame([dict(dataset=name, kind=kind) for name, kind, _ in datasets]).to_csv(folder / "datasets.csv", index=False)
    (folder / "compare.R").write_text(R_SCRIPT)
    subprocess.run(["Rscript", str(folder / "compare.R"), str(folder), ",".join(map(str, NB_THRESHOLDS)),
                    ",".join(map(str, CAT_THRESHOLDS))], check=True)
    return pd.read_csv(folder / "r_results.csv")


# ---------------------------------------------------------------- issue 32: bootstrap optimism and sample sizes
OPT_DATASETS = [("opt_n100_p3", 100, 3, 0.5), ("opt_n200_p4", 200, 4, 0.4), ("opt_n300_p3_rare", 300, 3, 0.15),
                ("opt_n485_p2", 485, 2, 0.5)]
OPT_B = 50
# (parameters, prevalence, csrsquared, nagrsquared, cstatistic): pmsampsize's four tests, then three of our own
DEV_CASES = [(24, 0.174, 0.288, None, None), (24, 0.174, 0.55, None, None), (36, 0.174, 0.288, None, None),
             (24, 0.25, 0.288, None, None), (10, 0.15, None, None, 0.75), (6, 0.3, None, 0.25, None),
             (8, 0.57, None, None, 0.7)]
# (prevalence, C, LP mean, LP sd, O/E CI width, simobs): pmvalsampsize's documented example, then three of our own
VAL_CASES = [(0.018, 0.8, -5, 2.5, 1, 1000), (0.3, 0.85, -1.2, 1.6, 0.2, 1_000_000), (0.5, 0.75, 0, 1.2, 0.2, 1_000_000),
             (0.1, 0.8, -2.8, 1.4, 0.4, 100_000)]


def make_opt_dataset(n, p, prev, seed):
    "Design matrix (a binary and continuous predictors) and an outcome from a logistic model with one noise column."
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{j}" for j in range(p)])
    X["x0"] = (X.x0 > 0).astype(float)
    lin = math.log(prev / (1 - prev)) + 0.9 * X.x0 - 0.45 + (0.8 * X.x1 if p > 1 else 0)
    return X, (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)


R_OPT = r"""
suppressPackageStartupMessages(library(rms))
args <- commandArgs(TRUE); dir <- args[1]; eps <- as.numeric(args[2])
out <- list()
for (ds in strsplit(args[3], ",")[[1]]) {
  d <- read.csv(file.path(dir, paste0(ds, "_data.csv"))); S <- as.matrix(read.csv(file.path(dir, paste0(ds, "_idx.csv")), header = FALSE))
  # predab.resample draws its resamples with sample(): a copy of it (and of validate.lrm) that sees our `sample`
  # takes the resamples Python drew, row by row, and leaves every other line of rms as it is
  e <- new.env(parent = asNamespace("rms")); e$.i <- 0
  e$sample <- function(x, size, replace = FALSE, prob = NULL) { e$.i <- e$.i + 1; S[e$.i, ] }
  if (eps > 0) e$lrm.fit <- function(x, y, ..., maxit, eps) rms::lrm.fit(x, y, ..., maxit = 100, eps = tight)
  tight <- eps
  pr <- rms:::predab.resample; environment(pr) <- e; e$predab.resample <- pr
  vl <- rms:::validate.lrm; environment(vl) <- e
  f <- if (eps > 0) lrm(y ~ ., data = d, x = TRUE, y = TRUE, eps = eps, maxit = 100) else lrm(y ~ ., data = d, x = TRUE, y = TRUE)
  v <- unclass(vl(f, B = nrow(S)))[, 1:6]
  out[[ds]] <- data.frame(dataset = ds, index = rep(rownames(v), 6), column = rep(colnames(v), each = nrow(v)), value = as.vector(v))
}
write.csv(do.call(rbind, out), file.path(dir, paste0("r_validate_", eps, ".csv")), row.names = FALSE)
"""

R_SS = r"""
args <- commandArgs(TRUE); dir <- args[1]
dev <- read.csv(file.path(dir, "dev_cases.csv")); val <- read.csv(file.path(dir, "val_cases.csv"))
# Riley et al. 2021's C-statistic -> Cox-Snell R2 simulation, written from the paper (two unit-variance normals)
cs_from_c <- function(C, prev, seed = 123456, n = 1e6) {
  set.seed(seed); mu <- sqrt(2) * qnorm(C)
  lp <- c(rnorm(prev * n), rnorm((1 - prev) * n, mean = mu)); y <- c(rep(0, prev * n), rep(1, (1 - prev) * n))
  m <- glm(y ~ lp, family = binomial); 1 - exp(-(m$null.deviance - m$deviance) / n)
}
maxr2 <- function(prev) 1 - exp(2 * (prev * log(prev) + (1 - prev) * log(1 - prev)))
n_s <- function(P, r2, S) ceiling(P / ((S - 1) * log(1 - r2 / S)))     # Riley et al. 2019, eq. 11
rows <- list()
for (k in seq_len(nrow(dev))) {
  P <- dev$parameters[k]; prev <- dev$prevalence[k]
  r2 <- if (!is.na(dev$csrsquared[k])) dev$csrsquared[k] else if (!is.na(dev$nagrsquared[k]))
    round(dev$nagrsquared[k] * maxr2(prev), 3) else round(cs_from_c(dev$cstatistic[k], prev), 4)
  n1 <- n_s(P, r2, 0.9); n2 <- n_s(P, r2, r2 / (r2 + 0.05 * maxr2(prev))); n3 <- ceiling((1.96 / 0.05)^2 * prev * (1 - prev))
  rows[[length(rows) + 1]] <- data.frame(case = paste0("dev", k), quantity = c("csrsquared", "n1", "n2", "n3", "n"),
                                         value = c(r2, n1, n2, n3, max(n1, n2, n3)))
}
for (k in seq_len(nrow(val))) {
  prev <- val$prevalence[k]; C <- val$cstatistic[k]
  se_oe <- 0; w <- 0; while (w < val$oe_width[k]) { se_oe <- se_oe + 1e-4; w <- exp(1.96 * se_oe) - exp(-1.96 * se_oe) }
  n1 <- ceiling((1 - prev) / (prev * se_oe^2))
  set.seed(123456); lp <- rnorm(val$simobs[k], val$lp_mean[k], val$lp_sd[k]); q <- exp(lp) / (1 + exp(lp))^2
  I00 <- mean(q); I01 <- mean(lp * q); I11 <- mean(lp * lp * q); se <- 0.2 / (2 * 1.96)
  n2 <- ceiling(I00 / (se^2 * (I00 * I11 - I01^2)))
  sz <- 1:1e6; sec <- sqrt(C * (1 - C) * (1 + (sz / 2 - 1) * (1 - C) / (2 - C) + (sz / 2 - 1) * C / (1 + C)) / (sz^2 * prev * (1 - prev)))
  n3 <- sz[which(2 * 1.96 * sec <= 0.1)[1]]
  rows[[length(rows) + 1]] <- data.frame(case = paste0("val", k), quantity = c("n_oe", "n_slope", "n_cstat", "n"),
                                         value = c(n1, n2, n3, max(n1, n2, n3)))
}
write.csv(do.call(rbind, rows), file.path(dir, "r_ss.csv"), row.names = FALSE)
"""


def issue32_python():
    "Long tables of the optimism tables and the sample sizes, from this package."
    opt = []
    for i, (name, n, p, prev) in enumerate(OPT_DATASETS):
        X, y = make_opt_dataset(n, p, prev, 3200 + i)
        t = M.bootstrap_optimism(X, y, indices=M.bootstrap_indices(n, OPT_B, 3200 + i)).table.drop(index="AUC")
        opt += [dict(dataset=name, index=ix, column=c, value=float(t.loc[ix, c])) for ix in t.index for c in t.columns]
    ss = []
    for k, (P, prev, cs, nag, c) in enumerate(DEV_CASES, 1):
        d = M.development_sample_size(P, prev, csrsquared=cs, nagrsquared=nag, cstatistic=c)
        ss += [dict(case=f"dev{k}", quantity=q, value=float(v)) for q, v in
               [("csrsquared", d.csrsquared), ("n1", d.n_shrinkage), ("n2", d.n_optimism), ("n3", d.n_risk), ("n", d.n)]]
    for k, (prev, c, m, s, w, sim) in enumerate(VAL_CASES, 1):
        v = M.validation_sample_size(prev, c, m, s, oe_ci_width=w, simobs=sim)
        ss += [dict(case=f"val{k}", quantity=q, value=float(x)) for q, x in
               [("n_oe", v.n_oe), ("n_slope", v.n_slope), ("n_cstat", v.n_cstat), ("n", v.n)]]
    return pd.DataFrame(opt), pd.DataFrame(ss)


def issue32_r(folder):
    "The same from R: rms::validate fed the same resamples (R's default lrm convergence, and tightened), and the sample-size formulas."
    for i, (name, n, p, prev) in enumerate(OPT_DATASETS):
        X, y = make_opt_dataset(n, p, prev, 3200 + i)
        X.assign(y=y).to_csv(folder / f"{name}_data.csv", index=False, float_format="%.17g")
        pd.DataFrame(M.bootstrap_indices(n, OPT_B, 3200 + i) + 1).to_csv(folder / f"{name}_idx.csv", header=False, index=False)
    (folder / "validate.R").write_text(R_OPT)
    names = ",".join(d[0] for d in OPT_DATASETS)
    r_opt = {}
    for eps in ("0", "1e-10"):
        subprocess.run(["Rscript", str(folder / "validate.R"), str(folder), eps, names], check=True)
        r_opt[eps] = pd.read_csv(folder / f"r_validate_{eps}.csv")
    pd.DataFrame(DEV_CASES, columns=["parameters", "prevalence", "csrsquared", "nagrsquared", "cstatistic"]).to_csv(folder / "dev_cases.csv", index=False)
    pd.DataFrame(VAL_CASES, columns=["prevalence", "cstatistic", "lp_mean", "lp_sd", "oe_width", "simobs"]).to_csv(folder / "val_cases.csv", index=False)
    (folder / "ss.R").write_text(R_SS)
    subprocess.run(["Rscript", str(folder / "ss.R"), str(folder)], check=True)
    return r_opt, pd.read_csv(folder / "r_ss.csv")


def section_head(title, part, machine_extra, r_packages=None)->list:
    "The first lines of a RESULTS.md section: title with the time, machine and R versions, commit, command."
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    r = r_versions(r_packages) if r_packages else r_versions()
    return [f"## Comparison with R{title} ({now})", "", f"- machine: {machine()}{machine_extra}; R {r}", f"- commit: {commit()}",
            "- command: `.venv/bin/python benchmarks/r_comparison.py" + (f" --part {part}`" if part else "`")]


def issue32_section(py_opt, py_ss, r_opt, r_ss):
    "Print the comparison and return the RESULTS.md section."
    lines, worst = [], {}
    for eps, r in r_opt.items():
        b = py_opt.merge(r, on=["dataset", "index", "column"], suffixes=("_py", "_r"))
        b["diff"] = (b.value_py - b.value_r).abs()
        worst[eps] = b.groupby("index", sort=False)["diff"].max()
        print(f"rms::validate, lrm eps={'default 0.025' if eps == '0' else eps}: largest |Python - R| {b['diff'].max():.1e} over {len(b)} values")
    s = py_ss.merge(r_ss, on=["case", "quantity"], suffixes=("_py", "_r"))
    ints = s[s.quantity != "csrsquared"]; r2 = s[s.quantity == "csrsquared"]
    mismatches = int((ints.value_py != ints.value_r).sum())
    print(f"sample sizes: {len(ints)} integers compared, {mismatches} differ; Cox-Snell R^2 after rounding: max diff {(r2.value_py - r2.value_r).abs().max():.1e}")
    print(s.to_string(index=False))
    tab = pd.DataFrame(worst).rename(columns={"0": "R default (eps 0.025)", "1e-10": "R eps 1e-10"})
    return "\n".join([
        *section_head(": bootstrap optimism and sample sizes (issue 32)", "issue32", "", ('rms', 'Hmisc')),
        f"- `metrics.bootstrap_optimism` against `rms::validate(lrm(y ~ ., x=TRUE, y=TRUE), method='boot', B={OPT_B})` fed the "
        f"same {OPT_B} resamples (a copy of `predab.resample` whose `sample` returns Python's rows), on {len(OPT_DATASETS)} data "
        f"sets ({', '.join(d[0] for d in OPT_DATASETS)}); largest |difference| per index over every column:", "",
        "| index | " + " | ".join(tab.columns) + " |", "|---|" + "---:|" * len(tab.columns),
        *[f"| {ix} | " + " | ".join(f"{v:.1e}" for v in row) + " |" for ix, row in tab.iterrows()], "",
        f"- sample sizes: {len(DEV_CASES)} development cases (pmsampsize's four tests and three of ours: a C-statistic, a "
        f"Nagelkerke R^2, a prevalence whose count R truncates) and {len(VAL_CASES)} validation cases (pmvalsampsize's "
        f"documented example and three of ours) against the published formulas written in R (R's `rnorm` and `glm`; "
        f"pmsampsize/pmvalsampsize themselves are not in Debian): **{len(ints)} integers, {mismatches} differ**; "
        f"Cox-Snell R^2 from a C-statistic, rounded to 4 decimals as pmsampsize: max |difference| "
        f"{(r2.value_py - r2.value_r).abs().max():.1e}", "", ""])


# ---------------------------------------------------------------- issue 27: external validation and model updating
# (name, patients, stored coefficients (const first), true log-odds = a + b * stored lp + extra * x1, seed)
SITE_DATASETS = [("site_n200_prev30_slope", 200, (-2.6, 2.5, -1.2, 1.0), 0.5, 0.7, 0.0, 2700),
                 ("site_n100_prev50_calibrated", 100, (0.0, 1.2, -0.8), 0.0, 1.0, 0.0, 2701),
                 ("site_n500_prev15_mean", 500, (-1.0, 1.5, 0.7, -0.5, 0.9), -1.3, 1.0, 0.0, 2702),
                 ("site_n1000_prev30_effect", 1000, (-1.5, 1.8, -0.9, 0.6, 0.4), 0.2, 1.0, 0.8, 2703)]


def make_site(n, coefs, a, b, extra, seed):
    "A site: design matrix (a binary column x3 where there is one), the stored coefficient table, and the outcome."
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(coefs) - 1)), columns=[f"x{j}" for j in range(1, len(coefs))])
    if "x3" in X: X["x3"] = (X.x3 > 0.3).astype(float)
    stored = pd.DataFrame(dict(term=["const", *X.columns], coef=coefs))
    lp = U.linear_predictor(stored, X)
    y = (rng.random(n) < 1 / (1 + np.exp(-(a + b * lp + extra * X.x1)))).astype(int)
    return X, stored, y


def issue27_python(X, stored, y):
    "Quantity -> value, from this package, for one site."
    p = U.fit_update(y, stored, X, "none").predict(X)
    cs = M.calibration_summary(y, p)
    out = dict(valprob_intercept=cs["slope_intercept"], valprob_slope=cs["slope"], valprob_emax=cs["emax"], valprob_brier=cs["brier"])
    out.update(zip(("auc", "auc_lo", "auc_hi"), M.auc_ci(y, p)))
    fits = {m: U.fit_update(y, stored, X, m) for m in U.UPDATE_METHODS}
    for m in ("intercept", "logistic", "refit"):
        est = fits[m].estimates.set_index("term")
        for term, row in est.iterrows():
            out[f"{m}_coef_{term}"], out[f"{m}_se_{term}"] = row.coef, row.se
        out[f"{m}_deviance"] = fits[m].deviance
    # the refitted table applied as stored: its coefficients are R's glm(y ~ .)'s, in the stored format
    for _, row in fits["refit"].coefs.iterrows(): out[f"refit_table_{row.term}"] = row.coef
    out["none_deviance"] = fits["none"].deviance
    ct = U.closed_testing(y, stored, X)
    for r in ct.table.itertuples(): out[f"lr_{r.step}"], out[f"df_{r.step}"], out[f"p_{r.step}"] = r.lr, r.df, r.p
    return out


R_ISSUE27 = r"""
suppressPackageStartupMessages({library(rms); library(pROC)})
args <- commandArgs(TRUE); dir <- args[1]
tight <- glm.control(epsilon = 1e-16, maxit = 100)
# converged tightly, then refitted from the converged coefficients: glm's covariance is then taken at the MLE
fit <- function(f, d) {
  g <- glm(f, family = binomial, data = d, control = tight)
  glm(f, family = binomial, data = d, control = tight, start = coef(g))
}
rows <- list()
for (ds in strsplit(args[2], ",")[[1]]) {
  d <- read.csv(file.path(dir, paste0(ds, "_site.csv"))); b <- read.csv(file.path(dir, paste0(ds, "_coefs.csv")))
  terms <- b$term[b$term != "const"]; X <- as.matrix(d[, terms, drop = FALSE]); y <- d$y
  lp <- b$coef[b$term == "const"] + drop(X %*% b$coef[match(terms, b$term)]); p <- plogis(lp)
  res <- c(); put <- function(name, v) res[name] <<- as.numeric(v)
  v <- val.prob(p, y, pl = FALSE)
  put("valprob_intercept", v[["Intercept"]]); put("valprob_slope", v[["Slope"]]); put("valprob_emax", v[["Emax"]]); put("valprob_brier", v[["Brier"]])
  r <- roc(y, p, levels = c(0, 1), direction = "<", quiet = TRUE); ci <- ci.auc(r, method = "delong")
  put("auc", auc(r)); put("auc_lo", ci[1]); put("auc_hi", ci[3])
  dd <- data.frame(y = y, lp = lp, d[, terms, drop = FALSE])
  f0 <- glm(y ~ 0 + offset(lp), family = binomial, data = dd)          # the stored model: nothing estimated
  f1 <- fit(y ~ offset(lp), dd)
  f2 <- fit(y ~ lp, dd)
  f3 <- fit(as.formula(paste("y ~", paste(terms, collapse = " + "))), dd)
  s1 <- summary(f1)$coefficients; s2 <- summary(f2)$coefficients; s3 <- summary(f3)$coefficients
  put("intercept_coef_intercept", s1[1, 1]); put("intercept_se_intercept", s1[1, 2]); put("intercept_deviance", deviance(f1))
  put("logistic_coef_intercept", s2[1, 1]); put("logistic_se_intercept", s2[1, 2])
  put("logistic_coef_slope", s2[2, 1]); put("logistic_se_slope", s2[2, 2]); put("logistic_deviance", deviance(f2))
  nm <- c("const", terms)
  for (k in seq_along(nm)) { put(paste0("refit_coef_", nm[k]), s3[k, 1]); put(paste0("refit_se_", nm[k]), s3[k, 2]); put(paste0("refit_table_", nm[k]), s3[k, 1]) }
  put("refit_deviance", deviance(f3)); put("none_deviance", deviance(f0))
  k <- 0
  for (m in list(f0, f1, f2)) {
    k <- k + 1; a <- anova(m, f3, test = "Chisq")
    put(paste0("lr_", k), a$Deviance[2]); put(paste0("df_", k), a$Df[2]); put(paste0("p_", k), if (a$Df[2] > 0) a[["Pr(>Chi)"]][2] else NA)
  }
  rows[[ds]] <- data.frame(dataset = ds, quantity = names(res), value = unname(res))
}
write.csv(do.call(rbind, rows), file.path(dir, "r_issue27.csv"), row.names = FALSE)
"""


def issue27_group(q):
    "The quantity as reported: one row per statistic, terms together."
    for prefix in ("intercept_coef", "intercept_se", "logistic_coef", "logistic_se", "refit_coef", "refit_se", "refit_table"):
        if q.startswith(prefix + "_"): return prefix
    return q


def issue27_run(folder):
    "Python's and R's values, one row per site and quantity."
    py, sites = [], []
    for name, n, coefs, a, b, extra, seed in SITE_DATASETS:
        X, stored, y = make_site(n, coefs, a, b, extra, seed)
        X.assign(y=y).to_csv(folder / f"{name}_site.csv", index=False, float_format="%.17g")
        stored.to_csv(folder / f"{name}_coefs.csv", index=False, float_format="%.17g")
        py += [dict(dataset=name, quantity=q, value=float(v)) for q, v in issue27_python(X, stored, y).items()]
        sites.append(f"{name} (n {n}, prevalence {y.mean():.2f}, closed test: {U.closed_testing(y, stored, X).method})")
    (folder / "issue27.R").write_text(R_ISSUE27)
    subprocess.run(["Rscript", str(folder / "issue27.R"), str(folder), ",".join(d[0] for d in SITE_DATASETS)], check=True)
    both = pd.DataFrame(py).merge(pd.read_csv(folder / "r_issue27.csv"), on=["dataset", "quantity"], how="outer", suffixes=("_py", "_r"))
    return both, sites


def issue27_section(both, sites):
    "Print the comparison and return the RESULTS.md section."
    both["group"] = both.quantity.map(issue27_group)
    both["missing"] = both.value_py.isna() != both.value_r.isna()
    both["diff"] = (both.value_py - both.value_r).abs()
    tab = both.groupby("group", sort=False).agg(n=("diff", "count"), max_abs_diff=("diff", "max"), one_side_only=("missing", "sum"))
    worst = tab.max_abs_diff.max()
    print(f"largest difference: {worst:.1e}; values missing on one side: {int(tab.one_side_only.sum())}")
    labels = {"valprob_intercept": "`rms::val.prob` Intercept vs `calibration_summary` slope_intercept",
              "valprob_slope": "`val.prob` Slope vs slope", "valprob_emax": "`val.prob` Emax vs emax",
              "valprob_brier": "`val.prob` Brier vs brier", "auc": "`pROC::auc` vs `auc_ci`",
              "auc_lo": "`ci.auc(method = \"delong\")` lower vs `auc_ci`", "auc_hi": "`ci.auc` upper vs `auc_ci`",
              "intercept_coef": "`glm(y ~ offset(lp))` coefficient vs `fit_update(..., \"intercept\").estimates`",
              "intercept_se": "its standard error", "intercept_deviance": "its deviance vs `.deviance`",
              "logistic_coef": "`glm(y ~ lp)` intercept and slope vs `fit_update(..., \"logistic\").estimates`",
              "logistic_se": "their standard errors", "logistic_deviance": "its deviance",
              "refit_coef": "`glm(y ~ x1 + ...)` coefficients vs `fit_update(..., \"refit\").estimates`",
              "refit_se": "their standard errors", "refit_table": "the same vs the updated table's coef column (stored format)",
              "refit_deviance": "its deviance", "none_deviance": "`glm(y ~ 0 + offset(lp))` deviance vs the stored model's",
              "lr_1": "closed test step 1 LR vs `anova(f0, f3, test = \"Chisq\")`", "df_1": "its df", "p_1": "its p",
              "lr_2": "step 2 LR vs `anova(f1, f3)`", "df_2": "its df", "p_2": "its p",
              "lr_3": "step 3 LR vs `anova(f2, f3)`", "df_3": "its df", "p_3": "its p"}
    tab = tab.loc[[g for g in labels if g in tab.index] + [g for g in tab.index if g not in labels]]
    print(tab.to_string(float_format=lambda v: f"{v:.1e}"))
    return "\n".join([
        *section_head(": external validation and model updating (issue 27)", "issue27", f", numpy {np.__version__}", ('rms', 'pROC')),
        f"- {len(SITE_DATASETS)} simulated sites where a stored logistic model meets another calibration: " + "; ".join(sites),
        "- R reads the same design matrix, outcome and stored coefficients from CSV (17 significant digits); glm fits "
        "converged to `epsilon = 1e-16` and refitted from their coefficients (Wald SEs at the MLE); `val.prob` as it is "
        "(its Intercept and Slope come from `lrm` at its default convergence, which leaves ~1e-7: the tight `glm` of "
        "the same recalibration, the `logistic_*` rows, agrees to ~1e-15)",
        f"- **largest absolute difference over every quantity: {worst:.1e}**; values missing on one side only: "
        f"{int(tab.one_side_only.sum())}", "",
        "| quantity | R | n | max abs diff |", "|---|---|---:|---:|",
        *[f"| {r.Index} | {labels.get(r.Index, '')} | {r.n} | {r.max_abs_diff:.1e} |" for r in tab.itertuples()], "", ""])


# ---------------------------------------------------------------- issue 28: the combined probability's confidence interval
# (name, training patients, true coefficients: const, dlr_signature, then the clinical terms, seed); new patients: 25 each
CI_DATASETS = [("comb_n120_hla", 120, dict(const=-0.4, dlr_signature=1.1, hla_b27=0.9), 2800),
               ("comb_n300_age_hla_crp", 300, dict(const=-2.0, dlr_signature=0.9, age=0.03, hla_b27=1.2, crp=0.05), 2801),
               ("comb_n500_four", 500, dict(const=-1.2, dlr_signature=1.4, age=-0.02, sex_M=0.5, hla_b27=0.8, crp=0.02), 2802),
               ("comb_n80_strong", 80, dict(const=0.3, dlr_signature=2.5, ibp=1.5), 2803)]
CI_NEW = 25


def make_combined_data(n, coefs, rng):
    "A design shaped like the combined model's: the DLR signature's logit, then clinical terms (binary 0/1 and numeric)."
    cols = dict(dlr_signature=rng.normal(0.3, 1.6, n), age=np.round(rng.normal(32, 9, n)), sex_M=(rng.random(n) < 0.6).astype(float),
                hla_b27=(rng.random(n) < 0.45).astype(float), crp=np.round(rng.lognormal(2.0, 0.8, n), 1),
                ibp=(rng.random(n) < 0.5).astype(float))
    return pd.DataFrame({t: cols[t] for t in coefs if t != "const"})


def issue28_python(X, y, new):
    "Row -> lp, se, prob_lo, prob_hi from this package: the stage's fit, its stored covariance, `linear_predictor_ci`."
    from sacroiliitis_dlr import combined as C
    res = C.fit_logit(X, y, "combined model")
    ci = C.linear_predictor_ci(C.odds_ratio_table(res), C.covariance_table(res), new)
    return [dict(row=i + 1, quantity=q, value=float(ci[q].iloc[i])) for i in range(len(new)) for q in ("lp", "se", "prob_lo", "prob_hi")]


R_ISSUE28 = r"""
suppressPackageStartupMessages(library(rms))
args <- commandArgs(TRUE); dir <- args[1]
tight <- glm.control(epsilon = 1e-16, maxit = 100)
rows <- list()
for (ds in strsplit(args[2], ",")[[1]]) {
  d <- read.csv(file.path(dir, paste0(ds, "_train.csv"))); nd <- read.csv(file.path(dir, paste0(ds, "_new.csv")))
  z <- qnorm(0.975); out <- list()
  f <- lrm(y ~ ., data = d, eps = 1e-10, maxit = 50)
  p <- predict(f, nd, se.fit = TRUE)
  out$lrm <- data.frame(lp = p$linear.predictors, se = p$se.fit)
  g <- glm(y ~ ., family = binomial, data = d, control = tight)
  g <- glm(y ~ ., family = binomial, data = d, control = tight, start = coef(g))  # covariance at the MLE
  q <- predict(g, nd, type = "link", se.fit = TRUE)
  out$glm <- data.frame(lp = q$fit, se = q$se.fit)
  for (how in names(out)) {
    o <- out[[how]]; o$prob_lo <- plogis(o$lp - z * o$se); o$prob_hi <- plogis(o$lp + z * o$se)
    for (qq in c("lp", "se", "prob_lo", "prob_hi"))
      rows[[paste(ds, how, qq)]] <- data.frame(dataset = ds, r = how, row = seq_len(nrow(nd)), quantity = qq, value = unname(o[[qq]]))
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "r_issue28.csv"), row.names = FALSE)
"""


def issue28_run(folder):
    "Python's and R's (lrm and glm) values, one row per data set, new patient, quantity and R function."
    py, sets = [], []
    for name, n, coefs, seed in CI_DATASETS:
        rng = np.random.default_rng(seed)
        X = make_combined_data(n, coefs, rng)
        lp = coefs["const"] + X.to_numpy() @ np.array([coefs[t] for t in X.columns])
        y = (rng.random(n) < expit(lp)).astype(int)
        new = make_combined_data(CI_NEW, coefs, rng)
        new.iloc[0] = X.max()  # a patient at every term's training maximum: far from the centre, a wide interval
        X.assign(y=y).to_csv(folder / f"{name}_train.csv", index=False, float_format="%.17g")
        new.to_csv(folder / f"{name}_new.csv", index=False, float_format="%.17g")
        py += [dict(dataset=name, **r) for r in issue28_python(X, y, new)]
        sets.append(f"{name} (n {n}, prevalence {y.mean():.2f}, terms {', '.join(X.columns)})")
    (folder / "issue28.R").write_text(R_ISSUE28)
    subprocess.run(["Rscript", str(folder / "issue28.R"), str(folder), ",".join(d[0] for d in CI_DATASETS)], check=True)
    both = pd.read_csv(folder / "r_issue28.csv").merge(pd.DataFrame(py), on=["dataset", "row", "quantity"], how="outer", suffixes=("_r", "_py"))
    return both, sets


def issue28_section(both, sets):
    "Print the comparison and return the RESULTS.md section."
    both["diff"] = (both.value_py - both.value_r).abs()
    missing = int(both.value_py.isna().sum() + both.value_r.isna().sum())
    tab = both.pivot_table(index="quantity", columns="r", values="diff", aggfunc="max").loc[["lp", "se", "prob_lo", "prob_hi"], ["lrm", "glm"]]
    worst = float(tab.max().max())
    print(f"largest |Python - R| over {len(both)} values: {worst:.1e}; values missing on one side: {missing}")
    print(tab.to_string(float_format=lambda v: f"{v:.1e}"))
    labels = dict(lp="linear predictor", se="its standard error", prob_lo="lower 95% limit of the probability",
                  prob_hi="upper 95% limit of the probability")
    return "\n".join([
        *section_head(": the combined probability's confidence interval (issue 28)", "issue28", f", numpy {np.__version__}", ("rms",)),
        f"- `combined.linear_predictor_ci` with the stage's own fit (`fit_logit`) and stored covariance (`covariance_table`) against "
        f"`predict(rms::lrm(y ~ ., eps = 1e-10), newdata, se.fit = TRUE)` and `predict(glm(y ~ ., binomial), newdata, type = \"link\", "
        f"se.fit = TRUE)` (glm converged to `epsilon = 1e-16` and refitted from its coefficients), limits `plogis(lp -/+ qnorm(0.975) * se)`; "
        f"{len(CI_DATASETS)} simulated data sets shaped like the combined model (the DLR signature's logit and 1-4 clinical terms, "
        f"binary ones among them), {CI_NEW} new patients each (the first at every term's training maximum): " + "; ".join(sets),
        f"- **largest absolute difference: {worst:.1e}** (goal: < 1e-6); values missing on one side only: {missing}", "",
        "| quantity | R `lrm` + `predict(se.fit=TRUE)` | R `glm` + `predict(type=\"link\", se.fit=TRUE)` |", "|---|---:|---:|",
        *[f"| {labels[q]} (`{q}`) | {r.lrm:.1e} | {r.glm:.1e} |" for q, r in tab.iterrows()], "", ""])


def group(q):
    "The quantity as reported: net benefit thresholds together, model suffixes together."
    if q.startswith("nb_"): return f"net benefit ({len(NB_THRESHOLDS)} thresholds)"
    if q.startswith("holm_"): return "Holm-adjusted p (3 pairs)"
    for suffix in ("_a", "_b"):
        if q.endswith(suffix) and not q.startswith(("auc_", "var_", "ci_")): return q[:-2]
    return q


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-append", action="store_true")
    ap.add_argument("--keep", help="folder to keep the data sets and R's results in")
    ap.add_argument("--part", choices=["all", "issue15", "issue27", "issue28", "issue32"], default="all",
                    help="issue15: the 18 data sets; issue27: external validation and model updating; issue28: the combined "
                         "probability's confidence interval; issue32: bootstrap optimism and sample sizes")
    args = ap.parse_args()
    ensure_r()
    if args.part in ("all", "issue28"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.keep or tmp) / "issue28"; folder.mkdir(parents=True, exist_ok=True)
            both, sets = issue28_run(folder)
        section28 = issue28_section(both, sets)
        if not args.no_append:
            old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
            atomic_write(RESULTS, old.rstrip("\n") + "\n\n" + section28)
            print(f"appended to {RESULTS}")
        if args.part == "issue28": return
    if args.part in ("all", "issue27"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.keep or tmp) / "issue27"; folder.mkdir(parents=True, exist_ok=True)
            both, sites = issue27_run(folder)
        section27 = issue27_section(both, sites)
        if not args.no_append:
            old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
            atomic_write(RESULTS, old.rstrip("\n") + "\n\n" + section27)
            print(f"appended to {RESULTS}")
        if args.part == "issue27": return
    if args.part in ("all", "issue32"):
        py_opt, py_ss = issue32_python()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.keep or tmp) / "issue32"; folder.mkdir(parents=True, exist_ok=True)
            r_opt, r_ss = issue32_r(folder)
        section32 = issue32_section(py_opt, py_ss, r_opt, r_ss)
        if not args.no_append:
            old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
            atomic_write(RESULTS, old.rstrip("\n") + "\n\n" + section32)
            print(f"appended to {RESULTS}")
        if args.part == "issue32": return
    datasets = [(f"ds{i:02d}_{kind}_{n}", kind, make_dataset(kind, n, seed=100 + i)) for i, (kind, n) in enumerate(DATASETS)]
    py = pd.DataFrame([dict(dataset=name, quantity=q, value=float(v)) for name, kind, d in datasets
                       for q, v in python_side(kind, d).items()])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp); folder.mkdir(parents=True, exist_ok=True)
        r = r_side(folder, datasets)
    both = py.merge(r, on=["dataset", "quantity"], how="outer", suffixes=("_py", "_r"))
    both["group"] = both.quantity.map(group)
    both["finite"] = np.isfinite(both.value_py) & np.isfinite(both.value_r)
    both["nan_mismatch"] = np.isfinite(both.value_py) != np.isfinite(both.value_r)
    both["diff"] = (both.value_py - both.value_r).abs().where(both.finite)
    both["rel"] = both["diff"] / both.value_r.abs().where(both.value_r != 0)
    rows = []
    for g, b in both.groupby("group", sort=False):
        i = b["diff"].idxmax() if b["diff"].notna().any() else None
        rows.append(dict(quantity=g, n=int(b.finite.sum()), max_abs_diff=b["diff"].max(), max_rel_diff=b.rel.max(),
                         where=b.dataset[i] if i is not None else "", nan_in_one_only=int(b.nan_mismatch.sum()),
                         nan_in_both=int((b.value_py.isna() & b.value_r.isna()).sum())))
    tab = pd.DataFrame(rows)
    fmt = tab.assign(max_abs_diff=tab.max_abs_diff.map(lambda v: f"{v:.1e}"), max_rel_diff=tab.max_rel_diff.map(lambda v: f"{v:.1e}"))
    print(fmt.to_string(index=False))
    worst = tab.max_abs_diff.max()
    print(f"largest difference over everything: {worst:.1e}; values NaN in one language only: {tab.nan_in_one_only.sum()}")

    kinds = ", ".join(f"{k} {'/'.join(str(n) for kk, n in DATASETS if kk == k)}" for k in dict.fromkeys(k for k, _ in DATASETS))
    section = "\n".join([
        *section_head(" (issue 15)", None, f", {platform.platform()}, numpy {np.__version__}"),
        f"- {len(DATASETS)} generated data sets (kind and patients: {kinds}); `n` below counts the values compared",
        f"- **largest absolute difference over every quantity: {worst:.1e}**; values NaN in one language only: "
        f"{tab.nan_in_one_only.sum()} (NaN in both: the calibration slope of a constant probability, which R's glm "
        "cannot fit either and `rms::val.prob` reports as 0). For a constant probability rms 6.5's `val.prob` "
        "returns 19 values under 18 names (Emax and E90 read 0, S:z reads |p - mean(y)|), so there R's reference is "
        "val.prob's own formulas (its `Spi` and `lowess`/`approx` lines); glm fits converged to `epsilon = 1e-16` and refitted from their coefficients, so that R's Wald SEs are evaluated at the MLE (glm's default leaves ~1e-5 in them)", "",
        "| quantity | n | max abs diff | max rel diff | where (abs) | NaN in one only |", "|---|---:|---:|---:|---|---:|",
        *[f"| {r.quantity} | {r.n} | {r.max_abs_diff:.1e} | {r.max_rel_diff:.1e} | {r.where} | {r.nan_in_one_only} |"
          for r in tab.itertuples()],
        "", ""])
    if not args.no_append:
        old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
        atomic_write(RESULTS, old.rstrip("\n") + "\n\n" + section)
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
