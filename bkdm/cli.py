"""The ``bkdm`` command line: model summaries, relic densities, fits, scans and plots.

    bkdm info  --model alp [--set f_a=2e8 ...] [--relic]
    bkdm relic --model dark-photon [--set ...] [--method cbe|nbe] [--plot FILE]
    bkdm fit   fits/alp_freeze_in.toml [--method best-fit|nuts] [--quick] [--out DIR] [--seed N] [--profile N]
    bkdm scan  fits/alp_freeze_in.toml [--points N] [--plane m_a,f_a] [--out DIR] [--quick]
    bkdm plot  results/alp-freeze-in

Input errors (bad fit file, unknown parameter, value outside the allowed range, failed relic solve)
end with one line on stderr and exit code 2; set ``BKDM_DEBUG=1`` for the full traceback.
"""

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

UNITS = """\
units: GeV for masses, energies and widths (natural units, hbar = c = 1); GeV^-1 for dimensionful
couplings (resonant-alp g_agg, g_aww, g_achichi); f_a in GeV; metres for lengths (alp
detector_length, resonant-alp detector_radius, decay lengths c*tau). Other couplings are
dimensionless. Each model's parameters, units and allowed ranges: `bkdm info --model NAME`."""

# Default parameter points of `bkdm info` / `bkdm relic` (fit-level names, aliases and ties allowed).
BENCHMARKS = {
    # SPEC §2.7: illustrative point reproducing [C]'s benchmark statements (m_chi = 1 MeV)
    "alp": {"m_a": 2.1, "f_a": 1.5e8, "m_chi": 1e-3, "c_q": 1.0, "c_sb_v": 1.0, "c_sb_a": 0.0, "c_chi": 1.0},
    # [C] Sec. III ordering m_h' < m_psi < m_x/2; delta gives BR(B+ -> K+ X) ≈ 1e-5, alpha_x gives
    # Omega h^2 ≈ 0.12 (the start point of fits/dark_photon.toml)
    "dark-photon": {"m_x": 2.1, "epsilon": 1e-3, "delta": 5e-3, "alpha_x": 2.33e-3, "m_psi": 0.3,
                    "m_hp": 0.05, "q_s": 1.0, "theta": 0.0},
    # [D]: r = m_chi/m_a = 0.477 (Table 1), c_B = c_W (g_aww = g_agg), R = 1.5 m; g_achichi gives
    # Omega h^2 ≈ 0.12 with the cBE (the start point of fits/resonant_alp.toml)
    "resonant-alp": {"m_a": 2.0, "r": 0.477, "g_agg": 1e-4, "g_aww": "g_agg", "g_achichi": 3.7e-5,
                     "detector_radius": 1.5},
}
# internal degrees of freedom of the DM in each model's relic solve (for Y_eq of freeze-out plots)
DM_DOF = {"alp": 4.0, "dark-photon": 2.0, "resonant-alp": 2.0}
RELIC_HISTORY = 200
DEBUG_ENV = "BKDM_DEBUG"


# ---------------------------------------------------------------------------------------- helpers
def _say(*args):
    print(*args, flush=True)


def _parse_sets(items):
    """["name=value", ...] → {name: float or str}."""
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--set {item!r}: expected name=value, e.g. --set f_a=2e8")
        try:
            out[name] = float(value)
        except ValueError:
            out[name] = value.strip()
    return out


def point_values(model_name, sets=None):
    """Fit-level parameter values of ``model_name``: its benchmark with ``sets`` applied; string
    values naming another parameter are ties (as in fit files), other strings are model options."""
    from bkdm.inference.fitspec import model_parameter_names
    from bkdm.models import get_model

    model = get_model(model_name)
    allowed = model_parameter_names(model) | set(getattr(model, "OPTIONS", ()))
    values = dict(BENCHMARKS[model.NAME])
    for name, value in (sets or {}).items():
        if name not in allowed:
            raise ValueError(f"--set {name}: unknown parameter for model {model.NAME!r}; allowed: "
                             f"{sorted(allowed)}")
        values[name] = value
    for name, value in list(values.items()):
        if isinstance(value, str) and name not in getattr(model, "OPTIONS", ()):
            if value not in values or isinstance(values[value], str):
                raise ValueError(f"--set {name}={value}: not a number nor the name of a numeric "
                                 f"parameter of {model.NAME!r}")
            values[name] = values[value]
    return values


