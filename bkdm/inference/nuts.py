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
forward mode inside (``jax.jacfwd``, tangents from the variational equation along the solved
trajectory), so the stiff solve is never reverse-differentiated through its steps. numpyro's
``forward_mode_differentiation=True`` cannot be used: JAX cannot forward-differentiate a custom_vjp.

Failed relic solves: the joint returns −2 ln L = +∞ (zero likelihood) with a zero gradient there, so
NUTS never accepts such a point (an infinite energy error is a divergence with acceptance weight 0)
and never crashes on it; every failed solve is counted by the joint (``joint.relic_failures``, a
callback per evaluated point, leapfrog proposals included) and reported as ``relic_failures``.

Chains: ``chain_method="parallel"`` splits the chains into one vectorized group per XLA device, each
run from its own host thread (see :func:`_sample`); on CPU that needs ``set_host_devices(n)``
*before JAX initialises* (before the first JAX computation — the CLI calls it first thing with
n = min(chains, CPU cores)). ``"vectorized"`` vmaps the chains on one device, ``"sequential"`` runs
them one after another; ``"auto"`` takes ``"vectorized"`` (on a 2-core CPU it matches ``"parallel"`` per
iteration — the vmapped relic solve already uses both cores — and compiles 5× faster).

Mass matrix (``mass_matrix``): ``"hessian"`` — a fixed dense preconditioner from the Hessian of
−2 ln L at a best fit (:func:`hessian_inverse_mass_matrix`; warmup then adapts the step size only, by
one dual averaging over the whole warmup, shared by the vectorized chains by default: :func:`_sampler`);
``"adapt"`` — numpyro's windowed adaptation, dense over the θ block and diagonal over the
nuisances; ``"auto"`` — ``"hessian"`` when the chains start from a best fit. Measured on the ALP
default fit (2 chains, 100 warmup + 100 draws): identity/adapted diagonal → mean tree depth 6.8
(~117 gradients per iteration); Hessian → 4.5 (~22).

Posterior-predictive observables: Ωh² (if the fit has a Planck term) and BR(B⁺→K⁺ inv) are evaluated
inside the sampling loop, once per kept draw for all vectorized chains together
(:func:`bkdm.inference.scan.point_function`, skipped during warmup), and stored as deterministic
variables of the posterior (a deterministic site inside the model would re-run the relic solve at
every leapfrog step). Measured on the ALP default fit: one batched value-only solve per iteration
(a few ms against ≈ 0.55 s per NUTS iteration; sampling time unchanged within noise, 163 vs 170 s for
4 × 300 draws) plus ≈ 18 s more compilation, where a separate vmapped batch after sampling took 64 s
for 4000 draws; ``make_model(joint, observables=True)`` has them as numpyro ``deterministic`` sites
for ``numpyro.infer.Predictive``.

