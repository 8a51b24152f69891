# %% [markdown]
# # [D] Figs. 4 and 5 — DM temperature variable y(x) and yield Y(x) near the resonance
#
# **Paper:** K. Ding, Y. Li, X. Liu, Y. Liu, C.-T. Lu, B. Zhu, *Resonant ALP-portal dark matter
# annihilation as a solution to the B± → K±νν̄ excess*, arXiv:2504.00383 ([D]), Sec. 4.2:
# **Fig. 4** — y(x) = m_χT_χ/s^{2/3} ([D] (4.7)) from the coupled equations (cBE) for r = m_χ/m_a =
# 0.45, 0.49, 0.50, with the bath value y_eq = m_χT/s^{2/3} (gray); **Fig. 5** — the yield Y(x) from
# the cBE vs the standard NBE (gray dashed), left panel r = 0.45 (sub-resonance), right panel
# r = 0.49 and 0.50 (resonance).
#
# **Inputs**
#
# | input | value |
# |---|---|
# | m_a | 1 GeV (caption of Fig. 4) |
# | r | 0.45, 0.49, 0.50 |
# | g_aχχ | 10⁻² GeV⁻¹ (as in Figs. 2, 3; not restated in the captions of Figs. 4, 5) |
# | g_aγγ = g_aWW | solved for Ω_NBE h² = 0.120 (points of the Fig. 3 curve, discussed with Figs. 4, 5) |
# | cBE | `kinetic_decoupling.solve` with resonant_alp's ⟨σv⟩, ⟨σv⟩₂, γ |
# | NBE | the same with γ = 10¹⁰ H̃ (T_χ = T at every x) |
# | evolution | from the library's start point (x = 1 for the cBE here, x ≈ 15 for the NBE) to x = 10⁴ |
# | solver | `bkdm.cosmo.solver.DEFAULT` (Kvaerno5, rtol 1e-8, atol 1e-6), NR Fokker–Planck ⟨C_el⟩₂ |
# | normalisation | both: "consistent" (solid) and "as_printed" (docs/physics/conventions.md §8.6) |
#
# One vmapped `resonant_alp.relic_with_rate_factors(..., history=N)` is compiled for all six
# (r, normalisation)
# points and both methods (normalisation as exact factors 4 × ⟨σv⟩, ⟨σv⟩₂ and ½ × γ; NBE as
# γ = 10¹⁰ H̃ — see the Fig. 2 notebook for why, and the Fig. 3 notebook for the check against
# `resonant_alp.relic(p, "nbe")`).
#
# **Run:** `python notebooks/d_fig45_yields.py` (full) or
# `BKDM_NOTEBOOK_FAST=1 python notebooks/d_fig45_yields.py` (CI subset), from the repository root.
# Figures: `notebooks/figures/d_fig45_yields_fig4.png`, `..._fig5.png`, `..._averages.png`;
# numbers: `notebooks/figures/d_fig45_yields.json`.

# %%
import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from bkdm.constants import OMEGA_DM_H2
from bkdm.cosmo import thermo
from bkdm.inference.relic_target import solve_log_batch
from bkdm.models import resonant_alp as ra

FAST = os.environ.get("BKDM_NOTEBOOK_FAST", "0") == "1"
N_HISTORY = 60 if FAST else 240  # saved points of Y(x), y(x) (log grid from the start to x = 1e4)
N_AVERAGE = 12 if FAST else 60  # temperatures of the ⟨σv⟩₂/⟨σv⟩ panel
NAME = "d_fig45_yields"
FIG_DIR = "notebooks/figures"
os.makedirs(FIG_DIR, exist_ok=True)
T_START_WALL = time.perf_counter()
RESULTS = {"fast": FAST}

