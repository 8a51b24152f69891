"""Best fit of a :class:`~bkdm.inference.joint.JointLikelihood`: multi-start L-BFGS over the physics
parameters θ and the Belle II nuisance parameters ν jointly, with Hessian uncertainties.

Coordinates (units: θ in the GeV-based units of each model parameter; ν dimensionless):

    θ_i = prior_i.to_physical(u_i)                 (the fit file's prior maps, u ∈ ℝ)
    ν_k = lo_k + (hi_k − lo_k) σ(w_k),  σ = logistic  (smooth bijection onto pyhf's bounds)

and L-BFGS (optax, zoom line search) minimises −2 ln L(θ(u), ν(w)) over x = (u, w) inside one jitted
``lax.while_loop``. Multi-start: the first start is the priors' ``start`` values with ν = pyhf's
initial values, the others are drawn from the priors (seeded); the lowest finite −2 ln L wins.

Compile cost (measured, 2-core CPU): tracing and compiling ∂(−2 ln L) through the relic solve takes
~40–80 s per copy, and a loop body that calls the objective in several places (L-BFGS step, line
search, first evaluation) would hold several copies. So the objective's value and gradient are
compiled *once* per likelihood (:class:`Problem`) and the jitted optimiser loop reaches them through
``jax.pure_callback`` (a ``custom_vjp`` whose backward pass returns the precomputed gradient). The same
executable serves every start, every profile point (fixed parameters are masked, not recompiled) and
the Hessian.

Polish and uncertainties: the lowest start is refined by Newton steps in z = (u, ν) with the
Hessian H of −2 ln L — θ columns by central differences of the exact gradient (h = 10⁻³ in u), the
ν–ν block by central differences of the Belle II gradient (cheap: no relic solve) — until the
estimated distance to the minimum EDM = ½ ∇ᵀH⁻¹∇ ≤ 10⁻⁸. Covariance C = (H/2)⁻¹; its u–u block is
the covariance of u profiled over ν (and over the other θ). θ errors: σ_θ = |dθ/du| σ_u (linear
propagation) and the asymmetric-safe interval [θ(u − σ_u), θ(u + σ_u)].

Convergence: a start stops when ‖∇‖_∞ ≤ GTOL (10⁻⁴ per unit of x), or when an accepted L-BFGS step
changes −2 ln L by ≤ tolerance·max(1, |−2 ln L|), or after ``max_steps``. The best fit is flagged
converged iff, after the polish, H is positive definite and EDM ≤ EDM_MAX = 10⁻³ (−2 ln L units).
"""

import copy
import dataclasses
import hashlib
import json
import math
import time
import weakref
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu
from tqdm.auto import tqdm

GTOL = 1e-4  # gradient ∞-norm [−2 ln L per unit of x] below which a start counts as converged
EDM_MAX = 1e-3  # largest estimated distance to the minimum [−2 ln L] of a converged best fit
HESSIAN_STEP_U = 1e-3  # central-difference step in the unconstrained θ coordinates
HESSIAN_STEP_NU = 1e-5  # relative central-difference step for the Belle II nuisances
LBFGS_MEMORY = 40
NEWTON_ITERATIONS = 4  # Newton polish of a minimum (best fit, profile points)
NEWTON_EDM = 1e-8  # polish target: estimated distance to the minimum [−2 ln L]
NEWTON_HALVINGS = 8
FORMAT_VERSION = 2  # of bestfit.json (BestFitResult.to_dict); 1 = bkdm 0.1.0's parallel lists
# BestFitResult fields written to bestfit.json as they are (format 2), after and before the parameters
_JSON_RESULT_KEYS = ("twice_nll", "terms", "twice_nll_sm", "delta_chi2_sm", "observables", "converged", "edm")
_JSON_RECORD_KEYS = ("starts", "relic_failures", "wall_time_s", "notes", "provenance")


def _logistic(w):
    return 1.0 / (1.0 + jnp.exp(-w))


