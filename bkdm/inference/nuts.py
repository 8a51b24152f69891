"""Posterior sampling of a fit with numpyro's NUTS.

Model (:func:`make_model`), θ in physical units (GeV, GeV⁻¹ as in the model's ``PARAMETERS``):

    θ_i ~ prior_i        uniform → Uniform(lo, hi); log-uniform → LogUniform(lo, hi), sampled in
                         ln θ_i (``TransformReparam``: site ``<name>_base`` ~ Uniform(ln lo, ln hi),
                         ``<name>`` = exp of it), the natural metric for couplings spanning decades;
                         normal → Normal(mean, σ), TruncatedNormal if the prior has a range
    ν   ~ Uniform(bounds) the Belle II nuisances (one vector site ``nuisances``): flat, because the
                         pyhf log-pdf inside −2 ln L already contains their constraint terms
    factor  ln L = −½ · joint.twice_nll(θ, ν)

Gradients: NUTS differentiates in reverse mode; the joint's relic custom_vjp computes dΩh²/dθ in
forward mode inside (``jax.jacfwd`` with ``diffrax.ForwardMode``), so the stiff solve is never
reverse-differentiated (NUMERICS.md: forward ≈ 1.2× a solve, reverse ≈ 6×). numpyro's
``forward_mode_differentiation=True`` cannot be used: JAX cannot forward-differentiate a custom_vjp.

Failed relic solves: the joint returns −2 ln L = +∞ (zero likelihood) with a zero gradient there, so
NUTS never accepts such a point (an infinite energy error is a divergence with acceptance weight 0)
and never crashes on it; every failed solve is counted by the joint (``joint.relic_failures``, a
callback per evaluated point, leapfrog proposals included) and reported as ``relic_failures``.

Chains: ``chain_method="parallel"`` splits the vectorized chains over the XLA devices (``jax.jit``
with a ``NamedSharding`` on the chain axis; not ``jax.pmap``, see :func:`_chain_sharding`); on CPU that needs
``set_host_devices(chains)`` *before JAX initialises* (before the first JAX computation — the CLI
calls it first thing). ``"vectorized"`` vmaps the chains on one device, ``"sequential"`` runs them one
after another; ``"auto"`` takes ``"parallel"`` if there are ≥ ``chains`` local devices, otherwise
``"vectorized"``.

Posterior-predictive observables: Ωh² (if the fit has a Planck term) and BR(B⁺→K⁺ inv) are evaluated
after sampling at every draw in one vmapped batch (:mod:`bkdm.inference.scan`) and stored as
deterministic variables of the posterior (a deterministic site inside the model would re-run the
relic solve at every leapfrog step); ``make_model(joint, observables=True)`` has them as numpyro
``deterministic`` sites for ``numpyro.infer.Predictive``.

Result: :class:`NutsResult` — ArviZ ``InferenceData`` (posterior: θ's, ``nuisances``, observables;
sample_stats: diverging, n_steps, tree_depth, acceptance_rate, energy, lp, step_size; attrs: run
settings) and a summary (per θ: mean, sd, hdi_3%, hdi_97% (94 % HDI), r_hat, ess_bulk, ess_tail;
n_divergences, relic_failures, timings, ess_per_second = min bulk ESS over θ / sampling time).
"""

import dataclasses
import json
import math
import time
from functools import partial
from pathlib import Path

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions.transforms import biject_to
from numpyro.infer import NUTS, init_to_uniform
from numpyro.infer.reparam import TransformReparam
from tqdm.auto import tqdm

from bkdm.inference import scan as scan_module

CHAIN_METHODS = ("auto", "parallel", "vectorized", "sequential")
INIT_JITTER = 0.01  # standard deviation of the start-point jitter, in the unconstrained coordinates
HDI_PROB = 0.94  # → hdi_3%, hdi_97%
POSTERIOR_OBSERVABLES = ("omega_h2", "br_b_to_k_invisible")


def set_host_devices(n):
    """Expose ``n`` CPU devices to XLA (``numpyro.set_host_device_count``) so that chains can run in
    parallel. Only effective before JAX initialises its backends, i.e. before the first JAX
    computation in the process."""
    numpyro.set_host_device_count(int(n))


