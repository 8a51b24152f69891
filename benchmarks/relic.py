"""Relic-density benchmark: bkdm's JAX Boltzmann solves against scipy Radau on the same equations.

Cases (representative points of the three models; masses in GeV, couplings in GeV⁻¹ for the
resonant ALP):

* dark photon, freeze-out NBE ψψ → h′h′: m_X = 2.1, ε = 1e-3, δ = 0, α_X = 0.05, m_ψ = 0.3, m_h′ = 0.05;
* ALP, freeze-in [C] (27)–(28): ``Params.universal(m_a=2.1, f_a=1.5e8, c_q=1, c_sb_v=1, c_chi=1,
  m_chi=1e-3)``;
* resonant ALP, coupled (Y, y) system with kinetic decoupling (cBE) and the plain NBE (to x → ∞):
  m_a = 1, m_χ = 0.49, g_aγγ = g_aWW = 1.1165e-5, g_aχχ = 1e-2.

For each case: trace+lower and XLA compile time of one solve; single-point time (median of
``--repeat`` calls of the compiled solve, SolverSettings DEFAULT) with the solver's step count;
vmapped throughput over ``--points`` points spread around the representative point (failures =
points with status ≠ 0); forward-mode Jacobian of Ωh² w.r.t. three parameters (``jax.jacfwd``)
and its ratio to one solve — the solve, the Jacobian and one jvp are timed interleaved, one call of
each per round, so that the ratios see the same machine load.

Reference (accuracy-matched): bkdm's error is |Ωh²(DEFAULT)/Ωh²(PRECISE) − 1|. The scipy reference
of :mod:`bkdm.cosmo.reference` is run on the same equations with its thermal rates tabulated from
the same bkdm functions (⟨σv⟩, ⟨σv⟩₂, γ, production rate) before timing; its error at rtol is
|Ωh²(rtol)/Ωh²(rtol = 1e-12) − 1|. rtol is scanned from 1e-3 towards 1e-10 until two values reach
bkdm's error; the faster of them is used, and the speed-up is t(Radau at that rtol)/t(bkdm single
point).
Only the ``solve_ivp(method="Radau")`` call is timed (the tabulation of the rates, spline set-up,
the w(T) quadrature of the cBE reference and the analytic tail of the freeze-out reference are
excluded), while the bkdm time is the whole computation (start point, rate tables with their
thermal-average quadratures, solve, tail): the ratio favours scipy.

Run ``python benchmarks/relic.py [--quick] [--points N] [--cases dark-photon,alp,...]``.
"""

import contextlib
import dataclasses
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import jax
import jax.numpy as jnp
import numpy as np

from bkdm.cosmo import reference as ref
from bkdm.cosmo import solver as slv
from bkdm.models import alp, resonant_alp
from bkdm.models import dark_photon as dp

TITLE = "Relic density (bkdm vs scipy Radau)"
FORWARD = slv.SolverSettings(forward_mode=True)
RADAU_RTOLS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)
RADAU_RTOLS_QUICK = (1e-3, 1e-4, 1e-5, 1e-6)
RADAU_CONVERGED_RTOL = 1e-12
RADAU_MATCHES = 2  # the rtol scan (loose → tight) stops after this many rtols reach bkdm's accuracy


@dataclasses.dataclass(frozen=True)
class Case:
    """One relic computation: ``solve(p, settings)`` → bkdm result (with omega_h2, status, num_steps);
    ``spread``: {field: relative half-width} of the log-uniform batch around ``point``;
    ``grad``: the parameters of the forward-mode Jacobian; ``reference(p, result)`` → a function
    rtol ↦ Ωh² running the scipy reference; ``target``: (single-point time [s], vmapped points/s)."""

    key: str
    title: str
    point: object
    solve: object
    spread: dict
    grad: tuple
    reference: object
    target: tuple
    ties: tuple = ()  # (field, copied from field) after drawing the batch


# ------------------------------------------------------------------------------- scipy references
def _scalar_cache(fn):
    """Memoise a scalar T ↦ float function (the reference evaluates its grid afresh on every call)."""
    return functools.lru_cache(maxsize=None)(lambda T: float(fn(T)))


