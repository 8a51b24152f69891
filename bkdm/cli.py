"""The ``bkdm`` command line: model summaries, relic densities, fits, scans and plots.

    bkdm info  --model alp [--set f_a=2e8 ...] [--relic] [--json]
    bkdm relic --model dark-photon [--set ...] [--method cbe|nbe] [--plot FILE] [--json]
    bkdm fits                                   # the shipped fits
    bkdm fit   alp-freeze-in [--method best-fit|nuts|smc] [--quick] [--out DIR] [--seed N] [--profile N]
    bkdm scan  alp-freeze-in [--points N] [--plane m_a,f_a] [--out DIR] [--quick]
    bkdm plot  results/alp-freeze-in
    bkdm --plugin my_model.py info --model my-model      # a user-defined model (docs/add-a-model.md)

``fit``/``scan`` take a shipped fit's name (``bkdm fits``) or the path of a fit file. User models
are loaded with ``--plugin MODULE`` (a module name or a ``.py`` path; repeatable), from the
environment variable ``BKDM_MODELS`` or from the ``bkdm.models`` entry-point group
(:mod:`bkdm.models`). Input errors (bad fit file, unknown parameter, value outside the allowed
range, failed relic solve) end with one line on stderr and exit code 2; set ``BKDM_DEBUG=1`` for
the full traceback. Compiled programs are cached on disk across runs (``bkdm.compile_cache``;
``--no-cache`` or ``BKDM_NO_CACHE=1`` switch it off; ``docs/performance.md``).
"""

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
import tomllib
import types
from pathlib import Path

import numpy as np

UNITS = """\
units: GeV for masses, energies and widths (natural units, hbar = c = 1); GeV^-1 for dimensionful
couplings (resonant-alp g_agg, g_aww, g_achichi); f_a in GeV; metres for lengths (alp
detector_length, resonant-alp detector_radius, decay lengths c*tau). Other couplings are
dimensionless. Each model's parameters, units and allowed ranges: `bkdm info --model NAME`."""

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


def build_point(model_name, sets=None):
    """(model module, Params) of the model's benchmark point (``BENCHMARK``) with ``sets`` applied
    (:func:`bkdm.api.benchmark`; validated)."""
    from bkdm import api
    from bkdm.models import get_model

    model = get_model(model_name)
    return model, api.benchmark(model, **(sets or {}))


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
    """Jitted ``model.relic`` (the resonant-ALP ``method`` option passed through), its trace and
    compilation cached on disk (:mod:`bkdm.compile_cache`) for bkdm's own models. Returns a namespace of
    the result's arrays."""
    import jax

    from bkdm import compile_cache

    kwargs = {"history": history}
    if method is not None:
        kwargs["method"] = method

    def relic(q):
        r = model.relic(q, **kwargs)
        return {f.name: getattr(r, f.name) for f in dataclasses.fields(r) if getattr(r, f.name) is not None}

    if not compile_cache.in_package(model):  # a user's model: its source is not in the cache key
        return types.SimpleNamespace(**jax.jit(relic)(p))
    return types.SimpleNamespace(**compile_cache.cached_jit(relic, f"cli-relic-{model.NAME}", kwargs)(p))


def _relic_method(model, method):
    """The ``method`` option of the model's relic solve: ``method``, or the first of the model's
    ``RELIC_METHODS`` (None for models without a choice)."""
    from bkdm.models.base import optional

    methods = optional(model, "RELIC_METHODS")
    if method is not None and method not in methods:
        allowed = f"choose one of {list(methods)}" if methods else "it has no relic method choice"
        raise ValueError(f"--method {method}: not allowed for model {model.NAME!r}: {allowed}")
    return method if method is not None or not methods else methods[0]


def _checked_omega(result, what):
    from bkdm.cosmo import solver

    return float(solver.checked(result.omega_h2, result.status, what))


# ---------------------------------------------------------------------------------------- info / relic
def _labelled(label, value):
    """``"c tau_a [m]", 234.0`` → ``("c tau_a", {"value": 234.0, "unit": "m"})`` (JSON output)."""
    name, sep, unit = label.rpartition(" [")
    if sep and unit.endswith("]"):
        return name, {"value": value, "unit": unit[:-1]}
    return label, {"value": value, "unit": ""}


def _point_json(model, p):
    """The JSON head of ``info``/``relic``: bkdm version, model, source and the parameter point
    ({name: {value, unit, allowed, description}}; options as strings)."""
    from bkdm import __version__

    parameters = {}
    options = getattr(model, "OPTIONS", ())
    for name, value in p.as_dict().items():
        if name in options:
            parameters[name] = {"value": getattr(p, name)}
            continue
        info = model.PARAMETERS.get(name)
        parameters[name] = {"value": float(np.asarray(value)), "unit": info.unit if info else "",
                            "allowed": info.allowed() if info else "",
                            "description": info.description if info else ""}
    return {"bkdm_version": __version__, "model": model.NAME, "source": model.SOURCE,
            "parameters": parameters}


