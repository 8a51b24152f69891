"""Bayes factor of SM + X against the SM for the two-body Belle II fit (m_X, BR·P_inv).

    python benchmarks/two_body_evidence.py [--particles 128 --runs 4]

The model of Gärtner et al. (arXiv:2602.09666): B⁺ → K⁺X with an invisible X of mass m_X, the line
spread over the Belle II generator bins by bkdm.flavour.two_body_bin_weights, signal strength
BR(B⁺→K⁺X)·P_inv; priors m_X ~ U(M_RANGE) GeV, BR·P_inv ~ U(0, BR_MAX). Two treatments of the 231
Belle II nuisances ν:

* fixed at the SM fit (μ = 1, B_NP = 0): ln Z on a trapezoidal grid (exact up to the grid; the expected
  events are linear in BR at fixed ν) and by SMC (bkdm.inference.smc.temper) — the validation case;
* marginalised with their flat prior over pyhf's bounds, as in bkdm's fits: SMC over (u_m, u_BR, ν)
  tempered from π(u)·q(w) (q the SM-fit Gaussian, bkdm.inference.smc.Nuisances), and the SM
  evidence the same way with B_NP = 0 (as run_smc does).

Writes benchmarks/two_body_evidence.json and .md (included in RESULTS.md by run_all.py).
"""

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import gammaln

from bkdm import flavour as fl
from bkdm.inference import fitspec, smc
from bkdm.inference.joint import JointLikelihood

M_RANGE = (0.0, 4.785)  # GeV: the kinematic range m_X < m_B − m_K
BR_MAX = 5e-5
OUT_JSON = common.HERE / "two_body_evidence.json"
OUT_MD = common.HERE / "two_body_evidence.md"
FIT = {"fit": {"name": "two-body-belle2", "model": "dark-photon"},  # only for the Belle II bookkeeping
       "free": {"m_x": {"prior": "uniform", "range": [1.0, 4.6]}},
       "fixed": {"delta": 5e-3, "alpha_x": 2e-3, "epsilon": 1e-3, "m_psi": 0.3, "m_hp": 0.05},
       "likelihood": {"belle2": {"channels": "combined"}, "planck": False}}


def _u_to_physical(u):
    m = M_RANGE[0] + (M_RANGE[1] - M_RANGE[0]) * jax.nn.sigmoid(u[0])
    return m, BR_MAX * jax.nn.sigmoid(u[1])


def _log_prior_u(u):  # uniform priors ⇒ u standard logistic
    return jnp.sum(-jax.nn.softplus(-u[:2]) - jax.nn.softplus(u[:2]))


def fixed_nuisances(joint, nu_fixed, particles, runs, seed):
    belle2 = joint.belle2
    full = jnp.asarray(joint.belle2_parameters(jnp.asarray(nu_fixed)))
    # grid: λ_i = λ_i(0) + BR c_i(m)
    rates = jax.jit(jax.vmap(lambda b: belle2._rates_jaxpr(full, b)[0]))
    masses = np.linspace(*M_RANGE, 2393)  # 2 MeV
    weights = np.asarray(jax.vmap(fl.two_body_bin_weights)(jnp.asarray(masses)))
    lam0 = np.asarray(rates(jnp.zeros((1, 100))))[0]
    slope = (np.asarray(rates(jnp.asarray(1e-5 * weights))) - lam0) / 1e-5
    aux = float(belle2.pointwise_log_likelihood(full, jnp.zeros(100))[1])
    n = belle2.main_data
    brs = np.linspace(0.0, BR_MAX, 1001)
    lam = lam0 + brs[None, :, None] * slope[:, None, :]
    ln_l = np.sum(n * np.log(lam) - lam - gammaln(n + 1), axis=-1) + aux
    peak = ln_l.max()
    inner = np.trapezoid(np.exp(ln_l - peak), brs, axis=1)
    ln_z_grid = math.log(np.trapezoid(inner, masses)) + peak - math.log((M_RANGE[1] - M_RANGE[0]) * BR_MAX)
    ln_sm = float(ln_l[0, 0])

    def ln_like(u):
        m, br = _u_to_physical(u)
        return -0.5 * belle2.twice_nll(full, br * fl.two_body_bin_weights(m))

    host = smc.HostFunction(ln_like, 2, particles, batching="map")

    def loglik(u):
        v = host(u)
        return jnp.where(jnp.isfinite(v), v, smc.FAILED_LOG_DENSITY)

    x0 = np.asarray(jax.random.logistic(jax.random.PRNGKey(seed), (runs, particles, 2)))
    t0 = time.perf_counter()
    res = smc.temper(_log_prior_u, loglik, x0, seed=seed, progress="two-body, ν fixed")
    ln_z, err = smc.mean_and_error(res.log_z)
    return {"ln_z_grid": ln_z_grid, "ln_z_sm": ln_sm, "ln_b_grid": ln_z_grid - ln_sm, "ln_z_smc": ln_z,
            "ln_z_smc_error": err, "ln_b_smc": ln_z - ln_sm, "smc_time_s": time.perf_counter() - t0,
            "max_delta_chi2": 2 * (peak - ln_sm)}


