"""Best fits and profile likelihoods (bkdm.inference.bestfit, bkdm.inference.profile).

References: analytic Gaussian likelihoods (best fit, covariance and profiles known in closed form),
the freeze-in scaling Ωh² ∝ m_χ³ (docs/physics/alp-freeze-in.md §3.7) for a Planck-only fit,
and for the Belle II fit the scipy L-BFGS-B minimisation of Belle2Likelihood.fit over the nuisances
at the same B_NP.
"""

import dataclasses
import json
import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bkdm.inference import fitspec
from bkdm.inference.bestfit import BestFitResult, best_fit
from bkdm.inference.joint import JointLikelihood
from bkdm.inference.profile import (
    ProfileResult,
    compare_with_hessian,
    interval_from_profile,
    profile_1d,
    profile_2d,
    profile_auto,
    profile_intervals,
)
from bkdm.likelihoods import planck
from bkdm.models import alp

# ---------------------------------------------------------------------------------- toy likelihoods
MEAN = np.array([1.0, -0.5, 2.0])
SIGMA = np.array([0.2, 0.5, 0.1])
CORR = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
COV = CORR * SIGMA[:, None] * SIGMA[None, :]


class ToyJoint:
    """Duck-typed stand-in for JointLikelihood: −2 ln L = ``function(θ)``, no nuisances, no relic.
    θ outside ``valid`` gives +∞ and counts as a relic failure (like a failed Boltzmann solve)."""

    def __init__(self, function, priors, valid=None):
        self.names = tuple(priors)
        self.spec = types.SimpleNamespace(name="toy", model_name="toy", free=priors,
                                          bestfit=dict(fitspec.BESTFIT_DEFAULTS))
        self.nuisance_names, self.nuisance_init, self.nuisance_bounds = (), np.zeros(0), np.zeros((0, 2))
        self.belle2, self.planck_options = None, None
        self.relic_failures = 0
        self._function, self._valid = function, valid

    def _count(self, ok):
        self.relic_failures += int(not ok)

    def terms(self, theta, nuisances):
        value = self._function(theta)
        if self._valid is not None:
            ok = self._valid(theta)
            jax.debug.callback(self._count, ok)
            value = jnp.where(ok, value, jnp.inf)
        return {"toy": value}

    def twice_nll(self, theta, nuisances):
        return sum(self.terms(theta, nuisances).values())

    def observables(self, theta):
        return {"theta_sum": jnp.sum(theta)}


def gaussian(theta):
    d = theta - MEAN
    return d @ jnp.linalg.solve(jnp.asarray(COV), d)


@pytest.fixture(scope="module")
def gaussian_fit():
    priors = {"a": fitspec.Prior("uniform", -2.0, 4.0, init=0.0),
              "b": fitspec.Prior("normal", mean=0.0, sigma=3.0),
              "c": fitspec.Prior("log-uniform", 0.5, 8.0)}
    joint = ToyJoint(gaussian, priors)
    return joint, best_fit(joint, starts=3, progress=False)


