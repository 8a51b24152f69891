"""Bayesian evidence and posterior of a fit by adaptive tempered SMC (BlackJAX) with HMC moves.

Tempering (Del Moral, Doucet, Jasra 2006; adaptive schedule: Jasra et al. 2011): particles drawn
from a normalised reference p₀ move through p_β ∝ p₀ (L/p₀·π)^β, β: 0 → 1, each β chosen so that
the incremental weights keep an effective sample size ``target_ess``·N (``blackjax.adaptive_tempered_smc``);
after each reweighting the particles are resampled (systematic) and moved by ``mcmc_steps`` HMC
transitions (``blackjax.hmc``, ``leapfrog_steps`` leapfrog steps) that leave p_β invariant. The
product of the mean incremental weights estimates the normalising constant

    Z = ∫ π(x) L(x) dx,      ln Ẑ = Σ_stages ln( (1/N) Σ_i exp(Δβ · ln ℓ(x_i)) ),

unbiased in Z. ``runs`` independent runs give ln Z as their mean and its standard error
sd/√runs (the uncertainty reported), and serve as the "chains" of the posterior's R̂/ESS.

Coordinates x = (u, w): u_i the unconstrained coordinate of each physics parameter under its fit-file
prior (:class:`~bkdm.inference.fitspec.Prior`: θ = lo + (hi − lo)·σ(u) for uniform priors, ln θ the
same for log-uniform ones, so u is standard-logistic distributed under the prior; θ = mean + σ·u for
normal ones) and ν the Belle II nuisances with the flat prior over pyhf's bounds of the NUTS model,
sampled in w = logit((ν − lo)/(hi − lo)) as NUTS does (:class:`Nuisances`). The reference for w is the
Gaussian of the SM Belle II fit (its Hessian), which makes the tempering start near the nuisances'
posterior; its density cancels at β = 1.

Paths. With a Planck term the tempering runs in two stages, which also separates the evidence:

    stage A:  p₀ = π(u) q(ν),                ℓ = L_Planck(θ)
              → Z_A = p(D_Planck | model)
    stage B:  p₀ ∝ π(u) q(ν) L_Planck(θ),    ℓ = π(ν) L_BelleII(θ, ν) L_limits(θ) / q(ν)
              → Z_B = p(D_flavour | D_Planck, model)

    ln Z = ln Z_A + ln Z_B   (all data).

The SM (no new particle: B_NP = 0, every model branching fraction 0) has no Ωh² prediction, so "the
SM on the same data" is the flavour data alone: Z_SM = ∫ π(ν) L_BelleII(ν; B_NP = 0) L_limits(0) dν
(tempered from q(ν) the same way), and the Bayes factor is

    B = Z_B / Z_SM = p(D_flavour | D_Planck, model) / p(D_flavour | SM),

the evidence the Belle II data (and limits) give for the model once Planck has fixed its relic
density (a fit without Planck: Z_A = 1). All likelihoods are normalised densities of the data (pyhf's
Poisson and constraint terms; Gaussians with their −½ ln 2πσ²), so ln Z is comparable between fits.

Cost: the relic density is the expensive term; it and the Belle II term are evaluated for all N
particles at once through a host callback into an executable compiled once per batch size
(:class:`HostFunction`; the tempering program itself then compiles in seconds). The relic term
returns Ωh² and dΩh²/du, so Ωh² of the final particles comes from the same executable.
"""

import dataclasses
import math
import time
from functools import partial

import arviz as az
import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.smc import adaptive_tempered, resampling
from tqdm.auto import tqdm

from bkdm.inference import convergence, inference_data
from bkdm.likelihoods import constraints, planck

FAILED_LOG_DENSITY = -1e250  # a failed likelihood (finite, so that 0·ℓ = 0 at β = 0; weight exp(−1e250) = 0)
STEP_JITTER = 4.0  # per-particle step sizes ε·4^U, U ~ U(−1, 1): narrow modes get small enough steps
TARGET_ACCEPTANCE = 0.75  # HMC step size tuned between stages towards this mean acceptance
HDI_PROB = 0.94
JEFFREYS = ((1.0, "not worth more than a bare mention"), (10**0.5, "substantial"), (10.0, "strong"),
            (10**1.5, "very strong"), (100.0, "decisive"))  # Jeffreys (1961), App. B; B ≥ the value
