# %% [markdown]
# # [D] Fig. 3 — Ω_cBE/Ω_NBE vs r = m_χ/m_a at Ω_NBE h² = 0.12
#
# **Paper:** K. Ding, Y. Li, X. Liu, Y. Liu, C.-T. Lu, B. Zhu, *Resonant ALP-portal dark matter
# annihilation as a solution to the B± → K±νν̄ excess*, arXiv:2504.00383 ([D]), Sec. 4.2, **Fig. 3**:
# the relic density from the coupled (Y, y) equations with early kinetic decoupling (cBE, [D]
# (4.8)–(4.9)) divided by the standard (NBE) one, for parameters that give Ω_NBE h² = 0.12.
#
# **Inputs**
#
# | input | value |
# |---|---|
# | m_a | 1 GeV (caption) |
# | g_aχχ | 10⁻² GeV⁻¹, fixed (as in [D] Fig. 2; the caption of Fig. 3 does not repeat it) |
# | g_aγγ | **solved for**: Ω_NBE h² = 0.120; g_aWW = g_aγγ (c_B = c_W; no effect on Ωh²) |
# | r = m_χ/m_a | 0.30 – 0.60, step 0.005 (0.05 in the fast run), plus r = ½ ± 10⁻⁵…2 × 10⁻² |
# | DM | Majorana, g_χ = 2 |
# | cBE / NBE | `kinetic_decoupling.solve` with resonant_alp's rates / the same with γ = 10¹⁰ H̃ (T_χ = T) |
# | both | from the library's start point to x = 10⁴ (`resonant_alp.X_FINAL`), solver DEFAULT |
# | normalisation | both: "consistent" (default) and "as_printed" (docs/physics/conventions.md §8.6) |
#
# Why g_aγγ is the coupling solved for: below r = ½ the width is dominated by a → χχ (Γ_aχ ≫ Γ_aγ
# at g_aχχ = 10⁻²), so the narrow-width ⟨σv⟩ ∝ Γ_aχΓ_aγ/Γ_a ≈ Γ_aγ hardly depends on g_aχχ; with
# g_aγγ fixed instead, ⟨σv⟩ saturates as g_aχχ grows and Ωh² = 0.12 would be reachable only for a
# narrow band of g_aγγ. The
# momentum-transfer rate γ ∝ g_aχχ² g_aγγ² does depend on the choice, so the ratio plotted is
# specific to g_aχχ = 10⁻² GeV⁻¹ (where γ matters at all, see below).
#
# As in the Fig. 2 notebook, a single vmapped `resonant_alp.relic_with_rate_factors` (the
# `kinetic_decoupling` solve) is compiled, with the
# normalisation as exact traced factors (4 × ⟨σv⟩, 4 × ⟨σv⟩₂, ½ × γ for "as_printed") and the NBE as
# the same system with γ = 10¹⁰ H̃ (T_χ = T at every x); the full run checks the NBE against
# `resonant_alp.relic(p, "nbe")` directly. The NBE coupling is found by a vectorised secant
# iteration in (ln g_aγγ, ln Ωh²).
#
# **Run:** `python notebooks/d_fig3_cbe_over_nbe.py` (full) or
# `BKDM_NOTEBOOK_FAST=1 python notebooks/d_fig3_cbe_over_nbe.py` (CI subset), from the repository
# root. Figure: `notebooks/figures/d_fig3_cbe_over_nbe_fig3.png`; numbers:
# `notebooks/figures/d_fig3_cbe_over_nbe.json`.

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
from scipy.special import kn

from bkdm.constants import OMEGA_DM_H2
from bkdm.cosmo import thermo
from bkdm.inference.relic_target import solve_log_batch
from bkdm.models import resonant_alp as ra