def _print_json(data):
    from bkdm.inference.bestfit import json_safe

    print(json.dumps(json_safe(data), indent=1, ensure_ascii=False), flush=True)


def _relic_json(result, omega, method, elapsed):
    stats = {name: np.asarray(value).item() for name, value in vars(result).items() if np.ndim(value) == 0}
    return {"omega_h2": omega, "method": method, "solve": stats, "wall_time_s": elapsed,
            "planck": {"omega_h2": 0.120, "sigma": 0.001}}


def cmd_info(args):
    model, p = build_point(args.model, _parse_sets(args.set))
    summary = model.summary(p)
    relic = None
    if args.relic:
        method = _relic_method(model, None)
        t0 = time.perf_counter()
        result = _relic(model, p, method)
        omega = _checked_omega(result, f"{model.NAME} relic")
        relic = _relic_json(result, omega, method, time.perf_counter() - t0)
    if args.json:
        _print_json({**_point_json(model, p), "summary": dict(_labelled(k, v) for k, v in summary.items()),
                     **({"relic": relic} if relic else {})})
        return 0
    _say(f"model {model.NAME}: {model.SOURCE}")
    _print_parameters(model, p)
    _print_table("physics summary:", summary)
    if relic:
        _say(f"relic density: Omega h^2 = {relic['omega_h2']:.6g}"
             + (f" ({relic['method']})" if relic["method"] else ""))
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
    relic = _relic_json(result, omega, method, time.perf_counter() - t0)
    if args.json:
        _print_json({**_point_json(model, p), "relic": relic})
    else:
        _say(f"model {model.NAME}" + (f", method {method}" if method else ""))
        _print_parameters(model, p)
        _print_table("relic solve:", {k: float(v) for k, v in relic["solve"].items()})
        _say(f"Omega h^2 = {omega:.6g}   (Planck: 0.120 ± 0.001; {relic['wall_time_s']:.1f} s incl. "
             "compilation)")
    if args.plot:
        from bkdm import plotting

        x, yields, ratios, xlabel = plotting.relic_curves(result, float(model.dm_mass(p)), model.DM_DOF)
        path = plotting.base_path(args.plot)
        plotting.plot_yield_evolution(x, yields, path, ratios, xlabel,
                                      title=f"{model.NAME}" + (f" ({method})" if method else "")
                                      + rf": $\Omega h^2 = {omega:.4g}$")
        print(f"wrote {path.with_suffix('.png')} and {path.with_suffix('.pdf')}",
              file=sys.stderr if args.json else sys.stdout, flush=True)
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


def _spectrum(joint, best, posterior=None, n_draws=200, seed=0):
    """dB/dq² data of the best fit's two-body line and its posterior draws (plotting.belle2_spectrum)."""
    import jax

    from bkdm import plotting

    obs = best.observables
    draws = None
    if posterior is not None:
        thetas = np.stack([np.asarray(posterior[n]).ravel() for n in joint.names], axis=1)
        pick = np.random.default_rng(seed).choice(len(thetas), min(n_draws, len(thetas)), replace=False)
        model = joint.model

        def line(theta):
            p = joint.params(theta)
            return jax.numpy.stack([model.mediator_mass(p), model.br_b_to_k_invisible(p)])

        draws = np.asarray(jax.jit(jax.vmap(line))(thetas[pick]))
    return plotting.belle2_spectrum(obs["mediator_mass"], obs["br_b_to_k_invisible"], draws)


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


def _fit_file(name):
    """The path of a fit file or shipped fit (``fitspec.resolve``; no JAX computation)."""
    from bkdm.inference import fitspec

    return fitspec.resolve(name)


def cmd_fit(args):
    args.file = _fit_file(args.file)
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
        _profiles(joint, best, args.profile, out / "profiles.json",
                  nuisances=args.nuisances or spec.scan["nuisances"])
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
    if args.method == "smc":
        from bkdm.inference import smc

        s = spec.smc
        result = smc.run_smc(joint, particles=s["particles"], runs=s["runs"], mcmc_steps=s["mcmc_steps"],
                             leapfrog_steps=s["leapfrog_steps"], target_ess=s["target_ess"],
                             seed=s["seed"] if args.seed is None else args.seed, modes=s["modes"],
                             progress=True)
        result.save(out)
        posterior = result.inference_data.posterior
        _print_evidence(result.summary["evidence"])
        _print_posterior(spec, result.summary)
    if joint.belle2 is not None:
        _save_bins(out / "belle2_bins.npz", _belle2_bins(joint, best, posterior, seed=seed))
        np.savez(out / "spectrum.npz", **_spectrum(joint, best, posterior, seed=seed))
    run["wall_time_s"] = time.perf_counter() - t0
    (out / "run.json").write_text(json.dumps(run, indent=1))
    written = make_plots(out)
    _say(f"results in {out}/: " + ", ".join(sorted(p.name for p in out.iterdir() if p.is_file())))
    for path in written:
        _say(f"  plot {path}")
    _say(f"wall time {run['wall_time_s']:.0f} s")
    return 0


