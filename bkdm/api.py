"""bkdm's Python entry point: models, benchmark points, fits (the functions ``bkdm.<name>`` exports).

    import bkdm
    model = bkdm.get_model("alp")                  # the model module: Params, widths, relic, omega_h2, ...
    p = bkdm.benchmark("alp", f_a=2e8)             # its Params at the benchmark point, f_a changed [GeV]
    model.br_b_to_k_invisible(p), model.omega_h2(p)
    lik = bkdm.load_fit("alp-freeze-in")           # joint likelihood: lik.twice_nll(theta, nuisances)
    best = bkdm.fit("alp-freeze-in", quick=True)   # BestFitResult, as `bkdm fit` writes to bestfit.json

Units: GeV for masses, energies, widths and f_a; GeV⁻¹ for dimensionful couplings; metres for
lengths (each model's ``PARAMETERS`` gives the unit and allowed range of every parameter).
``fit``, ``sample`` and ``scan`` return the result objects that ``bkdm fit`` / ``bkdm scan`` save
(:class:`~bkdm.inference.bestfit.BestFitResult`, :class:`~bkdm.inference.nuts.NutsResult`,
:class:`~bkdm.inference.scan.ScanResult`), with the settings of the fit file (its ``[quick]``
overrides with ``quick=True``) unless an argument overrides them.
"""

from bkdm.models import get_model, model_names, register_model


def _model(model):
    return get_model(model) if isinstance(model, str) else model


def benchmark_values(model, **changes):
    """Fit-level parameter values of the benchmark point of ``model`` (a name or a model module) with
    ``changes`` applied: {name: value}. Names are the model's parameters, its aliases (alp: ``c_q``
    = all six quark couplings; resonant-alp: ``r`` = m_χ/m_a) and options; a string value naming
    another parameter ties the two (as in fit files). ValueError naming an unknown parameter."""
    from bkdm.inference.fitspec import model_parameter_names

    model = _model(model)
    options = set(getattr(model, "OPTIONS", ()))
    allowed = model_parameter_names(model) | options
    values = dict(model.BENCHMARK)
    for name, value in changes.items():
        if name not in allowed:
            raise ValueError(f"{name}: unknown parameter for model {model.NAME!r}; "
                             f"allowed: {sorted(allowed)}")
        values[name] = value
    for name, value in list(values.items()):
        if isinstance(value, str) and name not in options:
            if value not in values or isinstance(values[value], str):
                raise ValueError(f"{name} = {value!r}: not a number nor the name of a numeric parameter "
                                 f"of {model.NAME!r}")
            values[name] = values[value]
    return values


def benchmark(model, **changes):
    """The ``Params`` of ``model`` (a name or a model module) at its benchmark point (``model.BENCHMARK``:
    the default point of ``bkdm info``), with ``changes`` applied (:func:`benchmark_values`).
    Validated: ValueError naming a parameter outside its allowed range, with its unit."""
    from bkdm.inference.fitspec import build_params

    model = _model(model)
    return build_params(model, benchmark_values(model, **changes))


def fits():
    """{name: path} of the fit files shipped with bkdm (``bkdm fits`` prints them)."""
    from bkdm.inference.fitspec import shipped_fits

    return shipped_fits()


def load_spec(fit, quick=False):
    """A validated :class:`~bkdm.inference.fitspec.FitSpec` from ``fit``: a shipped fit's name, a path,
    a dict (the parsed TOML) or a FitSpec; ``quick`` applies its ``[quick]`` overrides."""
    from bkdm.inference import fitspec
    from bkdm.inference.joint import JointLikelihood

    if isinstance(fit, JointLikelihood):
        spec = fit.spec
    elif isinstance(fit, fitspec.FitSpec):
        spec = fit
    elif isinstance(fit, dict):
        spec = fitspec.parse(fit)
    else:
        spec = fitspec.load(fit)
    return spec.with_quick() if quick else spec