Result: :class:`NutsResult` — ArviZ ``InferenceData`` (:mod:`bkdm.inference.inference_data`:
posterior — θ's, ``nuisances``, observables; sample_stats — diverging, n_steps, tree_depth,
acceptance_rate, energy, lp, step_size; log_likelihood pointwise per observation; observed_data;
prior; attrs — bkdm version, fit, model, fit hash, units, run settings and ``provenance``, the JSON of
:func:`bkdm.inference.provenance.record`) and a summary (per θ: mean, sd, hdi_3%, hdi_97% (94 % HDI),
r_hat, ess_bulk, ess_tail; n_divergences, relic_failures, timings, ess_per_second = min bulk ESS over
θ / sampling time; the verdict of :func:`bkdm.inference.convergence.assess`: converged, verdict,
warnings, suggestions).
"""

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.flatten_util import ravel_pytree
from numpyro.distributions.transforms import biject_to
from numpyro.infer import NUTS, init_to_uniform
from numpyro.infer.hmc_util import dual_averaging
from numpyro.infer.reparam import TransformReparam
from tqdm.auto import tqdm

from bkdm.inference import bestfit, convergence, inference_data, provenance
from bkdm.inference import scan as scan_module

CHAIN_METHODS = ("auto", "parallel", "vectorized", "sequential")
INIT_JITTER = 0.01  # standard deviation of the start-point jitter, in the unconstrained coordinates
HDI_PROB = 0.94  # → hdi_3%, hdi_97%
POSTERIOR_OBSERVABLES = ("omega_h2", "br_b_to_k_invisible")


def set_host_devices(chains):
    """Expose min(``chains``, CPU cores) CPU devices to XLA (``numpyro.set_host_device_count``) so
    that chain groups can run in parallel (one compilation per device, so no more devices than
    cores). Only effective before JAX initialises its backends, i.e. before the first JAX
    computation in the process."""
    numpyro.set_host_device_count(max(1, min(int(chains), os.cpu_count() or 1)))


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


def make_model(joint, observables=False, twice_nll=None):
    """The numpyro model of ``joint`` (module docstring); ``observables=True`` adds deterministic
    sites ``omega_h2`` (if the fit has a Planck term) and ``br_b_to_k_invisible``. ``twice_nll``:
    the −2 ln L(θ, ν) to use (default ``joint.twice_nll``; the sampler passes a
    :class:`_HostLikelihood` function)."""
    twice_nll = joint.twice_nll if twice_nll is None else twice_nll
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
        numpyro.factor("loglike", -0.5 * twice_nll(theta, nuisances))
        if observables:
            if joint.planck_options is not None:
                numpyro.deterministic("omega_h2", joint.omega_h2(theta)[0])
            numpyro.deterministic("br_b_to_k_invisible",
                                  joint.model.br_b_to_k_invisible(joint.params(theta)))

    return model


class _HostLikelihood:
    """−2 ln L(θ, ν) and its gradient for a batch of points, compiled ahead of time once per
    (device, batch size) and reached from the compiled sampler through ``jax.pure_callback`` (a
    ``custom_vjp`` whose backward pass returns the gradient computed with the value).

    Why (measured on the ALP default fit, 2-core CPU): traced into the sampler, the relic solve and
    its forward-mode derivative are compiled once per copy of the potential (numpyro's init and the
    NUTS step) and once per device — 261 s of compilation for two devices. Behind the callback the
    sampler compiles in seconds and the likelihood once (53 s). Used by one program at a time (the
    ``vectorized`` and ``sequential`` chain methods, see :func:`_sample`). Non-finite
    values or gradients (a failed relic solve) become (+∞, 0): zero likelihood, a rejected proposal.
    """

    def __init__(self, joint):
        self.joint = joint
        self.n_theta, self.n_nuisance = joint.n_theta, joint.n_nuisance

        def point(theta, nuisances):
            value, (g_theta, g_nu) = jax.value_and_grad(joint.twice_nll, argnums=(0, 1))(theta, nuisances)
            ok = jnp.isfinite(value) & jnp.all(jnp.isfinite(g_theta)) & jnp.all(jnp.isfinite(g_nu))
            return jnp.where(ok, value, jnp.inf), jnp.where(ok, g_theta, 0.0), jnp.where(ok, g_nu, 0.0)

        self._batched = jax.jit(jax.vmap(point))
        self._executables = {}

    def compile(self, device, batch):
        """The executable for ``batch`` points on ``device`` (compiled on first request)."""
        key = (device.id, batch)
        if key not in self._executables:
            sharding = jax.sharding.SingleDeviceSharding(device)
            shapes = [jax.ShapeDtypeStruct((batch, n), jnp.float64, sharding=sharding)
                      for n in (self.n_theta, self.n_nuisance)]
            self._executables[key] = self._batched.lower(*shapes).compile()
        return self._executables[key]

    def batch_size(self, device, n):
        """The batch an ``n``-point call runs with: the smallest compiled batch ≥ n on ``device``
        (padded), else n. numpyro's initialisation evaluates one unbatched point even for vectorized
        chains; compiling a batch-1 copy for it cost 60 s (measured, ALP default fit)."""
        sizes = [b for (d, b) in self._executables if d == device.id and b >= n]
        return min(sizes) if sizes else n

    def function(self, device):
        """(θ, ν) → −2 ln L, a JAX function (vmappable: a batch is one call) evaluated on ``device``."""
        n_t, n_nu = self.n_theta, self.n_nuisance

        def host(theta, nuisances):
            batch = theta.shape[:-1]
            theta = np.asarray(theta, dtype=np.float64).reshape(-1, n_t)
            nuisances = np.asarray(nuisances, dtype=np.float64).reshape(theta.shape[0], n_nu)
            n = theta.shape[0]
            size = self.batch_size(device, n)
            if size > n:  # pad with copies of the first point (sliced off below)
                theta = np.concatenate([theta, np.repeat(theta[:1], size - n, axis=0)])
                nuisances = np.concatenate([nuisances, np.repeat(nuisances[:1], size - n, axis=0)])
            value, g_theta, g_nu = self.compile(device, size)(jax.device_put(theta, device),
                                                             jax.device_put(nuisances, device))
            return (np.asarray(value)[:n].reshape(batch), np.asarray(g_theta)[:n].reshape(*batch, n_t),
                    np.asarray(g_nu)[:n].reshape(*batch, n_nu))

        def call(theta, nuisances):
            shapes = (jax.ShapeDtypeStruct(theta.shape[:-1], jnp.float64),
                      jax.ShapeDtypeStruct(theta.shape, jnp.float64),
                      jax.ShapeDtypeStruct(theta.shape[:-1] + (n_nu,), jnp.float64))
            return jax.pure_callback(host, shapes, theta, nuisances, vmap_method="broadcast_all")

        @jax.custom_vjp
        def twice_nll(theta, nuisances):
            return call(theta, nuisances)[0]

        def fwd(theta, nuisances):
            value, g_theta, g_nu = call(theta, nuisances)
            return value, (g_theta, g_nu)

        def bwd(grads, cotangent):
            return cotangent[..., None] * grads[0], cotangent[..., None] * grads[1]

        twice_nll.defvjp(fwd, bwd)
        return twice_nll


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
    return "vectorized"


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


class NutsResult(inference_data.PosteriorResult):
    """Posterior draws (``inference_data``, ArviZ) and ``summary`` (JSON-ready dict) of a NUTS run."""


class _Progress:
    """Host side of the compiled sampler: a tqdm bar and per-phase wall times, fed by a callback
    after every iteration (from several threads when chain groups run in parallel). ``start`` marks
    the end of compilation; the first interval then holds the chains' initialisation."""

    def __init__(self, total, warmup, enabled):
        self.bar = tqdm(total=total, unit="it", desc="NUTS", disable=not enabled)
        self.warmup = warmup
        self.times = {"warmup": 0.0, "sampling": 0.0}
        self.compile_time = None
        self.last = time.perf_counter()
        self.lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()

    def start(self):
        now = time.perf_counter()
        self.compile_time = now - self.last
        self.last = now

    def tick(self, i, num_steps):
        with self.lock:
            now = time.perf_counter()
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