def _interval_text(low, high, low_kind, high_kind, unit):
    def end(value, kind):
        return "?" if kind == "open" else f"{value:.5g}"
    text = f"[{end(low, low_kind)}, {end(high, high_kind)}]{unit}"
    sides = (("lower", low_kind), ("upper", high_kind))
    notes = [f"{side} end = prior bound (one-sided)" for side, kind in sides if kind == "bound"]
    notes += [f"{side} end not reached" for side, kind in sides if kind == "open"]
    return text + (f"  ({'; '.join(notes)})" if notes else "")


HESSIAN_PROFILE_TOLERANCE = 0.3  # warn when a profile half-width differs from the Hessian's by > 30 %


def _profiles(joint, best, n, path, nuisances="profile"):
    """Self-extending 1-D profiles of every free parameter (profile.profile_auto: until Δχ² = 4 on
    both sides or a prior bound) → ``path`` (JSON); 68 %/95 % intervals printed beside the Hessian
    ones, with a warning where a half-width differs by more than 30 %."""
    from bkdm.inference import profile, provenance

    if n < 3:
        raise ValueError(f"--profile {n}: need at least 3 points")
    how = "Belle II nuisances " + ("profiled" if nuisances == "profile" else "fixed at the best fit")
    if not joint.n_nuisance:
        how, nuisances = "no Belle II nuisances", "none"
    out = {"provenance": provenance.record(joint.spec), "nuisances": nuisances, "parameters": {}}
    _say(f"profile-likelihood intervals (Δχ² = 1: 68.3 %, 3.84: 95 %; {how}) vs Hessian (1σ):")
    warnings = []
    for i, name in enumerate(best.names):
        prior = joint.spec.free[name]
        result = profile.profile_auto(joint, best, name, n=n, progress=True,
                                      nuisances="fixed" if nuisances == "fixed" else "profile")
        lo, hi, lo_kind, hi_kind = profile.profile_intervals(result, prior, 1.0)
        lo95, hi95, lo95_kind, hi95_kind = profile.profile_intervals(result, prior, 3.84)
        ratios = profile.compare_with_hessian(best.theta[i], best.theta_interval[i], (lo, hi))
        unit = _unit(joint.model, name)
        _say(f"  {name:<12} 68 % {_interval_text(lo, hi, lo_kind, hi_kind, unit)}")
        _say(f"  {'':<12} 95 % {_interval_text(lo95, hi95, lo95_kind, hi95_kind, unit)}")
        h_lo, h_hi = best.theta_interval[i]
        _say(f"  {'':<12} Hessian 1σ [{h_lo:.5g}, {h_hi:.5g}]{unit}; profile/Hessian half-widths: "
             f"lower {ratios[0]:.2f}, upper {ratios[1]:.2f}")
        off = [side for side, r, kind in (("lower", ratios[0], lo_kind), ("upper", ratios[1], hi_kind))
               if kind != "crossing" or not np.isfinite(r) or abs(r - 1.0) > HESSIAN_PROFILE_TOLERANCE]
        if off:
            warnings.append(f"{name}: the Hessian and profile 68 % intervals disagree by more than "
                            f"{100 * HESSIAN_PROFILE_TOLERANCE:.0f} % ({', '.join(off)} side): quote the "
                            "profile interval")

        def clean(values):
            return [None if v is None or not np.isfinite(v) else float(v) for v in values]

        out["parameters"][name] = {
            "grid": clean(result.grid[0]), "delta_chi2": clean(result.delta_chi2),
            "converged": [bool(c) for c in result.converged],
            "interval_68": clean((lo, hi)), "interval_68_kind": [lo_kind, hi_kind],
            "interval_95": clean((lo95, hi95)), "interval_95_kind": [lo95_kind, hi95_kind],
            "hessian_interval": clean((h_lo, h_hi)), "profile_over_hessian": clean(ratios),
            "bounds_reached": result.bounds_reached, "notes": result.notes}
    for warning in warnings:
        _say(f"warning: {warning}")
    out["warnings"] = warnings
    path.write_text(json.dumps(out, indent=1))


