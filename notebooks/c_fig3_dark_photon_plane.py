# %% [markdown]
# # [C] Fig. 3 — the dark-photon parameter space
#
# **Paper.** Calibbi, Li, Mukherjee, Schmidt, *Is Dark Matter the origin of the B→Kνν̄ excess at
# Belle II?*, arXiv:2502.04900 ([C]), Sec. III.3, Fig. 3 (docs/physics/dark-photon.md §4). The model:
# a dark photon X (kinetic mixing ε, mass mixing δ, ε_Z = ε t_W m_X²/m_Z² + (m_X/m_Z) δ)
# decaying promptly into a Majorana DM pair ψψ, with ψψ → h′h′ freeze-out setting Ω_ψh².
#
# **What Fig. 3 shows ([C] text).** With ε fixed at the BaBar bound ε = 10⁻³: the Belle II B⁺→K⁺νν̄
# excess explained at 1σ (2σ) (red, light red), the B→K*νν̄ exclusion (grey, Belle 2017), the LHCb
# B⁺→K⁺μ⁺μ⁻ exclusion (yellow), and the Ωh² = 0.12 band(s) (blue; solid line = lowest allowed m_h′).
# Our copy of [C] has every number and the figure axes stripped. The text ("the decay rate of B→KX is
# governed by ε_Z ..., while the visible decay depends on both ε and ε_Z"; "for α_X < …, the DM
# abundance overcloses the universe"; "tuning the dark Higgs mass further allows larger values of
# α_X") reads like an (α_X, δ) plane at fixed m_ψ. The project brief asked for the (m_ψ, α_X) plane
# at fixed m_h′. We draw **both**, from the same computations:
#
# * **Figure A** `c_fig3_dark_photon_plane_alpha_delta.png`: α_X (x) vs δ (y), m_ψ and m_h′ fixed;
# * **Figure B** `c_fig3_dark_photon_plane_mpsi_alpha.png`: m_ψ (x) vs α_X (y), δ fixed at the
#   Belle II best fit, m_h′ fixed.
#
# **Inputs** (GeV). [C]'s own values are stripped, so the fixed inputs are those of the project's fit
# declaration `dark-photon` (read below): m_X = 2.1 (its `init`, the
# docs/physics/dark-photon.md §4.4 reference mass), ε = 10⁻³ (BaBar bound, [C]), m_ψ = 0.3, m_h′ = 0.05,
# Q_S = 1, θ = 0. Figure A also draws relic lines for m_h′ = 0.25 (near the maximum of the p-wave coefficient,
# r = m_h′/m_ψ ≈ 0.87) and 0.299 (m_h′ tuned to m_ψ). Figure B uses δ = δ̂, bkdm's Belle II best fit
# at m_X = 2.1 GeV.
#
# * **Belle II**: bkdm's Belle II 362 fb⁻¹ q² likelihood (`bkdm.likelihoods.belle2`, combined ITA+HTA,
#   232 nuisance parameters profiled, POI μ = 1 = SM signal), wired to the model exactly as
#   `bkdm.inference.joint.JointLikelihood` does (B_NP per generator bin =
#   BR(B⁺→K⁺X)·P_inv × line weights, `line_shape = "interpolate"`). At fixed m_X the likelihood depends
#   on the model only through B_inv = BR(B⁺→K⁺X)·P_inv (P_inv = BR(X→ψψ) + BR(X→νν̄)), so the profile
#   Δχ²(B_inv) is computed once (1-D, nuisances re-minimised at every point) and mapped onto both
#   planes exactly. Regions: Δχ² ≤ 1 (1σ) and ≤ 4 (2σ), one degree of freedom at fixed m_X (as [C]'s
#   "BR range at 1σ/2σ" at the best-fit mass).
# * **B→K*νν̄**: `bkdm.likelihoods.constraints` term `belle2017_kstar` (Belle 2017, B(B→K*νν̄) <
#   2.7×10⁻⁵ at 90 % CL) on BR(B⁺→K*⁺X)·P_inv, whose ratio to B→KX the model fixes ([C] (47)).
#   Excluded where its −2 ln L > Φ⁻¹(0.9)² = 1.64, i.e. where BR(B⁺→K*⁺X)·P_inv > 2.7×10⁻⁵.
# * **LHCb B⁺→K⁺μμ**: not drawn as an exclusion, because the limit [C] imposes and its q² bin are
#   stripped (see the markdown cell after Figure A). Iso-lines of BR(B⁺→K⁺X)·BR(X→μμ) are drawn
#   instead.
# * **Relic density**: `bkdm.models.dark_photon.omega_h2` (NBE, exact Gondolo–Gelmini ⟨σv⟩ of
#   ψψ → h′h′, Kvaerno5 solver at the `SolverSettings` DEFAULT: rtol 1e-8, atol 1e-6), one
#   `jax.jit(jax.vmap(...))` over every point (compiled once). Line: Ωh² = 0.120; band: Planck ± 2σ
#   with σ = √(0.001² + (1 % · 0.120)²) = 0.00156 (`bkdm.likelihoods.planck`, 1 % theory error), i.e.
#   Ωh² ∈ [0.1169, 0.1231] (±2.6 %).
#
# **Run:** `python notebooks/c_fig3_dark_photon_plane.py` (full: ≈60 s CPU, 2.5 min wall on 2 cores
# shared with other jobs) or `BKDM_NOTEBOOK_FAST=1 python notebooks/c_fig3_dark_photon_plane.py`
# (coarse grids, CI: ≈40–45 s CPU, 1–2 min wall on the same loaded cores). Half of the FAST time is the one
# compile of the relic solver.

# %%
import time

T_START = time.time()
import json
import os
from pathlib import Path
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import scipy.interpolate
import scipy.optimize

from bkdm import flavour
from bkdm.constants import HBARC_GEV_M, M_Z, OMEGA_DM_H2
from bkdm.inference import fitspec
from bkdm.inference.joint import JointLikelihood
from bkdm.likelihoods import constraints, planck
from bkdm.likelihoods.belle2 import CHANNEL_ITA_A, events_per_unit_br
from bkdm.models import dark_photon as dp