def theta_distribution(prior):
    """numpyro distribution of a :class:`~bkdm.inference.fitspec.Prior` (module docstring)."""
    if prior.kind == "uniform":
        return dist.Uniform(prior.low, prior.high)
    if prior.kind == "log-uniform":
        return dist.LogUniform(prior.low, prior.high)
    if prior.low is None and prior.high is None:
        return dist.Normal(prior.mean, prior.sigma)
    return dist.TruncatedNormal(prior.mean, prior.sigma, low=prior.low, high=prior.high)


def _base_name(joint, name):
    """Sampled site of a free parameter: ``<name>_base`` (ln θ) for log-uniform priors."""
    return f"{name}_base" if joint.spec.free[name].kind == "log-uniform" else name


def make_model(joint, observables=False):
    """The numpyro model of ``joint`` (module docstring); ``observables=True`` adds deterministic
    sites ``omega_h2`` (if the fit has a Planck term) and ``br_b_to_k_invisible``."""
    priors = dict(joint.spec.free)
    reparam = {n: TransformReparam() for n, p in priors.items() if p.kind == "log-uniform"}
    nu_low, nu_high = (jnp.asarray(b, dtype=jnp.float64) for b in np.asarray(joint.nuisance_bounds).T)

    def model():
        with numpyro.handlers.reparam(config=reparam):
            theta = jnp.stack([numpyro.sample(n, theta_distribution(p)) for n, p in priors.items()])
        if joint.n_nuisance:
            nuisances = numpyro.sample("nuisances", dist.Uniform(nu_low, nu_high).to_event(1))
        else:
            nuisances = jnp.zeros(0)
        numpyro.factor("loglike", -0.5 * joint.twice_nll(theta, nuisances))
        if observables:
            if joint.planck_options is not None:
                numpyro.deterministic("omega_h2", joint.omega_h2(theta)[0])
            numpyro.deterministic("br_b_to_k_invisible",
                                  joint.model.br_b_to_k_invisible(joint.params(theta)))

    return model


def _init_jittered(site=None, values=None, scale=INIT_JITTER):
    """numpyro init strategy: the given constrained ``values`` moved by N(0, scale²) in the site's
    unconstrained coordinates (a fresh draw per chain and per retry); other sites: init_to_uniform."""
    if site is None:
        return partial(_init_jittered, values=values, scale=scale)
    if site["type"] == "sample" and not site["is_observed"] and site["name"] in values:
        transform = biject_to(site["fn"].support)
        u = transform.inv(jnp.asarray(values[site["name"]], dtype=jnp.float64))
        return transform(u + scale * jax.random.normal(site["kwargs"]["rng_key"], jnp.shape(u)))
    return init_to_uniform(site)


def _start_values(joint, init):
    """Constrained start values keyed by sampled site: ``init`` (.theta, .nuisances) or the priors'
    start values and ``joint.nuisance_init``."""
    if init is None:
        theta = [p.start for p in joint.spec.free.values()]
        nuisances = joint.nuisance_init
    else:
        theta, nuisances = np.asarray(init.theta, dtype=float), np.asarray(init.nuisances, dtype=float)
    values = {}
    for name, x in zip(joint.names, theta, strict=True):
        values[_base_name(joint, name)] = math.log(x) if joint.spec.free[name].kind == "log-uniform" else x
    if joint.n_nuisance:
        lo, hi = np.asarray(joint.nuisance_bounds).T
        values["nuisances"] = np.clip(np.asarray(nuisances, dtype=float), lo + 1e-9 * (hi - lo),
                                      hi - 1e-9 * (hi - lo))
    return values


def resolve_chain_method(chain_method, chains):
    """The numpyro chain method for ``chain_method`` (``"auto"``: see module docstring)."""
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"chain_method = {chain_method!r} is not allowed: choose one of "
                         f"{list(CHAIN_METHODS)}")
    if chain_method != "auto":
        return chain_method
    if chains > 1 and jax.local_device_count() >= chains:
        return "parallel"
    return "vectorized"


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