FAST = os.environ.get("BKDM_NOTEBOOK_FAST", "0") == "1"
N_LINEAR = 7 if FAST else 61  # r = 0.30 … 0.60 evenly spaced (contains r = ½)
N_NEAR = 2 if FAST else 10  # each side of r = ½: |r − ½| log-spaced in [1e-5, 2e-2]
NAME = "d_fig3_cbe_over_nbe"
FIG_DIR = "notebooks/figures"
os.makedirs(FIG_DIR, exist_ok=True)
T_START_WALL = time.perf_counter()
RESULTS = {"fast": FAST}

M_A = 1.0  # GeV
G_ACHICHI = 1e-2  # GeV⁻¹
# [D]'s cosmology figures reach g_aWW = g_aγγ ~ 0.1 GeV⁻¹ far from the resonance, where BR(B → K a) > 1:
# the points are built with br_limit=False (relic accepted; the B-decay BRs would be NaN there)
# (factor on ⟨σv⟩ and ⟨σv⟩₂, factor on γ) relative to resonant_alp's "consistent" rates
# (docs/physics/conventions.md §8.6)
NORMALISATIONS = {"consistent": (1.0, 1.0), "as_printed": (4.0, 0.5)}
NBE_HUBBLE_FACTOR = 1e10  # NBE: γ = 10¹⁰ H̃ keeps T_χ = T (to ~1e-10) at every x, the cBE become the NBE


def relic_point(m_chi, g_agg, ann_factor, gamma_factor, hubble_factor):
    """(Ωh², status) of the cBE at x = 10⁴ for m_a = 1 GeV, g_aχχ = 1e-2 GeV⁻¹, g_aγγ = g_aWW = g_agg,
    with ⟨σv⟩, ⟨σv⟩₂ × ann_factor and γ(T) → gamma_factor γ(T) + hubble_factor H̃(T)
    (``resonant_alp.relic_with_rate_factors``: one compile serves both normalisations and the NBE)."""
    p = ra.Params.cb_equals_cw(m_a=M_A, m_chi=m_chi, g_agg=g_agg, g_achichi=G_ACHICHI, br_limit=False)
    r = ra.relic_with_rate_factors(p, ann_factor, gamma_factor, hubble_factor)
    return r.omega_h2, r.status


relic_batch = jax.jit(jax.vmap(relic_point))


def log_omega_ratio(m_chi, g_agg, ann, gam, hub):
    """ln(Ωh²/0.12) for a batch (NaN where a solve failed)."""
    om, status = relic_batch(*(jnp.asarray(a, dtype=jnp.float64) for a in (m_chi, g_agg, ann, gam, hub)))
    om, ok = np.asarray(om), np.asarray(status) == 0
    return np.where(ok, np.log(np.where(ok, om, 1.0) / OMEGA_DM_H2), np.nan)


def coupling_for_relic(m_chi, ann, gam, hub, g_start, tol=5e-6, iterations=15):
    """g_aγγ with Ωh² = 0.12 at every batch point (``relic_target.solve_log_batch``: secant in
    (ln g, ln Ω), slope −2 (Ω ∝ g⁻²) where the secant is unusable). Ω(g) is only smooth to the solver's
    ~1e-6–1e-5, so a few points can stall there; returns (g, |ln Ω/0.12|, steps)."""
    return solve_log_batch(lambda g: log_omega_ratio(m_chi, g, ann, gam, hub), g_start, tol=tol,
                           iterations=iterations)


# %% [markdown]
# ## NBE coupling, then the cBE relic density at that coupling

# %%
offsets = np.geomspace(1e-5, 2e-2, N_NEAR)
r_grid = np.unique(np.round(np.concatenate([np.linspace(0.30, 0.60, N_LINEAR), 0.5 - offsets, 0.5 + offsets]),
                            12))
names = list(NORMALISATIONS)
n = r_grid.size
m_b = np.tile(r_grid * M_A, len(names))  # batch: every r for each normalisation
ann_b = np.repeat([NORMALISATIONS[k][0] for k in names], n)
gam_b = np.repeat([NORMALISATIONS[k][1] for k in names], n)
cbe_b, nbe_b = np.zeros(2 * n), np.full(2 * n, NBE_HUBBLE_FACTOR)  # hubble_factor: cBE, NBE