def build_point(model_name, sets=None):
    """(model module, Params) of the benchmark point with ``sets`` applied (validated)."""
    from bkdm.inference.fitspec import build_params
    from bkdm.models import get_model

    model = get_model(model_name)
    return model, build_params(model, point_values(model_name, sets))


def _unit(model, name):
    info = model.PARAMETERS.get(name)
    return f" {info.unit}" if info is not None and info.unit else ""


def _print_parameters(model, p):
    _say("parameters (value, allowed range, meaning):")
    options = getattr(model, "OPTIONS", ())
    for name, value in p.as_dict().items():
        if name in options:
            continue
        info = model.PARAMETERS.get(name)
        extra = f"   {info.allowed()}  {info.description}" if info is not None else ""
        _say(f"  {name:<16} = {float(np.asarray(value)):<11.6g}{_unit(model, name):<7}{extra}")
    for name in options:
        _say(f"  {name:<16} = {getattr(p, name)}")


def _print_table(title, values):
    _say(title)
    width = max(len(k) for k in values)
    for key, value in values.items():
        _say(f"  {key:<{width}} = {value:.6g}")


def _relic(model, p, method=None, history=0):
    """Jitted ``model.relic`` (the resonant-ALP ``method`` option passed through)."""
    import jax

    kwargs = {"history": history}
    if method is not None:
        kwargs["method"] = method
    return jax.jit(lambda q: model.relic(q, **kwargs))(p)


def _relic_method(model, method):
    if method is not None and model.NAME != "resonant-alp":
        raise ValueError(f"--method {method}: only the resonant-alp relic has a method choice (cbe, nbe)")
    return method if method is not None or model.NAME != "resonant-alp" else "cbe"


def _checked_omega(result, what):
    from bkdm.cosmo import solver

    return float(solver.checked(result.omega_h2, result.status, what))


# ---------------------------------------------------------------------------------------- info / relic
def cmd_info(args):
    model, p = build_point(args.model, _parse_sets(args.set))
    _say(f"model {model.NAME}: {model.SOURCE}")
    _print_parameters(model, p)
    _print_table("physics summary:", model.summary(p))
    if args.relic:
        method = _relic_method(model, None)
        omega = _checked_omega(_relic(model, p, method), f"{model.NAME} relic")
        _say(f"relic density: Omega h^2 = {omega:.6g}" + (f" ({method})" if method else ""))
    return 0


def cmd_relic(args):
    model, p = build_point(args.model, _parse_sets(args.set))
    method = _relic_method(model, args.method)
    history = RELIC_HISTORY if args.plot else 0
    if args.plot:
        _writable_folder(Path(args.plot).parent, f"--plot {args.plot}:")
    t0 = time.perf_counter()
    result = _relic(model, p, method, history)
    omega = _checked_omega(result, f"{model.NAME} relic" + (f" ({method})" if method else ""))
    elapsed = time.perf_counter() - t0
    _say(f"model {model.NAME}" + (f", method {method}" if method else ""))
    _print_parameters(model, p)
    stats = {f.name: float(np.asarray(getattr(result, f.name))) for f in dataclasses.fields(result)
             if getattr(result, f.name) is not None and np.ndim(getattr(result, f.name)) == 0}
    _print_table("relic solve:", stats)
    _say(f"Omega h^2 = {omega:.6g}   (Planck: 0.120 ± 0.001; {elapsed:.1f} s incl. compilation)")
    if args.plot:
        from bkdm import plotting

        x, yields, ratios, xlabel = plotting.relic_curves(result, float(model.dm_mass(p)), DM_DOF[model.NAME])
        path = plotting.base_path(args.plot)
        plotting.plot_yield_evolution(x, yields, path, ratios, xlabel,
                                      title=f"{model.NAME}: Ωh² = {omega:.4g}")
        _say(f"wrote {path.with_suffix('.png')} and {path.with_suffix('.pdf')}")
    return 0