def _print_evidence(ev):
    """ln Z's with their uncertainties, the Bayes factor against the SM and the mass of each mode."""
    _say("evidence (natural logs; ± the standard error over the independent SMC runs):")
    _say(f"  ln Z (all data)                      = {ev['ln_z']:.3f} ± {ev['ln_z_error']:.3f}")
    if "ln_z_planck" in ev:
        _say(f"  ln Z (Planck)                        = {ev['ln_z_planck']:.3f} ± "
             f"{ev['ln_z_planck_error']:.3f}")
    if "ln_z_flavour_given_planck" in ev:
        _say(f"  ln Z (Belle II + limits | Planck)    = {ev['ln_z_flavour_given_planck']:.3f} ± "
             f"{ev['ln_z_flavour_given_planck_error']:.3f}")
    if "ln_z_sm" in ev:
        _say(f"  ln Z (SM: Belle II + limits, B_NP=0) = {ev['ln_z_sm']:.3f} ± {ev['ln_z_sm_error']:.3f}")
        _say(f"Bayes factor model vs SM on the flavour data: ln B = {ev['ln_bayes_factor']:.2f} ± "
             f"{ev['ln_bayes_factor_error']:.2f} (B = {ev['bayes_factor']:.3g}): {ev['jeffreys']} on "
             f"Jeffreys' scale, {ev['kass_raftery']} on Kass & Raftery's")
    for label, m in ev.get("modes", {}).items():
        _say(f"  posterior mass {label}: {m['mass']:.3f} ± {m['error']:.3f}")


def _print_posterior(spec, summary):
    """Posterior table (R̂ to 3 decimals, ESS to integers), divergences, and the verdict with what to
    change (:func:`bkdm.inference.convergence.assess`)."""
    from bkdm.inference import convergence

    _say(f"posterior (mean ± sd, 94 % HDI; R̂ ≤ {convergence.R_HAT_MAX} and ESS ≥ {convergence.ESS_MIN} "
         "wanted):")
    for name in spec.free_names:
        s = summary[name]
        r_hat = "n/a" if s.get("r_hat") is None else f"{s['r_hat']:.3f}"
        bulk, tail = ("n/a" if s.get(k) is None else f"{s[k]:.0f}" for k in ("ess_bulk", "ess_tail"))
        _say(f"  {name:<12} = {s['mean']:.5g} ± {s['sd']:.3g}  [{s['hdi_3%']:.5g}, {s['hdi_97%']:.5g}]"
             f"{_unit(spec.model, name)}   R̂ {r_hat}   ESS bulk {bulk}, tail {tail}")
    if "n_divergences" in summary:
        draws = summary.get("settings", {}).get("draws", 0) * summary.get("settings", {}).get("chains", 0)
        share = f" ({100 * summary['n_divergences'] / draws:.2f} % of {draws} draws)" if draws else ""
        _say(f"divergent transitions: {summary['n_divergences']}{share}; "
             f"relic failures: {summary.get('relic_failures', 0)}")
    for warning in summary.get("warnings", ()):
        _say(f"warning: {warning}")
    if "verdict" in summary:
        _say(f"verdict: {summary['verdict']}")


# ---------------------------------------------------------------------------------------- scan
def _best_point(path):
    """({name: value}, nuisances) of a ``bestfit.json`` (format 2, or format 1 of bkdm 0.1.0)."""
    data = json.loads(Path(path).read_text())
    if "parameters" in data:
        return ({n: p["value"] for n, p in data["parameters"].items()},
                np.asarray(data["nuisances"]["values"], dtype=float))
    theta = dict(zip(data["names"], data["theta"], strict=True))
    return theta, np.asarray(data.get("nuisances", []), dtype=float)