FAST = os.environ.get("BKDM_NOTEBOOK_FAST", "0") == "1"
N_POINTS = 8 if FAST else 40  # relic grid per axis
N_FINE = 60 if FAST else 240  # analytic (particle-layer) grid per axis
N_B_PROFILE = 7 if FAST else 21  # Belle II profile points in B_inv
M_X_SCAN = np.array([1.9, 2.1, 2.3]) if FAST else np.round(np.arange(1.6, 2.81, 0.1), 2)

ROOT = Path.cwd() if (Path.cwd() / "notebooks").is_dir() else Path.cwd().parent
FIG_DIR = ROOT / "notebooks" / "figures"
os.makedirs(FIG_DIR, exist_ok=True)
NAME = "c_fig3_dark_photon_plane"
RESULTS = {"fast": FAST}
TIMES = {}

# %% [markdown]
# ## Inputs from the project's fit declaration

# %%
spec = fitspec.load("dark-photon")  # the shipped fit
joint = JointLikelihood(spec)  # Belle II (combined), Planck, belle2017_kstar: the project's wiring
TIMES["imports_and_likelihood_setup"] = time.time() - T_START
FIXED = {k: float(v) for k, v in spec.fixed.items()}
M_X = float(spec.free["m_x"].start)  # 2.1 GeV
EPS, M_PSI, M_HP = FIXED["epsilon"], FIXED["m_psi"], FIXED["m_hp"]
M_HP_LINES = (M_HP, 0.25, 0.299)  # relic lines: the fit file's m_h'; near the largest σv; m_h' ≈ m_ψ
print(f"fit file: {spec.source}\n  m_X = {M_X} GeV, fixed = {FIXED}")
print(f"  likelihood terms: belle2 = {joint.belle2_options}, planck = {joint.planck_options}, "
      f"constraints = {joint.limits}")


def params(alpha_x, delta, m_psi=M_PSI, m_hp=M_HP):
    """Model point with the fit file's fixed values (masses in GeV)."""
    return dp.Params(m_x=M_X, epsilon=EPS, delta=delta, alpha_x=alpha_x, m_psi=m_psi, m_hp=m_hp,
                     q_s=FIXED["q_s"], theta=FIXED["theta"])


# %% [markdown]
# ## Particle-layer checks: fixed K*/K ratio, prompt X, invisible fraction

# %%
p_ref = params(2.33e-3, 5e-3)  # the fit file's init point
ratio_kstar_k = float(dp.br_b_to_kstar(p_ref) / dp.br_b_to_k(p_ref))
# docs/validation.md §7.18 quotes 1.54 (3 digits) at m_X = 2.1 GeV with the same GRvDV form factors: agreement
# to the quoted rounding (±0.3 %) is expected; 0.5 % leaves a little slack.
assert abs(ratio_kstar_k - 1.54) / 1.54 < 5e-3, ratio_kstar_k
br_per_epsz2 = float(dp.br_b_to_k(p_ref) / dp.eps_z(p_ref) ** 2)
w_sm = dp.widths(params(1e-30, 5e-3))  # SM channels only (α_X → 0)
gamma_sm = float(sum(v for k, v in w_sm.items() if k != "psipsi"))
ctau_sm_m = float(HBARC_GEV_M / gamma_sm)
print(f"BR(B+->K*+X)/BR(B+->K+X) at m_X = {M_X}: {ratio_kstar_k:.4f}"
      "   (docs/validation.md §7.18: 1.54; [C] (47))")
p_inv_ref = float(dp.invisible_fraction(p_ref))
g_bs_per_eps_z = float(dp.g_bs(p_ref) / dp.eps_z(p_ref))
print(f"BR(B+->K+X) = {br_per_epsz2:.4g} eps_Z^2;  g_bs/eps_Z = {g_bs_per_eps_z:.4g}")
print(f"SM-only X width at eps = {EPS:g}, delta = 5e-3: {gamma_sm:.3e} GeV, c tau = {ctau_sm_m * 1e3:.3g} mm")
print(f"P_inv at the fit-file point (alpha_X = 2.33e-3, m_psi = {M_PSI}): {p_inv_ref:.6f}")
RESULTS.update(ratio_kstar_over_k=ratio_kstar_k, br_b_to_k_per_eps_z2=br_per_epsz2, ctau_sm_only_m=ctau_sm_m,
               p_inv_fit_file_point=p_inv_ref)

# %% [markdown]
# ## Belle II: profile likelihood in B_inv = BR(B⁺→K⁺X)·P_inv at fixed m_X
#
# The signal enters through `joint.b_np_bins(θ)` = B_inv × w_j(m_X) (hat-function line weights on the
# 100 generator q² bins); we check that identity, then profile −2 ln L over the free Belle II nuisance
# parameters on a grid of B_inv, each point warm-started from the previous. The reference is the
# minimum over B_inv at this m_X.
#
# Minimiser: L-BFGS-B on `Belle2Likelihood.value_and_grad` (exact JAX gradients) in coordinates scaled by
# √(diag Hessian) at the SM fit. The 180 staterror γ's have widths down to ~10⁻², so unscaled L-BFGS
# needs ~400 iterations per point, scaled ~45 (same minima; checked against `Belle2Likelihood.fit` at
# B_inv = 0 below). The SM fit itself is the library's `Belle2Likelihood.fit`.

# %%
belle2 = joint.belle2
LINE_SHAPE = joint.belle2_options["line_shape"]
weights = jnp.asarray(flavour.two_body_bin_weights(M_X, shape=LINE_SHAPE))
theta_ref = jnp.array([M_X, 5e-3, 2.33e-3])  # (m_x, delta, alpha_x): the fit's free parameters
assert joint.names == ("m_x", "delta", "alpha_x")
# identity of the wiring (pure arithmetic, so round-off level)
assert np.allclose(joint.b_np_bins(theta_ref), dp.br_b_to_k_invisible(p_ref) * weights, rtol=1e-12, atol=0.0)

