"""Property tests (hypothesis): random points over the full accepted parameter ranges of every model —
log-uniform, with the corners (couplings at their extremes or 0, masses at thresholds, m_χ/m_a near ½)
and a share of deliberately invalid points (negative or NaN masses, broken mass orderings) — must give
either a finite, physical value with a finite gradient, or NaN with a non-zero status. Never a silent
wrong number (issue 21: a negative Ωh², NaN gradients, BR > 1 and unvalidated traced inputs, all with
status 0).

Physical ranges are the reference (independent of the code): widths ≥ 0; 0 ≤ BR ≤ 1 with
BR(B⁺ → K⁺X) + BR(B⁺ → K*⁺X) ≤ 1; 0 ≤ invisible fraction ≤ 1; BR × P_inv ≤ BR; BR = 0 exactly where
B⁺ → K⁺X is closed (m_X ≥ m_B − m_K); Ωh² > 0, or = 0 exactly where the DM coupling vanishes; the
invalid points are recognised from the drawn inputs alone (signs, orderings) and must come back NaN
with ``STATUS_INVALID_INPUT``. Tolerances: 1e-12 on the bounds of ratios computed in floating point.

Two profiles. The default suite runs a fast one: the particle layer of the three models (4 × 256
points each, values and their derivatives along random directions) and the ALP freeze-in relic with
its Jacobian (2 × 8 points; marked slow, see there), one compiled vmapped function per model,
reused. ``-m slow`` runs the
large one: ≥ 10⁵ particle points per model and ≥ 10³ relic points per system (ALP freeze-in,
dark-photon NBE, resonant-ALP NBE and cBE), with Jacobians; its figures are in benchmarks/RESULTS.md
("Property tests"). The examples are derandomised (fixed seeds), so a failure reproduces; the failing
points are printed.
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bkdm import constants as c
from bkdm.cosmo import solver as slv
from bkdm.models import alp, dark_photon, resonant_alp

INVALID = slv.STATUS_INVALID_INPUT
TOL = 1e-12
M_K_THRESHOLD = c.M_B_PLUS - c.M_K_PLUS
QUARKS = [f"c_{q}{q}" for q in c.QUARKS]
LEPTONS = [f"c_{lep}{lep}" for lep in c.LEPTONS]


# ------------------------------------------------------------------------------------------- drawing
def log_uniform(rng, lo, hi, n, corner=0.1):
    """10^U(log lo, log hi), with a share ``corner`` of the points at lo or hi."""
    x = 10.0 ** rng.uniform(np.log10(lo), np.log10(hi), n)
    pick = rng.random(n) < corner
    return np.where(pick, np.where(rng.random(n) < 0.5, lo, hi), x)


def coupling(rng, lo, hi, n, zero=0.15, signed=False):
    """A coupling: log-uniform magnitude, exactly 0 for a share ``zero``, random sign if ``signed``."""
    x = log_uniform(rng, lo, hi, n)
    if signed:
        x = x * rng.choice([-1.0, 1.0], n)
    return np.where(rng.random(n) < zero, 0.0, x)


def ratio_below(rng, lo, n, limit=1.0, near=0.15):
    """A ratio in [lo, limit): log-uniform, with a share ``near`` at limit·(1 − 10^−U(1, 9))."""
    x = log_uniform(rng, lo, limit, n, corner=0.0) * (1.0 - 1e-12)
    close = limit * (1.0 - 10.0 ** -rng.uniform(1.0, 9.0, n))
    return np.where(rng.random(n) < near, close, x)


def near_half(rng, n, decades):
    """m_χ/m_a = ½(1 ± 10^−U(1, decades)): just below or above the a → χχ threshold."""
    return 0.5 * (1.0 + rng.choice([-1.0, 1.0], n) * 10.0 ** -rng.uniform(1.0, decades, n))


def spoil(rng, fields, n, breakers, share=0.1):
    """Make a share of the points invalid, each by one of ``breakers`` (functions (fields, i) → None that
    break a documented condition); returns the boolean mask of the spoiled points."""
    bad = rng.random(n) < share
    for i in np.flatnonzero(bad):
        breakers[rng.integers(len(breakers))](fields, i)
    return bad


def _negate(name):
    def f(fields, i):
        fields[name][i] = -abs(fields[name][i]) if fields[name][i] != 0 else -1.0
    return f


def _nan(name):
    def f(fields, i):
        fields[name][i] = np.nan
    return f


def draw_alp(rng, n, relic=False):
    """ALP points: m_a 1 MeV–10 GeV (B → K a closed above 4.78 GeV), f_a 10–10¹³ GeV, m_χ/m_a 10⁻⁷–½
    (near ½ too), quark couplings ±10⁻³–10 (one universal c_q in relic draws, the Jacobian's 4th
    variable), c_sb 10⁻⁴–10², c_χ 10⁻³–10, leptons and UV couplings ±10⁻³–10 or 0."""
    m_a = log_uniform(rng, 1e-3, 10.0, n)
    f = {"m_a": m_a, "f_a": log_uniform(rng, 10.0, 1e13, n), "m_chi": m_a * ratio_below(rng, 1e-7, n, 0.5),
         "c_chi": coupling(rng, 1e-3, 10.0, n, zero=0.1), "c_sb_v": coupling(rng, 1e-4, 1e2, n),
         "c_sb_a": coupling(rng, 1e-4, 1e2, n, zero=0.5),
         "detector_length": log_uniform(rng, 0.1, 10.0, n)}
    if relic:
        f["c_q"] = coupling(rng, 1e-3, 10.0, n, zero=0.15, signed=True)
    else:
        f.update({q: coupling(rng, 1e-3, 10.0, n, signed=True) for q in QUARKS})
        f.update({name: coupling(rng, 1e-3, 10.0, n, zero=0.5, signed=True)
                  for name in (*LEPTONS, "c_gg", "c_gamgam")})

    def heavy_dm(fields, i):
        fields["m_chi"][i] = fields["m_a"][i] * rng.uniform(0.5, 2.0)

    bad = spoil(rng, f, n, [_negate("m_a"), _negate("f_a"), _negate("m_chi"), heavy_dm, _nan("m_a"),
                            _negate("c_chi")])
    if relic:  # the points of issue 21 first: c_q = 0 (NaN Jacobian), thermalised χ depleted (Ωh² < 0)
        anchors = [dict(m_a=2.1, f_a=1.5e8, m_chi=1e-3, c_q=0.0, c_chi=1.0, c_sb_v=1.0),
                   dict(m_a=0.197, f_a=1334.0, m_chi=0.49999 * 0.197, c_q=1.0, c_chi=1.0, c_sb_v=0.0)]
        for i, anchor in enumerate(anchors[:n]):
            for k, v in {**anchor, "c_sb_a": 0.0, "detector_length": 3.0}.items():
                f[k][i] = v
            bad[i] = False
    return f, bad


def draw_dark_photon(rng, n, relic=False):
    """Dark-photon points: m_X 1 MeV–10 GeV, m_ψ/(m_X/2) and m_h′/m_ψ 10⁻⁴–1 (near 1 too), ε 10⁻⁸–1 or
    0, δ ±10⁻⁶–10 or 0, α_X 10⁻⁶–1, Q_S 0.1–10, θ 10⁻⁸–0.1 or 0."""
    m_x = log_uniform(rng, 1e-3, 10.0, n)
    m_psi = 0.5 * m_x * ratio_below(rng, 1e-4, n)
    f = {"m_x": m_x, "m_psi": m_psi, "m_hp": m_psi * ratio_below(rng, 1e-4, n),
         "epsilon": coupling(rng, 1e-8, 1.0, n), "delta": coupling(rng, 1e-6, 10.0, n, signed=True),
         "alpha_x": log_uniform(rng, 1e-6, 1.0, n), "q_s": log_uniform(rng, 0.1, 10.0, n),
         "theta": coupling(rng, 1e-8, 0.1, n, zero=0.5)}
    if relic:  # what the freeze-out sees (ψψ → h′h′): ε, δ, θ only enter the particle layer
        f["epsilon"], f["delta"], f["theta"] = np.full(n, 1e-3), np.full(n, 5e-3), np.zeros(n)

    def heavy_psi(fields, i):
        fields["m_psi"][i] = fields["m_x"][i] * rng.uniform(0.5, 2.0)
        fields["m_hp"][i] = 0.5 * fields["m_psi"][i]

    def heavy_hp(fields, i):
        fields["m_hp"][i] = fields["m_psi"][i] * rng.uniform(1.0, 3.0)

    bad = spoil(rng, f, n, [_negate("m_x"), _negate("alpha_x"), _negate("m_hp"), heavy_psi, heavy_hp,
                            _nan("m_psi")])
    return f, bad


def draw_resonant_alp(rng, n, relic=False):
    """Resonant-ALP points: m_a 1 MeV–10 GeV, m_χ/m_a 10⁻³–2 (a → χχ closed above ½; near ½ from
    both sides), couplings 10⁻¹⁰–0.1 GeV⁻¹ or 0, R 0.1–10 m. Relic draws: m_a 0.1–10 GeV, r 0.3–0.7,
    couplings 10⁻⁸–10⁻² GeV⁻¹ (the resonant regime of [D])."""
    if relic:
        m_a = log_uniform(rng, 0.1, 10.0, n)
        r = np.where(rng.random(n) < 0.3, near_half(rng, n, 7), rng.uniform(0.3, 0.7, n))
        g = {name: log_uniform(rng, 1e-8, 1e-2, n) for name in ("g_agg", "g_aww", "g_achichi")}
    else:
        m_a = log_uniform(rng, 1e-3, 10.0, n)
        r = np.where(rng.random(n) < 0.2, near_half(rng, n, 9), log_uniform(rng, 1e-3, 2.0, n))
        g = {name: coupling(rng, 1e-10, 0.1, n) for name in ("g_agg", "g_aww", "g_achichi")}
    f = {"m_a": m_a, "m_chi": m_a * r, **g, "detector_radius": log_uniform(rng, 0.1, 10.0, n)}
    bad = spoil(rng, f, n, [_negate("m_a"), _negate("m_chi"), _negate("g_agg"), _nan("m_a"),
                            _negate("detector_radius")])
    return f, bad


# ------------------------------------------------------------------------------------------- particle layer
PARTICLE = {"alp": (alp, draw_alp), "dark-photon": (dark_photon, draw_dark_photon),
            "resonant-alp": (resonant_alp, draw_resonant_alp)}


@functools.cache
def particle_function(name):
    """jit(vmap) of every interface quantity and its derivative along a direction in parameter space
    (jvp: a NaN or inf in any component of any gradient shows up in a generic direction), for model
    ``name`` — one compilation per model, reused by both profiles."""
    model = PARTICLE[name][0]

    def values(fields):
        p = model.Params(**fields)
        out = {"width_" + k: v for k, v in model.widths(p).items()}
        out.update({k: getattr(model, k)(p) for k in ("total_width", "br_b_to_k", "br_b_to_kstar",
                                                       "invisible_fraction", "br_b_to_k_invisible")})
        return out

    def outputs(fields, direction):
        out, tangents = jax.jvp(values, (fields,), (direction,))
        out.update({"d" + k: v for k, v in tangents.items()})
        out["status"] = model.validity_status(model.Params(**fields))
        return out

    return jax.jit(jax.vmap(outputs))


def direction(rng, fields):
    """A random direction, relative to each parameter's size (absolute where it is 0)."""
    return {k: jnp.asarray(rng.standard_normal(len(v)) * np.where(v != 0, np.abs(v), 1.0))
            for k, v in fields.items()}


