"""Toy-MC coverage of the profile-likelihood intervals of a B⁺ → K⁺X line (m_X, BR·P_inv).

    python benchmarks/coverage.py [--toys 300] [--seed 1] [--starts 4] [--batch 20] [--json out.json]
    python benchmarks/coverage.py --fast          # 12 toys, 2 global starts: the slow-suite smoke run

Procedure (docs/statistics.md):

1. Truth: a δ-line at m_X = 2.1 GeV with BR·P_inv = 9 × 10⁻⁶ (near the dark-photon best fit), line
   shape "interpolate", μ = 1; the 231 Belle II nuisances at ν̂(truth), their best fit to the
   observed data at that signal.
2. Toys: pyhf's ``model.make_pdf(pars).sample`` of the published, reweighted model at the truth —
   the Poisson main data (30 bins) *and* the auxiliary data of every constraint term (Gaussian for
   the α's and staterror γ's), so the constraints fluctuate as in a real repetition.
3. Each toy is fitted with the profiled likelihood −2 ln L(m, B, ν) (nuisance_profile.with_theta:
   Newton over z = (m, B, ν) with the exact Hessian) inside 1 ≤ m ≤ 4.6 GeV (the dark-photon prior)
   and 0 ≤ B ≤ 10⁻⁴:
   global minimum (starts at m = 2.1 and ``--starts − 1`` more spread over the m range, B = truth,
   ν = ν̂(truth)); the constrained minima at m = m_true (B, ν free), B = B_true (m, ν free) and the
   SM (B = 0). The global minimum is the lowest of all of them (a constrained fit below the global
   one means the global starts missed it; it is counted).
4. Test statistics: q_m = −2 ln L(m_true, profiled) − global, q_B likewise (the profile-likelihood
   ratio at the true value), q₀ = −2 ln L(SM) − global (SM vs signal). The 68.27 % (95 %) profile
   interval {θ: Δχ² ≤ 1 (3.84)} contains the truth iff q ≤ 1 (3.84): coverage = fraction of toys with
   q below the level, binomial error √(p(1 − p)/N). (For m_X the set can be a union of intervals if
   the profile has several dips; its coverage is what is measured.)
5. Toys with any fit status ≠ 0 are counted and left out.

Output: a markdown summary (stdout) and a JSON record (``--json``; default
benchmarks/coverage_results.json) with every toy's q's and statuses.
"""

import argparse
import functools
import json
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pyhf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment  # noqa: E402

from bkdm import flavour  # noqa: E402
from bkdm.inference import nuisance_profile as npf  # noqa: E402
from bkdm.inference.joint import _belle2  # noqa: E402
from bkdm.likelihoods import belle2 as b2  # noqa: E402

# The fits use b = BR·P_inv / B_UNIT: with BR·P_inv itself (~1e-5) the Hessian's b row is ~1e10 × the
# nuisances' and the Newton shift scaled by max|H_ii| stalled every fit with b free (status 1, measured)
B_UNIT = 1e-5
M_TRUE, B_TRUE = 2.1, 0.9  # GeV, BR·P_inv / B_UNIT (= 9e-6)
M_RANGE, B_RANGE = (1.0, 4.6), (0.0, 10.0)
LEVELS = {"68.27 %": 1.0, "95 %": 3.841}
MAX_ITERATIONS = 150  # Newton steps per toy fit


def line(theta):
    """B_NP per generator bin of a δ-line: BR·P_inv × w_j(m_X) (flavour.two_body_bin_weights)."""
    return theta[1] * B_UNIT * flavour.two_body_bin_weights(theta[0])


def setup(seed):
    lik = _belle2("combined")
    index = np.flatnonzero(np.arange(len(lik.init)) != lik.poi_index)
    base = lik.init.copy()
    base[lik.poi_index] = 1.0
    observed = npf.for_belle2(lik, index, base)
    truth_fit = jax.jit(observed.solve)(jnp.asarray(base[index]), line(jnp.array([M_TRUE, B_TRUE])))
    if int(truth_fit["status"]) != 0:
        raise RuntimeError(f"the fit of ν̂ at the truth did not converge (status {int(truth_fit['status'])})")
    nu_true = np.asarray(truth_fit["nu"])
    with_data = npf.for_belle2(lik, index, base, with_data=True)
    z_profiler = npf.with_theta(with_data, line, (M_RANGE[0], B_RANGE[0]), (M_RANGE[1], B_RANGE[1]),
                                (M_TRUE, B_TRUE), nu_true, (jnp.asarray(lik.data),))
    full = np.asarray(lik.full_parameters(jnp.asarray(base).at[index].set(nu_true),
                                          line(jnp.array([M_TRUE, B_TRUE]))))
    with b2._pyhf_backend("numpy"):
        pdf = lik.model.make_pdf(pyhf.tensorlib.astensor(full))
    return lik, nu_true, z_profiler, pdf, float(truth_fit["twice_nll"])