# L-BFGS-B tolerances gtol 1e-4, ftol 1e-10: the profile agrees with the library defaults (1e-6, 1e-12)
# to < 1e-4 in Δχ² (checked by hand on this grid), far below the 1σ/2σ levels.
FIT_GTOL, FIT_FTOL = 1e-4, 1e-10
B_UNIT = 2.5e-6  # B_inv coordinate unit: Δχ² changes by O(1) over this step, like a scaled nuisance
t0 = time.time()
sm_fit = belle2.fit(mu=1.0, gtol=FIT_GTOL, ftol=FIT_FTOL)  # SM: B_NP = 0, μ = 1, all nuisances free
assert sm_fit.success, sm_fit.message
FREE = ~belle2.fixed.copy()
FREE[belle2.poi_index] = False
hessian = jax.jit(jax.hessian(belle2.twice_nll))(jnp.asarray(sm_fit.pars), jnp.zeros_like(weights))
SCALE = np.sqrt(np.clip(np.diag(hessian)[FREE], 1e-8, None))


def minimise(w, x_start, b_inv=None, b_start=0.0):
    """min of Belle II −2 ln L (μ = 1) over the free nuisances for a line with bin weights ``w`` and
    fixed ``b_inv``, or also over B_inv ≥ 0 if ``b_inv`` is None. Returns (−2 ln L, B_inv, nuisances)."""
    base = np.array(x_start, dtype=float)
    base[belle2.poi_index] = 1.0
    centre = base[FREE]
    b_free = b_inv is None

    def unpack(z):
        x = base.copy()
        x[FREE] = centre + z[:SCALE.size] / SCALE
        return x, (z[-1] * B_UNIT if b_free else b_inv)

    def objective(z):
        x, b = unpack(z)
        value, (g_nu, g_b) = belle2.value_and_grad(jnp.asarray(x), b * w)
        grad = np.asarray(g_nu)[FREE] / SCALE
        if b_free:
            grad = np.append(grad, float(jnp.dot(g_b, w)) * B_UNIT)
        return float(value), grad

    lo, hi = belle2.bounds[FREE].T
    bounds = list(zip((lo - centre) * SCALE, (hi - centre) * SCALE, strict=True))
    z0 = np.zeros(SCALE.size)
    if b_free:
        bounds.append((0.0, 40.0))
        z0 = np.append(z0, b_start / B_UNIT)
    res = scipy.optimize.minimize(objective, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": 5000, "gtol": FIT_GTOL, "ftol": FIT_FTOL, "maxcor": 30})
    assert res.success, res.message
    x, b = unpack(res.x)
    return float(res.fun), float(b), x


b_grid = np.linspace(0.0, 2.0e-5, N_B_PROFILE)
prof, init = [], sm_fit.pars
for b in b_grid:
    value, _, init = minimise(weights, init, b_inv=b)
    prof.append(value)
prof = np.array(prof)
TIMES["belle2_profile"] = time.time() - t0
# two minimisers of the same function at B_inv = 0 (library vs scaled): 0.01 is far below contour levels
assert abs(prof[0] - sm_fit.twice_nll) < 0.01, (prof[0], sm_fit.twice_nll)

spline = scipy.interpolate.CubicSpline(b_grid, prof)
b_fine = np.linspace(b_grid[0], b_grid[-1], 4001)
b_hat = float(b_fine[np.argmin(spline(b_fine))])
b_hat = float(scipy.optimize.minimize_scalar(spline, bracket=(b_hat - 1e-7, b_hat, b_hat + 1e-7)).x)
nll_min = float(spline(b_hat))


def delta_chi2_belle2(b_inv):
    """Belle II Δχ²(B_inv) at m_X (cubic spline through the profile; +inf beyond the profiled range)."""
    b_inv = np.asarray(b_inv)
    inside = (b_inv >= b_grid[0]) & (b_inv <= b_grid[-1])
    return np.where(inside, spline(np.clip(b_inv, b_grid[0], b_grid[-1])) - nll_min, np.inf)


def crossing(level, lo, hi):
    return scipy.optimize.brentq(lambda b: float(delta_chi2_belle2(b)) - level, lo, hi)


INTERVALS = {n: (crossing(n**2, 0.0, b_hat), crossing(n**2, b_hat, b_grid[-1])) for n in (1, 2)}
dchi2_sm = float(prof[0] - nll_min)
print(f"SM fit, Hessian and {N_B_PROFILE} profile fits in {TIMES['belle2_profile']:.1f} s")
print(f"Belle II at m_X = {M_X}: B_inv best fit {b_hat:.3e}; 1 sigma {INTERVALS[1][0]:.3e} - "
      f"{INTERVALS[1][1]:.3e}; 2 sigma {INTERVALS[2][0]:.3e} - {INTERVALS[2][1]:.3e}")
print(f"SM (B_inv = 0) vs best fit: Delta chi2 = {dchi2_sm:.2f} (local {np.sqrt(dchi2_sm):.2f} sigma)")
# why a two-body line needs less BR than an SM-shaped excess: expected ITA signal-region (channel A)
# events per unit BR for the 2.1 GeV line vs the SM spectrum (same k_ij as the likelihood)
b_sm_bins = np.asarray(flavour.belle2_sm_bin_branching_fractions())
k_a = events_per_unit_br(CHANNEL_ITA_A)
eff_ratio = float((k_a @ np.asarray(weights)).sum() / ((k_a @ b_sm_bins).sum() / b_sm_bins.sum()))
print(f"ITA signal-region events per unit BR, {M_X} GeV line / SM spectrum: {eff_ratio:.2f}")

# δ giving BR(B→KX) = B with P_inv = 1: ε_Z = √(B/BR per ε_Z²), δ = (ε_Z − ε_Z^kin) m_Z/m_X
eps_z_kin = float(dp.eps_z(params(1e-3, 0.0)))


def delta_for_br(b):
    return (np.sqrt(b / br_per_epsz2) - eps_z_kin) * M_Z / M_X


DELTA_HAT = float(delta_for_br(b_hat))
print(f"delta at the best fit (P_inv = 1): {DELTA_HAT:.3e}  (eps_Z = {np.sqrt(b_hat / br_per_epsz2):.3e}); "
      f"2 sigma: {delta_for_br(INTERVALS[2][0]):.3e} - {delta_for_br(INTERVALS[2][1]):.3e}")
kstar_limit = constraints.LIMITS["belle2017_kstar"].limit
b_kstar_max = kstar_limit / ratio_kstar_k
print(f"B->K* nu nu (Belle 2017) limit {kstar_limit:.2e} => B_inv(K+) < {b_kstar_max:.3e}")
RESULTS.update(belle2_b_inv_best=b_hat, belle2_b_inv_1sigma=list(INTERVALS[1]),
               belle2_b_inv_2sigma=list(INTERVALS[2]), belle2_delta_chi2_sm=dchi2_sm,
               delta_best=DELTA_HAT, delta_2sigma=[float(delta_for_br(b)) for b in INTERVALS[2]],
               delta_1sigma=[float(delta_for_br(b)) for b in INTERVALS[1]],
               eps_z_best=float(np.sqrt(b_hat / br_per_epsz2)), b_inv_kstar_max=b_kstar_max,
               delta_kstar_max=float(delta_for_br(b_kstar_max)), ita_line_over_sm_efficiency=eff_ratio)

# %% [markdown]
# ### Best-fit mass: Belle II profile in m_X (B_inv and all nuisances free)
#
# [C] fixes m_X at the best-fit mass of Fridell et al. (value stripped in our copy). For comparison, bkdm's
# own Belle II likelihood is minimised over (B_inv, nuisances) at each m_X (FAST: 3 masses).

# %%
t0 = time.time()
mx_nll, mx_b = [], []
nu, b0 = sm_fit.pars, b_hat
for m_x in M_X_SCAN:
    w_mx = jnp.asarray(flavour.two_body_bin_weights(float(m_x), shape=LINE_SHAPE))
    val, b0, nu = minimise(w_mx, nu, b_start=b0)
    mx_nll.append(val)
    mx_b.append(b0)
mx_nll = np.array(mx_nll)
i_best = int(np.clip(np.argmin(mx_nll), 1, len(M_X_SCAN) - 2))
# parabola through the lowest grid point and its neighbours
c2, c1, _ = np.polyfit(M_X_SCAN[i_best - 1:i_best + 2], mx_nll[i_best - 1:i_best + 2], 2)
m_x_best = float(-c1 / (2 * c2))
TIMES["m_x_scan"] = time.time() - t0
print(f"m_X scan ({len(M_X_SCAN)} fits, {TIMES['m_x_scan']:.1f} s):")
for m_x, v, b in zip(M_X_SCAN, mx_nll, mx_b, strict=True):
    print(f"  m_X = {m_x:.2f} GeV: B_inv = {b:.3e}, Delta chi2 = {v - mx_nll.min():6.2f}")
# at m_X = 2.1 the B-free fit must agree with the B-profile minimum (two minimisers of one function;
# 0.05 in −2 ln L is far below any contour level)
i21 = int(np.argmin(np.abs(M_X_SCAN - M_X)))
assert abs(mx_nll[i21] - nll_min) < 0.05, (mx_nll[i21], nll_min)
RESULTS.update(m_x_scan=M_X_SCAN.tolist(), m_x_scan_delta_chi2=(mx_nll - mx_nll.min()).tolist(),
               m_x_scan_b_inv=mx_b, m_x_best_parabola=m_x_best)
print(f"best-fit m_X (parabola through the 3 lowest grid points): {m_x_best:.3f} GeV")

# %% [markdown]
# ## Relic density: one compiled, vmapped Ωh² over every point
#
# Ωh² does not depend on ε or δ (σ(ψψ → h′h′) only involves y_ψ = g_X m_ψ/m_X), so Figure A needs it
# on a 1-D α_X grid per m_h′ and Figure B on an (m_ψ, α_X) grid. Both batches are concatenated into one
# call so that the solver compiles once.

# %%
omega_batch = jax.jit(jax.vmap(lambda a, m, mh: dp.omega_h2(params(a, 0.0, m, mh))))

alpha_1d = np.geomspace(3e-4, 3e-2, N_POINTS)
mpsi_relic = np.linspace(0.07, 1.04, N_POINTS)
alpha_relic = np.geomspace(1e-4, 1e-1, N_POINTS)
A_a = np.tile(alpha_1d, len(M_HP_LINES))
A_m = np.full_like(A_a, M_PSI)
A_h = np.repeat(M_HP_LINES, N_POINTS)
B_m, B_a = (g.ravel() for g in np.meshgrid(mpsi_relic, alpha_relic, indexing="ij"))
B_h = np.full_like(B_a, M_HP)
N_BATCH = A_a.size + B_a.size


def omega_h2_batch(alpha, m_psi, m_hp):
    """Ωh² at up to N_BATCH points, padded to N_BATCH so that the compiled solve is reused."""
    n = len(alpha)
    padded = (np.concatenate([x, np.full(N_BATCH - n, x[-1])]) for x in (alpha, m_psi, m_hp))
    return np.asarray(omega_batch(*map(jnp.asarray, padded)))[:n]


t0 = time.time()
omega_all = omega_h2_batch(np.concatenate([A_a, B_a]), np.concatenate([A_m, B_m]), np.concatenate([A_h, B_h]))
TIMES["relic_compile_and_solve"] = time.time() - t0
n_failed = int(np.sum(~np.isfinite(omega_all)))
print(f"{N_BATCH} relic solves (compile + run): {TIMES['relic_compile_and_solve']:.1f} s; failed: {n_failed}")
assert n_failed == 0
omega_1d = omega_all[: A_a.size].reshape(len(M_HP_LINES), N_POINTS)
omega_grid = omega_all[A_a.size:].reshape(N_POINTS, N_POINTS)  # [m_psi, alpha]

OMEGA_SIGMA = float(planck.omega_h2_sigma(planck.DEFAULT_THEORY_REL_UNCERTAINTY))
OMEGA_BAND = (OMEGA_DM_H2 - 2 * OMEGA_SIGMA, OMEGA_DM_H2 + 2 * OMEGA_SIGMA)


def alpha_for_omega(alpha, omega, target):
    """α_X with Ωh²(α_X) = target: linear interpolation of ln Ω in ln α_X (Ω ∝ α_X^≈−2, smooth)."""
    lo = np.log(omega)
    order = np.argsort(lo)
    return float(np.exp(np.interp(np.log(target), lo[order], np.log(alpha)[order])))


line_alpha = np.array([alpha_for_omega(alpha_1d, om, OMEGA_DM_H2) for om in omega_1d])
band_alpha = np.array([alpha_for_omega(alpha_1d, omega_1d[0], o) for o in OMEGA_BAND[::-1]])
column_alpha = np.array([alpha_for_omega(alpha_relic, om, OMEGA_DM_H2) for om in omega_grid])

# direct solves at every interpolated root (second call, same compiled batch): interpolation check
t0 = time.time()
check = omega_h2_batch(np.concatenate([line_alpha, band_alpha, column_alpha]),
                       np.concatenate([np.full(5, M_PSI), mpsi_relic]),
                       np.concatenate([M_HP_LINES, [M_HP, M_HP], np.full(N_POINTS, M_HP)]))
TIMES["relic_check_solve"] = time.time() - t0
targets = np.concatenate([np.full(3, OMEGA_DM_H2), OMEGA_BAND[::-1], np.full(N_POINTS, OMEGA_DM_H2)])
interp_error = float(np.max(np.abs(check / targets - 1)))
for mh, a, om in zip(M_HP_LINES, line_alpha, check[:3], strict=True):
    print(f"m_psi = {M_PSI}, m_h' = {mh}: Omega h^2 = 0.120 at alpha_X = {a:.4e} (direct solve: {om:.5f})")
print(f"Planck +-2 sigma band (m_h' = {M_HP}): alpha_X in [{band_alpha[0]:.4e}, {band_alpha[1]:.4e}]")
print(f"largest |Omega/target - 1| of the interpolated roots: {interp_error:.2e}")
# ln Ω is close to linear in ln α_X (Ω ∝ α_X^-2 up to the slow x_f drift), so linear interpolation on
# the grid (FAST: 0.29 dex steps in α_X, full: 0.05 dex) is measured at 2e-3 (FAST) and 7e-5 (full);
# the tolerances leave a factor ~5 and ~15 for other parameter choices.
assert interp_error < (1e-2 if FAST else 1e-3), interp_error
alpha_star = float(line_alpha[0])
# leading-order (NR) expectation for the m_h' dependence, docs/physics/dark-photon.md §4.5, [C] (48):
# Ω ∝ 1/b at fixed x_f and b ∝ α_X², so α_X(m_h') / α_X(m_h'0) ≈ √(b(m_h'0)/b(m_h')) at equal α_X
b_nr = np.array([float(dp.sigma_v_rel_pwave_coefficient(params(alpha_star, 0.0, M_PSI, mh)))
                 for mh in M_HP_LINES])
nr_alpha_ratio = np.sqrt(b_nr[0] / b_nr)
for mh, rn, re in zip(M_HP_LINES, nr_alpha_ratio, line_alpha / alpha_star, strict=True):
    print(f"m_h' = {mh}: alpha_X / alpha_X(m_h' = {M_HP}): leading-order (48) {rn:.3f}, exact bkdm {re:.3f}")
RESULTS.update(omega_band=list(OMEGA_BAND),
               alpha_relic=dict(zip(map(str, M_HP_LINES), line_alpha.tolist(), strict=True)),
               alpha_relic_band=band_alpha.tolist(), relic_root_max_rel_error=interp_error,
               alpha_ratio_leading_order=nr_alpha_ratio.tolist())

# %% [markdown]
# ## Particle layer on fine grids (cheap, compiled once per figure)

# %%


@jax.jit
def particle_layer(alpha_x, delta, m_psi):
    """B_inv, BR(B→K*X)·P_inv's −2 ln L (Belle 2017), BR(B⁺→K⁺X)·BR(X→μμ), P_inv on flat arrays."""
    def one(a, d, m):
        p = params(a, d, m, M_HP)
        br_mumu = dp.width_to_leptons(p, "mu") / dp.total_width(p)
        return (dp.br_b_to_k_invisible(p), constraints.twice_nll(dp, p, ("belle2017_kstar",)),
                dp.br_b_to_k(p) * br_mumu, dp.invisible_fraction(p))
    return jax.vmap(one)(alpha_x, delta, m_psi)


# the half-Gaussian term equals Φ⁻¹(0.9)² = 1.64 exactly when BR(B⁺→K*⁺X)·P_inv = the 90 % CL limit
KSTAR_LEVEL = NormalDist().inv_cdf(constraints.LIMITS["belle2017_kstar"].cl) ** 2


def evaluate(alpha, delta, m_psi):
    shape = np.broadcast(alpha, delta, m_psi).shape
    args = (jnp.asarray(np.broadcast_to(x, shape).ravel()) for x in (alpha, delta, m_psi))
    return [np.asarray(o).reshape(shape) for o in particle_layer(*args)]


# Figure A grid: α_X (x) × δ (y) at m_ψ = 0.3
fa_alpha = np.geomspace(1e-9, 1.0, N_FINE)
fa_delta = np.geomspace(3e-4, 3e-2, N_FINE)
FA, FD = np.meshgrid(fa_alpha, fa_delta)
t0 = time.time()
a_binv, a_kstar, a_mumu, a_pinv = evaluate(FA, FD, M_PSI)
TIMES["particle_grid_compile_and_run"] = time.time() - t0
a_dchi2 = delta_chi2_belle2(a_binv)

# %% [markdown]
# ## Figure A: α_X vs δ at m_ψ = 0.3 GeV, m_h′ = 0.05 GeV, m_X = 2.1 GeV, ε = 10⁻³

# %%


def draw_common(ax, X, Y, dchi2, kstar, mumu):
    """Belle II 1σ/2σ regions, B→K*νν̄ exclusion and BR(B⁺→K⁺X)·BR(X→μμ) iso-lines on a grid."""
    ax.contourf(X, Y, dchi2, levels=[0, 4], colors=["#f4a6a6"])
    ax.contourf(X, Y, dchi2, levels=[0, 1], colors=["#d62728"])
    ax.contourf(X, Y, kstar, levels=[KSTAR_LEVEL, np.inf], colors=["grey"], alpha=0.55)
    ax.contour(X, Y, kstar, levels=[KSTAR_LEVEL], colors=["k"], linewidths=1.0)
    cs = ax.contour(X, Y, mumu, levels=[1e-9, 1e-8, 1e-7], colors=["#b8860b"], linestyles=":", linewidths=1.2)
    ax.clabel(cs, fmt=lambda v: f"{v:.0e}", fontsize=8, inline=True)


STYLES = ("-", "--", "-.")
LEGEND = [
    plt.Rectangle((0, 0), 1, 1, color="#d62728", label=r"Belle II 1$\sigma$ ($\Delta\chi^2\leq1$)"),
    plt.Rectangle((0, 0), 1, 1, color="#f4a6a6", label=r"Belle II 2$\sigma$ ($\Delta\chi^2\leq4$)"),
    plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.55,
                  label=r"excluded by $B\to K^*\nu\bar\nu$ (Belle 2017, 90% CL)"),
    plt.Line2D([], [], color="#b8860b", ls=":",
               label=r"BR$(B^+\to K^+X)\,$BR$(X\to\mu\mu)$ (LHCb-type; no limit drawn)"),
]

