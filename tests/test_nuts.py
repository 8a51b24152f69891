"""NUTS sampling (bkdm.inference.nuts) against posteriors known in closed form.

Problem: a Planck-only ALP fit with one free parameter, m_χ, log-uniform prior. Freeze-in gives
Ωh² ∝ m_χ³ (docs/physics/alp-freeze-in.md §3.7), so with x = ln m_χ and a flat prior in x the posterior is

    p(x) ∝ exp(−½ [(Ω* e^{3(x − x*)} − Ω_obs)/σ]²),   σ = √(0.001² + (0.01 · 0.120)²)
    (docs/physics/constants.md §1.3)

≈ Gaussian with mean x* and sd σ/(3 Ω_obs) (σ/Ω ≈ 1.3 %); its moments are computed here by scipy
quadrature. Fast tests use the real JointLikelihood with the relic solve replaced by that scaling law
(Ωh² = 0.12 (m_χ/m*)³), which the real solve obeys to 2e-5 (tests/test_freeze_in.py); the slow
test samples the real solve.

Tolerances: the posterior mean is checked to 4 Monte-Carlo standard errors sd/√ESS_bulk and the sd
to 4/√(2 ESS) relative (the standard error of a sample sd), i.e. a correct sampler fails with
probability ~1e-4; the seeds are fixed, so the tests are deterministic.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from bkdm.inference import fitspec, nuts, provenance
from bkdm.inference.joint import JointLikelihood

OMEGA_OBS = 0.120
# Planck ⊕ 1 % theory (docs/physics/constants.md §1.3, planck defaults)
SIGMA_OMEGA = math.hypot(0.001, 0.01 * 0.120)
M_STAR = 3.2e-3  # GeV
FIT = {"fit": {"name": "alp-planck-mchi", "model": "alp"},
       "free": {"m_chi": {"prior": "log-uniform", "range": [1e-3, 1e-2]}},
       "fixed": {"m_a": 2.1, "f_a": 1.5e8, "c_q": 1.0, "c_sb_v": 1.0, "c_chi": 1.0},
       "likelihood": {"belle2": False, "planck": {"theory_uncertainty": 0.01}}}


def scaling_law_joint(fail_above=None):
    """The Planck-only fit with Ωh² = 0.12 (m_χ/m*)³; the 'solver' fails (status 1) above
    ``fail_above``; failures are counted in ``joint.relic_failures`` like the real relic does."""
    joint = JointLikelihood(fitspec.parse(FIT))

    def count(status):
        joint.relic_failures += int(np.sum(np.asarray(status) != 0))

    def omega_h2(theta):
        m = theta[0]
        status = jnp.where(m > (fail_above or np.inf), 1, 0).astype(jnp.int32)
        jax.debug.callback(count, status)
        return jnp.where(status == 0, OMEGA_OBS * (m / M_STAR) ** 3, jnp.nan), status

    joint.omega_h2 = omega_h2
    return joint


def exact_moments(x_star, x_max=np.inf):
    """Mean and sd of x = ln m_χ under p(x) (module docstring), truncated at x ≤ x_max."""
    def dens(x):
        return math.exp(-0.5 * ((OMEGA_OBS * math.exp(3 * (x - x_star)) - OMEGA_OBS) / SIGMA_OMEGA) ** 2)

    lo, hi = x_star - 0.1, min(x_star + 0.1, x_max)  # ±23 posterior sd: all the mass
    z = quad(dens, lo, hi, epsabs=0, epsrel=1e-12, points=[x_star] if hi > x_star else None)[0]
    mean = quad(lambda x: x * dens(x), lo, hi, epsabs=0, epsrel=1e-12)[0] / z
    var = quad(lambda x: (x - mean) ** 2 * dens(x), lo, hi, epsabs=0, epsrel=1e-12)[0] / z
    return mean, math.sqrt(var)


def check_moments(result, mean, sd):
    x = np.log(result.inference_data.posterior["m_chi"].values)
    ess = result.summary["m_chi"]["ess_bulk"]
    assert ess > 100
    assert abs(x.mean() - mean) < 4 * sd / math.sqrt(ess)
    assert abs(x.std() / sd - 1) < 4 / math.sqrt(2 * ess)


def check_observables(result):
    """The posterior-predictive Ωh² at every draw is the scaling law at that draw (to rounding)."""
    post = result.inference_data.posterior
    np.testing.assert_allclose(post["omega_h2"].values, OMEGA_OBS * (post["m_chi"].values / M_STAR) ** 3,
                               rtol=1e-12)


def test_gaussian_approximation_of_the_reference_posterior():
    # the closed-form reference itself: ≈ Gaussian with sd σ/(3Ω) (Ω ∝ m³); the exact sd differs by
    # O((σ/Ω)²) ≈ 5e-4 relative and the mean is shifted by ≈ −(σ/Ω)²/2 ≈ −0.02 sd → 1 % and 0.05 sd
    mean, sd = exact_moments(math.log(M_STAR))
    assert sd == pytest.approx(SIGMA_OMEGA / (3 * OMEGA_OBS), rel=1e-2)
    assert abs(mean - math.log(M_STAR)) < 0.05 * sd


def test_nuts_recovers_the_scaling_law_posterior(tmp_path):
    joint = scaling_law_joint()
    res = nuts.run_nuts(joint, chains=2, warmup=300, draws=500, seed=1, progress=False,
                        pool_step_size=True)
    check_moments(res, *exact_moments(math.log(M_STAR)))
    s = res.summary
    assert s["m_chi"]["r_hat"] < 1.05  # 2 chains × 500 well-mixed draws: r_hat ≈ 1 ± 0.01
    assert s["m_chi"]["ess_tail"] > 100
    assert s["m_chi"]["hdi_3%"] < s["m_chi"]["mean"] < s["m_chi"]["hdi_97%"]
    assert s["n_divergences"] == 0 and s["relic_failures"] == 0
    assert s["ess_per_second"] > 0 and s["grad_evaluations"] >= 1000
    post = res.inference_data.posterior
    assert post["m_chi"].shape == (2, 500)
    check_observables(res)
    assert set(res.inference_data.sample_stats) >= {"diverging", "n_steps", "tree_depth", "acceptance_rate",
                                                    "energy", "lp", "step_size"}
    # pooled step size: one fixed value for every chain and draw
    step = res.inference_data.sample_stats["step_size"].values
    assert np.all(step == step[0, 0]) and s["settings"]["pool_step_size"] is True

    res.save(tmp_path)
    loaded = az.from_netcdf(tmp_path / "posterior.nc")
    np.testing.assert_array_equal(loaded.posterior["m_chi"].values, post["m_chi"].values)
    assert int(loaded.attrs["n_divergences"]) == 0 and loaded.attrs["fit"] == "alp-planck-mchi"
    assert loaded.attrs["fit_hash"] == provenance.fit_hash(joint.spec)  # issue 18: result provenance
    assert json.loads(loaded.attrs["provenance"])["fit"] == provenance.resolved_fit(joint.spec)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["m_chi"]["ess_bulk"] == pytest.approx(s["m_chi"]["ess_bulk"])
    assert summary["settings"]["chains"] == 2


def gaussian_nuisance_joint(names, fail_above=None):
    """:func:`scaling_law_joint` plus stand-in nuisances ``names`` with unit-Gaussian constraint terms
    in −2 ln L and flat priors on [−5, 5]: a posterior N(0, 1) per nuisance (truncated at ±5σ),
    independent of θ."""
    joint = scaling_law_joint(fail_above)
    base = joint.twice_nll
    joint.nuisance_names = tuple(names)
    joint.nuisance_init = np.zeros(len(names))
    joint.nuisance_bounds = np.tile([-5.0, 5.0], (len(names), 1))
    joint.twice_nll = lambda theta, nu: base(theta, nu[:0]) + jnp.sum(nu**2)
    return joint


def test_failing_solver_and_nuisances():
    # (1) the relic "fails" above x_cut = x* + 0.5 sd: a third of the posterior mass, and most
    # trajectories touch the failing region. Zero likelihood there → the exact answer is the
    # truncated posterior, and the failures must be counted.
    # (2) two stand-in nuisances with unit-Gaussian constraint terms in −2 ln L and flat priors on
    # [-5, 5]: their posterior is N(0, 1) truncated at ±5σ (mean 0, sd 1 − 1.5e-5), independent of θ.
    # (3) chains start at a given point (a best-fit-like object).
    x_star = math.log(M_STAR)
    x_cut = x_star + 0.5 * SIGMA_OMEGA / (3 * OMEGA_OBS)
    joint = gaussian_nuisance_joint(("nu_a", "nu_b"), fail_above=math.exp(x_cut))
    start = types.SimpleNamespace(theta=np.array([M_STAR * 0.999]), nuisances=np.array([0.3, -0.2]))
    res = nuts.run_nuts(joint, chains=2, warmup=300, draws=500, seed=2, init=start, progress=False,
                        pool_step_size=False)
    step = res.inference_data.sample_stats["step_size"].values  # each chain its own adapted step
    assert np.all(step == step[:, :1]) and step[0, 0] != step[1, 0]
    assert res.summary["settings"]["pool_step_size"] is False
    assert any("relic solves" in w for w in res.summary["warnings"])

    assert res.summary["relic_failures"] > 0
    assert res.inference_data.attrs["relic_failures"] == res.summary["relic_failures"]
    x = np.log(res.inference_data.posterior["m_chi"].values)
    assert np.all(x <= x_cut)
    np.testing.assert_array_equal(res.inference_data.posterior["relic_status"].values, 0)
    check_moments(res, *exact_moments(x_star, x_max=x_cut))

    nu = res.inference_data.posterior["nuisances"]
    assert nu.shape == (2, 500, 2) and list(nu.coords["nuisance"].values) == ["nu_a", "nu_b"]
    ess = float(az.ess(res.inference_data, var_names=["nuisances"])["nuisances"].min())
    assert ess > 100
    for k in range(2):
        v = nu.values[..., k]
        assert abs(v.mean()) < 4 / math.sqrt(ess)
        assert abs(v.std() - 1) < 4 / math.sqrt(2 * ess)


@pytest.mark.parametrize("pooled", [pytest.param(False, marks=pytest.mark.slow), True])
def test_step_size_adaptation_reaches_the_target_acceptance(pooled):
    # Dual averaging drives E[acceptance statistic] to target_accept ([HG14] Alg. 5); with the step
    # then fixed at the average x̄, the mean acceptance over the draws lands slightly above the target
    # (x̄ averages ln ε over the run: measured +0.06…0.09 at 0.65, +0.02 at 0.9 on this 1-D
    # posterior) → tolerance 0.1, and the two targets must order the step sizes. One window over the
    # whole warmup: the chains' steps agree to 20 % (numpyro's windowed adapter, which restarts at
    # iteration 224 of 300 here, gave 0.81 and 0.957 and steps differing by 47 % for target 0.9).
    from bkdm.inference import bestfit
    joint = scaling_law_joint()
    best = bestfit.best_fit(joint, starts=1, progress=False)  # → the Hessian mass matrix (fixed metric)
    steps = {}
    for target in (0.65, 0.9):
        res = nuts.run_nuts(joint, chains=2, warmup=300, draws=400, seed=6, target_accept=target, init=best,
                            pool_step_size=pooled, progress=False)
        assert res.summary["settings"]["mass_matrix"] == "hessian"
        acceptance = res.inference_data.sample_stats["acceptance_rate"].values
        assert abs(acceptance.mean() - target) < 0.1
        step = res.inference_data.sample_stats["step_size"].values
        assert np.all(step == step[:, :1])  # fixed after warmup
        assert bool(step[0, 0] == step[1, 0]) == pooled  # pooled: one step for the vectorized chains
        assert max(step[:, 0]) / min(step[:, 0]) < 1.2
        steps[target] = step[:, 0]
        check_moments(res, *exact_moments(math.log(M_STAR)))
    assert np.all(steps[0.65] > steps[0.9])


def test_host_likelihood_pads_a_smaller_batch():
    # numpyro's initialisation evaluates one unbatched point: it must run on the compiled batch-4
    # executable (padded), not compile a batch-1 copy, and return that point's value and gradient
    joint = gaussian_nuisance_joint(("nu_a", "nu_b"))
    host = nuts._HostLikelihood(joint)
    device = jax.local_devices()[0]
    host.compile(device, 4)
    theta, nu = jnp.array([M_STAR * 1.01]), jnp.array([0.3, -0.2])
    value, grads = jax.value_and_grad(host.function(device), argnums=(0, 1))(theta, nu)
    expected, expected_grads = jax.value_and_grad(joint.twice_nll, argnums=(0, 1))(theta, nu)
    assert float(value) == pytest.approx(float(expected), rel=1e-12)
    for g, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    assert set(host._executables) == {(device.id, 4)}


def test_hessian_mass_matrix_is_the_laplace_covariance():
    # −2 ln L = ((Ω* e^{3(x−x*)} − Ω_obs)/σ)² with x = ln m_χ: at the minimum x* the curvature is
    # 2 (3Ω_obs/σ)², so the Laplace covariance of x is (σ/(3Ω_obs))²; NUTS samples
    # w = logit((x − a)/(b − a)) (a, b = ln of the prior range), so the inverse mass matrix must be
    # (dw/dx)² (σ/(3Ω_obs))² with dw/dx = (b − a)/((x − a)(b − x)). The Hessian is a central
    # difference of exact gradients with step 1e-3 in w: relative error ~1e-6 → tolerance 1e-4.
    from bkdm.inference import bestfit
    joint = scaling_law_joint()
    best = bestfit.best_fit(joint, starts=1, progress=False)
    assert best.theta[0] == pytest.approx(M_STAR, rel=1e-6)
    a, b, x = math.log(1e-3), math.log(1e-2), math.log(best.theta[0])
    expected = ((b - a) / ((x - a) * (b - x)) * SIGMA_OMEGA / (3 * OMEGA_OBS)) ** 2
    matrix = nuts.hessian_inverse_mass_matrix(joint, best)
    assert matrix.shape == (1, 1)
    assert matrix[0, 0] == pytest.approx(expected, rel=1e-4)
    # a best fit as init selects it ("auto"); NUTS with it still recovers the exact posterior
    res = nuts.run_nuts(joint, chains=2, warmup=100, draws=500, seed=3, init=best, progress=False)
    assert res.summary["settings"]["mass_matrix"] == "hessian"
    check_moments(res, *exact_moments(math.log(M_STAR)))
    with pytest.raises(ValueError, match="mass_matrix"):
        nuts.run_nuts(joint, mass_matrix="unit")
    with pytest.raises(ValueError, match="best fit"):
        nuts.run_nuts(joint, mass_matrix="hessian")


PARALLEL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import jax, math, numpy as np
    from bkdm.inference import nuts
    from test_nuts import scaling_law_joint, exact_moments, check_moments, check_observables, M_STAR
    res = nuts.run_nuts(scaling_law_joint(), chains=4, warmup=300, draws=500, seed=4,
                        chain_method="parallel", progress=False)
    check_moments(res, *exact_moments(math.log(M_STAR)))
    check_observables(res)  # computed in each device's loop, at its own draws
    assert res.summary["settings"]["chain_method"] == "parallel"
    assert res.inference_data.posterior["m_chi"].shape == (4, 500)
    print("devices", len(jax.devices()))
""")