def sample(pdf, n, seed):
    np.random.seed(seed)  # pyhf's NumPy backend samples with numpy's global generator
    with b2._pyhf_backend("numpy"):
        return np.asarray(pdf.sample((n,)), dtype=float)


def fit_batch(z_profiler, nu_true, data, starts):
    """All fits of a batch of toys in one vmapped Newton call; returns {name: (twice_nll, status)}."""
    k = len(data)
    lower, upper = z_profiler.lower, z_profiler.upper
    jobs = []  # (name, m0, bounds) per fit
    for i, m0 in enumerate(starts):
        jobs.append((f"global{i}", m0, lower, upper))
    for name, position, value in (("m_fixed", 0, M_TRUE), ("b_fixed", 1, B_TRUE), ("sm", 1, 0.0)):
        lo, hi = lower.copy(), upper.copy()
        lo[position] = hi[position] = value
        if name == "sm":
            lo[0] = hi[0] = M_TRUE  # m_X is meaningless without a signal
        jobs.append((name, M_TRUE, lo, hi))
    z0 = np.stack([np.concatenate([[m0, B_TRUE if name != "sm" else 0.0], nu_true])
                   for name, m0, _, _ in jobs])
    n_jobs = len(jobs)
    out = SOLVE(jnp.asarray(np.tile(z0, (k, 1))), jnp.asarray(np.tile([j[2] for j in jobs], (k, 1))),
                jnp.asarray(np.tile([j[3] for j in jobs], (k, 1))),
                jnp.asarray(np.repeat(data, n_jobs, axis=0)))
    values = np.asarray(out["twice_nll"]).reshape(k, n_jobs)
    status = np.asarray(out["status"]).reshape(k, n_jobs)
    m_hat = np.asarray(out["nu"])[:, 0].reshape(k, n_jobs)
    b_hat = np.asarray(out["nu"])[:, 1].reshape(k, n_jobs)
    return {name: (values[:, j], status[:, j], m_hat[:, j], b_hat[:, j]) for j, (name, *_) in enumerate(jobs)}


SOLVE = None


def run(toys, seed, n_starts, batch, progress=True):
    global SOLVE
    t0 = time.perf_counter()
    lik, nu_true, z_profiler, pdf, truth_twice_nll = setup(seed)
    # the toys' fits start at the truth, not at their own minimum: more Newton steps than the 30 that
    # suffice for the profiled scans (with 30, 2 of 2 toys ended at status 1 in the m_X-fixed and global fits)
    SOLVE = jax.jit(jax.vmap(functools.partial(z_profiler.solve_bounded, max_iterations=MAX_ITERATIONS)))
    starts = [M_TRUE] + list(np.linspace(M_RANGE[0] + 0.3, M_RANGE[1] - 0.3, max(n_starts - 1, 0)))
    data = sample(pdf, toys, seed)
    t_setup = time.perf_counter() - t0
    records = []
    t1 = time.perf_counter()
    for lo in range(0, toys, batch):
        fits = fit_batch(z_profiler, nu_true, data[lo:lo + batch], starts)
        for t in range(len(data[lo:lo + batch])):
            glob = [(fits[f"global{i}"][0][t], fits[f"global{i}"][1][t], fits[f"global{i}"][2][t],
                     fits[f"global{i}"][3][t]) for i in range(len(starts))]
            ok_glob = [g for g in glob if g[1] == 0]
            status = {name: int(fits[name][1][t]) for name in ("m_fixed", "b_fixed", "sm")}
            constrained = {name: float(fits[name][0][t]) for name in ("m_fixed", "b_fixed", "sm")}
            best = min(ok_glob, key=lambda g: g[0]) if ok_glob else (math.nan, 1, math.nan, math.nan)
            lowest = min([best[0]] + [v for name, v in constrained.items() if status[name] == 0])
            records.append({
                "toy": lo + t, "global": float(best[0]), "m_hat": float(best[2]), "b_hat": float(best[3]),
                "global_missed": bool(lowest < best[0] - 1e-6), "global_converged": len(ok_glob),
                "q_m": constrained["m_fixed"] - lowest, "q_b": constrained["b_fixed"] - lowest,
                "q0": constrained["sm"] - lowest, "status": status,
                "ok": bool(ok_glob) and all(s == 0 for s in status.values())})
        if progress:
            done = min(lo + batch, toys)
            print(f"  {done}/{toys} toys, {time.perf_counter() - t1:.0f} s", file=sys.stderr, flush=True)
    return {"records": records, "setup_s": t_setup, "fit_s": time.perf_counter() - t1,
            "truth": {"m_x": M_TRUE, "br_pinv": B_TRUE * B_UNIT, "twice_nll_observed": truth_twice_nll},
            "starts": [float(s) for s in starts], "seed": seed, "toys": toys}