M_A = 1.0  # GeV
G_ACHICHI = 1e-2  # GeV⁻¹
# [D]'s cosmology figures reach g_aWW = g_aγγ ~ 0.1 GeV⁻¹ far from the resonance, where BR(B → K a) > 1:
# the points are built with br_limit=False (relic accepted; the B-decay BRs would be NaN there)
R_VALUES = (0.45, 0.49, 0.50)
COLOURS = {0.45: "tab:blue", 0.49: "tab:orange", 0.50: "tab:green"}  # [D] Fig. 4's colours
# (factor on ⟨σv⟩ and ⟨σv⟩₂, factor on γ) relative to resonant_alp's "consistent" rates
# (docs/physics/conventions.md §8.6)
NORMALISATIONS = {"consistent": (1.0, 1.0), "as_printed": (4.0, 0.5)}
NBE_HUBBLE_FACTOR = 1e10  # NBE: γ = 10¹⁰ H̃ keeps T_χ = T (to ~1e-10) at every x, the cBE become the NBE


def relic_history(m_chi, g_agg, ann_factor, gamma_factor, hubble_factor):
    """cBE result with history for m_a = 1 GeV, g_aχχ = 1e-2 GeV⁻¹, g_aγγ = g_aWW = g_agg,
    with ⟨σv⟩, ⟨σv⟩₂ × ann_factor and γ(T) → gamma_factor γ(T) + hubble_factor H̃(T)
    (``resonant_alp.relic_with_rate_factors``)."""
    p = ra.Params.cb_equals_cw(m_a=M_A, m_chi=m_chi, g_agg=g_agg, g_achichi=G_ACHICHI, br_limit=False)
    return ra.relic_with_rate_factors(p, ann_factor, gamma_factor, hubble_factor, history=N_HISTORY)


history_batch = jax.jit(jax.vmap(relic_history))


def run(m_chi, g_agg, ann, gam, hub):
    """The batched solve on numpy inputs (one compiled shape and dtype)."""
    return history_batch(*(jnp.asarray(a, dtype=jnp.float64) for a in (m_chi, g_agg, ann, gam, hub)))


def log_omega_ratio(m_chi, g_agg, ann, gam, hub):
    """ln(Ωh²/0.12) for a batch (NaN where a solve failed)."""
    res = run(m_chi, g_agg, ann, gam, hub)
    om, ok = np.asarray(res.omega_h2), np.asarray(res.status) == 0
    return np.where(ok, np.log(np.where(ok, om, 1.0) / OMEGA_DM_H2), np.nan)


def coupling_for_relic(m_chi, ann, gam, hub, g_start, tol=5e-6, iterations=15):
    """g_aγγ with Ωh² = 0.12 at every batch point (``relic_target.solve_log_batch``: secant in
    (ln g, ln Ω), slope −2 (Ω ∝ g⁻²) where the secant is unusable). Ω(g) is only smooth to the solver's
    ~1e-6–1e-5, so a few points can stall there; returns (g, |ln Ω/0.12|, steps)."""
    return solve_log_batch(lambda g: log_omega_ratio(m_chi, g, ann, gam, hub), g_start, tol=tol,
                           iterations=iterations)


# %% [markdown]
# ## Couplings (Ω_NBE h² = 0.12) and the two evolutions

# %%
names = list(NORMALISATIONS)
points = [(r, k) for k in names for r in R_VALUES]
m_b = np.array([r * M_A for r, _ in points])
ann_b = np.array([NORMALISATIONS[k][0] for _, k in points])
gam_b = np.array([NORMALISATIONS[k][1] for _, k in points])
cbe_b, nbe_b = np.zeros(len(points)), np.full(len(points), NBE_HUBBLE_FACTOR)

t0 = time.perf_counter()
g_b, res, steps = coupling_for_relic(m_b, ann_b, gam_b, nbe_b, np.full(len(points), 1e-4))
print(f"NBE couplings: {steps} secant steps, {time.perf_counter() - t0:.1f} s (incl. compilation), "
      f"max |ln Omega/0.12| = {res.max():.1e}")
assert np.all(res < 3e-5), "root search did not converge"  # solver-accuracy floor (see the Fig. 2 notebook)
t0 = time.perf_counter()
nbe = jax.tree_util.tree_map(np.asarray, run(m_b, g_b, ann_b, gam_b, nbe_b))
cbe = jax.tree_util.tree_map(np.asarray, run(m_b, g_b, ann_b, gam_b, cbe_b))
print(f"histories: {time.perf_counter() - t0:.1f} s")
assert np.all(nbe.status == 0) and np.all(cbe.status == 0), "a solve failed"