def _read_best(out, spec, restart=False):
    """(theta dict, nuisances, −2 ln L) of ``out/bestfit.json``; None if there is none, or (with ``restart``)
    if it was made with a different fit. Without ``restart`` a best fit of a different fit (another
    fit hash or bkdm version, :mod:`bkdm.inference.provenance`) is a ValueError naming what changed."""
    from bkdm.inference import provenance

    path = Path(out) / "bestfit.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if provenance.mismatch(data.get("provenance"), spec):
        if restart:
            _say(f"note: ignoring {path}: it was made with a different fit (--restart)")
            return None
        provenance.check(data.get("provenance"), spec, str(path),
                         advice="re-run `bkdm fit` into this folder, or use --restart to scan without it")
    theta, nuisances = _best_point(path)
    twice_nll = data.get("twice_nll")
    return theta, nuisances, math.nan if twice_nll is None else float(twice_nll)


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
    args.file = _fit_file(args.file)
    from bkdm.inference import scan as scan_module

    scan_module.initialize_distributed()  # before any JAX computation (scan.py docstring)
    from bkdm.inference.joint import JointLikelihood

    t0 = time.perf_counter()
    spec = _load_spec(args.file, args.quick)
    out = _out_dir(args, spec)
    points = spec.scan["points"] if args.points is None else args.points
    best = _read_best(out, spec, restart=args.restart)
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
    mode = args.nuisances or spec.scan["nuisances"]
    if joint.belle2 is None:
        mode = "none"
    elif mode == "fixed" and nuisances is None:
        _say("note: no best fit in the folder: the fixed nuisances are pyhf's initial values")
    how = {"profile": "Belle II nuisances profiled at every point",
           "fixed": "Belle II nuisances fixed" + (" at the best fit" if nuisances is not None else ""),
           "none": "no Belle II term"}[mode]
    _say(f"scan {spec.name}: {points} points over {', '.join(names)} ({spec.scan['mode']}; {how})"
         + (f"; fixed {fixed_others} ({'best fit' if best else 'prior start'})" if fixed_others else ""))
    t_scan = time.perf_counter()
    result = scan_module.scan(joint, points=points, mode=spec.scan["mode"], observables=observables,
                              chunk=spec.scan["chunk"], out_dir=out / f"scan_{'_'.join(names)}",
                              seed=spec.scan["seed"], nuisances=nuisances, progress=True,
                              resume=not args.restart, nuisance_mode="fixed" if mode == "none" else mode)
    t_scan = time.perf_counter() - t_scan
    failed = int(np.sum(result.status != 0))
    inner_failed = int(np.sum(result.nuisance_status != 0))
    _say(f"{len(result.status)} points evaluated in {t_scan:.0f} s (incl. compilation), {failed} failed "
         f"relic solves" + (f", {inner_failed} inner nuisance fits not converged (their Δχ² is not "
                             "shown)" if mode == "profile" else ""))
    omega = result.observables["omega_h2"]
    if np.any(np.isfinite(omega)):
        _say(f"Omega h^2 range on the scan: [{np.nanmin(omega):.3g}, {np.nanmax(omega):.3g}]")
    ok = result.nuisance_status == 0
    references = {}
    if joint.belle2 is not None:
        references["belle2"] = _belle2_reference(joint, result, nuisances, mode)
    if best is not None and np.isfinite(best[2]):
        lowest = np.nanmin(np.where(ok, result.observables["twice_nll"], np.nan))
        references["total"] = {"twice_nll": min(best[2], lowest), "source": "best fit (bestfit.json)" + (
            "" if best[2] <= lowest else "; the scan found a lower point, used instead")}
    for term, ref in references.items():
        _say(f"Δχ² reference ({term}): −2 ln L = {ref['twice_nll']:.4f} from the {ref['source']}")

    def delta(name, term):
        if term not in references:
            return None
        return np.where(ok, result.observables[name] - references[term]["twice_nll"], np.nan)

    meta = {"nuisance_mode": np.array(mode),
            "references": np.array(json.dumps({k: v["source"] for k, v in references.items()}))}
    if spec.scan["mode"] != "grid":
        _say("note: the coupling-plane plot needs a grid scan (scan.mode = \"grid\")")
    elif len(names) == 1:
        term = "belle2" if "belle2" in references else "total"
        chi2 = delta("twice_nll_belle2" if term == "belle2" else "twice_nll", term)
        data = {"name": np.array(names[0]), "axis": result.theta[:, 0], "omega_h2": omega,
                "twice_nll": result.observables["twice_nll"], "term": np.array(term),
                "log_scale": np.array(names[0] in _log_names(spec)), **meta}
        if chi2 is not None:
            data["delta_chi2"] = chi2
        else:
            _say("note: no Δχ² plot: no best fit in the folder to refer to (run `bkdm fit` first)")
        np.savez(out / "scan_1d.npz", **data)
    else:
        fixed_text = ", ".join(f"{k} = {v:.3g}{_unit(spec.model, k)}" for k, v in fixed_others.items())
        data = {"names": np.array(names), "omega_h2": result.grid("omega_h2"),
                "title": np.array(spec.name + (f" ({fixed_text})" if fixed_text else "")),
                "twice_nll": result.grid("twice_nll"), "nuisance_status": result.nuisance_status.reshape(
                    result.manifest["grid_shape"]),
                "log_scale": np.array([n in _log_names(spec) for n in names]), **meta}
        for i in range(len(names)):
            data[f"axis_{i}"] = np.unique(result.theta[:, i])
        if joint.belle2 is not None:
            data["twice_nll_belle2"] = result.grid("twice_nll_belle2")
            shape = result.manifest["grid_shape"]
            data["delta_chi2_belle2"] = delta("twice_nll_belle2", "belle2").reshape(shape)
            data["belle2_minimum"] = np.asarray(references["belle2"]["theta"])
        if "total" in references:
            data["delta_chi2"] = delta("twice_nll", "total").reshape(result.manifest["grid_shape"])
        if best:
            data["best"] = np.array([best[0][n] for n in names])
        np.savez(out / "plane.npz", **data)
    written = make_plots(out)
    for path in written:
        _say(f"  plot {path}")
    _say(f"results in {out}/ (wall time {time.perf_counter() - t0:.0f} s)")
    return 0