def _dual_averaging_init(step_size):
    """State of numpyro's ``dual_averaging`` ([HG14] = Hoffman & Gelman, arXiv:1111.4246, Alg. 5:
    x_t, x̄, ḡ, t, μ = ln(10 ε₀)) for the vectorized chains' start step sizes ε₀ = ``step_size`` (m,),
    as arrays so that its update runs per chain."""
    zeros = jnp.zeros_like(step_size)
    return zeros, zeros, zeros, zeros, jnp.log(10.0 * step_size)


_dual_averaging_update = dual_averaging()[1]  # (statistic, state) → state, elementwise arithmetic


def _with_step_size(state, step_size):
    return state._replace(adapt_state=state.adapt_state._replace(step_size=step_size))


def _sampler(joint, kernel, warmup, draws, progress, target_accept, pool_step_size, fixed_metric):
    """keys (m, 2) → the draws of m vectorized chains, each leaf (draws, m, …): initialisation, then
    one ``lax.scan`` over ``warmup`` adapting and ``draws`` collected iterations (warmup outputs are
    dropped) — one traceable function with a single copy of the NUTS step, so a run compiles the
    relic solve and its derivative twice (init, step), not once per phase.

    Step size with a ``fixed_metric`` (the Hessian mass matrix): one dual-averaging run over the whole
    warmup, kept here in the scan carry and written into the kernel's state before every warmup
    iteration; the first sampling iteration gets its average x̄, fixed from then on. numpyro's own
    adapter restarts the dual averaging from 10× a fresh step-size search at every mass-matrix window
    end (with 150 warmup iterations at iteration 99, so its final step is averaged over the last 50
    only) — right when the mass matrix changes there, adaptation thrown away when it does not.
    ``pool_step_size``: the vectorized chains share that one dual averaging, driven by their mean
    acceptance statistic, hence one step size. Adapted mass matrix: numpyro's windowed adaptation;
    ``pool_step_size`` then replaces the chains' step sizes by their median at the first sampling
    iteration."""

    observables = _observables_function(joint)

    def adapted(state, adapt, i):
        """The kernel state with this iteration's step size (see above)."""
        now = state.adapt_state.step_size
        if not fixed_metric:
            pooled = jnp.broadcast_to(jnp.median(now), jnp.shape(now))
            return _with_step_size(state, jnp.where(i == warmup, pooled, now)) if pool_step_size else state
        return _with_step_size(state, jnp.where(i < warmup, jnp.where(i == 0, now, jnp.exp(adapt[0])),
                                                jnp.where(i == warmup, jnp.exp(adapt[1]), now)))

    def step(carry, i):
        state, adapt = carry
        state = kernel.sample(adapted(state, adapt, i), (), {})
        if fixed_metric:
            # a non-finite acceptance (never seen; guarded) counts as a rejection
            statistic = target_accept - jnp.where(jnp.isfinite(state.accept_prob), state.accept_prob, 0.0)
            if pool_step_size:
                statistic = jnp.broadcast_to(jnp.mean(statistic), statistic.shape)
            updated = _dual_averaging_update(statistic, adapt)
            adapt = jax.tree.map(lambda new, old: jnp.where(i < warmup, new, old), updated, adapt)
        jax.debug.callback(progress.tick, i, state.num_steps)
        theta, nuisances = _constrained(joint, state.z)
        # observables of the kept draws only (the predicate is the unbatched loop index: a real branch)
        values = jax.lax.cond(i >= warmup, observables, lambda t: jax.tree.map(
            lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(observables, t)), theta)
        out = {"theta": theta, "observables": values, "diverging": state.diverging,
               "num_steps": state.num_steps, "accept_prob": state.accept_prob, "energy": state.energy,
               "potential_energy": state.potential_energy, "step_size": state.adapt_state.step_size}
        if nuisances is not None:
            out["nuisances"] = nuisances
        return (state, adapt), out

    def run(keys):
        state = kernel.init(keys, warmup, model_args=(), model_kwargs={})  # vmaps kernel.sample over chains
        if fixed_metric and pool_step_size:  # one shared start ε₀: the median of the chains' searches
            step_size = state.adapt_state.step_size
            state = _with_step_size(state, jnp.broadcast_to(jnp.median(step_size), step_size.shape))
        adapt = _dual_averaging_init(state.adapt_state.step_size)
        out = jax.lax.scan(step, (state, adapt), jnp.arange(warmup + draws))[1]
        return jax.tree.map(lambda a: a[warmup:], out)

    return run


