"""Fit declarations: TOML fit files → validated :class:`FitSpec` objects.

The fits shipped with bkdm are package data (``bkdm/fits/*.toml``): :func:`shipped_fits` lists them
and :func:`load` accepts their names (``load("alp-freeze-in")``, the ``[fit] name``; the file stem
``alp_freeze_in`` works too) as well as paths of your own files.

A fit file declares a model, its free parameters with priors, fixed parameters, likelihood terms
and sampler/scan settings (units: GeV for masses, GeV⁻¹ for dimensionful couplings, as in each
model's ``PARAMETERS``)::

    [fit]
    name = "alp-freeze-in"
    model = "alp"                       # alp | dark-photon | resonant-alp | a registered model
    description = "..."

    [free.m_a]                          # one table per free parameter
    prior = "uniform"                   # uniform | log-uniform | normal
    range = [1.0, 4.5]                  # required for uniform/log-uniform; optional truncation for normal
    init = 2.1                          # optional starting value (default: prior centre)
    # mean = ..., sigma = ...           # normal priors

    [fixed]                             # every other parameter the model needs
    c_q = 1.0                           # model aliases allowed (alp: c_q = all six quarks; resonant-alp: r)
    g_aww = "g_agg"                     # a string naming another parameter ties the two

    [likelihood]
    belle2 = { channels = "combined", line_shape = "interpolate" }   # or belle2 = false
    planck = { theory_uncertainty = 0.01 }                           # or planck = false
    constraints = ["belle2017_kstar"]                                # keys of likelihoods.constraints.LIMITS
    relic = { method = "cbe" }                                       # model-specific relic options

    [bestfit]  starts = 8, max_steps = 500
    [sampler]  chains = 4, warmup = 1000, draws = 1000, seed = 0, target_accept = 0.8, max_tree_depth = 8,
               warmup_tree_depth = 8 (cap during warmup only), pool_step_size = true (one step size
               for the vectorized chains, see bkdm.inference.nuts.run_nuts), init_from_bestfit = true
    [smc]      particles = 128 (per run), runs = 4, mcmc_steps = 4, leapfrog_steps = 8, target_ess = 0.5,
               seed = 0, modes = { m_a = [2.546] } (posterior mass per region; bkdm.inference.smc)
    [scan]     points = 2500, mode = "grid" | "random", observables = ["omega_h2", "twice_nll"], chunk = 500,
               nuisances = "profile" | "fixed" (Belle II nuisances minimised at every point, the default,
               or held at the best fit; also used by `bkdm fit --profile`, docs/statistics.md)
    [quick]    # overrides used by `--quick`, e.g. bestfit = { starts = 2 }, sampler = { draws = 200 },
               # smc = { particles = 64 }

Every problem is a ``ValueError`` naming the file, the field and the allowed values.
"""

import dataclasses
import inspect
import math
import tomllib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bkdm.models import get_model, model_names

PRIOR_KINDS = ("uniform", "log-uniform", "normal")
SECTIONS = ("fit", "free", "fixed", "likelihood", "bestfit", "sampler", "smc", "scan", "quick")
LIKELIHOOD_KEYS = ("belle2", "planck", "constraints", "relic")
BESTFIT_DEFAULTS = {"starts": 8, "max_steps": 400, "seed": 0, "tolerance": 1e-6}
SAMPLER_DEFAULTS = {"chains": 4, "warmup": 1000, "draws": 1000, "seed": 0, "target_accept": 0.8,
                    "max_tree_depth": 8, "warmup_tree_depth": 8, "init_from_bestfit": True,
                    "pool_step_size": True}
SMC_DEFAULTS = {"particles": 128, "runs": 4, "mcmc_steps": 4, "leapfrog_steps": 8, "target_ess": 0.5,
                "seed": 0, "modes": {}}
SCAN_DEFAULTS = {"points": 2500, "mode": "grid", "observables": ["omega_h2", "br_b_to_k_invisible",
                                                                  "twice_nll"],
                 "chunk": 500, "seed": 0, "nuisances": "profile"}
BELLE2_DEFAULTS = {"channels": "combined", "line_shape": "interpolate", "width": None}
PLANCK_DEFAULTS = {"theory_uncertainty": 0.01}


class FitFileError(ValueError):
    """A malformed fit declaration (a ValueError naming the file, field and allowed values)."""


def _err(where, msg):
    raise FitFileError(f"{where}: {msg}")