def _dark_photon_reference(p, result):
    sv = jax.jit(lambda T: dp.thermal_sigma_v(T, p))
    sv_of_t = _scalar_cache(sv)
    m = float(p.m_psi)
    return lambda rtol: ref.freeze_out(sv_of_t, m, 2.0, x_start=5.0, rtol=rtol)[0]


def _alp_reference(p, result):
    lp = jax.jit(jax.vmap(lambda T: alp.log_production_rate(T, p)))
    w_dm = float(alp.width_to_dm(p))
    w_sm = float(alp.total_width(p)) - w_dm

    def window(T):  # alp.quark_plasma_fraction in numpy (no JAX dispatch inside the Radau RHS)
        return 0.5 * (1.0 + np.tanh((T - alp.QCD_TRANSITION_T) / alp.QCD_TRANSITION_WIDTH))

    args = (lambda T: np.asarray(lp(jnp.asarray(T))), float(p.m_a), 1.0, float(p.m_chi), 4.0, w_sm, w_dm,
            alp.T_START, float(result.x_end))
    return lambda rtol: ref.freeze_in(*args, window=window, rtol=rtol)[0]


def _resonant_cbe_reference(p, result):
    def vec(f):
        g = jax.jit(jax.vmap(lambda T: f(T, p)))
        return lambda T: np.asarray(g(jnp.asarray(T)))

    args = (vec(resonant_alp.thermal_sigma_v), vec(resonant_alp.thermal_sigma_v_2),
            vec(resonant_alp.momentum_transfer_rate), float(p.m_chi), 2.0, float(result.x_start),
            resonant_alp.X_FINAL)
    return lambda rtol: ref.kinetic_decoupling(*args, rtol=rtol)[0]


def _resonant_nbe_reference(p, result):
    sv = jax.jit(lambda T: resonant_alp.thermal_sigma_v(T, p))
    sv_of_t = _scalar_cache(sv)
    m = float(p.m_chi)
    return lambda rtol: ref.freeze_out(sv_of_t, m, 2.0, x_start=5.0, rtol=rtol)[0]


DARK_PHOTON = dp.Params(m_x=2.1, epsilon=1e-3, delta=0.0, alpha_x=0.05, m_psi=0.3, m_hp=0.05)
ALP = alp.Params.universal(m_a=2.1, f_a=1.5e8, c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=1e-3)
RESONANT = resonant_alp.Params(m_a=1.0, m_chi=0.49, g_agg=1.1165e-5, g_aww=1.1165e-5, g_achichi=1e-2)

CASES = (
    Case("dark-photon", "dark photon, freeze-out (NBE)", DARK_PHOTON, lambda p, s: dp.relic(p, s),
         {"m_x": 0.1, "alpha_x": 0.1, "m_psi": 0.1}, ("m_x", "alpha_x", "m_psi"), _dark_photon_reference,
         (1e-3, 5000.0)),
    Case("alp", "ALP, freeze-in", ALP, lambda p, s: alp.relic(p, s),
         {"m_a": 0.1, "f_a": 0.1, "m_chi": 0.1}, ("m_a", "f_a", "m_chi"), _alp_reference, (5e-3, 1000.0)),
    Case("resonant-cbe", "resonant ALP, cBE (kinetic decoupling)", RESONANT,
         lambda p, s: resonant_alp.relic(p, "cbe", s),
         {"m_chi": 0.01, "g_agg": 0.1, "g_achichi": 0.1}, ("m_chi", "g_agg", "g_achichi"),
         _resonant_cbe_reference, (1e-2, 300.0), ties=(("g_aww", "g_agg"),)),
    Case("resonant-nbe", "resonant ALP, NBE (x → ∞)", RESONANT,
         lambda p, s: resonant_alp.relic(p, "nbe", s, x_final=None),
         {"m_chi": 0.01, "g_agg": 0.1, "g_achichi": 0.1}, ("m_chi", "g_agg", "g_achichi"),
         _resonant_nbe_reference, (1e-3, 5000.0), ties=(("g_aww", "g_agg"),)),
)
CASE_KEYS = tuple(c.key for c in CASES)