KASS_RAFTERY = ((1.0, "not worth more than a bare mention"), (3.0, "positive"), (20.0, "strong"),
                (150.0, "very strong"))  # Kass & Raftery (1995), Sec. 3.2


def evidence_scale(log_bayes_factor, scale=JEFFREYS):
    """The verbal category of a Bayes factor B = exp(``log_bayes_factor``) ≥ 1 on ``scale``;
    B < 1 is read as evidence against, with the category of 1/B."""
    b = abs(log_bayes_factor)
    label = "not worth more than a bare mention"
    for threshold, name in scale:
        if b >= math.log(threshold):
            label = name
    return label if log_bayes_factor >= 0 else f"{label} (against)"


# ------------------------------------------------------------------------------------ host functions
class HostFunction:
    """A scalar function f(x) of x (n,) with its gradient, compiled once ahead of time for a batch of
    ``batch`` points (``batching``: ``"vmap"``, or ``"map"`` = ``lax.map``, one point after another —
    measured on 2 CPU cores, 128 points: the Belle II value+gradient 0.45 ms per point mapped against
    2.7 vmapped, the relic value+Jacobian 1.5× faster vmapped), and called from compiled code through
    ``jax.pure_callback`` with a ``custom_vjp`` (backward pass = the precomputed gradient). Non-finite
    values (a failed relic solve) come back as NaN with a zero gradient, counted in ``failures``.
    Smaller batches are padded, larger ones chunked."""

    def __init__(self, f, n, batch, batching="vmap"):
        self.n, self.batch = n, batch
        shape = jax.ShapeDtypeStruct((batch, n), jnp.float64)
        point = jax.value_and_grad(f)
        if batching == "vmap":
            batched = jax.vmap(point)
        elif batching == "map":
            batched = partial(jax.lax.map, point)
        else:
            raise ValueError(f"batching = {batching!r}: choose 'vmap' or 'map'")
        self._compiled = jax.jit(batched).lower(shape).compile()
        self.calls = 0
        self.failures = 0  # points with a non-finite value or gradient (a failed relic solve)

    def evaluate(self, x):
        """(values (m,), gradients (m, n)) for points x (m, n), numpy."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.n)
        values, grads = [], []
        for start in range(0, x.shape[0], self.batch):
            chunk = x[start:start + self.batch]
            pad = self.batch - chunk.shape[0]
            if pad:
                chunk = np.concatenate([chunk, np.repeat(chunk[:1], pad, axis=0)])
            v, g = self._compiled(jnp.asarray(chunk))
            self.calls += 1
            values.append(np.asarray(v)[: self.batch - pad])
            grads.append(np.asarray(g)[: self.batch - pad])
        v, g = np.concatenate(values), np.concatenate(grads)
        ok = np.isfinite(v) & np.all(np.isfinite(g), axis=-1)
        self.failures += int(np.sum(~ok))
        return np.where(ok, v, np.nan), np.where(ok[:, None], g, 0.0)

    def __call__(self, x):
        """f(x) as a JAX function (any leading batch shape; vmappable)."""
        n = self.n

        def host(x):
            batch = x.shape[:-1]
            v, g = self.evaluate(np.asarray(x).reshape(-1, n))
            return v.reshape(batch), g.reshape(*batch, n)

        def call(x):
            shapes = (jax.ShapeDtypeStruct(x.shape[:-1], jnp.float64),
                      jax.ShapeDtypeStruct(x.shape, jnp.float64))
            return jax.pure_callback(host, shapes, x, vmap_method="broadcast_all")

        @jax.custom_vjp
        def f(x):
            return call(x)[0]

        def fwd(x):
            value, grad = call(x)
            return value, grad

        def bwd(grad, cotangent):
            return (cotangent[..., None] * grad,)

        f.defvjp(fwd, bwd)
        return f(x)


# ------------------------------------------------------------------------------------ tempering engine
@dataclasses.dataclass
class Tempering:
    """Result of :func:`temper`: equally weighted ``particles`` (runs, N, d) at β = 1, ``log_z``
    (runs,), ``betas`` (one list per run), ``acceptance`` (mean HMC acceptance per stage, per run),
    ``step_sizes`` (per stage, per run), ``final_acceptance`` (runs, N) of the final moves at β = 1."""

    particles: np.ndarray
    log_z: np.ndarray
    betas: list
    acceptance: list
    step_sizes: list
    final_acceptance: np.ndarray
    wall_time_s: float


def _local_covariance(x, neighbours):
    """Covariance shape of a particle cloud x (N, k) that stays local in a multimodal cloud: the mean
    outer product of the differences to each particle's ``neighbours`` nearest distinct particles
    (Euclidean after scaling every coordinate by its standard deviation). For one Gaussian mode it is
    ∝ its covariance; across separated modes it is not inflated by the distance between them (the
    global covariance is, and its HMC steps then overshoot the narrower mode)."""
    scale = np.maximum(x.std(axis=0), 1e-300)
    z = x / scale
    dist = np.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=-1)
    dist[dist <= 1e-24] = np.inf  # itself and exact duplicates (rejected moves, resampled copies)
    m = min(neighbours, x.shape[0] - 1)
    idx = np.argpartition(dist, m - 1, axis=1)[:, :m]
    ok = np.isfinite(np.take_along_axis(dist, idx, axis=1))
    diff = (x[idx] - x[:, None, :])[ok]
    if diff.shape[0] < x.shape[1] + 1:
        return np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])
    return diff.T @ diff / diff.shape[0]


def _inverse_mass(particles, fixed_block=None):
    """Dense inverse mass matrix: :func:`_local_covariance` of the particles over the leading
    coordinates (all, or those before ``fixed_block``), ``fixed_block`` (a covariance) for the trailing
    ones; eigenvalues floored at 1e-10 × the largest."""
    k = particles.shape[1] - (0 if fixed_block is None else fixed_block.shape[0])
    if k == 0:
        return fixed_block
    cov = _local_covariance(particles[:, :k], neighbours=2 * k + 2)
    cov = 0.5 * (cov + cov.T)
    if fixed_block is not None:
        full = np.zeros((particles.shape[1],) * 2)
        full[:k, :k], full[k:, k:] = cov, fixed_block
        cov = full
    val, vec = np.linalg.eigh(cov)
    val = np.maximum(val, 1e-10 * max(val.max(), 1e-300))
    return (vec * val) @ vec.T


def temper(logprior, loglik, particles, seed=0, mcmc_steps=4, leapfrog_steps=8, target_ess=0.5,
           fixed_block=None, step_size=None, progress=None, max_stages=500):
    """Adaptive tempered SMC from ``particles`` (runs, N, d), draws from the normalised density
    exp(``logprior``), to exp(logprior + loglik) (module docstring). ``logprior``, ``loglik``: JAX
    functions of one point x (d,) (vmapped here). HMC moves with a dense inverse mass matrix from the
    particles (:func:`_inverse_mass`, ``fixed_block`` for trailing coordinates) and a step size tuned
    between stages towards mean acceptance :data:`TARGET_ACCEPTANCE`. Runs one after another.
    Returns :class:`Tempering`."""
    particles = np.asarray(particles, dtype=np.float64)
    runs, n, d = particles.shape
    # blackjax.adaptive_tempered_smc's kernel, with the HMC parameters passed at every step
    smc_kernel = adaptive_tempered.build_kernel(logprior, loglik, blackjax.hmc.build_kernel(),
                                                blackjax.hmc.init, resampling.systematic, target_ess)

    @jax.jit
    def step(key, state, eps, inv_mass):
        key_eps, key = jax.random.split(key)
        jitter = STEP_JITTER ** jax.random.uniform(key_eps, (n,), minval=-1.0, maxval=1.0)
        params = {"step_size": eps * jitter, "inverse_mass_matrix": inv_mass[None],
                  "num_integration_steps": jnp.array([leapfrog_steps])}
        return smc_kernel(key, state, mcmc_steps, params)

    hmc = blackjax.hmc.build_kernel()

    @jax.jit
    def final_moves(key, x, log_weights, eps, inv_mass):
        """Resample by the weights, then ``mcmc_steps`` HMC moves at β = 1: equal weights."""
        key_r, key_m = jax.random.split(key)
        idx = resampling.systematic(key_r, jax.nn.softmax(log_weights), n)
        x = x[idx]

        def target(y):
            return logprior(y) + loglik(y)

        def move(k, y):
            state = blackjax.hmc.init(y, target)

            def body(s, kk):
                s, info = hmc(kk, s, target, eps, inv_mass, leapfrog_steps)
                return s, info.acceptance_rate

            s, acc = jax.lax.scan(body, state, jax.random.split(k, mcmc_steps))
            return s.position, acc.mean()

        return jax.vmap(move)(jax.random.split(key_m, n), x)

    t0 = time.perf_counter()
    keys = jax.random.split(jax.random.PRNGKey(seed), runs)
    out = {"particles": [], "log_z": [], "betas": [], "acceptance": [], "step_sizes": [], "final": []}
    eps0 = 0.5 / d**0.25 if step_size is None else step_size
    for r in range(runs):
        state = adaptive_tempered.init(jnp.asarray(particles[r]))
        eps = eps0
        log_z, betas, accs, epss = 0.0, [0.0], [], []
        key = keys[r]
        bar = tqdm(total=1.0, desc=f"{progress} run {r + 1}/{runs}", disable=not progress,
                   bar_format="{desc}: β {n:.3g} |{bar}| {elapsed} {postfix}")
        while float(state.tempering_param) < 1.0:
            if len(betas) > max_stages:
                raise RuntimeError(f"SMC: more than {max_stages} tempering stages (β = {betas[-1]:.3g})")
            inv_mass = _inverse_mass(np.asarray(state.particles), fixed_block)
            key, sub = jax.random.split(key)
            state, info = step(sub, state, jnp.asarray(eps), jnp.asarray(inv_mass))
            increment = float(info.log_likelihood_increment)
            if not math.isfinite(increment):
                raise RuntimeError(f"SMC: non-finite evidence increment at β = {betas[-1]:.3g} "
                                   "(every particle has zero likelihood)")
            log_z += increment
            acc = float(np.mean(np.asarray(info.update_info.acceptance_rate)))
            betas.append(float(state.tempering_param))
            accs.append(acc)
            epss.append(eps)
            eps = eps * float(np.clip(np.exp(2.0 * (acc - TARGET_ACCEPTANCE)), 0.5, 2.0))
            bar.update(betas[-1] - betas[-2])
            bar.set_postfix_str(f"stage {len(betas) - 1}, acceptance {acc:.2f}, ln Z {log_z:.3f}")
        bar.close()
        weights = np.asarray(state.weights)
        inv_mass = _inverse_mass(np.asarray(state.particles), fixed_block)
        key, sub = jax.random.split(key)
        log_w = np.log(np.maximum(weights, 1e-300))
        x, acc = final_moves(sub, state.particles, jnp.asarray(log_w), jnp.asarray(eps),
                             jnp.asarray(inv_mass))
        out["particles"].append(np.asarray(x))
        out["log_z"].append(log_z)
        out["betas"].append(betas)
        out["acceptance"].append(accs)
        out["step_sizes"].append(epss)
        out["final"].append(np.asarray(acc))
    return Tempering(particles=np.stack(out["particles"]), log_z=np.asarray(out["log_z"]),
                     betas=out["betas"], acceptance=out["acceptance"], step_sizes=out["step_sizes"],
                     final_acceptance=np.stack(out["final"]), wall_time_s=time.perf_counter() - t0)


def mean_and_error(values):
    """(mean, standard error sd/√n) of independent runs' values."""
    values = np.asarray(values, dtype=float)
    error = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan
    return float(values.mean()), error