@dataclasses.dataclass(frozen=True)
class Prior:
    """Prior of one free parameter; maps between physical x and an unconstrained coordinate u.

    uniform on [lo, hi]:       x = lo + (hi − lo) σ(u)
    log-uniform on [lo, hi]:   ln x = ln lo + (ln hi − ln lo) σ(u)
    normal(mean, sigma):       x = mean + sigma u  (truncation to ``range`` not applied in u)
    """

    kind: str
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sigma: float | None = None
    init: float | None = None

    @property
    def centre(self):
        if self.kind == "normal":
            return self.mean
        if self.kind == "log-uniform":
            return math.sqrt(self.low * self.high)
        return 0.5 * (self.low + self.high)

    @property
    def start(self):
        return self.centre if self.init is None else self.init

    def to_physical(self, u):
        """x(u) (JAX-compatible)."""
        if self.kind == "normal":
            return self.mean + self.sigma * u
        s = 1.0 / (1.0 + jnp.exp(-u))
        if self.kind == "log-uniform":
            return jnp.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * s)
        return self.low + (self.high - self.low) * s

    def to_unconstrained(self, x):
        """u(x), the inverse of :meth:`to_physical` (numpy; x strictly inside the range)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "normal":
            return (x - self.mean) / self.sigma
        if self.kind == "log-uniform":
            t = (np.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            t = (x - self.low) / (self.high - self.low)
        t = np.clip(t, 1e-12, 1 - 1e-12)
        return np.log(t) - np.log1p(-t)

    def log_density(self, x):
        """ln prior density at physical x (up to a constant), JAX-compatible; −inf outside the range."""
        x = jnp.asarray(x)
        if self.kind == "normal":
            val = -0.5 * ((x - self.mean) / self.sigma) ** 2
        elif self.kind == "log-uniform":
            val = -jnp.log(jnp.where(x > 0, x, 1.0))
        else:
            val = jnp.zeros_like(x)
        inside = jnp.ones_like(x, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return jnp.where(inside, val, -jnp.inf)

    def sample(self, rng, n):
        """n draws (numpy Generator ``rng``)."""
        if self.kind == "normal":
            x = rng.normal(self.mean, self.sigma, n)
            if self.low is not None or self.high is not None:
                x = np.clip(x, self.low if self.low is not None else -np.inf,
                            self.high if self.high is not None else np.inf)
            return x
        t = rng.uniform(0.0, 1.0, n)
        if self.kind == "log-uniform":
            return np.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * t)
        return self.low + (self.high - self.low) * t


@dataclasses.dataclass(frozen=True)
class FitSpec:
    """A validated fit declaration (see module docstring)."""

    name: str
    model_name: str
    description: str
    free: dict
    fixed: dict
    likelihood: dict
    bestfit: dict
    sampler: dict
    scan: dict
    quick: dict
    source: str = "<dict>"
    smc: dict = dataclasses.field(default_factory=lambda: dict(SMC_DEFAULTS))

    @property
    def model(self):
        return get_model(self.model_name)

    @property
    def free_names(self):
        return tuple(self.free)

    def with_quick(self):
        """A copy with the ``[quick]`` overrides applied (what ``--quick`` runs)."""
        def merged(section):
            return {**getattr(self, section), **self.quick.get(section, {})}
        return dataclasses.replace(self, bestfit=merged("bestfit"), sampler=merged("sampler"),
                                   scan=merged("scan"), smc=merged("smc"))

    def parameter_values(self, theta):
        """All parameter values (fit-level names) for free values ``theta`` (sequence, same order as
        ``free_names``): fixed values, free values, then ties resolved."""
        values = dict(zip(self.free_names, theta, strict=True))
        for k, v in self.fixed.items():
            if not (isinstance(v, str) and _is_reference(v, self)):
                values[k] = v
        for k, v in self.fixed.items():
            if isinstance(v, str) and _is_reference(v, self):
                values[k] = values[v]
        return values

    def build_params(self, theta):
        """The model's ``Params`` for free values ``theta`` (JAX-traceable)."""
        return build_params(self.model, self.parameter_values(theta))


def _is_reference(value, spec_or_names):
    names = spec_or_names if isinstance(spec_or_names, (set, tuple, list)) else (
        set(spec_or_names.free) | set(spec_or_names.fixed))
    return value in names


def model_parameter_names(model):
    """Names a fit may use for ``model``: its Params fields and its aliases."""
    return set(model.PARAMETERS) | set(getattr(model, "ALIASES", {}))


