"""Evidence and posterior by tempered SMC (bkdm.inference.smc) against values known independently.

References: (1) a two-component Gaussian mixture in a uniform box — Z and the mode masses in closed
form (normal CDFs); (2) the Planck-only ALP fit with Ωh² ∝ m_χ³ (the relic scaling law, exact for the
real solve to 2e-5, tests/test_freeze_in.py) — Z by scipy quadrature; (3) the two-body Belle II fit
(m_X, BR·P_inv) with the nuisances fixed at the SM fit — Z by a trapezoidal grid, using that the
expected events are linear in BR at fixed nuisances (checked at one point against pyhf to 1e-9).

Tolerance: 4 standard errors of the mean over the independent runs (a correct estimator fails with
probability ~1e-4 per check, seeds fixed, so deterministic), the error floored at 0.02 in ln Z and 0.02
in a mode mass (a floor, so that 2–4 runs that happen to agree closely do not make the check stricter
than the estimator's known spread).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gammaln
from scipy.stats import norm

from bkdm import flavour as fl
from bkdm.inference import fitspec, smc
from bkdm.inference.joint import JointLikelihood

LN_Z_FLOOR, MASS_FLOOR = 0.02, 0.02


def agrees(estimate, error, exact, floor):
    return abs(estimate - exact) <= 4 * max(error, floor)


def test_gaussian_mixture_evidence_and_mode_masses():
    # modes of different widths (0.3, 0.6): tempering must keep the narrow one (mass 0.3)
    d, lo, hi = 2, -10.0, 10.0
    mu = np.array([[-3.0, 0.0], [4.0, 1.0]])
    sig, w = np.array([0.3, 0.6]), np.array([0.3, 0.7])

    def loglik(x):
        comps = [math.log(w[k]) + jnp.sum(-0.5 * ((x - mu[k]) / sig[k]) ** 2
                                          - math.log(sig[k] * math.sqrt(2 * math.pi))) for k in range(2)]
        return jax.scipy.special.logsumexp(jnp.stack(comps))

    def logprior(x):
        return jnp.where(jnp.all((x > lo) & (x < hi)), -d * math.log(hi - lo), -jnp.inf)

    z = sum(w[k] * np.prod(norm.cdf(hi, mu[k], sig[k]) - norm.cdf(lo, mu[k], sig[k])) for k in range(2))
    x0 = np.random.default_rng(0).uniform(lo, hi, (8, 256, d))
    res = smc.temper(logprior, loglik, x0, seed=1)
    ln_z, err = smc.mean_and_error(res.log_z)
    assert agrees(ln_z, err, math.log(z) - d * math.log(hi - lo), LN_Z_FLOOR)
    mass, mass_err = smc.mean_and_error((res.particles[..., 0] > 0.5).mean(axis=1))
    assert agrees(mass, mass_err, 0.7, MASS_FLOOR)
    assert res.particles.shape == (8, 256, d) and all(b[-1] == 1.0 for b in res.betas)


OMEGA_OBS, M_STAR = 0.120, 3.2e-3
SIGMA_OMEGA = math.hypot(0.001, 0.01 * 0.120)  # Planck ⊕ 1 % theory (docs/physics/constants.md §1.3)
PLANCK_FIT = {"fit": {"name": "alp-planck-mchi", "model": "alp"},
              "free": {"m_chi": {"prior": "log-uniform", "range": [1e-3, 1e-2]}},
              "fixed": {"m_a": 2.1, "f_a": 1.5e8, "c_q": 1.0, "c_sb_v": 1.0, "c_chi": 1.0},
              "likelihood": {"belle2": False, "planck": {"theory_uncertainty": 0.01}},
              "smc": {"particles": 128, "runs": 4, "modes": {"m_chi": [M_STAR]}}}


def test_planck_only_fit_evidence_posterior_and_output(tmp_path):
    # Z = ∫ dx/(b − a) N(0.120 | 0.120 e^{3(x − x*)}, σ), x = ln m_χ (log-uniform prior on [a, b]):
    # quad to 1e-12; the mass below m* is the same integral cut at x* (≈ ½, skewed by Ω ∝ e^{3x})
    joint = JointLikelihood(fitspec.parse(PLANCK_FIT))
    joint.relic = lambda t: (OMEGA_OBS * (t[0] / M_STAR) ** 3, jnp.int32(0))
    a, b, xs = math.log(1e-3), math.log(1e-2), math.log(M_STAR)

    def f(x):
        return math.exp(-0.5 * ((OMEGA_OBS * math.exp(3 * (x - xs)) - OMEGA_OBS) / SIGMA_OMEGA) ** 2) / (
            math.sqrt(2 * math.pi) * SIGMA_OMEGA * (b - a))

    z = quad(f, xs - 0.1, xs + 0.1, points=[xs], epsabs=0, epsrel=1e-12)[0]
    below = quad(f, xs - 0.1, xs, epsabs=0, epsrel=1e-12)[0] / z
    s = joint.spec.smc
    res = smc.run_smc(joint, particles=s["particles"], runs=s["runs"], seed=0, modes=s["modes"],
                      progress=False)
    ev = res.summary["evidence"]
    assert agrees(ev["ln_z"], ev["ln_z_error"], math.log(z), LN_Z_FLOOR)
    assert ev["ln_z_planck"] == ev["ln_z"] and "ln_z_sm" not in ev  # no flavour data: no Bayes factor
    (label_lo, lo), (label_hi, hi) = ev["modes"].items()
    assert label_lo == f"0.001 < m_chi < {M_STAR:g}" and agrees(lo["mass"], lo["error"], below, MASS_FLOOR)
    assert hi["mass"] == pytest.approx(1 - lo["mass"])
    # posterior: Ωh² per draw is the scaling law at that draw; the verdict and ArviZ groups
    post = res.inference_data.posterior
    np.testing.assert_allclose(post["omega_h2"].values, OMEGA_OBS * (post["m_chi"].values / M_STAR) ** 3,
                               rtol=1e-12)
    assert post["m_chi"].shape == (4, 128) and res.summary["m_chi"]["r_hat"] < 1.05
    assert set(res.inference_data.groups()) >= {"posterior", "sample_stats", "log_likelihood", "prior",
                                                "observed_data"}
    assert res.inference_data.attrs["sampler"] == "smc" and "converged" in res.summary
    res.save(tmp_path)
    assert (tmp_path / "posterior.nc").stat().st_size > 0 and (tmp_path / "summary.json").is_file()


@pytest.mark.slow
def test_two_body_belle2_evidence_on_a_grid():
    # priors: m_X uniform on [1, 4.6] GeV, BR·P_inv uniform on [0, 3e-5]; nuisances fixed at the SM fit
    from bkdm.likelihoods.belle2 import Belle2Likelihood

    lik = Belle2Likelihood("combined")
    nu = jnp.asarray(lik.fit(mu=1.0).pars)
    m_lo, m_hi, br_max = 1.0, 4.6, 3e-5
    rates = jax.jit(jax.vmap(lambda b: lik._rates_jaxpr(nu, b)[0]))
    masses = np.linspace(m_lo, m_hi, 1801)  # 2 MeV steps: the line's bin weights vary on 50 MeV
    weights = np.asarray(jax.vmap(fl.two_body_bin_weights)(jnp.asarray(masses)))
    lam0 = np.asarray(rates(jnp.zeros((1, 100))))[0]
    slope = (np.asarray(rates(jnp.asarray(1e-5 * weights))) - lam0) / 1e-5
    aux = float(lik.pointwise_log_likelihood(nu, jnp.zeros(100))[1])
    n = lik.main_data
    brs = np.linspace(0.0, br_max, 601)
    lam = lam0 + brs[None, :, None] * slope[:, None, :]
    ln_l = np.sum(n * np.log(lam) - lam - gammaln(n + 1), axis=-1) + aux
    i, j = 700, 200  # linearity in BR at fixed nuisances, against pyhf itself
    direct = lik.pointwise_log_likelihood(nu, brs[j] * weights[i])
    assert ln_l[i, j] == pytest.approx(float(jnp.sum(direct[0]) + direct[1]), rel=1e-9)
    peak = ln_l.max()
    inner = np.trapezoid(np.exp(ln_l - peak), brs, axis=1)
    ln_z_grid = math.log(np.trapezoid(inner, masses)) + peak - math.log((m_hi - m_lo) * br_max)
    below_grid = np.trapezoid(inner * (masses < 2.546), masses) / np.trapezoid(inner, masses)

    def ln_like(u):
        m = m_lo + (m_hi - m_lo) * jax.nn.sigmoid(u[0])
        return -0.5 * lik.twice_nll(nu, br_max * jax.nn.sigmoid(u[1]) * fl.two_body_bin_weights(m))

    host = smc.HostFunction(ln_like, 2, 128, batching="map")

    def loglik(u):
        v = host(u)
        return jnp.where(jnp.isfinite(v), v, smc.FAILED_LOG_DENSITY)

    def logprior(u):  # uniform priors ⇒ u standard logistic
        return jnp.sum(-jax.nn.softplus(-u) - jax.nn.softplus(u))

    x0 = np.asarray(jax.random.logistic(jax.random.PRNGKey(0), (4, 128, 2)))
    res = smc.temper(logprior, loglik, x0, seed=0)
    ln_z, err = smc.mean_and_error(res.log_z)
    assert agrees(ln_z, err, ln_z_grid, LN_Z_FLOOR)
    m = m_lo + (m_hi - m_lo) / (1 + np.exp(-res.particles[..., 0]))
    mass, mass_err = smc.mean_and_error((m < 2.546).mean(axis=1))
    assert agrees(mass, mass_err, below_grid, MASS_FLOOR)


def test_evidence_scales():
    # Jeffreys (1961) App. B: 10^1.5 ≤ B < 100 "very strong"; Kass & Raftery (1995): 20 ≤ B < 150 "strong"
    assert smc.evidence_scale(math.log(50.0)) == "very strong"
    assert smc.evidence_scale(math.log(50.0), smc.KASS_RAFTERY) == "strong"
    assert smc.evidence_scale(math.log(200.0), smc.KASS_RAFTERY) == "very strong"
    assert smc.evidence_scale(math.log(2.0)) == "not worth more than a bare mention"
    assert smc.evidence_scale(-math.log(12.0)) == "strong (against)"


def test_smc_settings_that_cannot_work():
    joint = None
    for kwargs, message in [({"runs": 1}, r"smc.runs = 1: at least 2"),
                            ({"particles": 16}, r"smc.particles = 16: at least 32"),
                            ({"particles": 64, "runs": 4}, r"4 runs × 64 particles = 256 < 400.*≥ 100"),
                            ({"target_ess": 1.0}, r"smc.target_ess = 1.0"),
                            ({"mcmc_steps": 0}, r"smc.mcmc_steps must be a positive integer")]:
        with pytest.raises(ValueError, match=message):
            smc.run_smc(joint, **kwargs)
    bad = {**PLANCK_FIT, "smc": {"modes": {"m_a": [2.5]}}}
    with pytest.raises(fitspec.FitFileError, match=r"smc.modes.m_a.*not a free parameter"):
        fitspec.parse(bad)
    bad = {**PLANCK_FIT, "smc": {"modes": {"m_chi": [0.5]}}}
    with pytest.raises(fitspec.FitFileError, match=r"smc.modes.m_chi.*inside the prior range"):
        fitspec.parse(bad)
    bad = {**PLANCK_FIT, "quick": {"smc": {"runs": 1}}}
    with pytest.raises(fitspec.FitFileError, match=r"quick.smc: smc.runs = 1"):
        fitspec.parse(bad)


@pytest.mark.slow
def test_sm_evidence_over_231_nuisances_against_importance_sampling():
    # Z_SM = ∫ π(ν) L_BelleII(ν; B_NP = 0) dν over the 231 nuisances: SMC (run_smc's SM stage) against
    # plain importance sampling from the same Gaussian reference q(w) with 4000 draws,
    # ln Ẑ_IS = ln mean(π L / q) ± sd(weights)/(√M mean) (delta method); agreement within 4 combined
    # standard errors (floor 0.02). IS needs q close to the posterior: its ESS is checked ≥ 100.
    from scipy.special import logsumexp

    fit = {**PLANCK_FIT, "free": {"m_chi": {"prior": "log-uniform", "range": [1e-3, 1e-2]}},
           "likelihood": {"belle2": {"channels": "combined"}, "planck": False}}
    fit.pop("smc")
    joint = JointLikelihood(fitspec.parse(fit))
    dens = smc.FitDensities(joint, 128)
    nuis = dens.nuisances
    w = nuis.draw(jax.random.PRNGKey(7), (4000,))
    values = dens.flavour_sm.evaluate(w)[0]
    log_w = values + np.asarray(jax.vmap(nuis.log_prior)(w)) - np.asarray(jax.vmap(nuis.log_reference)(w))
    ln_z_is = float(logsumexp(log_w) - math.log(log_w.size))
    weights = np.exp(log_w - log_w.max())
    error_is = float(weights.std() / (math.sqrt(weights.size) * weights.mean()))
    assert weights.sum() ** 2 / np.sum(weights**2) > 100

    def like_sm(w):
        value = dens.flavour_sm(w)
        return nuis.log_prior(w) - nuis.log_reference(w) + jnp.where(jnp.isfinite(value), value, -1e250)

    res = smc.temper(nuis.log_reference, like_sm, nuis.draw(jax.random.PRNGKey(8), (4, 128)), seed=3,
                     fixed_block=nuis.cov)
    ln_z, err = smc.mean_and_error(res.log_z)
    assert agrees(ln_z, math.hypot(err, error_is), ln_z_is, LN_Z_FLOOR)