def test_gaussian_best_fit_and_covariance(gaussian_fit):
    _, best = gaussian_fit
    assert best.converged and best.relic_failures == 0
    # minimum of an exact quadratic: location to 1e-5 (L-BFGS stops at ‖∇‖ ≲ 1e-4 in u units)
    np.testing.assert_allclose(best.theta, MEAN, atol=1e-5)
    assert abs(best.twice_nll) < 1e-8
    # (H/2)⁻¹ of an exact quadratic is COV; the Hessian is a central difference of the exact gradient
    # in the prior coordinates (h = 1e-3, truncation ~h²): 1e-4 relative
    np.testing.assert_allclose(best.covariance, COV, rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(best.theta_sigma, SIGMA, rtol=1e-4)
    # a: uniform (u ↦ θ nearly linear over ±σ) → interval ≈ θ ± σ; c: log-uniform → asymmetric,
    # [θ e^{−σ/θ'}…]: lower and upper half-widths bracket σ
    lo, hi = best.theta_interval[2]
    assert lo < MEAN[2] - SIGMA[2] * 0.95 and hi > MEAN[2] + SIGMA[2] * 0.95
    assert hi - MEAN[2] > MEAN[2] - lo  # exponential map stretches upwards
    assert best.observables["theta_sum"] == pytest.approx(MEAN.sum(), abs=1e-5)
    assert best.twice_nll_sm is None and best.delta_chi2_sm is None


def test_gaussian_profiles(gaussian_fit):
    joint, best = gaussian_fit
    # 1-D: Δχ²(a) = (a − μ_a)²/σ_a² exactly (profiling a Gaussian over the other parameters);
    # the grid holds μ ± σ, so the Δχ² = 1 crossings are grid points (interpolation exact)
    values = MEAN[0] + SIGMA[0] * np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    prof = profile_1d(joint, best, "a", values, progress=False)
    np.testing.assert_allclose(prof.delta_chi2, ((values - MEAN[0]) / SIGMA[0]) ** 2, atol=1e-6)
    assert prof.converged.all()
    # profiled b, c: conditional means μ_r + V_ra/V_aa (a − μ_a)
    cond = MEAN[1:, None] + COV[1:, :1] / COV[0, 0] * (values - MEAN[0])[None, :]
    np.testing.assert_allclose(prof.theta[:, 1:].T, cond, atol=1e-4)
    low, high = interval_from_profile(prof)
    assert low == pytest.approx(MEAN[0] - SIGMA[0], abs=1e-5)
    assert high == pytest.approx(MEAN[0] + SIGMA[0], abs=1e-5)
    # 2-D: Δχ²(a, c) = dᵀ V_ac⁻¹ d with V_ac the marginal 2 × 2 block
    va = MEAN[0] + SIGMA[0] * np.array([-1.5, 0.0, 1.0])
    vc = MEAN[2] + SIGMA[2] * np.array([-1.0, 0.5, 2.0])
    prof2 = profile_2d(joint, best, ("a", "c"), va, vc, progress=False)
    block = COV[np.ix_([0, 2], [0, 2])]
    d = np.stack(np.meshgrid(va - MEAN[0], vc - MEAN[2], indexing="ij"), axis=-1)
    expected = np.einsum("...i,ij,...j->...", d, np.linalg.inv(block), d)
    np.testing.assert_allclose(prof2.delta_chi2, expected, atol=1e-6)
    assert prof2.delta_chi2.shape == (3, 3)
    # JSON round trip
    again = ProfileResult.from_dict(json.loads(json.dumps(prof2.to_dict())))
    np.testing.assert_array_equal(again.delta_chi2, prof2.delta_chi2)
    assert again.names == ("a", "c")


def test_profile_rejects_bad_input(gaussian_fit):
    joint, best = gaussian_fit
    with pytest.raises(ValueError, match="not a free parameter"):
        profile_1d(joint, best, "m_a", [1.0], progress=False)
    with pytest.raises(ValueError, match="prior range"):
        profile_1d(joint, best, "a", [5.0], progress=False)


def double_well(theta):
    """(x² − 1)² + 0.3 x + y²: minima near x = ±1, the one at x ≈ −1 deeper by ≈ 0.6."""
    x, y = theta[0], theta[1]
    return 10.0 * ((x**2 - 1.0) ** 2 + 0.3 * x) + y**2


def test_multistart_picks_lowest_and_survives_failed_starts(tmp_path):
    priors = {"x": fitspec.Prior("uniform", -2.0, 2.0), "y": fitspec.Prior("uniform", -1.0, 1.0)}
    joint = ToyJoint(double_well, priors, valid=lambda t: t[1] < 0.8)
    # start 0 → shallow well (x ≈ +1), start 1 → invalid (+∞, like a failed relic solve), start 2 → deep well
    starts = np.array([[0.9, 0.1], [0.5, 0.9], [-0.7, -0.2]])
    best = best_fit(joint, starts=starts, progress=False)
    # reference minimum: dense grid in x (y = 0 at the minimum) refined by the stationarity condition
    # 4x(x² − 1) + 0.3 = 0 (numpy roots)
    roots = np.roots([4.0, 0.0, -4.0, 0.3]).real
    x_min = roots[np.argmin([float(double_well(jnp.array([r, 0.0]))) for r in roots])]
    assert best.theta[0] == pytest.approx(x_min, abs=1e-5)
    assert best.starts[0]["theta"][0] > 0.5  # start 0 really ended in the other well
    assert best.starts[0]["twice_nll"] > best.twice_nll + 5.0
    assert math.isinf(best.starts[1]["twice_nll"]) and not best.starts[1]["converged"]
    assert best.starts[1]["steps"] == 0
    assert best.relic_failures >= 1 and best.converged
    # drawn starts (seeded) are reproducible and start with the priors' centre
    again = best_fit(joint, starts=4, seed=3, progress=False)
    np.testing.assert_array_equal(again.starts[0]["theta0"], [0.0, 0.0])
    third = best_fit(joint, starts=4, seed=3, progress=False)
    np.testing.assert_array_equal([s["theta0"] for s in again.starts], [s["theta0"] for s in third.starts])
    # JSON round trip (non-finite numbers → null → nan)
    path = tmp_path / "bestfit.json"
    best.save_json(path)
    loaded = BestFitResult.load_json(path)
    np.testing.assert_array_equal(loaded.theta, best.theta)
    np.testing.assert_array_equal(loaded.covariance, best.covariance)
    assert loaded.names == best.names and loaded.twice_nll == best.twice_nll
    assert loaded.starts[1]["twice_nll"] is None
    assert json.loads(path.read_text()) == best.to_dict()


def test_all_starts_failing_raises():
    priors = {"x": fitspec.Prior("uniform", -2.0, 2.0), "y": fitspec.Prior("uniform", -1.0, 1.0)}
    joint = ToyJoint(double_well, priors, valid=lambda t: t[1] > 5.0)
    with pytest.raises(RuntimeError, match="non-finite at all 2 starts"):
        best_fit(joint, starts=2, progress=False)


# ---------------------------------------------------------------------------------- Planck-only ALP fit
M_A, F_A = 2.1, 1.5e8  # docs/physics/alp.md §2.7 illustrative point (c_q = c_sb_v = c_chi = 1)


@pytest.fixture(scope="module")
def planck_fit():
    spec = fitspec.parse({
        "fit": {"name": "planck-m_chi", "model": "alp"},
        "free": {"m_chi": {"prior": "log-uniform", "range": [1e-3, 1e-2]}},
        "fixed": {"m_a": M_A, "f_a": F_A, "c_q": 1.0, "c_sb_v": 1.0, "c_chi": 1.0},
        "likelihood": {"belle2": False, "planck": {"theory_uncertainty": 0.01}}})
    joint = JointLikelihood(spec)
    return joint, best_fit(joint, starts=2, progress=False)


def test_planck_only_fit_matches_freeze_in_scaling(planck_fit):
    joint, best = planck_fit
    omega = best.observables["omega_h2"]
    assert best.converged
    assert omega == pytest.approx(planck.OMEGA_DM_H2, rel=1e-6)
    # Ωh² ∝ m_χ³ (docs/physics/alp-freeze-in.md §3.7: Γ(a → χχ̄) ∝ m_χ², Ω ∝ m_χ Y; the phase-space factor
    # β = (1 − 4m_χ²/m_a²)^{1/2} changes the exponent by 4m_χ²/m_a² ≈ 1e-5) → σ_m = m σ_Ω/(3Ω);
    # tolerance 1 %: the Hessian is a finite difference of the relic solver's forward-mode gradient
    sigma_omega = float(planck.omega_h2_sigma(0.01))
    m = best.theta[0]
    assert best.theta_sigma[0] == pytest.approx(m * sigma_omega / (3.0 * omega), rel=1e-2)
    # profile Δχ² = 1 interval: analytic m (1 ± σ_Ω/Ω)^{1/3}; Hessian interval θ(u ± σ_u)
    values = m * np.linspace(0.985, 1.015, 9)
    prof = profile_1d(joint, best, "m_chi", values, progress=False)
    low, high = interval_from_profile(prof)
    # √Δχ² = |(m/m̂)³ − 1|/(σ_Ω/Ω) is linear up to curvature 6/(σ_Ω/Ω) ≈ 460 per unit m/m̂: linear
    # interpolation over the grid spacing h = 0.375 % errs by ≈ h²/8 · 460/230 ≈ 4e-6 (0.1 % of σ_m/m);
    # tolerance 1 % of σ (the fitted m̂ is itself exact to ~1e-9)
    sigma = best.theta_sigma[0]
    assert low == pytest.approx(m * (1 - sigma_omega / omega) ** (1 / 3), abs=0.01 * sigma)
    assert high == pytest.approx(m * (1 + sigma_omega / omega) ** (1 / 3), abs=0.01 * sigma)
    # Hessian interval θ(u ± σ_u) vs profile: equal up to the non-linearity of Ω(u) over ±σ_u
    # (relative ≈ σ_m/m ≈ 0.4 %): tolerance 2 % of σ
    np.testing.assert_allclose([low, high], best.theta_interval[0], atol=0.02 * sigma)
    assert prof.converged.all()


@pytest.mark.slow
def test_planck_only_sigma_against_finite_difference_relic(planck_fit):
    """σ_m = σ_Ω/|dΩ/dm| with dΩ/dm from central differences of alp.omega_h2 (independent solve)."""
    _, best = planck_fit
    m = best.theta[0]
    h = 1e-3 * m  # truncation ~h² ≈ 1e-6 relative; solver noise ~1e-8/1e-3 ≈ 1e-5 relative

    def omega(m_chi):
        return alp.omega_h2(alp.Params.universal(m_a=M_A, f_a=F_A, c_q=1.0, c_sb_v=1.0, c_chi=1.0,
                                                 m_chi=m_chi))

    slope = (float(omega(m + h)) - float(omega(m - h))) / (2 * h)
    sigma_omega = float(planck.omega_h2_sigma(0.01))
    assert best.theta_sigma[0] == pytest.approx(sigma_omega / abs(slope), rel=1e-2)


# ---------------------------------------------------------------------------------- Belle II + Planck
@pytest.mark.slow
def test_belle2_planck_alp_fit_prefers_new_physics():
    spec = fitspec.parse({
        "fit": {"name": "belle2-alp", "model": "alp"},
        "free": {"m_a": {"prior": "uniform", "range": [0.5, 4.5], "init": 2.0},
                 "f_a": {"prior": "log-uniform", "range": [3e7, 1e9]}},
        "fixed": {"m_chi": 2.7e-3, "c_q": 1.0, "c_sb_v": 1.0, "c_chi": 1.0},
        "likelihood": {"belle2": {}, "planck": {}}})
    joint = JointLikelihood(spec)
    best = best_fit(joint, starts=2, max_steps=300, progress=False)
    assert best.twice_nll < best.twice_nll_sm  # Belle II + Planck at the best fit beat the SM
    assert best.delta_chi2_sm > 1.0
    assert 1.0 < best.theta[0] < 3.0
    assert 1e-6 < best.observables["br_b_to_k_invisible"] < 1e-4
    # Belle II term at the best fit vs scipy L-BFGS-B over the nuisances at the same B_NP bins
    # (both minimise the same function; 1e-3 in −2 ln L is the reference fit's own tolerance scale)
    reference = joint.belle2.fit(b_np_bins=joint.b_np_bins(jnp.asarray(best.theta)), mu=1.0)
    assert best.terms["belle2"] == pytest.approx(reference.twice_nll, abs=1e-3)


def test_profile_extends_itself_until_its_interval_is_found(gaussian_fit):
    """A best fit whose Hessian interval is 10× too small (issue 18's symptom): the ±3σ_Hessian grid
    stays below Δχ² = 0.1, the profile extends itself on both sides to Δχ² ≥ 4, and the exact
    Gaussian crossings (μ ± σ at 1, μ ± 1.96σ at 3.84; √Δχ² interpolation is exact for a Gaussian,
    1e-5 from the minimiser) are found; the Hessian/profile comparison then shows ratio 10."""
    joint, best = gaussian_fit
    interval = best.theta[:, None] + 0.1 * (best.theta_interval - best.theta[:, None])
    narrow = dataclasses.replace(best, theta_interval=interval)
    prof = profile_auto(joint, narrow, "a", n=5, progress=False)
    assert prof.delta_chi2[0] >= 4.0 and prof.delta_chi2[-1] >= 4.0 and prof.grid[0].size > 5
    prior = joint.spec.free["a"]
    low, high, *kinds = profile_intervals(prof, prior, 1.0)
    assert kinds == ["crossing", "crossing"]
    assert low == pytest.approx(MEAN[0] - SIGMA[0], abs=1e-5)
    assert high == pytest.approx(MEAN[0] + SIGMA[0], abs=1e-5)
    low95, high95, *_ = profile_intervals(prof, prior, 3.84)
    assert high95 - low95 == pytest.approx(2 * 1.9596 * SIGMA[0], rel=1e-4)
    ratios = compare_with_hessian(narrow.theta[0], narrow.theta_interval[0], (low, high))
    np.testing.assert_allclose(ratios, 10.0, rtol=0.05)  # uniform prior map nearly linear over ±σ
    np.testing.assert_allclose(compare_with_hessian(best.theta[0], best.theta_interval[0], (low, high)),
                               1.0, rtol=0.05)


def test_profile_against_a_prior_bound_is_one_sided():
    """Δχ² = ((x − 0.1)/0.5)² on the prior [0, 3]: below the minimum the profile reaches the bound
    x = 0 with Δχ² = 0.04 < 1 → the 68 % interval is one-sided, [0, 0.6] (kind "bound"), never NaN."""
    joint = ToyJoint(lambda t: ((t[0] - 0.1) / 0.5) ** 2, {"x": fitspec.Prior("uniform", 0.0, 3.0, init=1.0)})
    best = best_fit(joint, starts=1, progress=False)
    prof = profile_auto(joint, best, "x", n=5, progress=False)
    assert prof.bounds_reached == ["low"]
    low, high, low_kind, high_kind = profile_intervals(prof, joint.spec.free["x"], 1.0)
    assert (low, low_kind, high_kind) == (0.0, "bound", "crossing")
    assert high == pytest.approx(0.6, abs=1e-4)
