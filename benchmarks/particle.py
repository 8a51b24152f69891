"""Particle-layer benchmark: vmapped throughput of the full width + branching-ratio evaluation.

For each model (alp, dark-photon, resonant-alp) a ``Params`` with array fields holds ``--points``
random points (default 10⁵) in a physical range (masses in GeV, couplings as in each model's
``PARAMETERS``; the B → K* channel is open everywhere). One evaluation computes every partial width
of the mediator, the total width, BR(B⁺ → K⁺X), BR(B⁺ → K*⁺X), the invisible fraction and
BR(B⁺ → K⁺X) × invisible fraction; ``jax.jit(jax.vmap(...))`` of it is timed (compile time, and the
median of repeated calls → points/s).

References, in the same process, on the first points of the same batch:

* **eager loop** — the same bkdm functions called point by point in a Python loop without ``jit``
  (op-by-op JAX dispatch, what a plain Python scan over the API costs); the headline ratio;
* **jitted loop** — the single-point function compiled once and called point by point (one
  dispatch per point; isolates the gain from batching).

Both loops must reproduce the vmapped values (max relative difference printed).

Run ``python benchmarks/particle.py [--quick] [--points N] [--eager-points N]``.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import jax
import jax.numpy as jnp
import numpy as np

from bkdm import constants as c
from bkdm.models import alp, resonant_alp
from bkdm.models import dark_photon as dp

TITLE = "Particle layer: widths + branching ratios, vmapped"
M_MAX = 0.98 * (c.M_B_PLUS - c.M_KSTAR_PLUS)  # both B → K X and B → K* X open [GeV]


def _log_uniform(rng, lo, hi, n):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def alp_points(n, rng):
    """ALP ([C] benchmark family): m_a ∈ [0.5, M_MAX] GeV, f_a ∈ [1e6, 1e10] GeV (log), m_χ/m_a ∈
    [1e-4, 0.45] (log), c_q ∈ [0.1, 2], c_sb^V, c_sb^A ∈ [1e-2, 1] (log), c_χ ∈ [0.1, 10] (log)."""
    m_a = rng.uniform(0.5, M_MAX, n)
    return alp.Params.universal(
        m_a=m_a, f_a=_log_uniform(rng, 1e6, 1e10, n), c_q=rng.uniform(0.1, 2.0, n),
        c_sb_v=_log_uniform(rng, 1e-2, 1.0, n), c_chi=_log_uniform(rng, 0.1, 10.0, n),
        m_chi=m_a * _log_uniform(rng, 1e-4, 0.45, n), c_sb_a=_log_uniform(rng, 1e-2, 1.0, n))


def dark_photon_points(n, rng):
    """Dark photon: m_X ∈ [0.5, M_MAX] GeV, ε ∈ [1e-5, 1e-2] (log), δ ∈ [−1e-2, 1e-2],
    α_X ∈ [1e-3, 0.5] (log), m_ψ/m_X ∈ [0.05, 0.45], m_h′/m_ψ ∈ [0.05, 0.95]."""
    m_x = rng.uniform(0.5, M_MAX, n)
    m_psi = m_x * rng.uniform(0.05, 0.45, n)
    return dp.Params(m_x=m_x, epsilon=_log_uniform(rng, 1e-5, 1e-2, n), delta=rng.uniform(-1e-2, 1e-2, n),
                     alpha_x=_log_uniform(rng, 1e-3, 0.5, n), m_psi=m_psi,
                     m_hp=m_psi * rng.uniform(0.05, 0.95, n))


def resonant_points(n, rng):
    """Resonant ALP ([D], c_B = c_W): m_a ∈ [0.1, M_MAX] GeV, m_χ/m_a ∈ [0.3, 0.6],
    g_aγγ = g_aWW ∈ [1e-7, 1e-3] GeV⁻¹ (log), g_aχχ ∈ [1e-4, 1] GeV⁻¹ (log)."""
    m_a = rng.uniform(0.1, M_MAX, n)
    return resonant_alp.Params.cb_equals_cw(m_a=m_a, m_chi=m_a * rng.uniform(0.3, 0.6, n),
                                            g_agg=_log_uniform(rng, 1e-7, 1e-3, n),
                                            g_achichi=_log_uniform(rng, 1e-4, 1.0, n))


MODELS = {"alp": (alp, alp_points), "dark-photon": (dp, dark_photon_points),
          "resonant-alp": (resonant_alp, resonant_points)}


def observables(model, p):
    """Every partial width [GeV], the total width [GeV], BR(B⁺→K⁺X), BR(B⁺→K*⁺X), the invisible
    fraction and BR(B⁺→K⁺X)·P_inv of one model at ``p`` (a flat dict of arrays)."""
    out = {f"width_{k}": v for k, v in model.widths(p).items()}
    out["total_width"] = model.total_width(p)
    out["br_b_to_k"] = model.br_b_to_k(p)
    out["br_b_to_kstar"] = model.br_b_to_kstar(p)
    out["invisible_fraction"] = model.invisible_fraction(p)
    out["br_b_to_k_invisible"] = model.br_b_to_k_invisible(p)
    return out


def point(batch, i):
    """The i-th point of a batched Params (built without re-validation, outside the timing)."""
    return jax.tree.map(lambda x: x[i], batch)


def _max_rel_diff(loop_values, batched, n):
    worst = 0.0
    for key, ref in batched.items():
        a = np.asarray([v[key] for v in loop_values], dtype=float)
        b = np.asarray(ref[:n], dtype=float)
        scale = np.maximum(np.abs(b), np.finfo(float).tiny)
        worst = max(worst, float(np.max(np.abs(a - b) / scale)))
    return worst


def bench_model(name, points, eager_points, jit_loop_points, repeat, seed=0):
    model, make = MODELS[name]
    # validated on construction; scalar defaults (e.g. c_gg = 0) broadcast so that vmap maps every field
    batch = jax.tree.map(lambda x: jnp.broadcast_to(x, (points,)), make(points, np.random.default_rng(seed)))
    fn = lambda p: observables(model, p)
    compiled, info = common.compile_timed(jax.vmap(fn), batch)
    timing, values = common.time_call(compiled, batch, repeat=repeat)
    rate = points / timing.median

    # eager loop (no jit): op-by-op dispatch; one untimed point first (JAX compiles each eager op once)
    singles = [point(batch, i) for i in range(max(eager_points, jit_loop_points))]
    fn(point(batch, points - 1))
    t0 = time.perf_counter()
    eager = [{k: float(v) for k, v in fn(p).items()} for p in singles[:eager_points]]
    t_eager = time.perf_counter() - t0

    # jitted single-point function called in a loop
    single = jax.jit(fn)
    common.block(single(singles[0]))
    t0 = time.perf_counter()
    looped = [{k: float(v) for k, v in single(p).items()} for p in singles[:jit_loop_points]]
    t_loop = time.perf_counter() - t0

    eager_rate = eager_points / t_eager
    loop_rate = jit_loop_points / t_loop
    return {
        "points": points, "outputs": sorted(values), "compile": info, "time": timing,
        "points_per_second": rate, "time_per_point": timing.median / points,
        "eager_loop": {"points": eager_points, "seconds": t_eager, "points_per_second": eager_rate,
                       "max_rel_diff": _max_rel_diff(eager, values, eager_points)},
        "jit_loop": {"points": jit_loop_points, "seconds": t_loop, "points_per_second": loop_rate,
                     "max_rel_diff": _max_rel_diff(looped, values, jit_loop_points)},
        "speedup_vs_eager_loop": rate / eager_rate,
        "speedup_vs_jit_loop": rate / loop_rate,
        "nonfinite": int(sum(np.sum(~np.isfinite(np.asarray(v))) for v in values.values())),
    }


def format_results(results):
    rows = []
    for name, r in results.items():
        rows.append([
            name, r["points"], len(r["outputs"]), common.fmt_time(common.total_compile(r["compile"])),
            str(r["time"]), common.fmt_rate(r["points_per_second"]),
            f"{common.fmt_rate(r['eager_loop']['points_per_second'])} ({r['eager_loop']['points']} pts)",
            common.fmt_ratio(r["speedup_vs_eager_loop"]),
            f"{common.fmt_rate(r['jit_loop']['points_per_second'])} ({r['jit_loop']['points']} pts)",
            common.fmt_ratio(r["speedup_vs_jit_loop"]),
            f"{max(r['eager_loop']['max_rel_diff'], r['jit_loop']['max_rel_diff']):.0e}",
            r["nonfinite"],
        ])
    text = common.markdown_table(
        ["model", "points", "outputs", "compile", "vmapped batch", "points/s", "eager loop pts/s",
         "ratio", "jitted loop pts/s", "ratio", "max rel. diff", "non-finite"], rows)
    return text + ("\n\nOne point = every partial width, total width, BR(B→K X), BR(B→K* X), invisible "
                   "fraction, BR(B→K X)·P_inv. vmapped batch: jit(vmap) median time for the whole batch. "
                   "Eager loop: the same functions without jit, one point at a time (reference, ratio = "
                   "vmapped/eager points per second); jitted loop: the single-point function compiled "
                   "once and called per point. max rel. diff: loops vs vmapped values.")


def run(quick=False, points=None, eager_points=None, repeat=None, models=tuple(MODELS)):
    """Run the particle benchmark; returns the JSON-able record."""
    points = points or (1000 if quick else 100_000)
    eager_points = min(eager_points or (3 if quick else 50), points)
    jit_loop_points = min(50 if quick else 1000, points)
    repeat = repeat or (3 if quick else 10)
    env = common.environment()
    results = {}
    for name in models:
        print(f"[particle] {name} ...", flush=True)
        results[name] = bench_model(name, points, eager_points, jit_loop_points, repeat)
    record = {"benchmark": "particle", "environment": env, "quick": quick, "results": results}
    record["text"] = format_results(results)
    common.report(TITLE, env, record["text"])
    return record


def main(argv=None):
    p = common.parser(__doc__.splitlines()[0], 100_000)
    p.add_argument("--eager-points", type=int, default=None, help="points of the eager reference loop")
    args = p.parse_args(argv)
    record = run(args.quick, args.points, args.eager_points, args.repeat)
    if args.json:
        common.save_json(args.json, record)


if __name__ == "__main__":
    main()