# ---------------------------------------------------------------------------------------- fits
def cmd_fits(args):
    """List the shipped fits: name, model, free parameters, file, description."""
    from bkdm.inference import fitspec

    rows = []
    for name, path in fitspec.shipped_fits().items():
        spec = fitspec.load(path)
        rows.append({"name": name, "model": spec.model_name, "free": list(spec.free_names), "file": str(path),
                     "description": " ".join(spec.description.split())})
    if args.json:
        _print_json(rows)
        return 0
    for row in rows:
        _say(f"{row['name']:<15} model {row['model']:<13} free: {', '.join(row['free'])}")
        _say(f"{'':<15} {row['file']}")
    _say("run one with `bkdm fit NAME [--quick]`; copy its file to start your own "
         "(format: bkdm.inference.fitspec)")
    return 0
def _belle2_reference(joint, result, nuisances, mode):
    """The Belle II term's minimum over the scanned parameters (inside their priors) and — profile
    mode — the nuisances: a Newton minimisation started at the scan's lowest converged point
    (nuisance_profile.belle2_minimum); the grid's lowest value if that is lower or the minimisation
    fails (then said). Returns dict(twice_nll, theta, source)."""
    from bkdm.inference import nuisance_profile

    values = np.where(result.nuisance_status == 0, result.observables["twice_nll_belle2"], np.nan)
    if not np.any(np.isfinite(values)):
        raise ValueError("scan: no point with a finite, converged Belle II −2 ln L: no Δχ² reference")
    i = int(np.nanargmin(values))
    nu0 = joint.nuisance_init if nuisances is None else nuisances
    fixed_mode = "fixed" if mode == "fixed" else "profile"
    found = nuisance_profile.belle2_minimum(joint, result.theta[i], nu0, fixed_mode)
    what = "profiled" if fixed_mode == "profile" else "fixed-ν"
    if found["status"] == 0 and found["twice_nll"] <= values[i]:
        return {"twice_nll": found["twice_nll"], "theta": found["theta"],
                "source": f"Belle II term's {what} minimum over the plane"}
    why = f"ended with status {found['status']}" if found["status"] else "found no lower value"
    return {"twice_nll": float(values[i]), "theta": result.theta[i],
            "source": f"scan's lowest point (the {what} minimisation from there {why})"}


# ---------------------------------------------------------------------------------------- plots
def _axis_label(run, name):
    """Mathtext label ``$symbol$ [unit]`` of a parameter of the model recorded in run.json (the bare
    name if that model is not registered in this process)."""
    from bkdm import plotting
    from bkdm.models import get_model

    try:
        return plotting.model_parameter_label(get_model(run["model"]), name)
    except (KeyError, ValueError):
        return plotting.parameter_label(name)