fig, ax = plt.subplots(figsize=(7, 5))
draw_common(ax, FA, FD, a_dchi2, a_kstar, a_mumu)
for a, ls in zip(line_alpha, STYLES, strict=True):
    ax.axvline(a, color="#1f4fbf", ls=ls, lw=1.6)
ax.axvspan(*band_alpha, color="#1f4fbf", alpha=0.25)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel(r"$\alpha_X = g_X^2/4\pi$")
ax.set_ylabel(r"mass mixing $\delta$   ($\varepsilon_Z \simeq (m_X/m_Z)\,\delta$)")
ax.set_title(rf"[C] Fig. 3 with bkdm: $m_X$ = {M_X} GeV, $\varepsilon$ = {EPS:g}, $m_\psi$ = {M_PSI} GeV",
             fontsize=10)
relic_legend = [plt.Line2D([], [], color="#1f4fbf", ls=ls, label=rf"$\Omega h^2=0.12$, $m_{{h'}}$ = {mh} GeV")
                for mh, ls in zip(M_HP_LINES, STYLES, strict=True)]
band_legend = plt.Rectangle((0, 0), 1, 1, color="#1f4fbf", alpha=0.25,
                            label=rf"Planck $\pm2\sigma$ ($\pm${2 * OMEGA_SIGMA:.4f}), $m_{{h'}}$={M_HP} GeV")