def late_slope(x, y):
    """ln(Y(x_final)/Y(x_final/10))/ln 10, Y at x_final/10 interpolated in ln x between saved points."""
    return float(np.log(y[-1] / np.exp(np.interp(np.log(x[-1] / 10), np.log(x), np.log(y)))) / np.log(10))


def first_below(x, y, x_ref, y_ref):
    """First saved x > 100 with Y_cBE(x) < Y_NBE(x) (NBE interpolated in ln x), or None."""
    below = (x > 100) & (np.log(y) < np.interp(np.log(x), np.log(x_ref), np.log(y_ref)))
    return float(x[below][0]) if below.any() else None


table = {}
print(" normalisation   r     g_agg [GeV^-1]   Omega_NBE h^2   Omega_cBE h^2   cBE/NBE   max T_chi/T"
      "   min T_chi/T  (x < 1e3)")
for i, (r, k) in enumerate(points):
    ratio_t = cbe.y_history[i] / cbe.y_eq_history[i]  # y/y_eq = T_χ/T
    early = cbe.x_history[i] < 1e3
    table[f"{k} r={r}"] = {
        "r": r, "normalisation": k, "g_agg_GeV^-1": float(g_b[i]), "omega_nbe_h2": float(nbe.omega_h2[i]),
        "omega_cbe_h2": float(cbe.omega_h2[i]), "omega_ratio": float(cbe.omega_h2[i] / nbe.omega_h2[i]),
        "x_start": float(cbe.x_start[i]), "max_tchi_over_t": float(ratio_t.max()),
        "x_at_max_tchi_over_t": float(cbe.x_history[i][np.argmax(ratio_t)]),
        "min_tchi_over_t_below_x1e3": float(ratio_t[early].min()),
        "tchi_over_t_at_x_final": float(cbe.temperature_ratio_final[i]),
        # kinetic decoupling: first x where T_χ/T leaves 1 by more than 1 %
        "x_kinetic_decoupling": float(cbe.x_history[i][np.argmax(np.abs(ratio_t - 1) > 0.01)]),
        # first x > 100 where the cBE yield has fallen below the NBE one (None if never)
        "x_cbe_below_nbe": first_below(cbe.x_history[i], cbe.yield_history[i], nbe.x_history[i],
                                       nbe.yield_history[i]),
        # mean d ln Y/d ln x over the last decade, x = 1e3 … 1e4 (0 once frozen out)
        "dlnY_dlnx_last_decade_cbe": late_slope(cbe.x_history[i], cbe.yield_history[i]),
        "dlnY_dlnx_last_decade_nbe": late_slope(nbe.x_history[i], nbe.yield_history[i])}
    t = table[f"{k} r={r}"]
    print(f" {k:12s} {r:5.2f}    {t['g_agg_GeV^-1']:.4e}       {t['omega_nbe_h2']:.5f}         "
          f"{t['omega_cbe_h2']:.5f}       {t['omega_ratio']:6.3f}    {t['max_tchi_over_t']:7.3f} "
          f"(x={t['x_at_max_tchi_over_t']:.0f})"
          f"   {t['min_tchi_over_t_below_x1e3']:.3f}")
print("kinetic decoupling (|T_chi/T - 1| > 1 %) at x =",
      ", ".join(f"{t['x_kinetic_decoupling']:.1f} ({key})" for key, t in table.items()))
print("Y_cBE < Y_NBE from x =", ", ".join(f"{t['x_cbe_below_nbe']} ({key})" for key, t in table.items()))
print("d ln Y/d ln x over x = 1e3…1e4 (cBE, NBE):\n  "
      + "\n  ".join(f"{key}: {t['dlnY_dlnx_last_decade_cbe']:+.3f}, {t['dlnY_dlnx_last_decade_nbe']:+.3f}"
                    for key, t in table.items()))