class Problem:
    """The objective of one joint likelihood, compiled once, and the jitted L-BFGS loop that uses it.

    ``value_and_grad(z)`` with z = (u, ν) (ν physical) returns (−2 ln L, ∂/∂z, aux) where aux holds
    the likelihood terms (and the Belle II B_NP bins); non-finite values become (+∞, 0).
    Obtain it with :func:`problem`, which caches one per likelihood.
    """

    def __init__(self, joint):
        self.joint = joint
        self.priors = tuple(joint.spec.free[name] for name in joint.names)
        self.n_theta = len(self.priors)
        self.n_nuisance = len(joint.nuisance_names)
        self.nu_low = np.asarray(joint.nuisance_bounds, dtype=float).reshape(-1, 2)[:, 0]
        self.nu_high = np.asarray(joint.nuisance_bounds, dtype=float).reshape(-1, 2)[:, 1]
        self.n_evaluations = 0
        # ahead-of-time compiled: a jit cache lookup from inside the optimiser's callback misses
        # (measured: a second ~100 s compile), an AOT executable is called directly
        n = self.n_theta + self.n_nuisance
        self._compiled = jax.jit(jax.value_and_grad(self._total, has_aux=True)).lower(
            jax.ShapeDtypeStruct((n,), jnp.float64)).compile()
        self._run = jax.jit(self._loop)

    # ------------------------------------------------------------------ coordinates
    def theta(self, u):
        """Physical θ for unconstrained u (JAX)."""
        return jnp.stack([p.to_physical(u[i]) for i, p in enumerate(self.priors)])

    def theta_numpy(self, u):
        return np.array([float(p.to_physical(float(u[i]))) for i, p in enumerate(self.priors)])

    def u_of(self, theta):
        """Unconstrained u for physical θ (numpy); ValueError if θ_i lies outside its prior range."""
        u = []
        for name, p, t in zip(self.joint.names, self.priors, theta, strict=True):
            if (p.low is not None and t < p.low) or (p.high is not None and t > p.high):
                raise ValueError(f"{name} = {t:g} lies outside its prior range [{p.low}, {p.high}]")
            u.append(float(p.to_unconstrained(t)))
        return np.asarray(u)

    def nu_of_w(self, w):
        """ν(w) = lo + (hi − lo) σ(w) (JAX)."""
        return self.nu_low + (self.nu_high - self.nu_low) * _logistic(w)

    def w_of_nu(self, nu):
        t = (np.asarray(nu, dtype=float) - self.nu_low) / (self.nu_high - self.nu_low)
        t = np.clip(t, 1e-12, 1 - 1e-12)
        return np.log(t) - np.log1p(-t)

    def z_of_x(self, x):
        return jnp.concatenate([x[: self.n_theta], self.nu_of_w(x[self.n_theta:])])

    def x_of(self, theta, nu):
        """Optimiser coordinates x = (u, w) for physical θ and ν."""
        return np.concatenate([self.u_of(theta), self.w_of_nu(nu)])

    # ------------------------------------------------------------------ objective
    def _total(self, z):
        theta = self.theta(z[: self.n_theta])
        nu = z[self.n_theta:]
        aux = {}
        joint = self.joint
        if joint.planck_options is not None:
            aux["omega_h2"] = joint.omega_h2(theta)
            joint = with_relic(joint, aux["omega_h2"])
        aux["terms"] = joint.terms(theta, nu)
        if joint.belle2 is not None:
            aux["b_np"] = joint.b_np_bins(theta)
        return sum(aux["terms"].values()), aux

    def value_and_grad(self, z):
        """(−2 ln L, gradient in z, aux) as numpy (host side; the compiled executable)."""
        self.n_evaluations += 1
        (value, aux), grad = self._compiled(jnp.asarray(z, dtype=jnp.float64))
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            value, grad = math.inf, np.zeros_like(grad)
        return value, grad, aux

    def _callback(self, z):
        value, grad, _ = self.value_and_grad(z)
        return np.float64(value), grad

    def _core(self):
        """−2 ln L(z) as a JAX function that calls the compiled executable (custom_vjp)."""
        shapes = (jax.ShapeDtypeStruct((), jnp.float64),
                  jax.ShapeDtypeStruct((self.n_theta + self.n_nuisance,), jnp.float64))

        def call(z):
            return jax.pure_callback(self._callback, shapes, z, vmap_method="sequential")

        @jax.custom_vjp
        def core(z):
            return call(z)[0]

        def fwd(z):
            return call(z)

        def bwd(grad, cotangent):
            return (cotangent * grad,)

        core.defvjp(fwd, bwd)
        return core

    # ------------------------------------------------------------------ optimiser
    def _loop(self, x0, free, max_steps, tolerance):
        """L-BFGS from x0 over the coordinates where ``free`` = 1 (the others stay at x0).

        Returns (x, −2 ln L, ‖∇‖_∞, steps, converged)."""
        core = self._core()
        opt = optax.lbfgs(memory_size=LBFGS_MEMORY)

        def value_fn(x):
            return core(self.z_of_x(free * x + (1.0 - free) * x0))

        value_and_grad = optax.value_and_grad_from_state(value_fn)

        def status(carry):
            _, state, f_prev = carry
            value = otu.tree_get(state, "value")
            gnorm = jnp.max(jnp.abs(otu.tree_get(state, "grad")), initial=0.0)
            accepted = otu.tree_get(state, "decrease_error") <= 0.0
            small_change = jnp.abs(f_prev - value) <= tolerance * jnp.maximum(1.0, jnp.abs(value))
            converged = jnp.isfinite(value) & ((gnorm <= GTOL) | (accepted & small_change))
            stalled = ~jnp.isfinite(value) | ~accepted
            return value, gnorm, converged, stalled

        def step(carry):
            x, state, _ = carry
            value, grad = value_and_grad(x, state=state)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=value_fn)
            return optax.apply_updates(x, updates), state, value

        def cond(carry):
            count = otu.tree_get(carry[1], "count")
            _, _, converged, stalled = status(carry)
            return (count == 0) | ((count < max_steps) & ~converged & ~stalled)

        carry = jax.lax.while_loop(cond, step, (x0, opt.init(x0), jnp.asarray(jnp.inf)))
        value, gnorm, converged, _ = status(carry)
        return carry[0], value, gnorm, otu.tree_get(carry[1], "count"), converged

    def minimise(self, x0, free=None, max_steps=400, tolerance=1e-6):
        """Run L-BFGS from x0 (optimiser coordinates). Returns dict(x, twice_nll, gnorm, steps,
        converged); a start with non-finite −2 ln L is returned unchanged, not converged."""
        x0 = np.asarray(x0, dtype=float)
        free = np.ones_like(x0) if free is None else np.asarray(free, dtype=float)
        value0 = self.value_and_grad(np.asarray(self.z_of_x(jnp.asarray(x0))))[0]
        if not math.isfinite(value0):
            return {"x": x0, "twice_nll": math.inf, "gnorm": math.nan, "steps": 0, "converged": False}
        x, value, gnorm, steps, converged = self._run(jnp.asarray(x0), jnp.asarray(free),
                                                      jnp.asarray(max_steps), jnp.asarray(tolerance))
        x = free * np.asarray(x) + (1.0 - free) * x0
        return {"x": x, "twice_nll": float(value), "gnorm": float(gnorm), "steps": int(steps),
                "converged": bool(converged)}

    # ------------------------------------------------------------------ Hessian, Newton polish
    def hessian(self, z, columns=None):
        """Hessian of −2 ln L in z = (u, ν) (module docstring: central differences of exact gradients).
        ``columns``: the θ indices to difference (default all; the others are left 0)."""
        n_t, n = self.n_theta, self.n_theta + self.n_nuisance
        columns = range(n_t) if columns is None else columns
        h = np.zeros((n, n))
        for k in columns:
            step = np.zeros(n)
            step[k] = HESSIAN_STEP_U
            g_plus = self.value_and_grad(z + step)[1]
            g_minus = self.value_and_grad(z - step)[1]
            h[:, k] = (g_plus - g_minus) / (2 * HESSIAN_STEP_U)
        h[:n_t, n_t:] = h[n_t:, :n_t].T
        h[:n_t, :n_t] = 0.5 * (h[:n_t, :n_t] + h[:n_t, :n_t].T)
        if self.n_nuisance:
            b_np = self.value_and_grad(z)[2]["b_np"]
            h[n_t:, n_t:] = self._belle2_hessian(z[n_t:], b_np)
        return h

    def newton(self, z, free=None, max_iterations=NEWTON_ITERATIONS):
        """Polish a minimum with Newton steps z ← z − t H⁻¹∇ over the ``free`` coordinates of
        z = (u, ν) (t halved until −2 ln L decreases; ν kept inside its bounds). Stops when
        EDM = ½ ∇ᵀH⁻¹∇ ≤ NEWTON_EDM. Returns dict(z, twice_nll, grad, hessian, edm) at the final
        point; edm = nan if H is not positive definite on the free coordinates."""
        z = np.array(z, dtype=float)
        free = np.ones(z.size, dtype=bool) if free is None else np.asarray(free, dtype=bool)
        n_t = self.n_theta
        margin = 1e-9 * (self.nu_high - self.nu_low)
        value, grad, _ = self.value_and_grad(z)
        for iteration in range(max_iterations + 1):
            h = self.hessian(z, columns=np.flatnonzero(free[:n_t]))
            try:
                chol = np.linalg.cholesky(h[np.ix_(free, free)])
            except np.linalg.LinAlgError:
                return {"z": z, "twice_nll": value, "grad": grad, "hessian": h, "edm": math.nan}
            step = np.linalg.solve(chol.T, np.linalg.solve(chol, grad[free]))
            edm = 0.5 * float(grad[free] @ step)
            if edm <= NEWTON_EDM or iteration == max_iterations:
                break
            t = 1.0
            for _ in range(NEWTON_HALVINGS):
                trial = z.copy()
                trial[free] -= t * step
                trial[n_t:] = np.clip(trial[n_t:], self.nu_low + margin, self.nu_high - margin)
                trial_value, trial_grad, _ = self.value_and_grad(trial)
                if trial_value < value:
                    z, value, grad = trial, trial_value, trial_grad
                    break
                t *= 0.5
            else:
                break
        return {"z": z, "twice_nll": value, "grad": grad, "hessian": h, "edm": edm}

    def _belle2_hessian(self, nu, b_np):
        """∂²(−2 ln L_BelleII)/∂ν² at fixed B_NP by central differences of the exact Belle II gradient."""
        belle2 = self.joint.belle2
        index = np.array([belle2.parameter_names.index(name) for name in self.joint.nuisance_names])

        def grad(v):
            full = self.joint.belle2_parameters(jnp.asarray(v))
            return np.asarray(belle2.value_and_grad(full, b_np)[1][0])[index]

        n = nu.size
        h = np.zeros((n, n))
        for k in range(n):
            step = np.zeros(n)
            step[k] = HESSIAN_STEP_NU * max(1.0, abs(nu[k]))
            h[:, k] = (grad(nu + step) - grad(nu - step)) / (2 * step[k])
        return 0.5 * (h + h.T)