t0 = time.perf_counter()
g_nbe, res_nbe, it_nbe = coupling_for_relic(m_b, ann_b, gam_b, nbe_b, np.full(2 * n, 1e-4))
t_nbe = time.perf_counter() - t0
print(f"NBE root: {it_nbe} secant steps, {t_nbe:.1f} s (incl. compilation), "
      f"max |ln Omega/0.12| = {res_nbe.max():.1e}")
assert np.all(res_nbe < 3e-5), "root search did not converge everywhere"  # solver-accuracy floor (Fig. 2 nb)
t0 = time.perf_counter()
ratio_b = np.exp(log_omega_ratio(m_b, g_nbe, ann_b, gam_b, cbe_b))  # Ω_cBE h²/0.12 = Ω_cBE/Ω_NBE
print(f"cBE at the NBE coupling: {time.perf_counter() - t0:.1f} s")
assert np.all(np.isfinite(ratio_b)), "a cBE solve failed"

curves = {}
for i, k in enumerate(names):
    sl = slice(i * n, (i + 1) * n)
    curves[k] = {"g_agg_nbe": g_nbe[sl], "omega_cbe_over_nbe": ratio_b[sl]}
print("     r        g_agg (NBE, consistent)  Omega_cBE/Omega_NBE consistent   as_printed")
for j, r in enumerate(r_grid):
    print(f"  {r:9.5f}   {curves['consistent']['g_agg_nbe'][j]:.4e}            "
          f"{curves['consistent']['omega_cbe_over_nbe'][j]:8.4f}          "
          f"{curves['as_printed']['omega_cbe_over_nbe'][j]:8.4f}")
RESULTS["inputs"] = {"m_a_GeV": M_A, "g_achichi_GeV^-1": G_ACHICHI, "solved_for": "g_agg (= g_aWW)",
                     "omega_nbe_h2": OMEGA_DM_H2, "x_final": ra.X_FINAL}
RESULTS["r"] = r_grid.tolist()
RESULTS["curves"] = {k: {kk: vv.tolist() for kk, vv in v.items()} for k, v in curves.items()}

# %% [markdown]
# ## Check: the resonance at threshold (r = ½)
#
# At r = ½ exactly, a → χχ is closed, Γ_a = Γ_aγ (Γ_a/m_a ≈ 2 × 10⁻²⁰ at the coupling found) and the
# pole sits at threshold, ε_R = 0 — far narrower than the 10⁻¹² widths for which the thermal average's
# quadrature is documented. Independent check: for δ = m_aΓ_a/(4m_χ²) ≪ 1/x the Gondolo–Gelmini
# integral of (A.1) (consistent normalisation) reduces to
# σv_lab ≃ g_aχχ²g_aγγ²m_χ²/(4π(ε² + δ²)), ∫₀^∞ √ε dε/(ε² + δ²) = π/√(2δ), so
# ⟨σv⟩ ≃ 2x K₁(2x)/K₂(x)² · g_aχχ²g_aγγ²m_χ²/(4π) · π/√(2δ)  (corrections O(δx), O(√δ)).

# %%
g_half = float(curves["consistent"]["g_agg_nbe"][np.isclose(r_grid, 0.5)][0])
p_half = ra.Params.cb_equals_cw(m_a=M_A, m_chi=0.5 * M_A, g_agg=g_half, g_achichi=G_ACHICHI, br_limit=False)
delta = float(M_A * ra.total_width(p_half) / (4 * 0.25 * M_A**2))
print(f"r = 1/2: g_agg = {g_half:.4e} GeV^-1, Gamma_a/m_a = {float(ra.total_width(p_half)) / M_A:.2e}")
for x in (5.0, 20.0, 100.0):
    bkdm_sv = float(ra.thermal_sigma_v(0.5 * M_A / x, p_half))
    analytic = (2 * x * kn(1, 2 * x) / kn(2, x) ** 2 * (G_ACHICHI * g_half * 0.5 * M_A) ** 2 / (4 * np.pi)
                * np.pi / np.sqrt(2 * delta))
    print(f"  x = {x:5.1f}: <sigma v> = {bkdm_sv:.6e} GeV^-2, threshold-peak formula {analytic:.6e}, "
          f"ratio - 1 = {bkdm_sv / analytic - 1:.1e}")
    assert abs(bkdm_sv / analytic - 1) < 1e-6, "threshold resonance"  # neglected terms O(δx) ~ 1e-18