@pytest.mark.slow  # ~35 s; NUTS on vectorized chains stays in the default suite
def test_parallel_chains_on_two_host_devices():
    # chain_method="parallel": two vectorized groups of 2 chains, one per host device, each run from
    # its own thread; the posterior must still be the exact one (tolerances of check_moments)
    script = PARALLEL_SCRIPT.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "devices 2" in proc.stdout


def test_sequential_chains():
    # chain_method="sequential": the same sampler run chain after chain (lax.map); same exact posterior
    res = nuts.run_nuts(scaling_law_joint(), chains=2, warmup=300, draws=500, seed=5,
                        chain_method="sequential", progress=False)
    assert res.summary["settings"]["chain_method"] == "sequential"
    check_moments(res, *exact_moments(math.log(M_STAR)))
    assert res.inference_data.posterior["m_chi"].shape == (2, 500)
    check_observables(res)


def test_start_values_and_chain_method_validation():
    joint = scaling_law_joint()
    values = nuts._start_values(joint, types.SimpleNamespace(theta=[2e-3], nuisances=[]))
    assert values == {"m_chi_base": pytest.approx(math.log(2e-3), rel=1e-15)}  # log-uniform: ln θ site
    assert nuts.resolve_chain_method("auto", 1) == "vectorized"
    with pytest.raises(ValueError, match="chain_method"):
        nuts.run_nuts(joint, chain_method="threads")
    with pytest.raises(ValueError, match="draws"):
        nuts.run_nuts(joint, draws=0)
    with pytest.raises(ValueError, match="pool_step_size"):
        nuts.run_nuts(joint, pool_step_size="median")


@pytest.mark.slow
def test_nuts_with_the_real_relic_solve():
    joint = JointLikelihood(fitspec.parse(FIT))
    omega_ref = float(joint.omega_h2(jnp.array([M_STAR]))[0])
    x_star = math.log(M_STAR) + math.log(OMEGA_OBS / omega_ref) / 3  # Ω(e^x*) = 0.12 by Ω ∝ m³
    res = nuts.run_nuts(joint, chains=2, warmup=200, draws=300, seed=0, progress=False)
    check_moments(res, *exact_moments(x_star))
    assert res.summary["m_chi"]["r_hat"] < 1.05
    assert res.summary["relic_failures"] == 0