def _show(fields, i):
    return {k: float(v[i]) for k, v in fields.items()}


def check_particle(name, fields, bad, rng):
    arrays = {k: jnp.asarray(v) for k, v in fields.items()}
    out = {k: np.asarray(v) for k, v in particle_function(name)(arrays, direction(rng, fields)).items()}
    status = out.pop("status")
    values = {k: v for k, v in out.items() if not k.startswith("d")}
    grads = {k: v for k, v in out.items() if k.startswith("d")}
    valid = status == 0
    problems = []

    def flag(mask, what):
        for i in np.flatnonzero(mask)[:3]:
            shown = ", ".join(f"{k}={v[i]:.4g}" for k, v in values.items())
            problems.append(f"{what}: {_show(fields, i)} → {shown}")

    flag(bad & (status != INVALID), "invalid input not flagged")
    for k, v in values.items():
        flag((status != 0) & ~np.isnan(v), f"{k} not NaN at status {INVALID}")
        flag(valid & ~np.isfinite(v), f"{k} not finite at status 0")
    for k, v in grads.items():
        flag(valid & ~np.isfinite(v), f"derivative {k} not finite at status 0")
    widths = [v for k, v in values.items() if k.startswith("width_")] + [values["total_width"]]
    for w in widths:
        flag(valid & (w < 0), "negative width")
    br_k, br_ks = values["br_b_to_k"], values["br_b_to_kstar"]
    flag(valid & ((br_k < 0) | (br_ks < 0) | (br_k + br_ks > 1 + TOL)), "BR outside [0, 1]")
    inv = values["invisible_fraction"]
    flag(valid & ((inv < 0) | (inv > 1 + TOL)), "invisible fraction outside [0, 1]")
    flag(valid & ((values["br_b_to_k_invisible"] < 0) | (values["br_b_to_k_invisible"] > br_k * (1 + TOL))),
         "BR × P_inv outside [0, BR]")
    mediator = fields.get("m_a", fields.get("m_x"))
    flag(valid & (mediator >= M_K_THRESHOLD) & (br_k != 0), "closed B → K X channel with BR ≠ 0")
    assert not problems, "\n".join(problems)
    return {"points": len(status), "valid": int(valid.sum()), "invalid input": int(bad.sum()),
            "outside validity (BR > 1)": int(((status == INVALID) & ~bad).sum())}