# ------------------------------------------------------------------------------------ a fit's densities
def _log_prior_u(prior, u):
    """ln density of the unconstrained coordinate u under a fit-file prior (module docstring):
    standard logistic for uniform/log-uniform; standard normal (truncated to the range) for normal."""
    if prior.kind in ("uniform", "log-uniform"):
        return -jax.nn.softplus(-u) - jax.nn.softplus(u)
    value = -0.5 * u**2 - 0.5 * math.log(2 * math.pi)
    if prior.low is None and prior.high is None:
        return value
    a = -np.inf if prior.low is None else (prior.low - prior.mean) / prior.sigma
    b = np.inf if prior.high is None else (prior.high - prior.mean) / prior.sigma
    mass = float(jax.scipy.stats.norm.cdf(b) - jax.scipy.stats.norm.cdf(a))
    return jnp.where((u >= a) & (u <= b), value - math.log(mass), -jnp.inf)


def _draw_u(prior, key, shape):
    if prior.kind in ("uniform", "log-uniform"):
        return jax.random.logistic(key, shape)
    a = -np.inf if prior.low is None else (prior.low - prior.mean) / prior.sigma
    b = np.inf if prior.high is None else (prior.high - prior.mean) / prior.sigma
    return jax.random.truncated_normal(key, a, b, shape)