RESULTS["points"] = table
every = max(1, N_HISTORY // 60)  # the JSON keeps ≤ 60 points per curve (the end point included)
keep = lambda a: np.concatenate([a[:-1:every], a[-1:]]).tolist()
RESULTS["histories"] = {f"{k} r={r}": {"x": keep(cbe.x_history[i]), "Y_cbe": keep(cbe.yield_history[i]),
                                       "y_cbe": keep(cbe.y_history[i]), "x_nbe": keep(nbe.x_history[i]),
                                       "Y_nbe": keep(nbe.yield_history[i])}
                        for i, (r, k) in enumerate(points)}

# %%
x_bath = np.geomspace(1.0, ra.X_FINAL, 200)
fig, axes = plt.subplots(2, 2, figsize=(10.0, 7.0), sharex=True)
for col, k in enumerate(names):
    for i, (r, kk) in enumerate(points):
        if kk != k:
            continue
        x, y, y_eq = cbe.x_history[i], cbe.y_history[i], cbe.y_eq_history[i]
        axes[0, col].loglog(x, y, color=COLOURS[r], lw=1.8, label=f"cBE, r = {r}")
        axes[1, col].semilogx(x, y / y_eq, color=COLOURS[r], lw=1.8, label=f"r = {r}")
        axes[0, col].loglog(x_bath, thermo.y_eq(r * M_A, r * M_A / x_bath), color="gray", lw=0.8)
    axes[0, col].set_title(f"[D] Fig. 4 — normalisation {k}", fontsize=10)
    axes[0, col].set_ylabel(r"$y = m_\chi T_\chi/s^{2/3}$")
    axes[0, col].text(1.2, 3e3, r"gray: bath, $y_{\rm eq}=m_\chi T/s^{2/3}$", fontsize=8, color="gray")
    axes[0, col].legend(frameon=False, fontsize=8, loc="lower right")
    axes[1, col].axhline(1.0, color="gray", lw=0.8)
    axes[1, col].set_yscale("log")
    axes[1, col].set_ylabel(r"$y/y_{\rm eq}=T_\chi/T$")
    axes[1, col].set_xlabel(r"$x = m_\chi/T$")
    axes[1, col].legend(frameon=False, fontsize=8)
fig.tight_layout()
fig.savefig(f"{FIG_DIR}/{NAME}_fig4.png", dpi=120)
plt.close(fig)

fig, axes = plt.subplots(2, 2, figsize=(10.0, 7.0), sharex=True)
panels = {0: (0.45,), 1: (0.49, 0.50)}
line = {0.45: "-", 0.49: "-", 0.50: "-."}
for row, k in enumerate(names):
    for col, rs in panels.items():
        ax = axes[row, col]
        for i, (r, kk) in enumerate(points):
            if kk != k or r not in rs:
                continue
            colour = "tab:blue" if col == 0 else "tab:red"
            ax.loglog(cbe.x_history[i], cbe.yield_history[i], line[r], color=colour, lw=1.8,
                      label=f"cBE, r = {r} (Ωh² = {cbe.omega_h2[i]:.3f})")
            ax.loglog(nbe.x_history[i], nbe.yield_history[i], "--" if r != 0.50 else ":", color="gray",
                      lw=1.3, label=f"NBE, r = {r} (Ωh² = 0.12)")
            ax.loglog(x_bath, thermo.yield_eq(r * M_A, 2.0, r * M_A / x_bath), color="k", lw=0.5, alpha=0.4)
        ax.set_ylim(1e-12, 1e-2)
        ax.set_title(f"[D] Fig. 5 {'left' if col == 0 else 'right'} — {k}", fontsize=10)
        ax.set_ylabel(r"$Y = n_\chi/s$")
        ax.legend(frameon=False, fontsize=8)
        if row == 1:
            ax.set_xlabel(r"$x = m_\chi/T$ (thin black: $Y_{\rm eq}$)")
fig.tight_layout()
fig.savefig(f"{FIG_DIR}/{NAME}_fig5.png", dpi=120)
plt.close(fig)

# %% [markdown]
# ## The mechanism in [D]'s words: ⟨σv⟩ vs ⟨σv⟩₂
#
# [D] explains the cooling at r = 0.45 with "in the sub-resonant regime ⟨σv⟩_{T_χ} < ⟨σv⟩_{2,T_χ}":
# in (4.9) the term sY[⟨σv⟩_{T_χ} − ⟨σv⟩_{2,T_χ}] then lowers y (annihilation removes the faster
# particles, ⟨σv⟩₂ weights them by p²/(3E T)); on the resonance the sign flips and the DM heats.
# The ratio ⟨σv⟩₂/⟨σv⟩ as a function of x′ = m_χ/T′ at each point's coupling ("consistent"; the
# ratio does not depend on the normalisation, which multiplies both averages by the same factor):

# %%
x_avg = np.geomspace(5.0, 1e4, N_AVERAGE)
averages_ratio = jax.jit(jax.vmap(jax.vmap(
    lambda m, g, x: (lambda p: ra.thermal_sigma_v_2(m / x, p) / ra.thermal_sigma_v(m / x, p))(
        ra.Params.cb_equals_cw(m_a=M_A, m_chi=m, g_agg=g, g_achichi=G_ACHICHI, br_limit=False)),
    in_axes=(None, None, 0)), in_axes=(0, 0, None)))
sv_ratio = np.asarray(averages_ratio(jnp.asarray(m_b[:3]), jnp.asarray(g_b[:3]), jnp.asarray(x_avg)))
fig, ax = plt.subplots(figsize=(6.0, 4.0))
for j, r in enumerate(R_VALUES):
    ax.semilogx(x_avg, sv_ratio[j], color=COLOURS[r], lw=1.8, label=f"r = {r}")
    above = x_avg[sv_ratio[j] > 1.0]
    print(f"r = {r}: <sigma v>_2/<sigma v> from {sv_ratio[j].min():.3f} to {sv_ratio[j].max():.3f} "
          f"for x' = {x_avg[0]:.0f}…{x_avg[-1]:.0f}; > 1 for x' >= "
          f"{above.min() if above.size else np.nan:.1f}")
ax.axhline(1.0, color="gray", lw=0.8)
ax.set_xlabel(r"$x' = m_\chi/T'$")
ax.set_ylabel(r"$\langle\sigma v\rangle_2/\langle\sigma v\rangle$ at $T'$")
ax.set_yscale("log")
ax.legend(frameon=False)
fig.tight_layout()
fig.savefig(f"{FIG_DIR}/{NAME}_averages.png", dpi=120)
plt.close(fig)
RESULTS["sigma_v_2_over_sigma_v"] = {"x_prime": x_avg.tolist(),
                                     **{f"r={r}": sv_ratio[j].tolist() for j, r in enumerate(R_VALUES)}}

# %% [markdown]
# ## Comparison with [D]
#
# [D] quotes no numbers for Figs. 4 and 5; its text makes four statements. bkdm (values printed
# above; "consistent", the "as_printed" numbers agree to < 0.5 % except where noted):
#
# * **r = 0.45, Fig. 4 (blue): resonant annihilation depletes f_χ above its peak,
#   ⟨σv⟩_{T_χ} < ⟨σv⟩_{2,T_χ}, and y declines.** Reproduced: ⟨σv⟩₂/⟨σv⟩ > 1 for x′ ≳ 8.4 (up to
#   ≈ 4.6), and y drops below y_eq at x ≈ 16 and stays there (T_χ/T ≈ 0.01 by x = 10³, never above 1).
# * **r = 0.45, Fig. 5 left: earlier chemical decoupling, larger relic density.** Reproduced:
#   Ω_cBE h² = 1.77, i.e. 14.7 × the NBE value.
# * **r = 0.49 and 0.50, Fig. 4 (orange, green): depletion below the peak, the velocity dispersion
#   grows after kinetic decoupling.** Reproduced: ⟨σv⟩₂ < ⟨σv⟩ while the DM is hot (x′ ≲ 40 at
#   r = 0.49, everywhere at r = ½, where the ratio tends to ½), and T_χ/T peaks at 1.65 (r = 0.49)
#   and 2.2 (r = 0.50) around x ≈ 26–27 before the DM cools.
# * **Exact resonance, Fig. 5 right: the faster residual DM annihilates more, the abundance is
#   reduced.** Reproduced at r = 0.50 (Ω_cBE/Ω_NBE = 0.164); at r = 0.49 the net effect is an
#   *increase* (1.31) — [D] does not say which of its right-panel curves is which.
#
# **Caveat at r = ½ (the size of the reduction).** There the pole sits at threshold (a → χχ closed,
# Γ_a/m_a ~ 10⁻¹⁸) and ⟨σv⟩ ∝ x′^{3/2} keeps growing as the DM cools, so the annihilation never
# freezes out: Y still falls as x^{−0.50} (NBE — 1/Y ∝ √x, as ⟨σv⟩ ∝ x^{3/2} implies) and x^{−1.28}
# (cBE, T_χ ∝ a⁻²) over x = 10³…10⁴ (printed slopes; 0.000 at r = 0.45, 0.49), and the cBE
# curve (above the NBE one after kinetic decoupling at x ≈ 10, while the DM is heated) crosses below
# it only at x ≈ 10³. Ω at r = ½ therefore depends on the end point x = 10⁴ that [D] and bkdm use
# (docs/physics/resonant-alp.md §5.6): stopping at x = 10³ would give a ratio ≈ 1,
# and the reduction grows beyond 10⁴.
#
# Other remarks: the normalisation changes the couplings by 2 (r = 0.45, 0.49) or 4 (r = ½, where
# ⟨σv⟩ ∝ g_aγγ) but not these curves — γ is negligible at these couplings, kinetic equilibrium before
# freeze-out being kept by annihilation and inverse annihilation. The saved history between solver
# steps comes from diffrax's dense output of D = ln(Y/Y_eq) ≈ x, so at x ≳ 10³ the plotted Y carries
# ~1 % interpolation noise (the end point, hence Ωh², is exact). Possible sources of differences in
# detail from [D]'s curves: the g_*s table (Wantz–Shellard here, docs/physics/resonant-alp.md §5.6),
# the NR ⟨C_el⟩₂, the dropped χa → χa (A.5).

# %%
for k in names:
    t45, t49, t50 = (table[f"{k} r={r}"] for r in R_VALUES)
    # [D] Sec. 4.2 / Fig. 4: at r = 0.45 the DM cools below the bath (y declines) …
    assert t45["max_tchi_over_t"] <= 1.0 + 1e-6, f"r = 0.45 heated ({k})"
    assert t45["min_tchi_over_t_below_x1e3"] < 0.9, f"r = 0.45 not cooled ({k})"
    # … and at r = 0.49 and 0.50 it is heated above it
    assert t49["max_tchi_over_t"] > 1.1 and t50["max_tchi_over_t"] > 1.1, f"no heating on the resonance ({k})"
    # Fig. 5 left: the cBE relic density at r = 0.45 is larger than the NBE one
    assert t45["omega_ratio"] > 1.5, f"no EKD increase at r = 0.45 ({k})"
    # Fig. 5 right / Fig. 3: at the exact resonance the cBE abundance is reduced
    assert t50["omega_ratio"] < 1.0, f"no reduction at r = 0.50 ({k})"
# [D]: "in the sub-resonant regime ⟨σv⟩_{T_χ} < ⟨σv⟩_{2,T_χ}". Sub-resonant means the thermal kinetic
# energy per pair, ε ≈ 3/(2x′), lies below the pole ε_R = 1/(4r²) − 1 (0.235 at r = 0.45); checked for
# x′ ≥ 3/ε_R = 12.8, where 3/(2x′) ≤ ε_R/2. (Hotter, the thermal peak sits on or above the pole and
# the ordering flips: ⟨σv⟩₂/⟨σv⟩ = 1 at x′ ≈ 8.5.)
eps_r = 1 / (4 * 0.45**2) - 1
assert np.all(sv_ratio[0][x_avg >= 3 / eps_r] > 1.0), "<sigma v>_2 < <sigma v> at r = 0.45 (sub-resonant)"

# %%
RESULTS["wall_time_s"] = time.perf_counter() - T_START_WALL
with open(f"{FIG_DIR}/{NAME}.json", "w") as fh:
    json.dump(RESULTS, fh, indent=2)
print(f"done in {RESULTS['wall_time_s']:.1f} s")