@dataclasses.dataclass
class NutsResult:
    """Posterior draws (``inference_data``, ArviZ) and ``summary`` (JSON-ready dict)."""

    inference_data: az.InferenceData
    summary: dict

    def to_dict(self):
        return dict(self.summary)

    def save(self, out_dir):
        """Write ``posterior.nc`` (ArviZ netCDF, h5netcdf engine) and ``summary.json`` to ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        az.to_netcdf(self.inference_data, str(out_dir / "posterior.nc"))
        (out_dir / "summary.json").write_text(json.dumps(self.to_dict(), indent=1))
        return out_dir


class _Progress:
    """Host side of the compiled sampler: a tqdm bar and per-phase wall times, fed by a callback
    after every iteration (the first interval also holds tracing, compilation and initialisation)."""

    def __init__(self, total, warmup, enabled):
        self.bar = tqdm(total=total, unit="it", desc="NUTS", disable=not enabled)
        self.warmup = warmup
        self.times = {"warmup": 0.0, "sampling": 0.0}
        self.compile_time = None
        self.last = time.perf_counter()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()

    def tick(self, i, num_steps):
        now = time.perf_counter()
        if self.compile_time is None:
            self.compile_time = now - self.last
        self.times["warmup" if int(i) < self.warmup else "sampling"] += now - self.last
        self.last = now
        self.bar.update(np.size(num_steps))


def _site_distributions(joint):
    """Sampled site → its distribution (log-uniform θ's: the base Uniform(ln lo, ln hi))."""
    sites = {}
    for name, prior in joint.spec.free.items():
        d = theta_distribution(prior)
        sites[_base_name(joint, name)] = d.base_dist if prior.kind == "log-uniform" else d
    if joint.n_nuisance:
        lo, hi = np.asarray(joint.nuisance_bounds).T
        sites["nuisances"] = dist.Uniform(lo, hi).to_event(1)
    return sites


def _constrained(joint, z):
    """Physical θ (…, n) and nuisances (…, n_ν) from unconstrained sampler values ``z`` (JAX)."""
    sites = _site_distributions(joint)
    x = {k: biject_to(d.support)(z[k]) for k, d in sites.items()}
    theta = jnp.stack([jnp.exp(x[f"{n}_base"]) if joint.spec.free[n].kind == "log-uniform" else x[n]
                       for n in joint.names], axis=-1)
    return theta, x.get("nuisances")


def _sampler(joint, kernel, warmup, draws, progress):
    """keys (m, 2) → the draws of m vectorized chains, each leaf (draws, m, …): initialisation,
    ``warmup`` adapting iterations, then ``draws`` collected ones with the posterior observables
    evaluated at every draw — one traceable function, so a run compiles once."""
    names = tuple(o for o in POSTERIOR_OBSERVABLES if o != "omega_h2" or joint.planck_options is not None)
    observe = jax.vmap(scan_module.point_function(joint, names, joint.nuisance_init))

    def advance(state, i):
        state = kernel.sample(state, (), {})
        jax.debug.callback(progress.tick, i, state.num_steps)
        return state

    def collect(state, i):
        state = advance(state, i)
        theta, nuisances = _constrained(joint, state.z)
        values, status = observe(theta)
        out = {"theta": theta, "diverging": state.diverging, "num_steps": state.num_steps,
               "accept_prob": state.accept_prob, "energy": state.energy,
               "potential_energy": state.potential_energy, "step_size": state.adapt_state.step_size,
               "relic_status": status, **values}
        if nuisances is not None:
            out["nuisances"] = nuisances
        return state, out

    def run(keys):
        state = kernel.init(keys, warmup, model_args=(), model_kwargs={})  # vmaps kernel.sample over chains
        state = jax.lax.fori_loop(0, warmup, lambda i, s: advance(s, i), state)
        return jax.lax.scan(collect, state, jnp.arange(warmup, warmup + draws))[1]

    return run


def _chain_sharding(chains):
    """Chains split over the local devices (GSPMD, ``jax.jit`` + ``NamedSharding``). Not ``jax.pmap``:
    in jax 0.10 pmap is built on shard_map, whose varying-axis types make lineax (inside diffrax's
    implicit solver) reject the relic solve ("pytree does not match out_structure", measured)."""
    devices = jax.local_devices()
    n = max(d for d in range(1, len(devices) + 1) if chains % d == 0)
    mesh = jax.sharding.Mesh(np.asarray(devices[:n]), ("chains",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("chains"))


def _sample(joint, kernel, chains, warmup, draws, seed, method, progress):
    """Run the chains (``method``: vectorized, sequential or parallel); returns the draws, each leaf
    (chains, draws, …), and the :class:`_Progress` with the phase times."""
    keys = jax.random.split(jax.random.PRNGKey(seed), chains)
    with _Progress(chains * (warmup + draws), warmup, progress) as clock:
        run = _sampler(joint, kernel, warmup, draws, clock)
        if method in ("vectorized", "parallel"):
            if method == "parallel":  # the vectorized chains, their axis sharded over the devices
                keys = jax.device_put(keys, _chain_sharding(chains))
            out = jax.tree.map(lambda a: np.swapaxes(np.asarray(a), 0, 1), jax.jit(run)(keys))
        else:  # one chain at a time: groups of one vectorized chain
            mapped = jax.jit(lambda k: jax.lax.map(run, k))
            out = jax.tree.map(lambda a: np.asarray(a)[:, :, 0], mapped(keys[:, None]))
    return out, clock


def run_nuts(joint, chains=4, warmup=1000, draws=1000, seed=0, target_accept=0.8, max_tree_depth=8,
             init=None, chain_method="auto", progress=True):
    """Sample the posterior of ``joint`` (a :class:`~bkdm.inference.joint.JointLikelihood`) with NUTS
    (module docstring). ``init``: an object with ``.theta`` (physical) and ``.nuisances`` (e.g. a best
    fit) where the chains start, with a small jitter; None → priors' start values, nuisance init."""
    for key, value in (("chains", chains), ("warmup", warmup), ("draws", draws),
                       ("max_tree_depth", max_tree_depth)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept!r}")
    method = resolve_chain_method(chain_method, chains)
    kernel = NUTS(make_model(joint), target_accept_prob=target_accept, max_tree_depth=max_tree_depth,
                  init_strategy=_init_jittered(values=_start_values(joint, init)))
    failures_before = joint.relic_failures
    t0 = time.perf_counter()
    out, clock = _sample(joint, kernel, chains, warmup, draws, seed, method, progress)
    wall_time = time.perf_counter() - t0
    relic_failures = joint.relic_failures - failures_before

    posterior = {n: out["theta"][..., i] for i, n in enumerate(joint.names)}
    for key in ("nuisances", *POSTERIOR_OBSERVABLES, "relic_status"):
        if key in out:
            posterior[key] = out[key]
    n_steps = out["num_steps"]
    sample_stats = {
        "diverging": out["diverging"], "n_steps": n_steps,
        "tree_depth": np.ceil(np.log2(n_steps + 1)).astype(int),
        "acceptance_rate": out["accept_prob"], "energy": out["energy"], "lp": -out["potential_energy"],
        "step_size": out["step_size"],
    }
    sampling_time = clock.times["sampling"]
    settings = {"fit": joint.spec.name, "model": joint.spec.model_name, "chains": chains, "warmup": warmup,
                "draws": draws, "seed": seed, "target_accept": target_accept,
                "max_tree_depth": max_tree_depth, "chain_method": method,
                "init": "given" if init is not None else "prior start", "numpyro": numpyro.__version__}
    timings = {"wall_time_s": wall_time, "compile_time_s": clock.compile_time,
               "warmup_time_s": clock.times["warmup"], "sampling_time_s": sampling_time}
    n_divergences = int(sample_stats["diverging"].sum())
    idata = az.from_dict(
        posterior=posterior, sample_stats=sample_stats,
        coords={"nuisance": list(joint.nuisance_names)} if joint.n_nuisance else None,
        dims={"nuisances": ["nuisance"]} if joint.n_nuisance else None,
        attrs={**{k: str(v) for k, v in settings.items()}, "relic_failures": relic_failures,
               "n_divergences": n_divergences, **timings})

    table = az.summary(idata, var_names=list(joint.names), hdi_prob=HDI_PROB, kind="all", round_to="none")
    columns = ("mean", "sd", "hdi_3%", "hdi_97%", "r_hat", "ess_bulk", "ess_tail")
    parameters = {n: {c: _finite_or_none(table.loc[n, c]) for c in columns} for n in joint.names}
    min_ess = min(float(table.loc[n, "ess_bulk"]) for n in joint.names)
    summary = {
        **parameters, "n_divergences": n_divergences, "relic_failures": relic_failures, **timings,
        "grad_evaluations": int(n_steps.sum()),
        "grad_evaluations_per_second": float(n_steps.sum()) / sampling_time,
        "ess_per_second": _finite_or_none(min_ess / sampling_time),
        "mean_tree_depth": float(sample_stats["tree_depth"].mean()),
        "mean_acceptance": float(sample_stats["acceptance_rate"].mean()),
        "settings": settings,
    }
    return NutsResult(idata, summary)