ax.legend(handles=LEGEND + relic_legend + [band_legend], fontsize=7, loc="lower right")
ax.text(2e-9, 2.3e-2, "overclosed left of the blue line\n(for each $m_{h'}$)", fontsize=7)
fig.tight_layout()
fig.savefig(FIG_DIR / f"{NAME}_alpha_delta.png", dpi=130)
plt.close(fig)

# numbers read off Figure A at the relic α_X (P_inv ≈ 1 there)
p_inv_star = float(dp.invisible_fraction(params(alpha_star, DELTA_HAT)))  # P_inv does not depend on δ
allowed_2s = [float(delta_for_br(INTERVALS[2][0] / p_inv_star)),
              float(delta_for_br(min(INTERVALS[2][1], b_kstar_max) / p_inv_star))]
print(f"P_inv at the relic alpha_X = {alpha_star:.3e}: {p_inv_star:.8f}")
p_star = params(alpha_star, DELTA_HAT)
mumu_star = float(dp.br_b_to_k(p_star) * dp.width_to_leptons(p_star, "mu") / dp.total_width(p_star))
print(f"BR(B+->K+X) BR(X->mumu) at (relic alpha_X, best-fit delta): {mumu_star:.2e}")
print(f"relic line, Belle II 2 sigma, allowed by B->K*: delta in [{allowed_2s[0]:.3e}, {allowed_2s[1]:.3e}]")
print(f"B->K* excludes delta > {delta_for_br(b_kstar_max / p_inv_star):.3e} at the relic alpha_X")
one_sigma_allowed = INTERVALS[1][0] < b_kstar_max
ratio_needed = kstar_limit / INTERVALS[1][0]
print(f"1 sigma band allowed by B->K* nu nu: {one_sigma_allowed} (1 sigma upper end {INTERVALS[1][1]:.3e}, "
      f"K* bound {b_kstar_max:.3e}); K*/K ratio needed to exclude the whole 1 sigma band: {ratio_needed:.2f}")