# %%
fig, axes = plt.subplots(2, 1, figsize=(6.4, 7.2), gridspec_kw={"height_ratios": [3, 2]})
style = {"consistent": dict(color="tab:blue", lw=1.8), "as_printed": dict(color="tab:orange", lw=1.1)}
for ax in axes:
    for k in names:
        x_axis = r_grid if ax is axes[0] else r_grid - 0.5
        ax.plot(x_axis, curves[k]["omega_cbe_over_nbe"], "-o", ms=2.5, label=f"normalisation: {k}",
                **style[k])
    ax.axhline(1.0, color="gray", lw=0.7)
    ax.set_yscale("log")
    ax.set_ylabel(r"$\Omega_{\rm cBE}/\Omega_{\rm NBE}$")
for edge in (0.37, 0.48, 0.55):  # [D]'s region boundaries
    axes[0].axvline(edge, color="gray", ls=":", lw=0.8)
axes[0].text(0.372, 0.42, "[D]: sub-resonance", fontsize=7, color="gray")
axes[0].text(0.502, 0.42, "super-res.", fontsize=7, color="gray")
axes[0].set_xlabel(r"$r=m_\chi/m_a$")
axes[0].set_title(r"[D] Fig. 3: $m_a=1$ GeV, $g_{a\chi\chi}=10^{-2}$ GeV$^{-1}$, $g_{a\gamma\gamma}$ from "
                  r"$\Omega_{\rm NBE}h^2=0.12$", fontsize=9)
axes[0].legend(frameon=False, fontsize=8)
axes[1].set_xscale("symlog", linthresh=1e-5)
axes[1].set_xlim(-0.03, 0.03)
axes[1].set_xlabel(r"$r-1/2$ (symmetric log scale, linear within $\pm10^{-5}$)")
fig.tight_layout()
fig.savefig(f"{FIG_DIR}/{NAME}_fig3.png", dpi=120)
plt.close(fig)

# %%
summary = {}
for k in names:
    ratio = curves[k]["omega_cbe_over_nbe"]
    imax, imin = int(np.argmax(ratio)), int(np.argmin(ratio))
    below = r_grid < 0.5
    onset = r_grid[below & (ratio > 1.05)].min()  # where EKD starts to matter below the resonance
    dip_start = r_grid[(r_grid > 0.49) & (ratio < 1.0)].min()  # where Ω_cBE drops below Ω_NBE near r = ½
    summary[k] = {"max_ratio": float(ratio[imax]), "r_at_max": float(r_grid[imax]),
                  "min_ratio": float(ratio[imin]), "r_at_min": float(r_grid[imin]),
                  "ratio_at_half": float(ratio[np.isclose(r_grid, 0.5)][0]),
                  "onset_r_ratio_above_1.05": float(onset),
                  "r_where_ratio_drops_below_1": float(dip_start),
                  "ratio_at_r_0.30": float(ratio[0]), "ratio_at_r_0.60": float(ratio[-1])}
    s = summary[k]
    print(f"{k:10s}: max {s['max_ratio']:.2f} at r = {s['r_at_max']:.4f}; min {s['min_ratio']:.3f} at "
          f"r = {s['r_at_min']:.5f}; ratio > 1.05 from r = {s['onset_r_ratio_above_1.05']:.3f}; ratio < 1 "
          f"from r = {s['r_where_ratio_drops_below_1']:.5f}; "
          f"r = 0.30: {s['ratio_at_r_0.30']:.4f}, r = 0.60: {s['ratio_at_r_0.60']:.4f}")
    # [D]: far from the resonance (r < 0.37, r > 0.55) "excellent agreement" — no number quoted; checked
    # at the ends of the range, r = 0.30 and 0.60, within 5 % (vs factors ~20 near r = 0.42); measured ≤ 2.6 %
    assert abs(s["ratio_at_r_0.30"] - 1) < 0.05 and abs(s["ratio_at_r_0.60"] - 1) < 0.05, f"far ({k})"
    # [D]: sub-resonance region 0.37 ≲ r ≲ 0.48: EKD increases the relic density
    in_sub = (r_grid >= 0.37) & (r_grid <= 0.48)
    assert np.all(ratio[in_sub] > 1.0), f"Omega_cBE < Omega_NBE in the sub-resonance region ({k})"
    # [D]: "narrow dip near the resonance position" — the exact resonance reduces the abundance
    assert s["ratio_at_half"] < 1.0 and abs(s["r_at_min"] - 0.5) < 1e-3, f"no dip at r = 1/2 ({k})"