# ------------------------------------------------------------------------------- helpers
def _numeric_fields(p):
    """The array-valued fields of a Params (static options such as ``normalisation`` left out)."""
    return {k: v for k, v in p.as_dict().items() if not isinstance(v, str)}


def batch_around(case, n, seed=0):
    """``case.point`` with array fields: n points log-uniform within ×(1 ± spread) of the listed fields."""
    rng = np.random.default_rng(seed)
    fields = {}
    for name, value in _numeric_fields(case.point).items():
        v = float(value)
        if name in case.spread:
            h = case.spread[name]
            fields[name] = v * np.exp(rng.uniform(np.log(1 - h), np.log(1 + h), n))
        else:
            fields[name] = np.full(n, v)
    for name, source in case.ties:
        fields[name] = fields[source]
    return dataclasses.replace(case.point, **{k: jnp.asarray(v) for k, v in fields.items()})


def with_theta(case, theta):
    """``case.point`` with the Jacobian parameters replaced by the entries of ``theta``."""
    changes = {name: theta[i] for i, name in enumerate(case.grad)}
    for name, source in case.ties:
        if source in changes:
            changes[name] = changes[source]
    return dataclasses.replace(case.point, **changes)


@contextlib.contextmanager
def radau_timer():
    """Time every ``solve_ivp`` call made by :mod:`bkdm.cosmo.reference` (list of (seconds, solution))."""
    calls = []
    original = ref.solve_ivp

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        sol = original(*args, **kwargs)
        calls.append((time.perf_counter() - t0, sol))
        return sol

    ref.solve_ivp = timed
    try:
        yield calls
    finally:
        ref.solve_ivp = original


def run_reference(run, rtol, repeat):
    """Median Radau time [s] over ``repeat`` runs, Ωh², steps, RHS and Jacobian evaluations."""
    times, omega, sol = [], None, None
    for _ in range(repeat):
        with radau_timer() as calls:
            omega = float(run(rtol))
        (t, sol), = calls
        times.append(t)
    return {"rtol": rtol, "time": common.Timing.of(times), "omega_h2": omega, "steps": int(len(sol.t) - 1),
            "nfev": int(sol.nfev), "njev": int(sol.njev), "nlu": int(sol.nlu), "success": bool(sol.success)}


def reference_comparison(case, result, bkdm_error, repeat, rtols=RADAU_RTOLS):
    """Radau on the same equations at the fastest rtol at least as accurate as bkdm (module doc)."""
    run = case.reference(case.point, result)
    converged = run_reference(run, RADAU_CONVERGED_RTOL, 1)
    scan, matching = [], []
    for rtol in rtols:
        r = run_reference(run, rtol, repeat)
        r["error"] = abs(r["omega_h2"] / converged["omega_h2"] - 1.0)
        scan.append(r)
        if r["error"] <= bkdm_error and r["success"]:
            matching.append(r)
        if len(matching) == RADAU_MATCHES:  # tighter rtols are only slower
            break
    chosen = min(matching, key=lambda r: r["time"].median) if matching else scan[-1]
    return {"converged": converged, "scan": scan, "chosen": chosen, "matched": bool(matching)}