alpha_pinv_half = float(fa_alpha[np.argmin(np.abs(a_pinv[0] - 0.5))])
print(f"P_inv = 1/2 at alpha_X ~ {alpha_pinv_half:.2e} (m_psi = {M_PSI}): below, the Belle II bands bend up")
RESULTS.update(p_inv_at_relic=p_inv_star, br_k_times_br_mumu_at_relic=mumu_star,
               delta_allowed_2sigma_on_relic_line=allowed_2s,
               one_sigma_allowed_by_kstar=bool(one_sigma_allowed),
               kstar_over_k_ratio_to_exclude_1sigma=ratio_needed, alpha_p_inv_half=alpha_pinv_half)

# %% [markdown]
# ### Figure A vs [C]
#
# Numbers below are from the full run (printed above and in the JSON); the FAST run agrees to the digits
# quoted.
#
# | quantity | [C] | bkdm | comment |
# |---|---|---|---|
# | ε (BaBar bound) | 10⁻³ (fixed) | 10⁻³ (input) | |
# | BR(B→K*X)/BR(B→KX) at 2.1 GeV, [C] (47) | stripped | 1.536 | docs/validation.md §7.18: 1.54 (asserted) |
# | cτ_X, SM decays only | "prompt" (value stripped) | 8×10⁻⁶ mm | prompt ✓ |
# | BR(X→ψψ) at the relic point | "effectively 100 %" | 1 − 1.3×10⁻⁴ | ✓ |
# | Belle II best-fit m_X | stripped (Fridell et al.) | 2.10 GeV (Δχ² ≤ 1: 2.0–2.2) | 2nd dip: 2.4–2.6 |
# | B_inv at 2.1 GeV: best; 1σ; 2σ | stripped | 8.7; 6.2–11.2; 3.9–14.0 (×10⁻⁶) | SM: Δχ² = 13.2 |
# | δ (ε_Z) for the excess | stripped | 4.4×10⁻³ (1.0×10⁻⁴); 2σ: 2.9–5.6×10⁻³ | |
# | B→K*νν̄ boundary | covers the 1σ band, not all 2σ | δ > 6.3×10⁻³ (B_inv > 1.76×10⁻⁵) | **differs** |
# | α_X at Ωh² = 0.12 (m_ψ = 0.3, m_h′ = 0.05) | stripped | 2.33×10⁻³ (±2σ: 2.29–2.36×10⁻³) | |
# | heavier m_h′ | "allows larger α_X" | 1.94×10⁻³ (0.25 GeV), 2.23×10⁻³ (0.299) | **differs** (NR artefact) |
#
# **Agreement.** The structure [C] describes is reproduced: horizontal Belle II bands (B→KX fixed by
# ε_Z ≃ (m_X/m_Z)δ, BR(X→ψψ) ≃ 1) that bend upwards only below α_X ≈ 3×10⁻⁷, where Γ(X→ψψ) stops
# dominating the SM widths (≈2.4×10⁻⁸ GeV at ε = 10⁻³); a B→K*νν̄ exclusion above them; a vertical relic
# line with overclosure to its left (v_S = m_X/g_X ≫ m_ψ); a narrow Planck band (±1.5 % in α_X).
#
# **Difference 1 — 1σ vs B→K*νν̄.** [C] concludes that the dark photon *cannot* explain the excess at 1σ
# because of B→K*νν̄, only at 2σ. With bkdm's Belle II likelihood the K* bound (B_inv < 1.76×10⁻⁵ through
# the fixed ratio 1.536) lies above the whole 2σ band (upper end 1.40×10⁻⁵): the 1σ band is allowed.
# Excluding the whole 1σ band would need a K*/K ratio of 4.3 instead of 1.54, so the form factors (the
# same Gubernari–van Dyk et al. sets in both) or g_bs (which moves the bands and the K* boundary together
# in δ) cannot explain it. The likely reason is the B_NP interval: [C] takes it from Fridell et al.,
# while bkdm fits the published Belle II likelihood with its q²-dependent efficiencies. An SM-shaped
# excess would need (μ̂ − 1)×4.97×10⁻⁶ ≈ 1.8×10⁻⁵ (published μ̂ = 4.6), but a 2.1 GeV line gives 1.80×
# more ITA signal-region events per unit BR than the SM spectrum (computed above), so bkdm needs only
# 8.7×10⁻⁶. A 1σ range starting above ~1.8×10⁻⁵ would reproduce [C]'s conclusion. Adding the SM
# B→K*νν̄ (~10⁻⁵, not in the project data) to the new-physics rate would cut only the top of our 1σ band.
# The stripped numbers do not allow a closer check.
#
# **Difference 2 — heavier dark Higgs.** [C] says that tuning m_h′ allows larger α_X. In bkdm the
# required α_X is −16 % at m_h′ = 0.25 GeV and still −4 % at m_h′ = 0.299 GeV (r = m_h′/m_ψ = 0.997),
# relative to m_h′ = 0.05 GeV. The leading-order p-wave coefficient (docs/physics/dark-photon.md §4.5,
# [C] (48)) first grows with r (×1.50 at r ≈ 0.86), then falls as √(1 − r²). Through (48)
# alone the ratios would be 0.83 and 1.54 (printed above): larger α_X only for m_h′ within a few % of m_ψ. The
# exact Gondolo–Gelmini average in bkdm removes that √(1 − r²) suppression, because at freeze-out (x_f ≈ 20)
# the kinetic energy (≈ 3T/2 ≈ 20 MeV per ψ) is much larger than the 1 MeV mass gap. So m_h′ → m_ψ does not
# need larger α_X in bkdm. [C] solves its Boltzmann equation with the leading-order (48)
# ("to leading order in v"), so its statement is most likely this near-threshold artefact of the v-expansion.
#
# Measured once outside this notebook, so as not to add a second solver compile to the CI run:
# `freeze_out.solve(lambda T, p: dp.sigma_v_thermal_nr(p, p.m_psi / T), p, p.m_psi, 2.0)` at
# α_X = 2.3275×10⁻³, m_ψ = 0.3 GeV gives Ωh² = 0.1015, 0.0719, 0.2211 for m_h′ = 0.05, 0.25, 0.299 GeV.
# The exact bkdm values at the same point are 0.1200, 0.0865, 0.1110. So (48) also sets Ωh² 15 %
# lower (α_X 8 % lower at Ωh² = 0.12) than the exact average, an O(1/x_f) correction.
#
# Over 0.05 ≤ m_h′ < m_ψ bkdm's α_X spans 1.94–2.33×10⁻³, the "narrow blue band" of [C].
#
# **LHCb B⁺→K⁺μμ (yellow in [C]): not drawn.** [C] turns LHCb's binned B⁺→K⁺μ⁺μ⁻ (arXiv:1403.8044),
# minus the SM predictions of Datta et al. (2210.15662) Tab. 1, into an upper limit on
# BR(B⁺→K⁺X)·BR(X→μμ) in one q² bin. Both the limit and the bin are stripped from our copy, and neither
# the LHCb table nor those SM numbers are in the project's data, so we cannot draw this exclusion. The
# dotted lines are bkdm's BR(B⁺→K⁺X)·BR(X→μμ) = 10⁻⁹, 10⁻⁸, 10⁻⁷. At the relic α_X and the best-fit δ
# the product is 2.5×10⁻¹⁰, since BR(X→μμ) ≈ Γ_μμ/Γ_ψψ ≈ 3×10⁻⁵. A bin limit of order 10⁻⁹–10⁻⁸ would
# exclude only α_X ≲ 10⁻⁶–10⁻⁵ at the Belle II δ, far to the left of the relic line. This matches [C]:
# the relic region is not constrained by LHCb.