RESULTS["summary"] = summary

# %% [markdown]
# ## Comparison with [D]
#
# [D]'s headline ratios are withheld in our copy; the text describes the curve region by region.
# bkdm (numbers printed above; full run):
#
# * **r < 0.37 and r > 0.55: "excellent agreement".** "consistent": 1.007 (r = 0.30) … 1.023 (0.34),
#   1.08 (0.35), 1.33 (0.36); 0.97–0.985 for r = 0.56–0.60. "as_printed": 1.015 … 1.10 (0.34),
#   1.31 (0.35), 2.07 (0.36); 0.955–0.975 for r = 0.56–0.60.
# * **Sub-resonance 0.37 ≲ r ≲ 0.48: EKD, the relic density increases.** "consistent": > 1 throughout,
#   2.9 (r = 0.37), maximum 22.2 at r = 0.415, 2.1 (0.48). "as_printed": the same within 0.5 % for
#   r ≥ 0.40 (maximum 22.3).
# * **Resonance 0.48 ≲ r ≲ 0.5: "narrow dip near the resonance position".** Local minimum 1.28
#   (r = 0.485), 1.86 (r = 0.498), then a dip: below 1 from r ≈ 0.49995, minimum 0.164 at r = ½,
#   back to 0.96 ("consistent") or 1.01 ("as_printed") by r ≈ 0.5016 — a width of ~10⁻³ in r (both
#   options identical below r = ½, where γ plays no role).
# * **Conclusion, item 2: "in resonant regions (r ≈ 0.4–0.5) EKD effects … amplify relic densities
#   substantially".** bkdm: Ω_cBE/Ω_NBE ≥ 1.27 for 0.36 ≤ r ≤ 0.499 (both options), ≥ 2 for
#   0.37 ≤ r ≤ 0.48.
# * **Super-resonance 0.5 ≲ r ≲ 0.55: "practically negligible".** "consistent": 0.89–0.96 for
#   r = 0.505–0.55 (a 4–11 % decrease); "as_printed": 0.93–1.02.
#
# **Agreements.** The structure of [D]'s Fig. 3 is reproduced: ratio ≈ 1 far from the resonance; a
# large enhancement (up to ≈ 22) in the sub-resonance region, where the depletion of the fast tail
# cools the DM and shuts the resonance off (Fig. 4/5 notebook); and a narrow dip (Ω_cBE < Ω_NBE) at
# the exact resonance r = ½.
#
# **Differences and likely reasons.**
# 1. *Onset of the sub-resonance rise.* bkdm's ratio exceeds 1.05 from r = 0.35 ("consistent") or
#    0.335 ("as_printed") and is 1.3–2.1 at r = 0.36, where [D] reports agreement for r < 0.37. The
#    onset is where the elastic rate γ still matters: the weaker "as_printed" γ (½ × (A.4), and a 2×
#    smaller g_aγγ) moves it further out. A momentum-transfer rate larger than bkdm's — e.g. [D]'s
#    χa → χa (A.5), dropped here as e^{−m_a/T}-suppressed and unusable as printed — or a coarse r
#    grid in [D] would explain a boundary at 0.37. The consistent normalisation is the closer of the two.
# 2. *Super-resonance decrease of 4–11 %*, which [D] calls negligible: above the pole σv falls with
#    energy, so the cooling after kinetic decoupling raises ⟨σv⟩_{T_χ}; the size again depends on γ
#    (it differs between the two normalisations) and may be below the resolution of [D]'s figure.
# 3. *The dip.* Its width (~10⁻³ in r) and depth depend on how close to r = ½ one samples: the NBE
#    coupling changes by two orders of magnitude within |r − ½| ~ 10⁻⁵ (a → χχ closes exactly at
#    m_a = 2m_χ, [D] (A.2), (A.3), leaving Γ_a/m_a ~ 10⁻¹⁸), and at r = ½ the annihilation never
#    freezes out (⟨σv⟩ ∝ x^{3/2} at a threshold pole), so Ω there depends on the end point x = 10⁴
#    used by [D] and bkdm (Fig. 4/5 notebook). [D]'s minimum value is withheld.
# 4. *Size of the enhancement* (≈ 22 at r ≈ 0.415): withheld in [D]. It is the same for both
#    normalisations to < 1 % for 0.40 ≤ r < ½ — there γ is irrelevant and kinetic equilibrium before
#    freeze-out is kept by annihilation and inverse annihilation — so it is a property of the moment
#    equations (4.8)–(4.9) themselves. Remaining systematics: the g_*s table (Wantz–Shellard vs
#    DRAKE's Drees–Hajkarim–Schmitz, docs/physics/resonant-alp.md §5.6) and NR vs exact ⟨C_el⟩₂
#    (docs/physics/resonant-alp.md §5.4).