# ------------------------------------------------------------------------------- one case
def bench_case(case, points, repeat, ref_repeat, with_reference=True, rtols=RADAU_RTOLS):
    out = {"title": case.title, "point": {k: float(v) for k, v in _numeric_fields(case.point).items()}}
    solve_default = lambda p: case.solve(p, slv.DEFAULT)
    solve_precise = lambda p: case.solve(p, slv.PRECISE)

    compiled, info = common.compile_timed(solve_default, case.point)
    out["compile"] = info
    # the single solve is timed together with the derivatives below (interleaved: same machine load)
    result = compiled(case.point)
    if int(result.status) != 0:
        raise slv.SolverError(f"{case.title}: the representative point failed ({int(result.status)})")
    out["omega_h2"] = float(result.omega_h2)
    out["num_steps"] = int(result.num_steps)

    precise = jax.jit(solve_precise)(case.point)
    out["omega_h2_precise"] = float(precise.omega_h2)
    out["num_steps_precise"] = int(precise.num_steps)
    out["error_default"] = abs(out["omega_h2"] / out["omega_h2_precise"] - 1.0)

    # vmapped throughput
    batch = batch_around(case, points)

    def batched(pb):
        r = jax.vmap(solve_default)(pb)
        return r.omega_h2, r.status, r.num_steps

    vcompiled, vinfo = common.compile_timed(batched, batch)
    vtiming, (omegas, status, steps) = common.time_call(vcompiled, batch, repeat=3 if points > 1 else 1,
                                                         warmup=0)
    status = np.asarray(status)
    out["vmap"] = {"points": points, "compile": vinfo, "time": vtiming,
                   "points_per_second": points / vtiming.median,
                   "failures": int(np.sum(status != 0)),
                   "failure_codes": sorted({int(s) for s in status[status != 0]}),
                   "steps_median": float(np.median(np.asarray(steps))),
                   "steps_max": int(np.max(np.asarray(steps))),
                   "omega_h2_range": [float(np.nanmin(omegas)), float(np.nanmax(omegas))]}

    # forward-mode Jacobian
    theta = jnp.asarray([float(getattr(case.point, n)) for n in case.grad])
    jac = lambda th: jax.jacfwd(lambda t: case.solve(with_theta(case, t), FORWARD).omega_h2)(th)
    gcompiled, ginfo = common.compile_timed(jac, theta)
    # one forward-mode direction (d/d first parameter) for comparison with the full Jacobian
    e0 = jnp.zeros_like(theta).at[0].set(1.0)
    jvp = lambda th: jax.jvp(lambda t: case.solve(with_theta(case, t), FORWARD).omega_h2, (th,), (e0,))
    jcompiled, jinfo = common.compile_timed(jvp, theta)
    (timing, gtiming, jtiming), (_, g, _) = common.time_interleaved(
        [(compiled, (case.point,)), (gcompiled, (theta,)), (jcompiled, (theta,))], repeat=repeat,
        max_seconds=45.0)
    out["single"] = timing
    out["gradient"] = {"parameters": list(case.grad), "compile": ginfo, "time": gtiming,
                       "ratio_to_solve": gtiming.median / timing.median,
                       "d_omega_h2": [float(x) for x in np.asarray(g)],
                       "jvp_one_direction": {"parameter": case.grad[0], "compile": jinfo, "time": jtiming,
                                             "ratio_to_solve": jtiming.median / timing.median}}

    if with_reference:
        cmp = reference_comparison(case, result, out["error_default"], ref_repeat, rtols)
        cmp["speedup"] = cmp["chosen"]["time"].median / timing.median
        converged = cmp["converged"]["omega_h2"]
        cmp["bkdm_precise_vs_radau_converged"] = abs(out["omega_h2_precise"] / converged - 1)
        out["reference"] = cmp
    out["target"] = {"single_s": case.target[0], "points_per_second": case.target[1]}
    return out


# ------------------------------------------------------------------------------- report
def _meets(ok):
    return "yes" if ok else "**no**"