def _observables_function(joint):
    """θ's (m, n) → ({name: (m,)}, relic status (m,)): the posterior observables of m chains' draws."""
    names = tuple(o for o in POSTERIOR_OBSERVABLES if o != "omega_h2" or joint.planck_options is not None)
    return jax.vmap(scan_module.point_function(joint, names, joint.nuisance_init))


def _chain_devices(chains):
    """The local devices the chains are split over: the most that divide ``chains`` evenly."""
    devices = jax.local_devices()
    return devices[:max(d for d in range(1, len(devices) + 1) if chains % d == 0)]


def _sample(joint, make_kernel, chains, warmup, draws, seed, method, progress, target_accept,
            pool_step_size, fixed_metric):
    """Run the chains; returns the draws, each leaf (chains, draws, …), and the :class:`_Progress`
    with the compile and phase times. ``make_kernel(twice_nll)`` → the NUTS kernel.

    ``vectorized``: all chains vmapped in one program on one device; ``sequential``: one chain after
    another (``lax.map``) on one device. Both reach −2 ln L through a :class:`_HostLikelihood`
    executable compiled once before sampling (measured on the ALP default fit: 53 s of compilation
    instead of 261 s with the likelihood traced into the sampler; same time per iteration).
    ``parallel``: the chains split into one vectorized group per device (:func:`_chain_devices`),
    each group compiled for its device (in parallel threads) with the likelihood traced in, and run
    from its own host thread (XLA releases the GIL while it runs). Traced, because a host callback
    that runs another executable blocks one thread of XLA's CPU pool while it waits, and two such
    callbacks deadlock a 2-thread pool (measured). Not ``jax.pmap`` (in jax 0.10 built on shard_map,
    whose varying-axis types make lineax inside diffrax's implicit solver reject the relic solve) and
    not one GSPMD program with the chain axis sharded (measured: ran on one core)."""
    keys = jax.random.split(jax.random.PRNGKey(seed), chains)
    with _Progress(chains * (warmup + draws), warmup, progress) as clock:
        if method == "sequential":
            devices, groups = jax.local_devices()[:1], [keys[:, None]]
        else:
            devices = _chain_devices(chains) if method == "parallel" else jax.local_devices()[:1]
            groups = np.split(np.asarray(keys), len(devices))
        if method == "parallel":
            likelihood = None
        else:
            likelihood = _HostLikelihood(joint)
            likelihood.compile(devices[0], 1 if method == "sequential" else chains)
        lowered = []
        for device, group in zip(devices, groups, strict=True):
            kernel = make_kernel(joint.twice_nll if likelihood is None else likelihood.function(device))
            run = _sampler(joint, kernel, warmup, draws, clock, target_accept, pool_step_size,
                           fixed_metric)
            function = (lambda k, run=run: jax.lax.map(run, k)) if method == "sequential" else run
            x = jax.device_put(group, device)
            lowered.append((jax.jit(function).lower(x), x))
        with ThreadPoolExecutor(len(lowered)) as pool:
            executables = list(pool.map(lambda item: (item[0].compile(), item[1]), lowered))
        clock.start()
        if len(executables) == 1:
            results = [executables[0][0](executables[0][1])]
        else:
            with ThreadPoolExecutor(len(executables)) as pool:
                results = list(pool.map(lambda e: jax.block_until_ready(e[0](e[1])), executables))
        results = [jax.tree.map(np.asarray, r) for r in results]
    if method == "sequential":  # (chains, draws, 1, …)
        out = jax.tree.map(lambda a: a[:, :, 0], results[0])
    else:  # per group (draws, m, …) → (chains, draws, …)
        out = jax.tree.map(lambda *a: np.swapaxes(np.concatenate(a, axis=1), 0, 1), *results)
    values, status = out.pop("observables")
    return {**out, **values, "relic_status": status}, clock