class Nuisances:
    """The Belle II nuisances ν in the unconstrained coordinates w of the sampler,
    ν = lo + (hi − lo) σ(w) (numpyro's map of the NUTS model's flat prior over pyhf's bounds), so the
    flat prior is the standard logistic density of w, and the Gaussian reference q(w) = N(ŵ, Σ_w) at the
    SM fit ν̂ (B_NP = 0, μ = 1): Σ_w⁻¹ = J (H/2) J + diag(2σ(1 − σ)) — the curvature of −ln L (H the
    Hessian of −2 ln L in ν by central differences of the exact gradient, relative step ``step``;
    J = dν/dw) plus that of the logistic prior density. In w the reference has no mass outside the
    bounds: several background-shape nuisances (γ ≈ 1 ± 1 on [1e-10, 10]) would put a Gaussian in ν
    outside with 16 % probability each (P(all 231 inside) ≈ 2 %)."""

    def __init__(self, joint, step=1e-5):
        belle2 = joint.belle2
        self.lo, self.hi = np.asarray(joint.nuisance_bounds, dtype=float).T
        index = np.array([belle2.parameter_names.index(name) for name in joint.nuisance_names])
        nu = np.asarray(belle2.fit(mu=1.0).pars, dtype=float)[index]
        nu = np.clip(nu, self.lo + 1e-9 * (self.hi - self.lo), self.hi - 1e-9 * (self.hi - self.lo))
        zeros = jnp.zeros(100)
        n = index.size
        h = np.zeros((n, n))
        for k in range(n):
            dk = step * max(1.0, abs(nu[k]))
            grads = []
            for sign in (1.0, -1.0):
                shifted = nu.copy()
                shifted[k] += sign * dk
                full = joint.belle2_parameters(jnp.asarray(shifted))
                grads.append(np.asarray(belle2.value_and_grad(full, zeros)[1][0]))
            h[:, k] = (grads[0][index] - grads[1][index]) / (2 * dk)
        t = (nu - self.lo) / (self.hi - self.lo)
        self.mean = np.log(t) - np.log1p(-t)
        jac = (self.hi - self.lo) * t * (1 - t)
        precision = jac[:, None] * (0.25 * (h + h.T)) * jac[None, :] + np.diag(2 * t * (1 - t))
        val, vec = np.linalg.eigh(precision)
        val = np.maximum(val, 1e-12 * val.max())
        self.cov = (vec / val) @ vec.T
        self.chol = np.linalg.cholesky(self.cov)
        self._norm = float(np.sum(np.log(np.diag(self.chol)))) + 0.5 * n * math.log(2 * math.pi)

    def nu(self, w):
        """ν(w) (JAX or numpy)."""
        return self.lo + (self.hi - self.lo) * jax.nn.sigmoid(w)

    def log_prior(self, w):
        """ln of the flat prior over the bounds, in w: Σ ln σ(w)(1 − σ(w))."""
        return jnp.sum(-jax.nn.softplus(-w) - jax.nn.softplus(w))

    def log_reference(self, w):
        """ln q(w) (normalised Gaussian)."""
        z = jax.scipy.linalg.solve_triangular(self.chol, w - self.mean, lower=True)
        return -0.5 * jnp.sum(z**2) - self._norm

    def draw(self, key, shape):
        """Draws from q, shape (*shape, n)."""
        return self.mean + np.asarray(jax.random.normal(key, (*shape, self.mean.size))) @ self.chol.T