def make_plots(out):
    """(Re-)make every plot whose data is in the result folder ``out``; returns the PNG paths."""
    from bkdm import plotting

    out = Path(out)
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
    log_names = set(run.get("log_scale", ()))
    best = _best_point(out / "bestfit.json")[0] if (out / "bestfit.json").is_file() else None
    written = []
    if (out / "belle2_bins.npz").is_file():
        plotting.plot_belle2_bins(_load_bins(out / "belle2_bins.npz"), out / "belle2_bins")
        written.append(out / "belle2_bins.png")
    if (out / "spectrum.npz").is_file():
        with np.load(out / "spectrum.npz") as f:
            plotting.plot_spectrum({k: f[k] for k in f.files}, out / "spectrum",
                                   title=f"{run.get('fit', '')}: best fit" if run.get("fit") else "")
        written.append(out / "spectrum.png")
    if (out / "posterior.nc").is_file():
        import arviz as az

        posterior = az.from_netcdf(str(out / "posterior.nc")).posterior
        names = run.get("names") or [n for n in posterior.data_vars if posterior[n].ndim == 2
                                     and n not in ("omega_h2", "br_b_to_k_invisible", "relic_status")]
        plotting.plot_corner({n: np.asarray(posterior[n]).ravel() for n in names}, out / "corner",
                             truths=best, log_scale=log_names, labels={n: _axis_label(run, n) for n in names})
        plotting.plot_trace(posterior, names, out / "trace", log_scale=log_names)
        plotting.plot_rank(posterior, names, out / "rank", log_scale=log_names)
        written += [out / "corner.png", out / "trace.png", out / "rank.png"]
    if (out / "plane.npz").is_file():
        with np.load(out / "plane.npz") as f:
            names = [str(n) for n in f["names"]]
            chi2 = f["delta_chi2_belle2"] if "delta_chi2_belle2" in f.files else None
            if chi2 is None:
                chi2 = np.full(f["omega_h2"].shape, np.nan)
            best_xy = tuple(f["best"]) if "best" in f.files else None
            plotting.plot_coupling_plane(
                f["axis_0"], f["axis_1"], f["omega_h2"].T, chi2.T, out / "coupling_plane",
                xlabel=_axis_label(run, names[0]), ylabel=_axis_label(run, names[1]), best=best_xy,
                log_x=bool(f["log_scale"][0]), log_y=bool(f["log_scale"][1]),
                title=str(f["title"]) if "title" in f.files else run.get("fit", ""),
                nuisances=str(f["nuisance_mode"]) if "nuisance_mode" in f.files else "fixed")
        written.append(out / "coupling_plane.png")
    if (out / "scan_1d.npz").is_file():
        with np.load(out / "scan_1d.npz") as f:
            if "delta_chi2" in f.files:
                name, term = str(f["name"]), str(f["term"])
                how = {"profile": "ν profiled", "fixed": "ν fixed", "none": ""}[str(f["nuisance_mode"])]
                label = f"Δχ² ({'Belle II term' if term == 'belle2' else 'total'}{', ' + how if how else ''})"
                plotting.plot_profiles({name: (f["axis"], f["delta_chi2"])}, out / "scan_1d",
                                       log_scale={name} if bool(f["log_scale"]) else (),
                                       labels={name: _axis_label(run, name)}, ylabel=label)
                written.append(out / "scan_1d.png")
    if (out / "profiles.json").is_file():
        data = json.loads((out / "profiles.json").read_text())
        profiles = data.get("parameters", {})
        how = {"profile": "ν profiled", "fixed": "ν fixed"}.get(data.get("nuisances"), "")
        plotting.plot_profiles({n: (p["grid"], [np.nan if v is None else v for v in p["delta_chi2"]])
                                for n, p in profiles.items()}, out / "profiles", log_scale=log_names,
                               labels={n: _axis_label(run, n) for n in profiles},
                               ylabel=f"Δχ² ({how})" if how else "Δχ²",
                               intervals={n: tuple(np.nan if v is None else v for v in p["interval_68"])
                                          for n, p in profiles.items()})
        written.append(out / "profiles.png")
    return written


def cmd_plot(args):
    out = Path(args.result_dir)
    if not out.is_dir():
        raise ValueError(f"{out}: no such result folder (made by `bkdm fit` or `bkdm scan`)")
    written = make_plots(out)
    if not written:
        raise ValueError(f"{out}: no plottable results (belle2_bins.npz, spectrum.npz, posterior.nc, "
                         "plane.npz, "
                         "scan_1d.npz, profiles.json)")
    for path in written:
        _say(f"wrote {path} (+ .pdf)")
    return 0


# ---------------------------------------------------------------------------------------- parser
PLUGIN_HELP = ("import a user-defined model before the command: a module name or the path of a .py file "
               "that defines the model interface (docs/add-a-model.md); repeatable. Also read: the "
               "environment variable BKDM_MODELS (comma-separated) and the 'bkdm.models' entry points")


def _plugin_parser():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--plugin", action="append", metavar="MODULE", default=[], help=PLUGIN_HELP)
    return parser


def load_plugins(argv):
    """Register the models named by ``--plugin`` options in ``argv`` (before the parser is built,
    so that ``--model`` lists them)."""
    from bkdm.models import register_model

    known, _ = _plugin_parser().parse_known_args(argv)
    for target in known.plugin:
        register_model(target, replace=True)