# %% [markdown]
# ## Figure B: m_ψ vs α_X at δ = δ̂ (Belle II best fit), m_h′ = 0.05 GeV, m_X = 2.1 GeV, ε = 10⁻³
#
# Here the Belle II bands are the regions where P_inv(α_X, m_ψ) keeps B_inv = BR(B⁺→K⁺X)(δ̂)·P_inv inside
# the 1σ/2σ intervals: everywhere except small α_X and the X → ψψ threshold m_ψ → m_X/2, where the ψψ
# width (∝ α_X β³) no longer dominates the SM widths (~2×10⁻⁸ GeV).

# %%
fb_mpsi = np.linspace(0.06, 1.0499, N_FINE)
fb_alpha = np.geomspace(1e-9, 1.0, N_FINE)
BM, BA = np.meshgrid(fb_mpsi, fb_alpha)
b_binv, b_kstar, b_mumu, b_pinv = evaluate(BA, DELTA_HAT, BM)
b_dchi2 = delta_chi2_belle2(b_binv)

fig, ax = plt.subplots(figsize=(7, 5))
draw_common(ax, BM, BA, b_dchi2, b_kstar, b_mumu)
RM, RA = np.meshgrid(mpsi_relic, alpha_relic, indexing="ij")
log_om = np.log(omega_grid)
ax.contourf(RM, RA, log_om, levels=np.log(OMEGA_BAND), colors=["#1f4fbf"], alpha=0.35)
ax.contour(RM, RA, log_om, levels=[np.log(OMEGA_DM_H2)], colors=["#1f4fbf"], linewidths=1.6,
           linestyles="solid")