class FitDensities:
    """The log densities of :func:`run_smc` for a joint likelihood, in x = (u, w) (module docstring;
    w the nuisances' unconstrained coordinates, :class:`Nuisances`),
    with the relic and flavour terms behind :class:`HostFunction` executables compiled for ``batch``
    points. All values are natural logs of normalised densities; failures are
    :data:`FAILED_LOG_DENSITY`."""

    def __init__(self, joint, batch):
        self.joint = joint
        self.priors = tuple(joint.spec.free[name] for name in joint.names)
        self.n_theta, self.n_nu = joint.n_theta, joint.n_nuisance
        self.dim = self.n_theta + self.n_nu
        self.nuisances = Nuisances(joint) if self.n_nu else None
        self.planck = joint.planck_options is not None
        self.flavour_terms = joint.belle2 is not None or bool(joint.limits)
        t0 = time.perf_counter()
        if self.planck:
            self.sigma_planck = float(planck.omega_h2_sigma(joint.planck_options["theory_uncertainty"]))

            def omega(u):
                val, status = joint.relic(self.theta(u))
                return jnp.where(status == 0, val, jnp.nan)

            self.omega = HostFunction(omega, self.n_theta, batch)
        if self.flavour_terms:
            mask = np.array([label != "planck" for label in joint.observation_labels])

            def flavour(x):
                nu = self.nuisances.nu(x[self.n_theta:]) if self.n_nu else x[self.n_theta:]
                ll = joint.pointwise_log_likelihood(self.theta(x[: self.n_theta]), nu,
                                                    omega_h2=planck.OMEGA_DM_H2)
                return jnp.sum(ll[mask])

            self.flavour = HostFunction(flavour, self.dim, batch, batching="map")
            self._limits_sm = float(sum(-0.5 * math.log(2 * math.pi * constraints.limit_sigma(name) ** 2)
                                        for name in joint.limits))
            if joint.belle2 is not None:
                def flavour_sm(w):
                    full = joint.belle2_parameters(self.nuisances.nu(w))
                    return -0.5 * joint.belle2.twice_nll(full, jnp.zeros(100)) + self._limits_sm

                self.flavour_sm = HostFunction(flavour_sm, self.n_nu, batch, batching="map")
        self.compile_time_s = time.perf_counter() - t0

    # coordinates
    def theta(self, u):
        return jnp.stack([p.to_physical(u[i]) for i, p in enumerate(self.priors)])

    def theta_numpy(self, u):
        return np.asarray(jax.vmap(self.theta)(jnp.asarray(u)))

    # densities of one point x (d,)
    def log_prior_u(self, x):
        return sum(_log_prior_u(p, x[i]) for i, p in enumerate(self.priors))

    def log_planck(self, x):
        omega = self.omega(x[: self.n_theta])
        term = -0.5 * ((omega - planck.OMEGA_DM_H2) / self.sigma_planck) ** 2 - 0.5 * math.log(
            2 * math.pi * self.sigma_planck**2)
        return jnp.where(jnp.isfinite(omega), term, FAILED_LOG_DENSITY)

    def log_flavour(self, x):
        value = self.flavour(x)
        return jnp.where(jnp.isfinite(value), value, FAILED_LOG_DENSITY)

    def draw(self, key, shape):
        """Draws from π(u)·q(w), shape (*shape, d)."""
        keys = jax.random.split(key, self.n_theta + 1)
        u = jnp.stack([_draw_u(p, k, shape) for p, k in zip(self.priors, keys[:-1], strict=True)], axis=-1)
        if not self.n_nu:
            return np.asarray(u)
        return np.concatenate([np.asarray(u), self.nuisances.draw(keys[-1], shape)], axis=-1)