# ---------------------------------------------------------------------------------------- fit
def _read_chains(path, quick):
    """NUTS chain count of a fit file, read without JAX (set_host_devices must come first)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # fitspec.load reports the problem
    chains = data.get("sampler", {}).get("chains", 4)
    if quick:
        chains = data.get("quick", {}).get("sampler", {}).get("chains", chains)
    return chains if isinstance(chains, int) and not isinstance(chains, bool) and chains > 0 else None


def _load_spec(path, quick):
    from bkdm.inference import fitspec

    spec = fitspec.load(path)
    return spec.with_quick() if quick else spec


def _out_dir(args, spec):
    """The result folder (``--out`` or results/<fit name>/), created and checked to be writable before
    any work is done (a read-only or misnamed folder is a one-line error, not a traceback at the end)."""
    out = Path(args.out) if args.out else Path("results") / spec.name
    _writable_folder(out, "--out" if args.out else "result folder")
    return out


def _writable_folder(folder, what):
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{what} {folder}: is an existing file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{what} {folder}: cannot create the folder ({exc.strerror})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {folder}: the folder is not writable")


def _log_names(spec):
    return [n for n, prior in spec.free.items() if prior.kind == "log-uniform"]


def _print_best_fit(spec, best):
    model = spec.model
    _say(f"best fit ({'converged' if best.converged else 'NOT converged'}; −2 ln L = {best.twice_nll:.4f}):")
    for name, value, sigma, (lo, hi) in zip(best.names, best.theta, best.theta_sigma, best.theta_interval,
                                            strict=True):
        err = f" ± {sigma:.3g}{_unit(model, name)}   (1σ: [{lo:.5g}, {hi:.5g}])" if np.isfinite(sigma) else (
            f"{_unit(model, name)}   (no Hessian uncertainty)")
        _say(f"  {name:<12} = {value:.6g}{err}")
    _say("  −2 ln L terms: " + ", ".join(f"{k} = {float(v):.4f}" for k, v in best.terms.items()))
    if best.delta_chi2_sm is not None:
        _say(f"Belle II: Δχ² = (−2 ln L)_SM − (−2 ln L)_best fit = {best.delta_chi2_sm:.3f} "
             "(> 0: the data prefer the new-physics signal)")
    obs = best.observables
    if "omega_h2" in obs:
        _say(f"Omega h^2 at the best fit = {obs['omega_h2']:.5g}   (Planck: 0.120 ± 0.001)")
    if "br_b_to_k_invisible" in obs:
        _say(f"BR(B+ -> K+ X) x P_inv at the best fit = {obs['br_b_to_k_invisible']:.4g}")
    for note in best.notes:
        _say(f"note: {note}")
    if best.relic_failures:
        _say(f"note: {best.relic_failures} relic solves failed during the fit (counted as zero likelihood)")


def _belle2_bins(joint, best, posterior=None, n_draws=40, seed=0):
    """Observed / SM / SM+NP counts per Belle II signal bin (plotting.belle2_bin_counts)."""
    import jax

    from bkdm import plotting

    b_np = jax.jit(joint.b_np_bins)
    sm_fit = joint.belle2.fit(mu=1.0)
    theta = np.asarray(best.theta, dtype=float)
    draws = None
    if posterior is not None:
        thetas = np.stack([np.asarray(posterior[n]).ravel() for n in joint.names], axis=1)
        nus = np.asarray(posterior["nuisances"]).reshape(thetas.shape[0], -1)
        n = thetas.shape[0]
        pick = np.random.default_rng(seed).choice(n, min(n_draws, n), replace=False)
        draws = [(joint.belle2_parameters(nus[i]), b_np(thetas[i])) for i in pick]
    return plotting.belle2_bin_counts(joint.belle2, joint.belle2_parameters(best.nuisances), b_np(theta),
                                      sm_fit.pars, draws)


def _save_bins(path, bins):
    flat = {}
    for i, (label, panel) in enumerate(bins.items()):
        flat[f"label_{i}"] = np.array(label)
        flat.update({f"{key}_{i}": value for key, value in panel.items()})
    np.savez(path, **flat)


def _load_bins(path):
    with np.load(path) as f:
        n = sum(1 for k in f.files if k.startswith("label_"))
        return {str(f[f"label_{i}"]): {key.rsplit("_", 1)[0]: f[key] for key in f.files
                                        if key.endswith(f"_{i}") and not key.startswith("label_")}
                for i in range(n)}


def cmd_fit(args):
    if args.method == "nuts":
        chains = _read_chains(args.file, args.quick)
        if chains:
            from bkdm.inference import nuts

            nuts.set_host_devices(chains)  # before any JAX computation (nuts.py docstring)
    from bkdm.inference import bestfit
    from bkdm.inference.joint import JointLikelihood

    t0 = time.perf_counter()
    spec = _load_spec(args.file, args.quick)
    out = _out_dir(args, spec)
    seed = spec.bestfit["seed"] if args.seed is None else args.seed
    _say(f"fit {spec.name} ({spec.model_name}; free: {', '.join(spec.free_names)})"
         + (" [quick]" if args.quick else ""))
    _say("building the likelihood (Belle II pyhf model, relic solver)...")
    joint = JointLikelihood(spec)
    best = bestfit.best_fit(joint, starts=spec.bestfit["starts"], max_steps=spec.bestfit["max_steps"],
                            seed=seed, tolerance=spec.bestfit["tolerance"], progress=True)
    best.save_json(out / "bestfit.json")
    _print_best_fit(spec, best)
    run = {"fit": spec.name, "model": spec.model_name, "fit_file": str(args.file), "quick": bool(args.quick),
           "method": args.method, "seed": seed, "names": list(spec.free_names), "log_scale": _log_names(spec),
           "belle2": joint.belle2 is not None}
    shutil.copyfile(args.file, out / "fit.toml")
    if args.profile:
        _profiles(joint, best, args.profile, out / "profiles.json")
    posterior = None
    if args.method == "nuts":
        from bkdm.inference import nuts

        s = spec.sampler
        nseed = s["seed"] if args.seed is None else args.seed
        result = nuts.run_nuts(joint, chains=s["chains"], warmup=s["warmup"], draws=s["draws"], seed=nseed,
                               target_accept=s["target_accept"], max_tree_depth=s["max_tree_depth"],
                               warmup_tree_depth=s["warmup_tree_depth"], pool_step_size=s["pool_step_size"],
                               init=best if s["init_from_bestfit"] else None, progress=True)
        result.save(out)
        posterior = result.inference_data.posterior
        _print_posterior(spec, result.summary)
    if joint.belle2 is not None:
        _save_bins(out / "belle2_bins.npz", _belle2_bins(joint, best, posterior, seed=seed))
    run["wall_time_s"] = time.perf_counter() - t0
    (out / "run.json").write_text(json.dumps(run, indent=1))
    written = make_plots(out)
    _say(f"results in {out}/: " + ", ".join(sorted(p.name for p in out.iterdir() if p.is_file())))
    for path in written:
        _say(f"  plot {path}")
    _say(f"wall time {run['wall_time_s']:.0f} s")
    return 0


def _profile_grid(prior, theta, interval, n):
    """n values of a parameter spanning ±3σ around the best fit, evenly in the prior's unconstrained
    coordinate (log for log-uniform priors); the whole prior range if σ is unknown."""
    u0 = float(prior.to_unconstrained(theta))
    lo, hi = interval
    half = 6.0
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        half = 1.5 * float(prior.to_unconstrained(hi) - prior.to_unconstrained(lo))
    values = np.array([float(prior.to_physical(u)) for u in np.linspace(u0 - half, u0 + half, n)])
    return np.clip(values, prior.low if prior.low is not None else -np.inf,
                   prior.high if prior.high is not None else np.inf)


def _profiles(joint, best, n, path):
    """1-D profiles of every free parameter → ``path`` (JSON) and the Δχ² = 1 intervals printed."""
    from bkdm.inference import profile

    if n < 3:
        raise ValueError(f"--profile {n}: need at least 3 points")
    out = {}
    _say("profile-likelihood intervals (Δχ² = 1):")
    for i, name in enumerate(best.names):
        grid = _profile_grid(joint.spec.free[name], best.theta[i], best.theta_interval[i], n)
        result = profile.profile_1d(joint, best, name, grid, progress=True)
        lo, hi = profile.interval_from_profile(result, 1.0)
        out[name] = {"grid": result.grid[0].tolist(),
                     "delta_chi2": [None if not np.isfinite(v) else float(v) for v in result.delta_chi2],
                     "interval_1sigma": [None if not np.isfinite(v) else float(v) for v in (lo, hi)],
                     "notes": result.notes}
        reached = np.isfinite(lo) and np.isfinite(hi)
        _say(f"  {name:<12} ∈ [{lo:.5g}, {hi:.5g}]{_unit(joint.model, name)}"
             + ("" if reached else "  (nan: Δχ² = 1 not reached on the grid)"))
    path.write_text(json.dumps(out, indent=1))


def _print_posterior(spec, summary):
    _say("posterior (mean ± sd, 94 % HDI, r_hat, bulk ESS):")
    for name in spec.free_names:
        s = summary[name]
        _say(f"  {name:<12} = {s['mean']:.5g} ± {s['sd']:.3g}  [{s['hdi_3%']:.5g}, {s['hdi_97%']:.5g}]"
             f"{_unit(spec.model, name)}  r_hat {s['r_hat']}  ESS {s['ess_bulk']}")
    _say(f"divergences: {summary['n_divergences']}, relic failures: {summary['relic_failures']}")
    for warning in summary.get("warnings", ()):
        _say(f"warning: {warning}")


# ---------------------------------------------------------------------------------------- scan
def _read_best(out, spec):
    """(theta dict, nuisances) of ``out/bestfit.json`` if it belongs to this fit, else None."""
    path = Path(out) / "bestfit.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    names = list(data.get("names", ()))
    if names != list(spec.free_names):
        return None
    return dict(zip(names, data["theta"], strict=True)), np.asarray(data.get("nuisances", []), dtype=float)


def _plane_spec(spec, plane, best):
    """The fit restricted to the two ``plane`` parameters; the others fixed at the best fit (if
    known) or their prior start values."""
    unknown = [n for n in plane if n not in spec.free]
    if unknown or len(plane) != 2 or plane[0] == plane[1]:
        raise ValueError(f"--plane {','.join(plane)}: give two different free parameters of the fit, "
                         f"from {list(spec.free_names)}")
    values = best[0] if best else {n: p.start for n, p in spec.free.items()}
    others = {n: float(values[n]) for n in spec.free if n not in plane}
    plane_spec = dataclasses.replace(spec, free={n: spec.free[n] for n in plane},
                                     fixed={**spec.fixed, **others})
    return plane_spec, others


def cmd_scan(args):
    from bkdm.inference import scan as scan_module

    scan_module.initialize_distributed()  # before any JAX computation (scan.py docstring)
    from bkdm.inference.joint import JointLikelihood

    t0 = time.perf_counter()
    spec = _load_spec(args.file, args.quick)
    out = _out_dir(args, spec)
    points = spec.scan["points"] if args.points is None else args.points
    best = _read_best(out, spec)
    fixed_others = {}
    if len(spec.free_names) >= 2:
        plane = args.plane.split(",") if args.plane else list(spec.free_names[:2])
        plane = [n.strip() for n in plane]
        scan_spec, fixed_others = _plane_spec(spec, plane, best)
    else:
        if args.plane:
            raise ValueError("--plane: the fit has a single free parameter")
        scan_spec = spec
    names = scan_spec.free_names
    joint = JointLikelihood(scan_spec)
    observables = ["omega_h2", "br_b_to_k_invisible", "twice_nll"]
    if joint.belle2 is not None:
        observables.append("twice_nll_belle2")
    nuisances = best[1] if best is not None and len(best[1]) == joint.n_nuisance else None
    _say(f"scan {spec.name}: {points} points over {', '.join(names)} ({spec.scan['mode']})"
         + (f"; fixed {fixed_others} ({'best fit' if best else 'prior start'})" if fixed_others else "")
         + ("; Belle II nuisances at the best fit" if nuisances is not None else ""))
    result = scan_module.scan(joint, points=points, mode=spec.scan["mode"], observables=observables,
                              chunk=spec.scan["chunk"], out_dir=out / f"scan_{'_'.join(names)}",
                              seed=spec.scan["seed"], nuisances=nuisances, progress=True)
    failed = int(np.sum(result.status != 0))
    _say(f"{len(result.status)} points evaluated, {failed} failed relic solves")
    omega = result.observables["omega_h2"]
    if np.any(np.isfinite(omega)):
        _say(f"Omega h^2 range on the scan: [{np.nanmin(omega):.3g}, {np.nanmax(omega):.3g}]")
    if spec.scan["mode"] != "grid":
        _say("note: the coupling-plane plot needs a grid scan (scan.mode = \"grid\")")
    elif len(names) == 1:
        np.savez(out / "scan_1d.npz", name=np.array(names[0]), axis=result.theta[:, 0],
                 omega_h2=omega, twice_nll=result.observables["twice_nll"],
                 log_scale=np.array(names[0] in _log_names(spec)))
    else:
        fixed_text = ", ".join(f"{k} = {v:.3g}{_unit(spec.model, k)}" for k, v in fixed_others.items())
        data = {"names": np.array(names), "omega_h2": result.grid("omega_h2"),
                "title": np.array(spec.name + (f" ({fixed_text})" if fixed_text else "")),
                "twice_nll": result.grid("twice_nll"),
                "log_scale": np.array([n in _log_names(spec) for n in names])}
        for i in range(len(names)):
            data[f"axis_{i}"] = np.unique(result.theta[:, i])
        if joint.belle2 is not None:
            data["twice_nll_belle2"] = result.grid("twice_nll_belle2")
        if best:
            data["best"] = np.array([best[0][n] for n in names])
        np.savez(out / "plane.npz", **data)
    written = make_plots(out)
    for path in written:
        _say(f"  plot {path}")
    _say(f"results in {out}/ (wall time {time.perf_counter() - t0:.0f} s)")
    return 0


# ---------------------------------------------------------------------------------------- plots
def _axis_label(run, name):
    """``name [unit]`` using the model recorded in run.json (if any)."""
    from bkdm.models import get_model

    unit = _unit(get_model(run["model"]), name).strip() if "model" in run else ""
    return f"{name} [{unit}]" if unit else name


def make_plots(out):
    """(Re-)make every plot whose data is in the result folder ``out``; returns the PNG paths."""
    from bkdm import plotting

    out = Path(out)
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
    log_names = set(run.get("log_scale", ()))
    best = json.loads((out / "bestfit.json").read_text()) if (out / "bestfit.json").is_file() else None
    written = []
    if (out / "belle2_bins.npz").is_file():
        plotting.plot_belle2_bins(_load_bins(out / "belle2_bins.npz"), out / "belle2_bins")
        written.append(out / "belle2_bins.png")
    if (out / "posterior.nc").is_file():
        import arviz as az

        posterior = az.from_netcdf(str(out / "posterior.nc")).posterior
        names = run.get("names") or [n for n in posterior.data_vars if posterior[n].ndim == 2
                                     and n not in ("omega_h2", "br_b_to_k_invisible", "relic_status")]
        truths = dict(zip(best["names"], best["theta"], strict=True)) if best else None
        plotting.plot_corner({n: np.asarray(posterior[n]).ravel() for n in names}, out / "corner",
                             truths=truths, log_scale=log_names)
        written.append(out / "corner.png")
    if (out / "plane.npz").is_file():
        with np.load(out / "plane.npz") as f:
            names = [str(n) for n in f["names"]]
            chi2 = f["twice_nll_belle2"] if "twice_nll_belle2" in f.files else f["twice_nll"]
            best_xy = tuple(f["best"]) if "best" in f.files else None
            plotting.plot_coupling_plane(
                f["axis_0"], f["axis_1"], f["omega_h2"].T, chi2.T, out / "coupling_plane",
                xlabel=_axis_label(run, names[0]), ylabel=_axis_label(run, names[1]), best=best_xy,
                log_x=bool(f["log_scale"][0]), log_y=bool(f["log_scale"][1]),
                title=str(f["title"]) if "title" in f.files else run.get("fit", ""))
        written.append(out / "coupling_plane.png")
    if (out / "scan_1d.npz").is_file():
        with np.load(out / "scan_1d.npz") as f:
            name = str(f["name"])
            plotting.plot_profiles({name: (f["axis"], f["twice_nll"] - np.nanmin(f["twice_nll"]))},
                                   out / "scan_1d", log_scale={name} if bool(f["log_scale"]) else ())
        written.append(out / "scan_1d.png")
    if (out / "profiles.json").is_file():
        profiles = json.loads((out / "profiles.json").read_text())
        plotting.plot_profiles({n: (p["grid"], [np.nan if v is None else v for v in p["delta_chi2"]])
                                for n, p in profiles.items()}, out / "profiles", log_scale=log_names)
        written.append(out / "profiles.png")
    return written


def cmd_plot(args):
    out = Path(args.result_dir)
    if not out.is_dir():
        raise ValueError(f"{out}: no such result folder (made by `bkdm fit` or `bkdm scan`)")
    written = make_plots(out)
    if not written:
        raise ValueError(f"{out}: no plottable results (belle2_bins.npz, posterior.nc, plane.npz, "
                         "scan_1d.npz, profiles.json)")
    for path in written:
        _say(f"wrote {path} (+ .pdf)")
    return 0


# ---------------------------------------------------------------------------------------- parser
def build_parser():
    from bkdm.models import MODEL_NAMES

    parser = argparse.ArgumentParser(
        prog="bkdm", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Differentiable B+ -> K+ invisible and dark-matter relic density engine (JAX): "
                    "model summaries, relic densities, fits of the Belle II + Planck likelihood.",
        epilog=UNITS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_, func):
        p = sub.add_parser(name, help=help_, description=help_, epilog=UNITS,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    set_help = ("parameter value at the default benchmark point, repeatable; names as in the model's "
                "PARAMETERS or its aliases (alp: c_q = all quarks; resonant-alp: r = m_chi/m_a); "
                "units GeV / GeV^-1 / m (see below)")
    p = add("info", "physics summary (widths, branching ratios, decay length) at a parameter point", cmd_info)
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help=set_help)
    p.add_argument("--relic", action="store_true", help="also solve for the relic density (slower)")

    p = add("relic", "relic density Omega h^2 at a parameter point (and the yield evolution)", cmd_relic)
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help=set_help)
    p.add_argument("--method", choices=("cbe", "nbe"),
                   help="resonant-alp only: coupled (Y, y) Boltzmann equations (cbe, default) or nbe")
    p.add_argument("--plot", metavar="FILE", help="save Y(x) (and y/y_eq for cbe) as FILE.png and FILE.pdf")

    p = add("fit", "fit a fit file (fits/*.toml) to the Belle II + Planck data", cmd_fit)
    p.add_argument("file", help="fit file (TOML), e.g. fits/alp_freeze_in.toml")
    p.add_argument("--method", choices=("best-fit", "nuts"), default="best-fit",
                   help="best-fit: maximum likelihood with ±1σ from the Hessian (default); "
                        "nuts: best fit, then NUTS posterior sampling started there")
    p.add_argument("--quick", action="store_true", help="apply the file's [quick] overrides (a few minutes)")
    p.add_argument("--out", metavar="DIR", help="result folder (default results/<fit name>/)")
    p.add_argument("--seed", type=int, help="random seed of the starts and the sampler (default: file's)")
    p.add_argument("--profile", type=int, metavar="N",
                   help="also profile −2 ln L in each free parameter on N points around the best fit "
                        "(±3σ; Δχ² = 1 interval printed, profiles.json + plot)")

    p = add("scan", "grid/random scan of a fit's parameters: Omega h^2, BR and Belle II −2 ln L", cmd_scan)
    p.add_argument("file", help="fit file (TOML)")
    p.add_argument("--points", type=int, help="number of points (default: the file's [scan] points)")
    p.add_argument("--plane", metavar="A,B",
                   help="the two free parameters to scan (default: the first two); the others stay "
                        "at the best fit of DIR/bestfit.json if present, else at their start values")
    p.add_argument("--quick", action="store_true", help="apply the file's [quick] overrides")
    p.add_argument("--out", metavar="DIR", help="result folder (default results/<fit name>/)")

    p = add("plot", "re-make the plots of a result folder from its saved data", cmd_plot)
    p.add_argument("result_dir", help="folder written by `bkdm fit` / `bkdm scan`")
    return parser


def main(argv=None):
    """Entry point of the ``bkdm`` script; returns the exit code (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    from bkdm.cosmo.solver import SolverError

    try:
        return args.func(args)
    except (ValueError, SolverError, OSError) as exc:  # OSError: a file or folder that cannot be written
        if os.environ.get(DEBUG_ENV):
            raise
        message = " ".join(str(exc).split())
        print(f"bkdm {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