def marginalised(joint, particles, runs, seed):
    belle2 = joint.belle2
    nuis = smc.Nuisances(joint)
    n_nu = nuis.mean.size

    def ln_like(x):
        m, br = _u_to_physical(x[:2])
        full = joint.belle2_parameters(nuis.nu(x[2:]))
        return -0.5 * belle2.twice_nll(full, br * fl.two_body_bin_weights(m))

    def ln_like_sm(w):
        return -0.5 * belle2.twice_nll(joint.belle2_parameters(nuis.nu(w)), jnp.zeros(100))

    host = smc.HostFunction(ln_like, 2 + n_nu, particles, batching="map")
    host_sm = smc.HostFunction(ln_like_sm, n_nu, particles, batching="map")

    def finite(v):
        return jnp.where(jnp.isfinite(v), v, smc.FAILED_LOG_DENSITY)

    key_u, key_nu, key_sm = jax.random.split(jax.random.PRNGKey(seed), 3)
    u0 = np.asarray(jax.random.logistic(key_u, (runs, particles, 2)))
    t0 = time.perf_counter()
    res = smc.temper(lambda x: _log_prior_u(x) + nuis.log_reference(x[2:]),
                     lambda x: nuis.log_prior(x[2:]) - nuis.log_reference(x[2:]) + finite(host(x)),
                     np.concatenate([u0, nuis.draw(key_nu, (runs, particles))], axis=-1), seed=seed,
                     fixed_block=nuis.cov, progress="two-body, ν marginalised")
    sm = smc.temper(nuis.log_reference,
                    lambda w: nuis.log_prior(w) - nuis.log_reference(w) + finite(host_sm(w)),
                    nuis.draw(key_sm, (runs, particles)), seed=seed + 1, fixed_block=nuis.cov,
                    progress="SM, ν marginalised")
    ln_z, err = smc.mean_and_error(res.log_z)
    ln_sm, err_sm = smc.mean_and_error(sm.log_z)
    u = jnp.asarray(res.particles[..., :2].reshape(-1, 2))
    m, br = (np.asarray(a) for a in jax.vmap(_u_to_physical)(u))
    return {"ln_z_smc": ln_z, "ln_z_smc_error": err, "ln_z_sm": ln_sm, "ln_z_sm_error": err_sm,
            "ln_b": ln_z - ln_sm, "ln_b_error": math.hypot(err, err_sm),
            "m_x_median": float(np.median(m)), "m_x_16_84": [float(x) for x in np.percentile(m, [16, 84])],
            "br_median": float(np.median(br)), "br_16_84": [float(x) for x in np.percentile(br, [16, 84])],
            "time_s": time.perf_counter() - t0, "stages": [len(b) - 1 for b in res.betas],
            "stages_sm": [len(b) - 1 for b in sm.betas]}


def markdown(record):
    f, g = record["fixed"], record["marginalised"]
    jeff, kr = smc.evidence_scale(g["ln_b"]), smc.evidence_scale(g["ln_b"], smc.KASS_RAFTERY)
    return "\n".join([
        f"Priors m_X ~ U({M_RANGE[0]}, {M_RANGE[1]}) GeV, BR·P_inv ~ U(0, {BR_MAX:g}); "
        f"{record['runs']} runs × {record['particles']} particles; "
        f"{common.environment_line(record['environment'])}; commit {record['commit']}.", "",
        common.markdown_table(
            ["Belle II nuisances", "ln Z (SM + X)", "ln Z (SM)", "ln B", "B", "Jeffreys / Kass–Raftery"],
            [["fixed at the SM fit: grid", f"{f['ln_z_grid']:.3f}", f"{f['ln_z_sm']:.3f}",
              f"{f['ln_b_grid']:.2f}", f"{math.exp(f['ln_b_grid']):.3g}", ""],
             ["fixed at the SM fit: SMC", f"{f['ln_z_smc']:.3f} ± {f['ln_z_smc_error']:.3f}",
              f"{f['ln_z_sm']:.3f}", f"{f['ln_b_smc']:.2f} ± {f['ln_z_smc_error']:.2f}",
              f"{math.exp(f['ln_b_smc']):.3g}", ""],
             ["marginalised (flat over pyhf's bounds): SMC",
              f"{g['ln_z_smc']:.3f} ± {g['ln_z_smc_error']:.3f}",
              f"{g['ln_z_sm']:.3f} ± {g['ln_z_sm_error']:.3f}", f"{g['ln_b']:.2f} ± {g['ln_b_error']:.2f}",
              f"{math.exp(g['ln_b']):.3g}", f"{jeff} / {kr}"]]), "",
        f"Marginalised posterior: m_X median {g['m_x_median']:.2f} GeV (16–84 %: {g['m_x_16_84'][0]:.2f}–"
        f"{g['m_x_16_84'][1]:.2f}), BR·P_inv median {g['br_median']:.3g} (16–84 %: {g['br_16_84'][0]:.3g}–"
        f"{g['br_16_84'][1]:.3g}); SMC {g['time_s']:.0f} s wall. Fixed nuisances: largest Δχ² over the grid "
        f"{f['max_delta_chi2']:.2f}."])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--particles", type=int, default=128)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    joint = JointLikelihood(fitspec.parse(FIT))
    nuisances = smc.Nuisances(joint)
    nu_fixed = np.asarray(nuisances.nu(nuisances.mean))
    record = {"environment": common.environment(), "particles": args.particles, "runs": args.runs,
              "commit": common_commit(),
              "fixed": fixed_nuisances(joint, nu_fixed, args.particles, args.runs, args.seed),
              "marginalised": marginalised(joint, args.particles, args.runs, args.seed)}
    common.save_json(OUT_JSON, record)
    OUT_MD.write_text(markdown(record) + "\n")
    print(markdown(record))


def common_commit():
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=common.HERE, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    main()