# %% [markdown]
# ## Full run only: the NBE emulation vs `resonant_alp.relic(p, "nbe")`
#
# One extra compile of the library's own NBE solver ("consistent"; the "as_printed" NBE differs only
# by the exactly checked factor 4 in ⟨σv⟩), at six points of the curve, evaluated at the NBE coupling
# found above: Ω_NBE h² must be 0.12 to the solvers' accuracy (tolerance 2e-4: two different
# solvers, each ~1e-5).

# %%
if not FAST:
    t0 = time.perf_counter()
    pick = np.searchsorted(r_grid, [0.30, 0.40, 0.45, 0.49, 0.5, 0.55])
    nbe_library = jax.jit(jax.vmap(lambda m, g: ra.relic(
        ra.Params.cb_equals_cw(m_a=M_A, m_chi=m, g_agg=g, g_achichi=G_ACHICHI, br_limit=False),
        "nbe").omega_h2))
    om_lib = np.asarray(nbe_library(jnp.asarray(r_grid[pick] * M_A),
                                    jnp.asarray(curves["consistent"]["g_agg_nbe"][pick])))
    dev = om_lib / OMEGA_DM_H2 - 1
    print(f"resonant_alp.relic(p, 'nbe') at the emulated-NBE couplings ({time.perf_counter() - t0:.1f} s):")
    for r, o, d in zip(r_grid[pick], om_lib, dev, strict=True):
        print(f"  r = {r:.4f}: Omega h^2 = {o:.6f} (relative deviation {d:+.1e})")
    RESULTS["nbe_library_check"] = {"r": r_grid[pick].tolist(), "omega_h2": om_lib.tolist()}
    assert np.all(np.abs(dev) < 2e-4), "NBE emulation differs from resonant_alp.relic(p, 'nbe')"

# %%
RESULTS["wall_time_s"] = time.perf_counter() - T_START_WALL
with open(f"{FIG_DIR}/{NAME}.json", "w") as fh:
    json.dump(RESULTS, fh, indent=2)
print(f"done in {RESULTS['wall_time_s']:.1f} s")