def format_results(results):
    rows = []
    for key, r in results.items():
        t_single, rate, target = r["single"].median, r["vmap"]["points_per_second"], r["target"]
        jvp = r["gradient"]["jvp_one_direction"]
        rows.append([
            key, common.fmt_time(common.total_compile(r["compile"])),
            f"{r['single']} [{common.fmt_time(target['single_s'])}: "
            f"{_meets(t_single <= target['single_s'])}]",
            r["num_steps"],
            f"{common.fmt_rate(rate)} /s ({r['vmap']['points']} pts) "
            f"[{common.fmt_rate(r['target']['points_per_second'])}: "
            f"{_meets(rate >= r['target']['points_per_second'])}]",
            f"{r['vmap']['failures']}",
            f"{r['gradient']['time']} ({len(r['gradient']['parameters'])} params)",
            f"{r['gradient']['ratio_to_solve']:.2f} [1.5: {_meets(r['gradient']['ratio_to_solve'] <= 1.5)}]",
            f"{jvp['ratio_to_solve']:.2f} (d/d {jvp['parameter']})",
        ])
    text = common.markdown_table(
        ["case", "compile", "single point [target]", "steps", "vmapped [target]", "failures",
         "jacfwd", "jacfwd/solve [target]", "one jvp/solve"], rows)
    ref_rows = []
    for key, r in results.items():
        if "reference" not in r:
            continue
        c = r["reference"]
        ch = c["chosen"]
        ref_rows.append([
            key, f"{r['error_default']:.1e}", f"{r['omega_h2']:.6g}", r["num_steps"],
            f"{ch['rtol']:.0e}" + ("" if c["matched"] else " (not matched)"), f"{ch['error']:.1e}",
            f"{ch['steps']} ({ch['nfev']} f, {ch['njev']} J)", str(ch["time"]),
            f"{common.fmt_ratio(c['speedup'])} [100×: {_meets(c['speedup'] >= 100)}]",
            f"{c['bkdm_precise_vs_radau_converged']:.1e}",
        ])
    if ref_rows:
        text += "\n\n" + common.markdown_table(
            ["case", "bkdm error", "Ωh²", "bkdm steps", "Radau rtol", "Radau error", "Radau steps",
             "Radau solve", "speed-up [target]", "|bkdm PRECISE/Radau 1e-12 − 1|"], ref_rows)
        scan_lines = []
        for key, r in results.items():
            if "reference" in r:
                s = ", ".join(f"{x['rtol']:.0e}: {x['error']:.1e} in {common.fmt_time(x['time'].median)}"
                              for x in r["reference"]["scan"])
                scan_lines.append(f"- {key}: {s}")
        text += "\n\nRadau rtol scan (error vs rtol 1e-12, solve time):\n" + "\n".join(scan_lines)
    text += ("\n\nbkdm times: whole computation (start point, rate tables, solve, tail), SolverSettings "
             "DEFAULT; compile = trace + lower + XLA compile of one solve; jacfwd = forward-mode Jacobian "
             "w.r.t. all listed parameters, one jvp = a single tangent direction; errors vs PRECISE. "
             "Radau: only the solve_ivp call (tables precomputed), error vs its own rtol 1e-12 solution; "
             "speed-up = Radau time / bkdm single-point time.")
    return text


def run(quick=False, points=None, repeat=None, cases=CASE_KEYS, with_reference=True):
    """Run the relic benchmark; returns the JSON-able record (environment + per-case results)."""
    on_cpu = jax.devices()[0].platform == "cpu"
    points = points or (16 if quick else (1000 if on_cpu else 100_000))
    repeat = repeat or (5 if quick else 30)
    ref_repeat = 1 if quick else 3
    env = common.environment()
    results = {}
    for case in CASES:
        if case.key in cases:
            print(f"[relic] {case.title} ...", flush=True)
            results[case.key] = bench_case(case, points, repeat, ref_repeat, with_reference,
                                           RADAU_RTOLS_QUICK if quick else RADAU_RTOLS)
    record = {"benchmark": "relic", "environment": env, "quick": quick, "results": results}
    record["text"] = format_results(results)
    common.report(TITLE, env, record["text"])
    return record


# Kvaerno5 (the library default, rtol 1e-8 / atol 1e-6) against Rodas4 (bkdm.cosmo.rosenbrock,
# I-controller) at three tolerances: accuracy w.r.t. the PRECISE Kvaerno5 solve at the representative
# point and over the batch, steps, single-point time and forward-mode Jacobian (timed interleaved),
# vmapped throughput — same process, same points.
SOLVERS = (
    ("Kvaerno5 1e-8/1e-6 (DEFAULT)", slv.DEFAULT),
    ("Rodas4 1e-5", slv.SolverSettings(rtol=1e-5, atol=1e-5, method="rodas4", pcoeff=0.0, icoeff=1.0)),
    ("Rodas4 1e-6", slv.SolverSettings(rtol=1e-6, atol=1e-6, method="rodas4", pcoeff=0.0, icoeff=1.0)),
    ("Rodas4 1e-7", slv.SolverSettings(rtol=1e-7, atol=1e-7, method="rodas4", pcoeff=0.0, icoeff=1.0)),
)