def _sampler_coordinates(joint, z):
    """NUTS's unconstrained coordinates, by sampled site, of the best fit's z = (u, ν)
    (:mod:`bkdm.inference.bestfit`): u → physical θ (the prior map) → site value (ln θ for log-uniform
    priors) → numpyro's ``biject_to(support).inv``; ν → the same for the nuisance site. Elementwise."""
    sites = _site_distributions(joint)
    out = {}
    for i, (name, prior) in enumerate(joint.spec.free.items()):
        x = prior.to_physical(z[i])
        site = _base_name(joint, name)
        out[site] = biject_to(sites[site].support).inv(jnp.log(x) if prior.kind == "log-uniform" else x)
    if joint.n_nuisance:
        out["nuisances"] = biject_to(sites["nuisances"].support).inv(z[joint.n_theta:])
    return out


def hessian_inverse_mass_matrix(joint, best):
    """Dense inverse mass matrix for NUTS from the Hessian H of −2 ln L at a best fit ``best``
    (:class:`~bkdm.inference.bestfit.BestFitResult`): the Laplace covariance C = 2H⁻¹ in the best fit's
    coordinates z = (u, ν), carried to NUTS's unconstrained coordinates w(z) (elementwise maps,
    :func:`_sampler_coordinates`) as J C J with J = diag(dw/dz), in numpyro's ravel order
    (``ravel_pytree`` of the sites). The log-prior Jacobian of the transforms is left out (a
    preconditioner only has to be close; step sizes are adapted). Eigenvalues are floored at
    1e-12 × the largest so the matrix stays positive definite.

    For a posterior close to Gaussian this makes NUTS's leapfrog see a near-isotropic target from the
    first iteration (the 231 Belle II nuisances span sd ~10⁻³ … 1, and the Planck term pins a narrow
    ridge in (f_a, m_χ): an adapted diagonal mass matrix leaves trees of depth 6–7)."""
    prob = bestfit.problem(joint)
    z = np.concatenate([prob.u_of(np.asarray(best.theta, dtype=float)),
                        np.asarray(best.nuisances, dtype=float)])
    h = prob.hessian(z)
    eigval, eigvec = np.linalg.eigh(0.5 * (h + h.T))
    floor = 1e-12 * np.max(np.abs(eigval))
    cov_z = (eigvec / np.maximum(eigval, floor)) @ eigvec.T * 2.0
    # J = diag(dw/dz) by one jvp with unit tangents (the maps are elementwise); the z index of each
    # raveled w: the sites' z indices raveled the same way (ravel_pytree, numpyro's order)
    z = jnp.asarray(z)
    _, jac = jax.jvp(lambda v: ravel_pytree(_sampler_coordinates(joint, v))[0], (z,), (jnp.ones_like(z),))
    index = {site: np.asarray(i) for site, i in zip(
        [_base_name(joint, n) for n in joint.names], range(joint.n_theta), strict=True)}
    if joint.n_nuisance:
        index["nuisances"] = np.arange(joint.n_theta, z.size)
    order = np.asarray(ravel_pytree(index)[0]).astype(int)
    jac = np.asarray(jac)
    return jac[:, None] * cov_z[np.ix_(order, order)] * jac[None, :]