ax.set_yscale("log")
ax.set_xlabel(r"$m_\psi$ [GeV]")
ax.set_ylabel(r"$\alpha_X$")
ax.set_title(rf"bkdm: $m_X$ = {M_X} GeV, $\varepsilon$ = {EPS:g}, $\delta$ = {DELTA_HAT:.2e} "
             rf"(Belle II best fit), $m_{{h'}}$ = {M_HP} GeV", fontsize=9)
relic_b = [plt.Line2D([], [], color="#1f4fbf", label=r"$\Omega h^2=0.12$"),
           plt.Rectangle((0, 0), 1, 1, color="#1f4fbf", alpha=0.35,
                         label=rf"Planck $\pm2\sigma$ [{OMEGA_BAND[0]:.4f}, {OMEGA_BAND[1]:.4f}]")]
ax.legend(handles=LEGEND + relic_b, fontsize=7, loc="lower left")
fig.tight_layout()
fig.savefig(FIG_DIR / f"{NAME}_mpsi_alpha.png", dpi=130)
plt.close(fig)

# allowed m_ψ range along the relic contour: relic α_X(m_ψ) from each grid column, then Belle II 2σ + K*
binv_on_relic, kstar_on_relic, _, pinv_on_relic = evaluate(column_alpha, DELTA_HAT, mpsi_relic)
dchi2_on_relic = delta_chi2_belle2(binv_on_relic)
kstar_ok = kstar_on_relic <= KSTAR_LEVEL
ok1, ok2 = (dchi2_on_relic <= 1) & kstar_ok, (dchi2_on_relic <= 4) & kstar_ok
print(f"relic line (m_h' = {M_HP}) on the grid m_psi = {mpsi_relic[0]:.2f}-{mpsi_relic[-1]:.2f} GeV:")
for i in [*range(0, N_POINTS - 1, max(1, N_POINTS // 8)), N_POINTS - 1]:
    print(f"  m_psi = {mpsi_relic[i]:.3f}: alpha_X = {column_alpha[i]:.3e}, P_inv = {pinv_on_relic[i]:.6f}, "
          f"Belle II Delta chi2 = {dchi2_on_relic[i]:.2f}")
print(f"points in Belle II 1 sigma (2 sigma), allowed by B->K*: {ok1.sum()} ({ok2.sum()}) of {N_POINTS}")
RESULTS.update(relic_line_mpsi=mpsi_relic.tolist(), relic_line_alpha=column_alpha.tolist(),
               relic_line_belle2_delta_chi2=dchi2_on_relic.tolist(), relic_line_allowed_1sigma=ok1.tolist(),
               relic_line_allowed_2sigma=ok2.tolist())

# %% [markdown]
# ### Figure B vs [C]
#
# **[C]:** the right abundance lies in a narrow blue band of α_X vs m_ψ at fixed m_h′, with Ωh² ∝ 1/⟨σv⟩
# ∝ m_X⁴/(α_X² m_ψ²) (docs/physics/dark-photon.md §4.5). DM masses are restricted to m_ψ ≳ (stripped)
# MeV so that freeze-out precedes BBN, with m_h′ < m_ψ < m_X/2.
#
# **bkdm:** the relic line falls from α_X = 8.2×10⁻³ at m_ψ = 0.07 GeV to 6.7×10⁻⁴ at 1.04 GeV. That is
# roughly α_X ∝ 1/m_ψ, modified by r = m_h′/m_ψ and by the slow drift of x_f and g_*. The Planck ± 2σ
# band is about ±1.5 % in α_X, "narrow" as [C] says.
#
# At δ = δ̂ the Belle II 1σ region covers the plane above α_X ~ 10⁻⁶, except a sliver at the ψψ
# threshold. There P_inv ≥ 0.72 (the 1σ lower edge over B̂) needs Γ_ψψ ∝ α_X β³ ≥ 2.6 Γ_SM, which at
# the relic α_X fails only within ≈0.5 % of m_X/2. The whole relic line on the grid (0.07–1.04 GeV) lies
# inside the 1σ band: P_inv ≥ 0.87 even at 1.04 GeV. B→K*νν̄ is not reached at δ̂.
#
# The allowed m_ψ range is therefore set only by the mass ordering m_h′ < m_ψ < m_X/2 and by the
# BBN/NA62 lower bound on m_h′ (stripped in [C]). This agrees with [C]'s text. In this plane δ only
# scales the overall rate, so the 1σ-vs-K* difference of Figure A does not show: at δ̂ the K* limit is a
# factor 2.0 away.

# %%
RESULTS.update(m_x=M_X, epsilon=EPS, m_psi=M_PSI, m_hp=M_HP, m_hp_lines=list(M_HP_LINES),
               n_points=N_POINTS)
TIMES["total"] = time.time() - T_START
RESULTS["seconds"] = TIMES
print("wall-clock seconds per stage:", {k: round(v, 1) for k, v in TIMES.items()})
(FIG_DIR / f"{NAME}.json").write_text(json.dumps(RESULTS, indent=1))
print(f"wrote {FIG_DIR / (NAME + '.json')}")