def build_parser():
    from bkdm.models import model_names

    MODEL_NAMES = model_names()
    parser = argparse.ArgumentParser(
        prog="bkdm", formatter_class=argparse.RawDescriptionHelpFormatter, parents=[_plugin_parser()],
        description="Differentiable B+ -> K+ invisible and dark-matter relic density engine (JAX): "
                    "model summaries, relic densities, fits of the Belle II + Planck likelihood.",
        epilog=UNITS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_, func):
        p = sub.add_parser(name, help=help_, description=help_, epilog=UNITS,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        p.add_argument("--no-cache", action="store_true",
                       help="do not read or write the compilation caches (bkdm.compile_cache; or set "
                            "BKDM_NO_CACHE=1; folder: BKDM_CACHE_DIR, default ~/.cache/bkdm)")
        return p

    set_help = ("parameter value at the default benchmark point, repeatable; names as in the model's "
                "PARAMETERS or its aliases (alp: c_q = all quarks; resonant-alp: r = m_chi/m_a); "
                "units GeV / GeV^-1 / m (see below)")
    p = add("info", "physics summary (widths, branching ratios, decay length) at a parameter point", cmd_info)
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help=set_help)
    p.add_argument("--relic", action="store_true", help="also solve for the relic density (slower)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (parameters and summary with units, bkdm version) instead")

    p = add("relic", "relic density Omega h^2 at a parameter point (and the yield evolution)", cmd_relic)
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help=set_help)
    p.add_argument("--method", metavar="METHOD",
                   help="the model's relic method (its RELIC_METHODS): resonant-alp cbe (coupled (Y, y) "
                        "Boltzmann equations, default) or nbe")
    p.add_argument("--plot", metavar="FILE", help="save Y(x) (and y/y_eq for cbe) as FILE.png and FILE.pdf")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (parameters with units, Omega h^2, solver statistics) instead")

    p = add("fits", "list the fits shipped with bkdm (names for `bkdm fit` / `bkdm scan`)", cmd_fits)
    p.add_argument("--json", action="store_true", help="print a JSON list instead")

    fit_help = ("a shipped fit's name (`bkdm fits`: alp-freeze-in, dark-photon, resonant-alp) or a fit "
                "file (TOML)")
    p = add("fit", "fit a fit file (or a shipped fit) to the Belle II + Planck data", cmd_fit)
    p.add_argument("file", metavar="FIT", help=fit_help)
    p.add_argument("--method", choices=("best-fit", "nuts", "smc"), default="best-fit",
                   help="best-fit: maximum likelihood with ±1σ from the Hessian (default); "
                        "nuts: best fit, then NUTS posterior sampling started there; "
                        "smc: best fit, then tempered SMC: posterior, evidence ln Z, Bayes factor vs the SM")
    p.add_argument("--quick", action="store_true", help="apply the file's [quick] overrides (a few minutes)")
    p.add_argument("--out", metavar="DIR", help="result folder (default results/<fit name>/)")
    p.add_argument("--seed", type=int, help="random seed of the starts and the sampler (default: file's)")
    p.add_argument("--profile", type=int, metavar="N",
                   help="also profile −2 ln L in each free parameter: N points over ±3σ (Hessian) around "
                        "the best fit, extended until Δχ² = 4 on both sides or a prior bound; 68 %% and "
                        "95 %% intervals printed beside the Hessian ones (warning if > 30 %% apart), "
                        "profiles.json + plot")
    p.add_argument("--nuisances", choices=("profile", "fixed"),
                   help="for --profile: Belle II nuisances minimised at every point (default of [scan] "
                        "nuisances) or fixed at the best fit")

    p = add("scan", "grid/random scan of a fit's parameters: Omega h^2, BR and Belle II −2 ln L", cmd_scan)
    p.add_argument("file", metavar="FIT", help=fit_help)
    p.add_argument("--points", type=int, help="number of points (default: the file's [scan] points)")
    p.add_argument("--plane", metavar="A,B",
                   help="the two free parameters to scan (default: the first two); the others stay "
                        "at the best fit of DIR/bestfit.json if present, else at their start values")
    p.add_argument("--quick", action="store_true", help="apply the file's [quick] overrides")
    p.add_argument("--out", metavar="DIR", help="result folder (default results/<fit name>/)")
    p.add_argument("--nuisances", choices=("profile", "fixed"),
                   help="Belle II nuisances minimised at every point (profile, the default of [scan] "
                        "nuisances) or held at the best fit (fixed: a conditional likelihood, quick looks)")
    p.add_argument("--restart", action="store_true",
                   help="discard scan chunks already in the folder and ignore a best fit made with a "
                        "different fit (default: resume, and refuse results of a different fit)")

    p = add("plot", "re-make the plots of a result folder from its saved data", cmd_plot)
    p.add_argument("result_dir", help="folder written by `bkdm fit` / `bkdm scan`")
    return parser


def main(argv=None):
    """Entry point of the ``bkdm`` script; returns the exit code (0 ok, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        load_plugins(argv)
        from bkdm.models import model_names

        model_names()  # BKDM_MODELS and entry points: errors here are one-line errors too
    except ValueError as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"bkdm: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    from bkdm import compile_cache
    from bkdm.cosmo.solver import SolverError

    if args.no_cache:
        compile_cache.disable()

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