MASS_MATRICES = ("auto", "hessian", "adapt")


def run_nuts(joint, chains=4, warmup=1000, draws=1000, seed=0, target_accept=0.8, max_tree_depth=8,
             init=None, chain_method="auto", progress=True, mass_matrix="auto", warmup_tree_depth=None,
             pool_step_size=True):
    """Sample the posterior of ``joint`` (a :class:`~bkdm.inference.joint.JointLikelihood`) with NUTS
    (module docstring). ``init``: an object with ``.theta`` (physical) and ``.nuisances`` (e.g. a best
    fit) where the chains start, with a small jitter; None → priors' start values, nuisance init.
    ``warmup_tree_depth``: a smaller tree-depth cap during warmup only (None → ``max_tree_depth``);
    warmup draws are discarded, so the cap only bounds the cost of the step-size search (early
    dual-averaging proposals with tiny steps build the deepest trees), not the posterior.
    ``pool_step_size`` (default True): the vectorized chains (all chains for ``"vectorized"``, each
    device's group for ``"parallel"``; no effect for ``"sequential"``) sample with one step size — with
    the Hessian mass matrix adapted by one dual averaging shared by the chains (:func:`_sampler`),
    otherwise the median of their adapted steps; any step size fixed after warmup leaves NUTS exact.
    Vectorized chains advance in lock step, each iteration as long as the longest tree, so one chain
    whose adaptation settled on a small step sets the cost of all. Measured on the ALP default fit,
    4 × (150 + 1000): per-chain steps 0.22/0.26/0.23/0.13 (numpyro's adapter) → 31 leapfrogs per
    iteration; shared (0.248) → 15, sampling 1.9× faster (0.29 vs 0.56 s per iteration) at equal
    ESS per second (m_a's, limited by the chains' crossings of the charm threshold in both)."""
    if not isinstance(pool_step_size, bool):
        raise ValueError(f"pool_step_size must be True or False, got {pool_step_size!r}")
    warmup_tree_depth = max_tree_depth if warmup_tree_depth is None else warmup_tree_depth
    for key, value in (("chains", chains), ("warmup", warmup), ("draws", draws),
                       ("max_tree_depth", max_tree_depth), ("warmup_tree_depth", warmup_tree_depth)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept!r}")
    convergence.check_settings(chains, draws)
    method = resolve_chain_method(chain_method, chains)
    if mass_matrix not in MASS_MATRICES:
        raise ValueError(f"mass_matrix = {mass_matrix!r} is not allowed: choose one of {list(MASS_MATRICES)}")
    if mass_matrix == "auto":
        mass_matrix = "hessian" if isinstance(init, bestfit.BestFitResult) else "adapt"
    if mass_matrix == "hessian":
        if init is None:
            raise ValueError("mass_matrix = 'hessian' needs init = a best fit (theta, nuisances) where "
                             "the Hessian is taken")
        # fixed dense preconditioner from the best fit; warmup adapts the step size only
        mass = {"dense_mass": True, "adapt_mass_matrix": False,
                "inverse_mass_matrix": jnp.asarray(hessian_inverse_mass_matrix(joint, init))}
    else:  # windowed adaptation: dense over the θ block, diagonal over the nuisances
        theta_sites = tuple(_base_name(joint, n) for n in joint.names)
        mass = {"dense_mass": [theta_sites] if len(theta_sites) > 1 else False}
    start = _init_jittered(values=_start_values(joint, init))

    def make_kernel(twice_nll):
        return NUTS(make_model(joint, twice_nll=twice_nll), target_accept_prob=target_accept,
                    max_tree_depth=(warmup_tree_depth, max_tree_depth), init_strategy=start, **mass)

    failures_before = joint.relic_failures
    t0 = time.perf_counter()
    out, clock = _sample(joint, make_kernel, chains, warmup, draws, seed, method, progress, target_accept,
                         pool_step_size, mass_matrix == "hessian")
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
    record = provenance.record(joint.spec)  # fit hash + version: posterior.nc attrs and summary.json
    settings = {"fit": joint.spec.name, "model": joint.spec.model_name, "chains": chains, "warmup": warmup,
                "draws": draws, "seed": seed, "target_accept": target_accept,
                "max_tree_depth": max_tree_depth,
                "warmup_tree_depth": warmup_tree_depth, "chain_method": method, "mass_matrix": mass_matrix,
                "pool_step_size": pool_step_size,
                "init": "given" if init is not None else "prior start", "numpyro": numpyro.__version__,
                "fit_hash": record["fit_hash"], "bkdm_version": record["bkdm_version"]}
    timings = {"wall_time_s": wall_time, "compile_time_s": clock.compile_time,
               "warmup_time_s": clock.times["warmup"], "sampling_time_s": sampling_time}
    n_divergences = int(sample_stats["diverging"].sum())
    idata = inference_data.build(joint, posterior, sample_stats,
                                 {**settings, "sampler": "nuts", "relic_failures": relic_failures,
                                  "n_divergences": n_divergences, **timings}, prior_seed=seed)

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
    summary.update(convergence.assess(summary, joint.names, draws, "nuts", settings))
    return NutsResult(idata, summary)