# ------------------------------------------------------------------------------------ a fit's evidence
class SmcResult(inference_data.PosteriorResult):
    """Posterior (``inference_data``, ArviZ; chains = independent runs) and ``summary`` (JSON-ready:
    per θ mean, sd, HDI, r_hat, ess_bulk, ess_tail; ``evidence``: ln Z's, Bayes factor, mode masses;
    settings, timings, verdict)."""


def mode_intervals(modes, spec):
    """{label: (parameter, lo, hi)} of the regions between the split values of ``modes``
    ({parameter: [splits]}) inside the parameter's prior range."""
    out = {}
    for name, splits in (modes or {}).items():
        prior = spec.free[name]
        edges = [prior.low if prior.low is not None else -np.inf, *sorted(splits),
                 prior.high if prior.high is not None else np.inf]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            out[f"{lo:g} < {name} < {hi:g}"] = (name, lo, hi)
    return out


def run_smc(joint, particles=128, runs=4, mcmc_steps=4, leapfrog_steps=8, target_ess=0.5, seed=0,
            modes=None, progress=True):
    """Evidence and posterior of ``joint`` by adaptive tempered SMC (module docstring): ``runs``
    independent runs of ``particles`` particles each; ``modes`` {parameter: [split values]} for the
    posterior mass per region. Returns :class:`SmcResult`."""
    convergence.check_smc_settings(particles, runs, target_ess, mcmc_steps, leapfrog_steps)
    regions = mode_intervals(modes, joint.spec)
    t0 = time.perf_counter()
    dens = FitDensities(joint, particles)
    n_t = dens.n_theta
    nuis = dens.nuisances
    fixed = nuis.cov if dens.n_nu else None
    key_sm, key_draw = jax.random.split(jax.random.PRNGKey(seed))
    x0 = dens.draw(key_draw, (runs, particles))
    common = {"mcmc_steps": mcmc_steps, "leapfrog_steps": leapfrog_steps, "target_ess": target_ess,
              "fixed_block": fixed}

    def base(x):
        return dens.log_prior_u(x) + (nuis.log_reference(x[n_t:]) if dens.n_nu else 0.0)

    stages = {}
    if dens.planck:
        stages["planck"] = temper(base, dens.log_planck, x0, seed=seed, progress=progress and "SMC Planck",
                                  **common)
        x0 = stages["planck"].particles
    if dens.flavour_terms:
        def prior_b(x):
            return base(x) + (dens.log_planck(x) if dens.planck else 0.0)

        def like_b(x):
            w = x[n_t:]
            extra = nuis.log_prior(w) - nuis.log_reference(w) if dens.n_nu else 0.0
            return extra + dens.log_flavour(x)

        stages["flavour"] = temper(prior_b, like_b, x0, seed=seed + 1, progress=progress and "SMC flavour",
                                   **common)
    final = stages["flavour"] if dens.flavour_terms else stages["planck"]
    # the SM on the flavour data: Belle II with B_NP = 0 (nuisances tempered from the reference), limits at 0
    if dens.flavour_terms and joint.belle2 is not None:
        w0 = nuis.draw(key_sm, (runs, particles))

        def like_sm(w):
            value = dens.flavour_sm(w)
            return (nuis.log_prior(w) - nuis.log_reference(w)
                    + jnp.where(jnp.isfinite(value), value, FAILED_LOG_DENSITY))

        sm = temper(nuis.log_reference, like_sm, w0, seed=seed + 2, progress=progress and "SMC SM", **common)
        log_z_sm = sm.log_z
    elif dens.flavour_terms:
        sm, log_z_sm = None, np.full(runs, dens._limits_sm)
    else:
        sm, log_z_sm = None, None
    wall = time.perf_counter() - t0

    # posterior: θ, ν, observables of the final particles (runs = chains)
    x = final.particles
    theta = dens.theta_numpy(x[..., :n_t].reshape(-1, n_t)).reshape(runs, particles, n_t)
    posterior = {name: theta[..., i] for i, name in enumerate(joint.names)}
    if dens.n_nu:
        posterior["nuisances"] = np.asarray(nuis.nu(x[..., n_t:]))
    if dens.planck:
        omega = dens.omega.evaluate(x[..., :n_t].reshape(-1, n_t))[0].reshape(runs, particles)
        posterior["omega_h2"] = omega
        posterior["relic_status"] = np.where(np.isfinite(omega), 0, 1)
    br = jax.jit(jax.vmap(lambda t: joint.model.br_b_to_k_invisible(joint.params(t))))
    posterior["br_b_to_k_invisible"] = np.asarray(br(jnp.asarray(theta.reshape(-1, n_t)))).reshape(
        runs, particles)
    sample_stats = {"acceptance_rate": final.final_acceptance}

    evidence = _evidence_summary(stages, log_z_sm, dens, final, regions, joint)
    settings = {"fit": joint.spec.name, "model": joint.spec.model_name, "method": "smc",
                "particles": particles, "runs": runs, "mcmc_steps": mcmc_steps,
                "leapfrog_steps": leapfrog_steps, "target_ess": target_ess, "seed": seed,
                "blackjax": blackjax.__version__, "chains": runs}
    timings = {"wall_time_s": wall, "compile_time_s": dens.compile_time_s,
               **{f"{k}_time_s": v.wall_time_s for k, v in stages.items()},
               **({"sm_time_s": sm.wall_time_s} if sm is not None else {})}
    attrs = {**settings, **timings, "sampler": "smc",
             **{k: v for k, v in evidence.items() if isinstance(v, (int, float)) and v is not None}}
    idata = inference_data.build(joint, posterior, sample_stats, attrs, prior_seed=seed)
    table = az.summary(idata, var_names=list(joint.names), hdi_prob=HDI_PROB, kind="all", round_to="none")
    columns = ("mean", "sd", "hdi_3%", "hdi_97%", "r_hat", "ess_bulk", "ess_tail")
    parameters = {n: {c: _finite_or_none(table.loc[n, c]) for c in columns} for n in joint.names}
    summary = {**parameters, "evidence": evidence, **timings, "settings": settings,
               "stages": {k: [len(b) - 1 for b in v.betas] for k, v in stages.items()}}
    summary.update(convergence.assess(summary, joint.names, particles, "smc", settings))
    return SmcResult(idata, summary)


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _evidence_summary(stages, log_z_sm, dens, final, regions, joint):
    """ln Z's (mean ± standard error over runs), the Bayes factor against the SM, mode masses."""
    runs = final.log_z.size
    parts = {k: v.log_z for k, v in stages.items()}
    total = sum(parts.values())
    out = {}
    out["ln_z"], out["ln_z_error"] = mean_and_error(total)
    out["ln_z_runs"] = [float(v) for v in total]
    if "planck" in parts:
        out["ln_z_planck"], out["ln_z_planck_error"] = mean_and_error(parts["planck"])
    if "flavour" in parts:
        mean, error = mean_and_error(parts["flavour"])
        out["ln_z_flavour_given_planck"], out["ln_z_flavour_given_planck_error"] = mean, error
    if log_z_sm is not None:
        out["ln_z_sm"], out["ln_z_sm_error"] = mean_and_error(log_z_sm)
        ln_b = out["ln_z_flavour_given_planck"] - out["ln_z_sm"]
        ln_b_err = math.hypot(out["ln_z_flavour_given_planck_error"], out["ln_z_sm_error"])
        out.update(ln_bayes_factor=ln_b, ln_bayes_factor_error=ln_b_err, bayes_factor=math.exp(ln_b),
                   jeffreys=evidence_scale(ln_b, JEFFREYS), kass_raftery=evidence_scale(ln_b, KASS_RAFTERY))
    theta = dens.theta_numpy(final.particles[..., : dens.n_theta].reshape(-1, dens.n_theta)).reshape(
        runs, -1, dens.n_theta)
    masses = {}
    for label, (name, lo, hi) in regions.items():
        i = joint.names.index(name)
        frac = np.mean((theta[..., i] > lo) & (theta[..., i] <= hi), axis=1)
        mean, err = mean_and_error(frac)
        masses[label] = {"mass": mean, "error": err, "runs": [float(f) for f in frac]}
    out["modes"] = masses
    return out