FAST_PARTICLE_BATCH = 256
FAST_EXAMPLES = 4
# fixed examples; no shrinking (a seed has no simpler form: the failing points themselves are printed)
derandomized = functools.partial(settings, deadline=None, derandomize=True, database=None,
                                 phases=[Phase.explicit, Phase.generate],
                                 suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", list(PARTICLE))
@derandomized(max_examples=FAST_EXAMPLES)
@given(seed=st.integers(0, 2**32 - 1))
def test_particle_layer_fast(name, seed):
    rng = np.random.default_rng(seed)
    fields, bad = PARTICLE[name][1](rng, FAST_PARTICLE_BATCH)
    check_particle(name, fields, bad, rng)


# ------------------------------------------------------------------------------------------- relic layer
def _alp_relic(theta, rest):
    m_a, f_a, m_chi, c_q = theta
    p = alp.Params.universal(m_a=m_a, f_a=f_a, c_q=c_q, m_chi=m_chi, **rest)
    return alp.relic(p)


def _dark_photon_relic(theta, rest):
    m_psi, m_hp, alpha_x = theta
    return dark_photon.relic(dark_photon.Params(m_psi=m_psi, m_hp=m_hp, alpha_x=alpha_x, **rest))


def _resonant(method):
    def relic(theta, rest):
        m_chi, g_agg, g_achichi = theta
        return resonant_alp.relic(resonant_alp.Params(m_chi=m_chi, g_agg=g_agg, g_achichi=g_achichi, **rest),
                                  method=method)
    return relic


# system → (relic(θ, rest), draw, names of θ (differentiated), zero-coupling field: Ωh² = 0 allowed)
RELIC = {
    "alp freeze-in": (_alp_relic, draw_alp, ("m_a", "f_a", "m_chi", "c_q"), "c_chi"),
    "dark-photon NBE": (_dark_photon_relic, draw_dark_photon, ("m_psi", "m_hp", "alpha_x"), None),
    "resonant-alp NBE": (_resonant("nbe"), draw_resonant_alp, ("m_chi", "g_agg", "g_achichi"), None),
    "resonant-alp cBE": (_resonant("cbe"), draw_resonant_alp, ("m_chi", "g_agg", "g_achichi"), None),
}


@functools.cache
def relic_function(system):
    """jit(vmap) of (Ωh², status, ∂Ωh²/∂θ by jacfwd) for one relic system (one compilation, reused)."""
    relic = RELIC[system][0]

    def one(theta, rest):
        def f(t):
            r = relic(t, rest)
            return r.omega_h2, (r.omega_h2, r.status)
        jac, (omega, status) = jax.jacfwd(f, has_aux=True)(theta)
        return omega, status, jac

    return jax.jit(jax.vmap(one))


def check_relic(system, fields, bad, rng=None):
    relic, _, names, coupling_name = RELIC[system]
    theta = jnp.stack([jnp.asarray(fields[k]) for k in names], axis=1)
    rest = {k: jnp.asarray(v) for k, v in fields.items() if k not in names}
    omega, status, jac = (np.asarray(v) for v in relic_function(system)(theta, rest))
    problems = []

    def flag(mask, what):
        for i in np.flatnonzero(mask)[:3]:
            problems.append(f"{what}: {_show(fields, i)} → Ωh² = {omega[i]:.6g}, status {status[i]}, "
                            f"jac {jac[i]}")

    ok = status == 0
    no_dm = np.zeros_like(ok) if coupling_name is None else fields[coupling_name] == 0
    flag(bad & (status != INVALID), "invalid input not flagged")
    flag(~ok & ~np.isnan(omega), "failed point not NaN")
    flag(ok & ~np.isfinite(omega), "Ωh² not finite at status 0")
    flag(ok & ~no_dm & ~(omega > 0), "Ωh² ≤ 0 at status 0")
    flag(ok & no_dm & (omega != 0), "Ωh² ≠ 0 without a DM coupling")
    flag(ok & ~np.all(np.isfinite(jac), axis=1), "non-finite Jacobian at status 0")
    assert not problems, "\n".join(problems)
    codes, counts = np.unique(status[~bad], return_counts=True)
    return {"points": len(status), "status 0": int(ok.sum()), "invalid input": int(bad.sum()),
            "status codes (valid inputs)": {int(k): int(v) for k, v in zip(codes, counts, strict=True)}}


FAST_RELIC_BATCH = 8


# slow since the merge of main's hadronic ALP widths: 543 s on the shared 2-core machine at load 5.8 (98 s
# before, cold cache), most of it compiling jit(vmap(jacfwd(relic))); c_q = 0 at status 0 stays in the
# default suite via tests/test_freeze_in.py::test_zero_quark_coupling_is_solved
@pytest.mark.slow
@derandomized(max_examples=2)
@given(seed=st.integers(0, 2**32 - 1))
def test_alp_freeze_in_relic_fast(seed):
    """The system of issue 21 items 1 and 2 (negative Ωh², NaN Jacobian at c_q = 0)."""
    fields, bad = draw_alp(np.random.default_rng(seed), FAST_RELIC_BATCH, relic=True)
    check_relic("alp freeze-in", fields, bad)


# ------------------------------------------------------------------------------------------- slow profile
SLOW_PARTICLE_POINTS = 100_352  # 49 batches of 2048
SLOW_RELIC_POINTS = 1024  # 16 batches of 64


def _slow(check, name, draw, total, batch, seed0, **kw):
    stats, t0 = [], time.perf_counter()
    for k in range(total // batch):
        rng = np.random.default_rng(seed0 + k)
        fields, bad = draw(rng, batch, **kw)
        stats.append(check(name, fields, bad, rng))
    summary = {key: sum(s[key] for s in stats) for key in stats[0] if isinstance(stats[0][key], int)}
    for key in stats[0]:
        if isinstance(stats[0][key], dict):
            merged = {}
            for s in stats:
                for code, count in s[key].items():
                    merged[code] = merged.get(code, 0) + count
            summary[key] = dict(sorted(merged.items()))
    print(f"\n[property] {name}: {summary}, {time.perf_counter() - t0:.0f} s")
    return summary


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PARTICLE))
def test_particle_layer_slow(name):
    summary = _slow(check_particle, name, PARTICLE[name][1], SLOW_PARTICLE_POINTS, 2048, 1000)
    assert summary["points"] >= 100_000 and summary["valid"] > 0.5 * summary["points"]


@pytest.mark.slow
@pytest.mark.parametrize("system", list(RELIC))
def test_relic_slow(system):
    summary = _slow(check_relic, system, RELIC[system][1], SLOW_RELIC_POINTS, 64, 2000, relic=True)
    assert summary["points"] >= 1000 and summary["status 0"] > 0.5 * summary["points"]