def with_relic(joint, omega_h2):
    """A shallow copy of ``joint`` whose ``omega_h2`` returns the given (Ωh², status).

    Lets ``terms``/``observables`` reuse a relic density already computed: every relic solve in a
    traced function costs ~1 min of compilation, and an eager one ~40 s on first use."""
    view = copy.copy(joint)
    view.omega_h2 = lambda theta: omega_h2
    return view


_PROBLEMS = weakref.WeakKeyDictionary()


def problem(joint):
    """The cached :class:`Problem` of a joint likelihood (compiled on first use)."""
    if joint not in _PROBLEMS:
        _PROBLEMS[joint] = Problem(joint)
    return _PROBLEMS[joint]


# --------------------------------------------------------------------------------- results
def json_safe(value):
    """Floats/arrays → JSON (non-finite numbers → None)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def array_from_json(values):
    """JSON lists → float array (None → nan)."""
    return np.array(np.vectorize(lambda v: np.nan if v is None else v, otypes=[float])(
        np.asarray(values, dtype=object)), dtype=float) if len(values) else np.zeros(0)


class JsonResult:
    """Mixin for result dataclasses: ``to_dict`` (JSON-safe) and ``save_json``."""

    def to_dict(self):
        return json_safe({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def save_json(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))


@dataclasses.dataclass
class BestFitResult(JsonResult):
    """Best fit of a joint likelihood (units: θ in each model parameter's units; −2 ln L dimensionless).

    ``theta_sigma``: 1σ errors from C = (H/2)⁻¹ (H = Hessian of −2 ln L in (u, ν), profiled over ν),
    propagated linearly to θ; ``theta_interval``: [θ(u − σ_u), θ(u + σ_u)] per parameter;
    ``covariance``: physical θ covariance; ``nuisances``: the Belle II nuisances (``nuisance_names``)
    at the best fit; ``edm``: estimated distance to the minimum [−2 ln L]; ``notes``: warnings.
    ``delta_chi2_sm`` = (−2 ln L_BelleII)_SM − (−2 ln L_BelleII) at the best fit (> 0: Belle II
    prefers the new physics). ``starts``: one dict per start
    (``theta0``, ``theta``, ``twice_nll``, ``converged``, ``steps``). ``units``: of each parameter
    (the model's ``PARAMETERS``; "" for aliases). ``provenance``: ``fit_hash`` (sha256 of the fit's
    declaration) and ``bkdm_version``.

    JSON (``save_json``/``load_json``, format version :data:`FORMAT_VERSION`; non-finite numbers → null)::

        {"format_version": 2, "bkdm_version": "0.1.0", "fit_hash": "<sha256 hex>", "fit": "<name>",
         "model": "<model>", "parameters": {"m_a": {"value": 2.11, "error": 0.10,
         "interval": [2.01, 2.21], "unit": "GeV"}, ...}, "twice_nll": ..., "terms": {...},
         "twice_nll_sm": ..., "delta_chi2_sm": ..., "observables": {...}, "converged": true, "edm": ...,
         "covariance": {"names": [...], "matrix": [[...]]}, "nuisances": {"names": [...],
         "values": [...]}, "starts": [...], "relic_failures": 0, "wall_time_s": ..., "notes": [...],
         "provenance": {...}}

    ``load_json`` also reads format 1 (bkdm 0.1.0: ``names``, ``theta``, ``theta_sigma``, ... lists).
    """

    spec_name: str
    model_name: str
    names: tuple
    theta: np.ndarray
    theta_sigma: np.ndarray
    theta_interval: np.ndarray
    covariance: np.ndarray
    nuisances: np.ndarray
    twice_nll: float
    terms: dict
    observables: dict
    twice_nll_sm: float | None
    delta_chi2_sm: float | None
    starts: list
    converged: bool
    relic_failures: int
    wall_time_s: float
    edm: float = math.nan
    notes: list = dataclasses.field(default_factory=list)
    nuisance_names: tuple = ()
    units: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        """The JSON-ready dict of ``bestfit.json`` (class docstring)."""
        flat = super().to_dict()
        units = self.units or ("",) * len(self.names)
        parameters = {name: {"value": flat["theta"][i], "error": flat["theta_sigma"][i],
                             "interval": flat["theta_interval"][i], "unit": units[i]}
                      for i, name in enumerate(self.names)}
        head = {"format_version": FORMAT_VERSION, "bkdm_version": self.provenance.get("bkdm_version"),
                "fit_hash": self.provenance.get("fit_hash"), "fit": self.spec_name, "model": self.model_name,
                "parameters": parameters}
        arrays = {"covariance": {"names": list(self.names), "matrix": flat["covariance"]},
                  "nuisances": {"names": list(self.nuisance_names), "values": flat["nuisances"]}}
        return {**head, **{key: flat[key] for key in _JSON_RESULT_KEYS}, **arrays,
                **{key: flat[key] for key in _JSON_RECORD_KEYS}}

    @classmethod
    def from_dict(cls, data):
        """From :meth:`to_dict`'s format, or format 1 of bkdm 0.1.0 (class docstring)."""
        if data.get("format_version", 1) >= 2:
            parameters = data["parameters"]
            data = {
                **{key: data[key] for key in (*_JSON_RESULT_KEYS, *_JSON_RECORD_KEYS)},
                "spec_name": data["fit"], "model_name": data["model"], "names": list(parameters),
                "theta": [p["value"] for p in parameters.values()],
                "theta_sigma": [p["error"] for p in parameters.values()],
                "theta_interval": [p["interval"] for p in parameters.values()],
                "units": tuple(p["unit"] for p in parameters.values()),
                "covariance": data["covariance"]["matrix"], "nuisances": data["nuisances"]["values"],
                "nuisance_names": data["nuisances"]["names"]}
        values = dict(data)
        for key in ("theta", "theta_sigma", "theta_interval", "covariance", "nuisances"):
            values[key] = array_from_json(values[key])
        values["names"], values["nuisance_names"] = tuple(values["names"]), tuple(values["nuisance_names"])
        for key in ("twice_nll", "edm"):
            values[key] = math.nan if values[key] is None else values[key]
        return cls(**values)

    @classmethod
    def load_json(cls, path):
        """Read ``bestfit.json`` (either format)."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def summary(self):
        """Human-readable table: θ ± σ (and the asymmetric interval), −2 ln L, Belle II Δχ² vs SM."""
        lines = [f"best fit of {self.spec_name} ({self.model_name}): −2 ln L = {self.twice_nll:.4f}"
                 + ("" if self.converged else "  [NOT CONVERGED]")]
        for name, value, sigma, (lo, hi) in zip(self.names, self.theta, self.theta_sigma,
                                                self.theta_interval, strict=True):
            lines.append(f"  {name:>12s} = {value:.6g} ± {sigma:.3g}   (1σ: [{lo:.6g}, {hi:.6g}])")
        lines.append("  terms: " + ", ".join(f"{k} = {v:.4f}" for k, v in self.terms.items()))
        if self.delta_chi2_sm is not None:
            lines.append(f"  Belle II: Δχ²(SM − best) = {self.delta_chi2_sm:.3f}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _units(joint):
    """Units of the free parameters, from the model's parameter table ('' where the joint has no model)."""
    table = getattr(getattr(joint, "model", None), "PARAMETERS", {}) or {}
    return tuple(getattr(table.get(n), "unit", "") for n in joint.names)


def fit_provenance(spec):
    """{"fit_hash", "bkdm_version"} of a fit: the sha256 of the canonical JSON of its declaration
    (model, priors, fixed values, likelihood terms, settings; not its file path) and bkdm's version."""
    from bkdm import __version__

    fields = dataclasses.fields(spec) if dataclasses.is_dataclass(spec) else ()
    names = [f.name for f in fields] or sorted(vars(spec))   # a duck-typed spec (tests' toy joints)
    declaration = {n: getattr(spec, n) for n in names if n != "source"}
    text = json.dumps(json_safe(_plain(declaration)), sort_keys=True, separators=(",", ":"))
    return {"fit_hash": hashlib.sha256(text.encode()).hexdigest(), "bkdm_version": __version__}


def _plain(value):
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _start_points(joint, priors, starts, seed):
    """(n, n_θ) physical start points: priors' ``start`` first, then prior draws; an array is used as is."""
    if not isinstance(starts, (int, np.integer)):
        points = np.atleast_2d(np.asarray(starts, dtype=float))
        if points.shape[1] != len(priors):
            raise ValueError(f"starts: expected an int or an array (n, {len(priors)}), "
                             f"got shape {points.shape}")
        return points
    if starts < 1:
        raise ValueError(f"starts must be ≥ 1, got {starts}")
    rng = np.random.default_rng(seed)
    first = np.array([p.start for p in priors])
    drawn = np.stack([p.sample(rng, starts - 1) for p in priors], axis=-1)
    return np.concatenate([first[None, :], drawn])


def _floats(tree):
    return {k: float(np.asarray(v)) for k, v in tree.items()}


def best_fit(joint, starts=8, max_steps=400, seed=0, tolerance=1e-6, progress=True):
    """Multi-start best fit of ``joint`` (module docstring). ``starts``: number of starts, or an
    array (n, n_θ) of physical start points. Returns :class:`BestFitResult`."""
    t0 = time.perf_counter()
    if progress and joint not in _PROBLEMS:
        tqdm.write(f"best fit {joint.spec.name}: compiling −2 ln L and its gradient (about a minute "
                   "with a relic-density term) …")
    prob = problem(joint)
    failures0 = joint.relic_failures
    points = _start_points(joint, prob.priors, starts, seed)
    nu0 = np.asarray(joint.nuisance_init, dtype=float)
    runs = []
    bar = tqdm(points, desc=f"best fit {joint.spec.name}", disable=not progress, unit="start")
    for theta0 in bar:
        run = prob.minimise(prob.x_of(theta0, nu0), max_steps=max_steps, tolerance=tolerance)
        run["theta0"] = theta0
        runs.append(run)
        finite = [r["twice_nll"] for r in runs if math.isfinite(r["twice_nll"])]
        bar.set_postfix(best=f"{min(finite):.4f}" if finite else "inf")
    finite = [r for r in runs if math.isfinite(r["twice_nll"])]
    if not finite:
        raise RuntimeError(f"best fit of {joint.spec.name}: −2 ln L is non-finite at all {len(runs)} starts "
                           f"({joint.relic_failures - failures0} relic failures)")
    best = min(finite, key=lambda r: r["twice_nll"])
    polished = prob.newton(np.asarray(prob.z_of_x(jnp.asarray(best["x"]))))
    z, edm = polished["z"], polished["edm"]
    value, _, aux = prob.value_and_grad(z)
    u, nu = z[: prob.n_theta], z[prob.n_theta:]
    theta = prob.theta_numpy(u)
    notes = []
    if math.isfinite(edm):
        cov_u = 2.0 * np.linalg.inv(polished["hessian"])[: prob.n_theta, : prob.n_theta]
    else:
        cov_u = np.full((prob.n_theta, prob.n_theta), np.nan)
        notes.append("Hessian not positive definite at the best fit: no Hessian uncertainties")
    sigma_u = np.sqrt(np.diag(cov_u))
    jac = np.array([float(jax.grad(p.to_physical)(float(u[i]))) for i, p in enumerate(prob.priors)])
    covariance = jac[:, None] * cov_u * jac[None, :]
    interval = np.sort(np.stack([prob.theta_numpy(u - sigma_u), prob.theta_numpy(u + sigma_u)], axis=-1),
                       axis=-1)
    converged = math.isfinite(edm) and edm <= EDM_MAX
    if math.isfinite(edm) and not converged:
        notes.append(f"estimated distance to the minimum EDM = {edm:.3g} > {EDM_MAX:g}")
    if not best["converged"]:
        notes.append(f"L-BFGS stopped after {best['steps']} steps with ‖∇‖∞ = {best['gnorm']:.3g} "
                     "(before the Newton polish)")
    terms = _floats(aux["terms"])
    sm = joint.twice_nll_sm() if joint.belle2 is not None else None
    view = with_relic(joint, aux["omega_h2"]) if "omega_h2" in aux else joint
    observables = _floats(view.observables(jnp.asarray(theta)))
    starts_info = [{"theta0": r["theta0"], "theta": prob.theta_numpy(r["x"][: prob.n_theta]),
                    "twice_nll": r["twice_nll"], "converged": r["converged"], "steps": r["steps"]}
                   for r in runs]
    return BestFitResult(
        spec_name=joint.spec.name, model_name=joint.spec.model_name, names=tuple(joint.names),
        theta=theta, theta_sigma=np.sqrt(np.diag(covariance)), theta_interval=interval,
        covariance=covariance, nuisances=nu, twice_nll=value, terms=terms, observables=observables,
        twice_nll_sm=None if sm is None else float(sm),
        delta_chi2_sm=None if sm is None else float(sm) - terms["belle2"],
        starts=starts_info, converged=converged, relic_failures=joint.relic_failures - failures0,
        wall_time_s=time.perf_counter() - t0, edm=edm, notes=notes,
        nuisance_names=tuple(joint.nuisance_names),
        units=_units(joint),
        provenance=fit_provenance(joint.spec))