def summary(result):
    records = [r for r in result["records"] if r["ok"]]
    n = len(records)
    out = {"toys": result["toys"], "used": n, "failed": result["toys"] - n,
           "global_missed": sum(r["global_missed"] for r in records), "coverage": {}}
    for key, name in (("q_m", "m_X"), ("q_b", "BR·P_inv")):
        q = np.array([r[key] for r in records])
        for label, level in LEVELS.items():
            p = float(np.mean(q <= level))
            nominal = {"68.27 %": 0.6827, "95 %": 0.95}[label]
            err = math.sqrt(p * (1 - p) / n) if n else math.nan
            nom_err = math.sqrt(nominal * (1 - nominal) / n) if n else math.nan
            out["coverage"][f"{name} {label}"] = {"coverage": p, "error": err, "nominal": nominal,
                                                  "pull": (p - nominal) / nom_err if n else math.nan}
    q0 = np.array([r["q0"] for r in records])
    out["q0"] = {"median": float(np.median(q0)),
                 "quantiles_16_84": [float(v) for v in np.quantile(q0, [0.16, 0.84])],
                 "median_sqrt": float(np.sqrt(max(np.median(q0), 0.0))),
                 "fraction_above_9": float(np.mean(q0 > 9.0))}
    m_hat = np.array([r["m_hat"] for r in records])
    out["m_hat"] = {"median": float(np.median(m_hat)),
                    "quantiles_16_84": [float(v) for v in np.quantile(m_hat, [0.16, 0.84])],
                    "fraction_within_0.1_GeV": float(np.mean(np.abs(m_hat - M_TRUE) < 0.1))}
    return out


def markdown(result, s):
    env = environment()
    lines = [f"Toys: {s['toys']} (seed {result['seed']}), used {s['used']}, failed fits {s['failed']}, "
             f"global minimum missed by the starts {s['global_missed']}; truth m_X = {M_TRUE} GeV, "
             f"BR·P_inv = {B_TRUE * B_UNIT:g}; "
             f"global starts m = {', '.join(f'{m:.2f}' for m in result['starts'])}; "
             f"set-up {result['setup_s']:.0f} s, fits {result['fit_s']:.0f} s "
             f"({result['fit_s'] / max(s['toys'], 1):.2f} s/toy); {env['device']}, {env['cpu_usable']} CPUs, "
             f"{env['date_utc']}", "",
             "| interval | coverage | binomial error | nominal | (coverage − nominal)/σ_binomial |",
             "|---|---|---|---|---|"]
    for name, c in s["coverage"].items():
        lines.append(f"| {name} | {c['coverage']:.3f} | ±{c['error']:.3f} | {c['nominal']:.4f} "
                     f"| {c['pull']:+.1f} |")
    q0 = s["q0"]
    lines += ["", f"SM-vs-signal q₀ = −2 ln L(SM) − min: median {q0['median']:.2f} "
              f"(√ = {q0['median_sqrt']:.2f}σ), "
              f"16–84 % [{q0['quantiles_16_84'][0]:.2f}, {q0['quantiles_16_84'][1]:.2f}], "
              f"fraction > 9 (3σ): {q0['fraction_above_9']:.2f}. m̂_X: median {s['m_hat']['median']:.3f} GeV, "
              f"16–84 % [{s['m_hat']['quantiles_16_84'][0]:.3f}, {s['m_hat']['quantiles_16_84'][1]:.3f}], "
              f"within 0.1 GeV of the truth: {s['m_hat']['fraction_within_0.1_GeV']:.2f}."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toys", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--starts", type=int, default=4, help="global-fit starts in m_X (first at the truth)")
    parser.add_argument("--batch", type=int, default=20, help="toys per vmapped call")
    parser.add_argument("--fast", action="store_true", help="12 toys, 2 starts (slow-suite smoke run)")
    parser.add_argument("--json", default=str(Path(__file__).resolve().parent / "coverage_results.json"))
    args = parser.parse_args(argv)
    if args.fast:
        args.toys, args.starts, args.batch = 12, 2, 12
    result = run(args.toys, args.seed, args.starts, args.batch)
    Path(args.json).write_text(json.dumps(result, indent=1))  # the raw toys first, for diagnosis
    if not any(r["ok"] for r in result["records"]):
        counts = {}
        for r in result["records"]:
            key = (r["global_converged"], tuple(sorted(r["status"].items())))
            counts[key] = counts.get(key, 0) + 1
        raise SystemExit("no toy with all fits converged — (global starts converged, inner-fit statuses): "
                         + "; ".join(f"{k}: {v} toys" for k, v in counts.items())
                         + f"; records in {args.json}")
    s = summary(result)
    print(markdown(result, s))
    Path(args.json).write_text(json.dumps({"summary": s, **result}, indent=1))
    return result, s


if __name__ == "__main__":
    main()