def build_params(model, values):
    """``model.Params`` from fit-level ``values`` (field names, or aliases expanded by the model's
    ``ALIASES``: {alias: function(value, values) → {field: value}})."""
    aliases = getattr(model, "ALIASES", {})
    fields = {}
    for name, v in values.items():
        if name in aliases:
            continue
        fields[name] = v
    for name, expand in aliases.items():
        if name in values:
            fields.update(expand(values[name], values))
    return model.Params(**fields)


# ---------------------------------------------------------------------------------- parsing
def _number(where, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _err(where, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        _err(where, f"must be finite, got {value!r}")
    return float(value)


def _parse_prior(where, table, info):
    if not isinstance(table, dict):
        _err(where, "must be a table like { prior = \"uniform\", range = [lo, hi] }")
    unknown = set(table) - {"prior", "range", "init", "mean", "sigma"}
    if unknown:
        _err(where, f"unknown keys {sorted(unknown)}; allowed: prior, range, init, mean, sigma")
    kind = table.get("prior")
    if kind not in PRIOR_KINDS:
        _err(f"{where}.prior", f"{kind!r} is not allowed: choose one of {list(PRIOR_KINDS)}")
    low = high = mean = sigma = None
    if "range" in table:
        rng = table["range"]
        if not (isinstance(rng, list) and len(rng) == 2):
            _err(f"{where}.range", f"must be [low, high], got {rng!r}")
        low, high = (_number(f"{where}.range", v) for v in rng)
        if not low < high:
            _err(f"{where}.range", f"needs low < high, got [{low:g}, {high:g}]")
    if kind in ("uniform", "log-uniform") and low is None:
        _err(f"{where}.range", f"is required for a {kind} prior")
    if kind == "log-uniform" and low <= 0:
        _err(f"{where}.range", f"a log-uniform prior needs 0 < low, got low = {low:g}")
    if kind == "normal":
        if "mean" not in table or "sigma" not in table:
            _err(where, "a normal prior needs mean and sigma")
        mean = _number(f"{where}.mean", table["mean"])
        sigma = _number(f"{where}.sigma", table["sigma"])
        if sigma <= 0:
            _err(f"{where}.sigma", f"must be > 0, got {sigma:g}")
    # physical range of the parameter (model metadata)
    if info is not None:
        lo_phys = info.lower
        if lo_phys is not None:
            bad = (low is not None and (low < lo_phys or (info.lower_open and low <= lo_phys))) or (
                kind == "normal" and low is None)
            if bad:
                _err(f"{where}.range", f"prior extends outside the physical range {info.allowed()} "
                     f"[{info.unit}] of this parameter" + (" (give a range to truncate the normal prior)"
                                                           if kind == "normal" else ""))
        if info.upper is not None and high is not None and high > info.upper:
            _err(f"{where}.range", f"prior extends outside the physical range {info.allowed()} [{info.unit}]")
    init = None
    if "init" in table:
        init = _number(f"{where}.init", table["init"])
        if (low is not None and init <= low) or (high is not None and init >= high):
            _err(f"{where}.init", f"{init:g} must lie strictly inside the range [{low:g}, {high:g}]")
    return Prior(kind, low, high, mean, sigma, init)


def _parse_options(where, table, defaults, allowed_types=None):
    if table is False or table is None:
        return None
    if table is True:
        return dict(defaults)
    if not isinstance(table, dict):
        _err(where, f"must be a table, true or false, got {table!r}")
    unknown = set(table) - set(defaults)
    if unknown:
        _err(where, f"unknown keys {sorted(unknown)}; allowed: {sorted(defaults)}")
    return {**defaults, **table}


def relic_option_names(model):
    """Options a fit file may set in ``[likelihood] relic``: the keyword arguments of ``model.relic``
    other than the parameters, the solver settings (the fit's own) and the history length."""
    names = list(inspect.signature(model.relic).parameters)[1:]
    return [n for n in names if n not in ("settings", "history")]


def _parse_relic_options(where, table, model):
    if not isinstance(table, dict):
        _err(where, f"must be a table of relic options, got {table!r}")
    allowed = relic_option_names(model)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        _err(where, f"unknown options {unknown} for model {model.NAME!r}; allowed: {allowed or 'none'}")
    return dict(table)


def parse(data, source="<dict>"):
    """Validate a fit declaration given as a dict (the parsed TOML); returns :class:`FitSpec`."""
    where = str(source)
    unknown = set(data) - set(SECTIONS)
    if unknown:
        _err(where, f"unknown sections {sorted(unknown)}; allowed: {list(SECTIONS)}")
    fit = data.get("fit")
    if not isinstance(fit, dict):
        _err(where, "missing [fit] section (name, model, description)")
    try:
        model = get_model(fit.get("model"))
    except ValueError:
        _err(f"{where}: fit.model", f"{fit.get('model')!r} is not allowed: choose one of "
             f"{list(model_names())} "
             "(your own models: docs/add-a-model.md)")
    model_name = model.NAME
    allowed = model_parameter_names(model)
    free_tables = data.get("free", {})
    if not isinstance(free_tables, dict) or not free_tables:
        _err(f"{where}: [free]", "declare at least one free parameter as [free.<name>]")
    free = {}
    for name, table in free_tables.items():
        if name not in allowed:
            _err(f"{where}: free.{name}",
                 f"unknown parameter for model {model_name!r}; allowed: {sorted(allowed)}")
        free[name] = _parse_prior(f"{where}: free.{name}", table, model.PARAMETERS.get(name))
    fixed = dict(data.get("fixed", {}))
    for name, value in fixed.items():
        if name not in allowed and name not in getattr(model, "OPTIONS", ()):
            _err(f"{where}: fixed.{name}", f"unknown parameter for model {model_name!r}; allowed: "
                 f"{sorted(allowed | set(getattr(model, 'OPTIONS', ())))}")
        if name in free:
            _err(f"{where}: fixed.{name}", "is also declared free")
        if isinstance(value, str):
            if name in getattr(model, "OPTIONS", ()):
                continue
            if value not in free and value not in fixed:
                _err(f"{where}: fixed.{name}", f"ties to {value!r}, which is neither free nor fixed")
        else:
            _number(f"{where}: fixed.{name}", value)
    lk = data.get("likelihood", {})
    unknown = set(lk) - set(LIKELIHOOD_KEYS)
    if unknown:
        _err(f"{where}: [likelihood]", f"unknown keys {sorted(unknown)}; allowed: {list(LIKELIHOOD_KEYS)}")
    likelihood = {
        "belle2": _parse_options(f"{where}: likelihood.belle2", lk.get("belle2", True), BELLE2_DEFAULTS),
        "planck": _parse_options(f"{where}: likelihood.planck", lk.get("planck", True), PLANCK_DEFAULTS),
        "constraints": list(lk.get("constraints", [])),
        "relic": _parse_relic_options(f"{where}: likelihood.relic", lk.get("relic", {}), model),
    }
    from bkdm.likelihoods.belle2 import SUBSETS
    from bkdm.likelihoods.constraints import LIMITS
    if likelihood["belle2"] is not None:
        if likelihood["belle2"]["channels"] not in SUBSETS:
            _err(f"{where}: likelihood.belle2.channels", f"{likelihood['belle2']['channels']!r} is not "
                 f"allowed: choose one of {list(SUBSETS)}")
        if likelihood["belle2"]["line_shape"] not in ("interpolate", "breit-wigner"):
            _err(f"{where}: likelihood.belle2.line_shape", "choose 'interpolate' or 'breit-wigner'")
    if likelihood["planck"] is not None:
        tu = _number(f"{where}: likelihood.planck.theory_uncertainty",
                     likelihood["planck"]["theory_uncertainty"])
        if tu < 0:
            _err(f"{where}: likelihood.planck.theory_uncertainty", f"must be ≥ 0, got {tu:g}")
    for c in likelihood["constraints"]:
        if c not in LIMITS:
            _err(f"{where}: likelihood.constraints", f"{c!r} is not allowed: choose from {sorted(LIMITS)}")
    if likelihood["belle2"] is None and likelihood["planck"] is None and not likelihood["constraints"]:
        _err(f"{where}: [likelihood]", "all terms are switched off")
    bestfit = _parse_options(f"{where}: [bestfit]", data.get("bestfit", {}), BESTFIT_DEFAULTS)
    sampler = _parse_options(f"{where}: [sampler]", data.get("sampler", {}), SAMPLER_DEFAULTS)
    scan = _parse_options(f"{where}: [scan]", data.get("scan", {}), SCAN_DEFAULTS)
    smc = _parse_options(f"{where}: [smc]", data.get("smc", {}), SMC_DEFAULTS)
    _check_smc(f"{where}: smc", smc, free)
    for key in ("chains", "warmup", "draws", "max_tree_depth", "warmup_tree_depth"):
        v = sampler[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            _err(f"{where}: sampler.{key}", f"must be a positive integer, got {v!r}")
    _check_sampler_reach(f"{where}: sampler", sampler)
    for key in ("pool_step_size", "init_from_bestfit"):
        if not isinstance(sampler[key], bool):
            _err(f"{where}: sampler.{key}", f"must be true or false, got {sampler[key]!r}")
    if not 0 < float(sampler["target_accept"]) < 1:
        _err(f"{where}: sampler.target_accept", f"must be in (0, 1), got {sampler['target_accept']!r}")
    for key in ("starts", "max_steps"):
        v = bestfit[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            _err(f"{where}: bestfit.{key}", f"must be a positive integer, got {v!r}")
    if scan["mode"] not in ("grid", "random"):
        _err(f"{where}: scan.mode", f"{scan['mode']!r} is not allowed: choose 'grid' or 'random'")
    if scan["nuisances"] not in ("profile", "fixed"):
        _err(f"{where}: scan.nuisances", f"{scan['nuisances']!r} is not allowed: choose 'profile' or 'fixed'")
    for key in ("points", "chunk"):
        v = scan[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            _err(f"{where}: scan.{key}", f"must be a positive integer, got {v!r}")
    quick = data.get("quick", {})
    for section, table in quick.items():
        if section not in ("bestfit", "sampler", "smc", "scan"):
            _err(f"{where}: quick.{section}", "only bestfit, sampler, smc and scan can be overridden")
        current = {"bestfit": bestfit, "sampler": sampler, "smc": smc, "scan": scan}[section]
        merged = _parse_options(f"{where}: quick.{section}", table, current)
        if section == "smc":
            _check_smc(f"{where}: quick.smc", merged, free)
        if section == "sampler":
            for key in ("chains", "draws"):
                if not isinstance(merged[key], int) or isinstance(merged[key], bool) or merged[key] < 1:
                    _err(f"{where}: quick.sampler.{key}", f"must be a positive integer, got {merged[key]!r}")
            _check_sampler_reach(f"{where}: quick.sampler", merged)
    spec = FitSpec(name=str(fit.get("name", Path(where).stem)), model_name=model_name,
                   description=str(fit.get("description", "")), free=free, fixed=fixed,
                   likelihood=likelihood, bestfit=bestfit, sampler=sampler, scan=scan, quick=quick,
                   source=where, smc=smc)
    _check_builds(spec)
    _check_prior_box(spec)
    return spec


def _check_sampler_reach(where, sampler):
    """Sampler settings that cannot reach the convergence targets are errors naming the key."""
    from bkdm.inference.convergence import check_settings

    try:
        check_settings(sampler["chains"], sampler["draws"], where="sampler")
    except ValueError as exc:
        _err(where, str(exc))


def _check_smc(where, smc, free):
    """SMC settings that cannot work (bkdm.inference.convergence.check_smc_settings) and ``modes``:
    {free parameter: [split values inside its prior range, increasing]}."""
    from bkdm.inference.convergence import check_smc_settings

    try:
        check_smc_settings(smc["particles"], smc["runs"], smc["target_ess"], smc["mcmc_steps"],
                           smc["leapfrog_steps"], where="smc")
    except ValueError as exc:
        _err(where, str(exc))
    modes = smc["modes"]
    if not isinstance(modes, dict):
        _err(f"{where}.modes", f"must be a table {{parameter = [split values]}}, got {modes!r}")
    for name, splits in modes.items():
        if name not in free:
            _err(f"{where}.modes.{name}", f"not a free parameter; choose from {sorted(free)}")
        prior = free[name]
        if not (isinstance(splits, list) and splits):
            _err(f"{where}.modes.{name}", f"must be a non-empty list of split values, got {splits!r}")
        values = [_number(f"{where}.modes.{name}", v) for v in splits]
        if values != sorted(set(values)) or any(
                (prior.low is not None and v <= prior.low) or (prior.high is not None and v >= prior.high)
                for v in values):
            _err(f"{where}.modes.{name}", f"split values must increase and lie inside the prior range "
                 f"[{prior.low}, {prior.high}], got {splits!r}")


def _check_builds(spec):
    """Build the model's Params at the prior starting point: missing/invalid fixed values surface here."""
    theta = [p.start for p in spec.free.values()]
    try:
        spec.build_params(theta)
    except TypeError as exc:
        _err(f"{spec.source}: [fixed]", f"cannot build {spec.model_name} parameters ({exc}); required: "
             f"{sorted(spec.model.PARAMETERS)}")
    except ValueError as exc:
        _err(f"{spec.source}: parameters at the prior starting point", str(exc))


PRIOR_BOX_POINTS = 4096  # at most this many points of the prior box are checked (_check_prior_box)
NORMAL_BOX_HALF_WIDTH = 5.0  # a normal prior without a range is checked over mean ± 5σ


def _box_axis(prior, k):
    half = NORMAL_BOX_HALF_WIDTH * (prior.sigma or 0.0)
    lo = prior.low if prior.low is not None else prior.mean - half
    hi = prior.high if prior.high is not None else prior.mean + half
    return np.geomspace(lo, hi, k) if prior.kind == "log-uniform" else np.linspace(lo, hi, k)


def _check_prior_box(spec):
    """Refuse a prior box that reaches a point where one of the model's validity conditions fails
    (bkdm.models.base, "Validity"): the conditions are evaluated (pure JAX, vmapped) on a grid of the
    box, k values per free parameter with k^n ≤ 4096, end points included (log-spaced for log-uniform
    priors; a normal prior without a range over mean ± 5σ). The mass orderings are monotone in each
    parameter, so their extremes are at the corners; BR(B → K X) ≤ 1 is monotone in the couplings and
    smooth in the mass. The error names the condition, the parameters it involves and a failing point."""
    model = spec.model
    conditions = getattr(model, "CONDITIONS", ())
    priors = list(spec.free.values())
    n = len(priors)
    k = max(2, min(17, int(PRIOR_BOX_POINTS ** (1.0 / n))))
    axes = [_box_axis(prior, k) for prior in priors]
    theta = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)

    def holds(t):
        p = spec.build_params([t[i] for i in range(n)])
        return jnp.stack([cond.holds(p) for cond in conditions])

    ok = np.asarray(jax.vmap(holds)(jnp.asarray(theta)))  # (points, conditions)
    for j, cond in enumerate(conditions):
        bad = np.flatnonzero(~ok[:, j])
        if bad.size == 0:
            continue
        point = ", ".join(f"{name} = {theta[bad[0], i]:.4g}" for i, name in enumerate(spec.free_names))
        ranges = ", ".join(f"{name} ∈ [{axis[0]:.4g}, {axis[-1]:.4g}]" for name, axis in
                           zip(spec.free_names, axes, strict=True))
        _err(f"{spec.source}: [free] prior box", "reaches points outside the model's validity "
             f"({bad.size} of {len(theta)} checked grid points): {cond.allowed} fails, e.g. at {point} — "
             f"{cond.why or cond.name}; narrow the prior ranges ({ranges}) or change the fixed values of "
             f"the parameters involved: {', '.join(cond.parameters)}")


def _key(name):
    return str(name).strip().lower().replace("_", "-")


def shipped_fits():
    """{fit name: path} of the fit files shipped with bkdm (``bkdm/fits/*.toml``, package data)."""
    from importlib import resources

    out = {}
    for entry in sorted(resources.files("bkdm").joinpath("fits").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            path = Path(str(entry))
            name = tomllib.loads(path.read_text()).get("fit", {}).get("name", path.stem)
            out[str(name)] = path
    return out


def resolve(path_or_name):
    """The path of a fit file: ``path_or_name`` itself if that file exists, else the shipped fit of
    that name (``[fit] name`` or file stem; ``-``/``_`` and case ignored). FitFileError if neither."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    shipped = shipped_fits()
    for name, file in shipped.items():
        if _key(path_or_name) in (_key(name), _key(file.stem)):
            return file
    raise FitFileError(f"{path}: no such fit file, nor a shipped fit (shipped: {sorted(shipped)}; "
                       "`bkdm fits` lists them)")


def load(path_or_name):
    """Read and validate a fit file (TOML): a path, or the name of a shipped fit (:func:`resolve`)."""
    path = resolve(path_or_name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FitFileError(f"{path}: malformed TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise FitFileError(f"{path}: not a UTF-8 text file (a TOML fit file is expected): {exc.reason} at "
                           f"byte {exc.start}") from exc
    except OSError as exc:
        raise FitFileError(f"{path}: cannot read the fit file: {exc.strerror}") from exc
    return parse(data, source=str(path))