def _solver_rows(case, points, repeat):
    precise = float(jax.jit(lambda p: case.solve(p, slv.PRECISE).omega_h2)(case.point))
    batch = batch_around(case, points)
    precise_b = np.asarray(jax.jit(jax.vmap(lambda p: case.solve(p, slv.PRECISE).omega_h2))(batch))
    theta = jnp.asarray([float(getattr(case.point, n)) for n in case.grad])
    rows, base = [], None
    for name, settings in SOLVERS:
        solve = jax.jit(functools.partial(case.solve, s=settings))  # one compile: value, steps, vmap
        single = lambda p, f=solve: f(p).omega_h2  # noqa: E731
        jac = jax.jit(jax.jacfwd(lambda t, s=settings: case.solve(with_theta(case, t), s).omega_h2))
        steps = int(solve(case.point).num_steps)
        (timing, jtiming), (r, _) = common.time_interleaved([(single, (case.point,)), (jac, (theta,))],
                                                            repeat=repeat, max_seconds=20.0)
        vb = jax.jit(jax.vmap(single))
        vtiming, ob = common.time_call(vb, batch, repeat=3)
        base = base or timing.median
        rows.append(f"| {case.title} | {name} | {abs(float(r) / precise - 1):.1e} | "
                    f"{np.nanmax(np.abs(np.asarray(ob) / precise_b - 1)):.1e} | {steps} | "
                    f"{common.fmt_time(timing.median)} | {common.fmt_time(jtiming.median)} "
                    f"({jtiming.median / timing.median:.2f}) | {points / vtiming.median:,.0f} pts/s | "
                    f"{base / timing.median:.2f}× |")
    return rows


def compare_solvers(cases=CASE_KEYS, points=200, repeat=20):
    """Markdown table of :data:`SOLVERS` on each case (see the comment above :data:`SOLVERS`)."""
    env = common.environment()
    rows = ["| case | solver | error (point) | max error (batch) | steps | single point | "
            "jacfwd (/single) | vmapped | single vs DEFAULT |", "|---|---|---|---|---|---|---|---|---|"]
    for case in CASES:
        if case.key in cases:
            print(f"[solvers] {case.title} ...", flush=True)
            rows += _solver_rows(case, points, repeat)
    text = "\n".join(rows)
    common.report("Stiff solvers: Kvaerno5 vs Rodas4", env, text)
    return {"benchmark": "solvers", "environment": env, "points": points, "text": text}


def main(argv=None):
    p = common.parser(__doc__.splitlines()[0], "1000 on a CPU, 100000 on a GPU")
    p.add_argument("--compare-solvers", action="store_true",
                   help="only the Kvaerno5 vs Rodas4 comparison (accuracy, steps, time) on the cases")
    p.add_argument("--cases", default=",".join(CASE_KEYS), help=f"comma-separated subset of {CASE_KEYS}")
    p.add_argument("--no-reference", action="store_true", help="skip the scipy Radau comparison")
    args = p.parse_args(argv)
    cases = tuple(c.strip() for c in args.cases.split(","))
    unknown = set(cases) - set(CASE_KEYS)
    if unknown:
        p.error(f"unknown cases {sorted(unknown)}; choose from {CASE_KEYS}")
    if args.compare_solvers:
        record = compare_solvers(cases, args.points or 200)
        if args.json:
            common.save_json(args.json, record)
        return
    record = run(args.quick, args.points, args.repeat, cases, not args.no_reference)
    if args.json:
        common.save_json(args.json, record)


if __name__ == "__main__":
    main()