def load_fit(fit, quick=False):
    """The joint likelihood (:class:`~bkdm.inference.joint.JointLikelihood`) of ``fit`` (a shipped
    fit's name, a fit-file path, a dict or a FitSpec): ``twice_nll(theta, nuisances)`` = −2 ln L at
    fixed Belle II nuisances, ``terms(theta, nuisances)`` per term, ``names`` (θ order, physical
    units of the model's ``PARAMETERS``), ``nuisance_init``; pure JAX (jit, grad, vmap).
    ``fit`` already a JointLikelihood is returned as is (its compiled functions are reused)."""
    from bkdm.inference.joint import JointLikelihood

    if isinstance(fit, JointLikelihood) and not quick:
        return fit
    return JointLikelihood(load_spec(fit, quick))


def fit(fit, quick=False, starts=None, max_steps=None, seed=None, tolerance=None, progress=False):
    """Multi-start best fit with Hessian errors (``bkdm fit``): a
    :class:`~bkdm.inference.bestfit.BestFitResult` (θ, ±1σ, intervals, −2 ln L terms, Δχ² vs the SM;
    ``save_json(path)`` writes the CLI's ``bestfit.json``). Settings default to the fit file's
    ``[bestfit]`` table (``quick``: its ``[quick]`` overrides)."""
    from bkdm.inference import bestfit

    joint = load_fit(fit, quick)
    s = joint.spec.bestfit
    return bestfit.best_fit(joint, starts=s["starts"] if starts is None else starts,
                            max_steps=s["max_steps"] if max_steps is None else max_steps,
                            seed=s["seed"] if seed is None else seed,
                            tolerance=s["tolerance"] if tolerance is None else tolerance, progress=progress)


_best_fit = fit  # `fit` is also the argument name of the functions below


def sample(fit, quick=False, init=None, chains=None, warmup=None, draws=None, seed=None, progress=False):
    """NUTS posterior (``bkdm fit --method nuts``): a :class:`~bkdm.inference.nuts.NutsResult`
    (``inference_data``: ArviZ InferenceData; ``summary``; ``save(dir)`` writes ``posterior.nc``).
    ``init``: a best fit to start from (with the fit file's ``init_from_bestfit``, None runs
    :func:`fit` first). Settings default to the fit file's ``[sampler]`` table. Chains run vectorised
    on one device unless ``bkdm.inference.nuts.set_host_devices`` ran before JAX started."""
    from bkdm.inference import nuts

    joint = load_fit(fit, quick)
    s = joint.spec.sampler
    if init is None and s["init_from_bestfit"]:
        init = _best_fit(joint, progress=progress)
    return nuts.run_nuts(joint, chains=s["chains"] if chains is None else chains,
                         warmup=s["warmup"] if warmup is None else warmup,
                         draws=s["draws"] if draws is None else draws,
                         seed=s["seed"] if seed is None else seed,
                         target_accept=s["target_accept"], max_tree_depth=s["max_tree_depth"],
                         warmup_tree_depth=s["warmup_tree_depth"], pool_step_size=s["pool_step_size"],
                         init=init, progress=progress)


def scan(fit, points=None, quick=False, mode=None, observables=None, nuisances=None, out_dir=None,
         progress=False):
    """Grid or random scan of every free parameter of ``fit`` (``bkdm scan`` scans a plane of two):
    a :class:`~bkdm.inference.scan.ScanResult` (θ, observables such as Ωh², BR × P_inv, −2 ln L, and
    relic status per point; ``grid(name)`` reshapes a grid scan). Settings default to the fit file's
    ``[scan]`` table; −2 ln L at fixed Belle II ``nuisances`` (default: pyhf's initial values).
    ``out_dir``: resumable chunks on disk (``ScanResult.load(out_dir)`` reads them back)."""
    from bkdm.inference import scan as scan_module

    joint = load_fit(fit, quick)
    s = joint.spec.scan
    if observables is None:
        observables = [o for o in s["observables"] if o in scan_module.available_observables(joint)]
    return scan_module.scan(joint, points=s["points"] if points is None else points,
                            mode=s["mode"] if mode is None else mode, observables=observables,
                            chunk=s["chunk"], out_dir=out_dir, seed=s["seed"], nuisances=nuisances,
                            progress=progress)


__all__ = ["get_model", "register_model", "model_names", "benchmark", "benchmark_values", "fits", "load_spec",
           "load_fit", "fit", "sample", "scan"]
