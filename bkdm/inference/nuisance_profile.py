"""The Belle II nuisance parameters profiled at fixed new physics: batched Newton with the exact Hessian.

For new-physics branching fractions B_NP per generator q² bin (the B⁺ → K⁺X line of a parameter
point θ, :func:`bkdm.flavour.np_bin_branching_fractions`) the profiled Belle II term is

    −2 ln L_BelleII,prof(θ) = min_ν −2 ln L_BelleII(ν; B_NP(θ))                            (1)

over the 231 free nuisances ν of the published HistFactory model (its 232 parameters minus the
POI μ, which stays 1: the SM signal; docs/physics/belle2-likelihood.md), inside pyhf's bounds
(normsys/histosys α ∈ [−5, 5], staterror γ ∈ [10⁻¹⁰, 10], background normalisations). This is
pyhf's ``fixed_poi_fit`` of the reweighted model with μ = 1 and the signal shapefactors fixed at
r(B_NP); tests/test_nuisance_profile.py checks (1) against it to 10⁻³ in −2 ln L.

Algorithm (:meth:`NuisanceProfiler.solve`, pure JAX, jit/vmap-able, one θ per call; scans vmap it
over a chunk of points):

* Newton steps ν ← clip(ν − t (H_FF + τ I)⁻¹ ∇_F) with the **exact Hessian** H of −2 ln L_BelleII
  in ν, restricted to the free set F (coordinates at a bound whose gradient points outwards are
  held there: projected Newton; so are coordinates with equal bounds and those that do not enter
  −2 ln L at the point, zero gradient and curvature). τ = 0 where H_FF is positive definite (always
  near the minimum); where it is not (measured: moving from the signal best fit to the SM, H has an
  eigenvalue −4.5 at the start) τ is raised ×4 from 10⁻⁴ max|H_ii| until the Cholesky factorisation
  succeeds, which makes the step a descent direction. t is the largest of 1, ½, ¼, 10⁻¹, 3·10⁻², 10⁻²
  that lowers −2 ln L (all six evaluated in one batch).
* Converged when H_FF is positive definite and EDM = ½ ∇_Fᵀ H_FF⁻¹ ∇_F ≤ ``edm_tol`` (default 10⁻⁶
  in −2 ln L): −2 ln L is then within ≈ EDM of the minimum, three orders below the 10⁻³ asked of (1).
* The Hessian costs one Hessian–vector product (forward-over-reverse AD) per *colour*, not per
  parameter: its structural sparsity (γ's of different bins never share a bin, 73 % of the entries
  are zero) is read once from exact Hessians at three random points; the 50 parameters with the
  densest columns (the α's and background normalisations) get one product each, the other 181 are
  grouped into 21 colours whose columns share no row among themselves, and the remaining entries
  follow by symmetry. 71 products instead of 231, exact to round-off (tested against jax.hessian);
  the products run in a ``lax.map`` (a vmap over them was 9× slower for pyhf's gather-heavy graph).
* Warm starts: ``nu0`` is the caller's (scans start every point from the best fit's ν̂). From
  there, measured: 5–9 Newton steps for points within a few σ (SM included), 12–14 for points with
  BR·P_inv = 10⁻⁴–10⁻³ (Δχ² of hundreds); ≈ 30–60 ms per step on one core (2-core VM).
* :func:`with_theta` adds a few physics parameters θ to the same Newton iteration (z = (θ, ν)):
  the global minimum of the Belle II term over a plane or over a line's (m_X, BR·P_inv), and fits
  with one θ fixed — what the coverage toys (benchmarks/coverage.py) use.

Status (per point; never a silently wrong value): 0 converged; 1 ``STATUS_MAX_ITERATIONS`` (EDM
still > tol after ``max_iterations``); 2 ``STATUS_STALLED`` (no step length lowers −2 ln L before
convergence); 3 ``STATUS_NONFINITE`` (−2 ln L not finite at the start). The
returned −2 ln L is the lowest value reached; callers mark points with status ≠ 0 (scans report
them, Δχ² is set to NaN in plots).
"""

import functools
import weakref

import jax
import jax.numpy as jnp
import numpy as np

STATUS_OK = 0
STATUS_MAX_ITERATIONS = 1
STATUS_STALLED = 2
STATUS_NONFINITE = 3
STATUS_NAMES = {STATUS_OK: "converged", STATUS_MAX_ITERATIONS: "inner fit: max iterations",
                STATUS_STALLED: "inner fit stalled", STATUS_NONFINITE: "−2 ln L not finite"}

EDM_TOL = 1e-6  # [−2 ln L] convergence of the inner fit
MAX_ITERATIONS = 30
STEP_LENGTHS = (1.0, 0.5, 0.25, 0.1, 0.03, 0.01)
SHIFT_START, SHIFT_MAX = 1e-4, 1e8  # Hessian shift τ relative to max|H_ii| when H is indefinite
BOUND_TOL = 1e-9  # relative distance to a bound at which a coordinate counts as on it
DENSE_COLUMNS = 50  # columns handled one by one (the densest; see module docstring)
PATTERN_POINTS = 3


def _greedy_colouring(pattern, columns):
    """Colours of ``columns`` such that no two columns of a colour have a nonzero in the same row among
    ``columns`` (largest degree first)."""
    sub = pattern[np.ix_(columns, columns)]
    order = np.argsort(-sub.sum(axis=0), kind="stable")
    colours, used = [], []
    for k in order:
        rows = sub[:, k]
        for colour, taken in zip(colours, used, strict=True):
            if not np.any(taken & rows):
                colour.append(columns[k])
                taken |= rows
                break
        else:
            colours.append([columns[k]])
            used.append(rows.copy())
    return colours


def hessian_recovery(pattern, n_dense=None):
    """Seeds V (n, n_seeds) and gather maps that rebuild a symmetric H with sparsity ``pattern`` from
    H V: returns (V, rows, seeds, mask) with H = (HV)[rows, seeds] · mask (module docstring)."""
    pattern = np.asarray(pattern, dtype=bool) | np.eye(len(pattern), dtype=bool)
    n = len(pattern)
    n_dense = min(DENSE_COLUMNS if n_dense is None else n_dense, n)
    dense = np.sort(np.argsort(-pattern.sum(axis=0), kind="stable")[:n_dense])
    sparse = np.setdiff1d(np.arange(n), dense)
    colours = _greedy_colouring(pattern, sparse) if sparse.size else []
    seeds = np.zeros((n, len(dense) + len(colours)))
    seed_of = np.zeros(n, dtype=int)
    for k, d in enumerate(dense):
        seeds[d, k], seed_of[d] = 1.0, k
    for k, colour in enumerate(colours, start=len(dense)):
        seeds[colour, k], seed_of[colour] = 1.0, k
    is_dense = np.zeros(n, dtype=bool)
    is_dense[dense] = True
    rows = np.zeros((n, n), dtype=int)
    cols = np.zeros((n, n), dtype=int)
    r, c = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    # column c dense: H[r, c] = (HV)[r, seed(c)]; c sparse and r dense: H[r, c] = H[c, r] = (HV)[c, seed(r)];
    # both sparse: (HV)[r, seed(c)] (no other column of c's colour has a nonzero in row r)
    use_transpose = ~is_dense[c] & is_dense[r]
    rows[...] = np.where(use_transpose, c, r)
    cols[...] = np.where(use_transpose, seed_of[r], seed_of[c])
    return seeds, rows, cols, pattern.astype(float)


def _shifted_cholesky(h):
    """(τ, L) with L Lᵀ = H + τ I: τ = 0 if H is positive definite, else the first of
    10⁻⁴, 4·10⁻⁴, 1.6·10⁻³, … × max|H_ii| that makes it so (a cheap stand-in for |H|: XLA's eigh
    on the CPU costs ~100 Cholesky factorisations)."""
    scale = jnp.maximum(jnp.max(jnp.abs(jnp.diag(h))), 1e-300)
    eye = jnp.eye(h.shape[0])

    def failed(state):
        tau, chol = state
        return ~jnp.all(jnp.isfinite(chol)) & (tau < SHIFT_MAX * scale)

    def escalate(state):
        tau = jnp.maximum(4.0 * state[0], SHIFT_START * scale)
        return tau, jnp.linalg.cholesky(h + tau * eye)

    return jax.lax.while_loop(failed, escalate, (jnp.asarray(0.0), jnp.linalg.cholesky(h)))


def _hvp(twice_nll, nu, args, v):
    return jax.jvp(lambda x: jax.grad(twice_nll)(x, *args), (nu,), (v,))[1]


def measure_pattern(twice_nll, lower, upper, points):
    """Sparsity of ∂²(−2 ln L)/∂ν²: the union of the nonzero entries of the exact Hessian (one
    Hessian–vector product per unit vector) at ``points``, a list of (ν, args) tuples — give a few
    random ones: an entry that vanishes at all of them is structurally zero."""
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    eye = jnp.eye(lower.size)
    full = jax.jit(lambda nu, args: jax.lax.map(lambda v: _hvp(twice_nll, nu, args, v), eye))
    pattern = np.zeros((lower.size, lower.size), dtype=bool)
    for nu, args in points:
        margin = 1e-3 * (upper - lower)
        nu = np.clip(np.asarray(nu, dtype=float), lower + margin, upper - margin)
        pattern |= np.asarray(full(jnp.asarray(nu), tuple(args))) != 0.0
    return pattern | pattern.T


class NuisanceProfiler:
    """min over ν of ``twice_nll(nu, *args)`` (module docstring), as pure JAX functions.

    ``twice_nll(nu, *args)``: −2 ln L as a JAX function of the free nuisances ``nu`` (n,) and any
    further arrays (for Belle II: the 100 B_NP, and optionally the observed data); ``lower``,
    ``upper``: bounds of ν (n,); ``pattern``: sparsity of the Hessian in ν (:func:`measure_pattern`).
    ``solve(nu0, *args)`` for one point, ``solve_batch(nu0s, *argss)`` = jit(vmap(solve)).
    """

    def __init__(self, twice_nll, lower, upper, pattern, n_dense=None):
        self.twice_nll = twice_nll
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self.n = self.lower.size
        self.pattern = np.asarray(pattern, dtype=bool)
        seeds, rows, cols, mask = hessian_recovery(self.pattern, n_dense)
        self.n_products = seeds.shape[1]
        self._seeds, self._rows, self._cols, self._mask = (jnp.asarray(seeds.T), jnp.asarray(rows),
                                                           jnp.asarray(cols), jnp.asarray(mask))
        self.solve_batch = jax.jit(jax.vmap(self.solve))

    # ----------------------------------------------------------------------------- JAX functions
    def hessian(self, nu, *args):
        """Exact ∂²(−2 ln L)/∂ν² from ``n_products`` Hessian–vector products (module docstring).
        (``lax.map``, not vmap, over the products: measured 9× faster for pyhf's gather-heavy graph.)"""
        hv = jax.lax.map(lambda v: _hvp(self.twice_nll, nu, args, v), self._seeds).T  # (n, n_seeds)
        h = hv[self._rows, self._cols] * self._mask
        return 0.5 * (h + h.T)

    def solve(self, nu0, *args):
        """Projected Newton from ``nu0`` at fixed ``args`` (module docstring) inside the bounds.

        Returns dict(nu, twice_nll, edm, iterations, status) (JAX scalars/arrays; vmap for batches)."""
        return self.solve_bounded(nu0, self.lower, self.upper, *args)

    def solve_bounded(self, nu0, lower, upper, *args, edm_tol=EDM_TOL, max_iterations=MAX_ITERATIONS):
        """:meth:`solve` inside other bounds ``lower`` ≤ ν ≤ ``upper`` (within the profiler's); a
        coordinate with lower = upper is held fixed there."""
        lower = jnp.maximum(jnp.asarray(lower, dtype=jnp.float64), self.lower)
        upper = jnp.minimum(jnp.asarray(upper, dtype=jnp.float64), self.upper)
        span = jnp.asarray(self.upper - self.lower)
        nu0 = jnp.clip(jnp.asarray(nu0, dtype=jnp.float64), lower, upper)
        value_and_grad = jax.value_and_grad(self.twice_nll)
        steps = jnp.asarray(STEP_LENGTHS)
        f0, g0 = value_and_grad(nu0, *args)
        finite0 = jnp.isfinite(f0) & jnp.all(jnp.isfinite(g0))

        def body(state):
            nu, f, g, it, _, _ = state
            h = self.hessian(nu, *args)
            at_low = (nu <= lower + BOUND_TOL * span) & (g > 0)
            at_high = (nu >= upper - BOUND_TOL * span) & (g < 0)
            pinned = upper <= lower  # fixed by equal bounds
            flat = (jnp.diag(h) == 0.0) & (g == 0.0)  # not in −2 ln L here (m_X of a line with BR = 0)
            free = ~(at_low | at_high | pinned | flat)
            hm = jnp.where(free[:, None] & free[None, :], h, 0.0) + jnp.diag(jnp.where(free, 0.0, 1.0))
            gm = jnp.where(free, g, 0.0)
            shift, chol = _shifted_cholesky(hm)
            d = jax.scipy.linalg.cho_solve((chol, True), gm)
            edm = jnp.where(shift == 0.0, 0.5 * jnp.dot(gm, d), jnp.inf)
            done = edm <= edm_tol
            candidates = jnp.clip(nu[None, :] - steps[:, None] * d[None, :], lower, upper)
            values = jax.vmap(lambda x: self.twice_nll(x, *args))(candidates)
            better = jnp.isfinite(values) & (values < f)
            moved = jnp.any(better) & ~done
            nu_new = jnp.where(moved, candidates[jnp.argmax(better)], nu)
            f_new, g_new = value_and_grad(nu_new, *args)
            status = jnp.where(done, STATUS_OK, jnp.where(moved, -1, STATUS_STALLED))
            return nu_new, f_new, g_new, it + 1, status, edm

        def cond(state):
            return (state[4] < 0) & (state[3] < max_iterations)

        init = (nu0, f0, g0, jnp.asarray(0), jnp.where(finite0, -1, STATUS_NONFINITE), jnp.asarray(jnp.inf))
        nu, f, _, it, status, edm = jax.lax.while_loop(cond, body, init)
        status = jnp.where(status < 0, STATUS_MAX_ITERATIONS, status)
        return {"nu": nu, "twice_nll": f, "edm": edm, "iterations": it, "status": status.astype(jnp.int32)}


# ------------------------------------------------------------------------------------ Belle II
def belle2_function(belle2, nu_index, nu_base, with_data=False):
    """−2 ln L_BelleII as a function of the free nuisances: ``f(nu, b_np)`` (observed data) or, with
    ``with_data``, ``f(nu, b_np, data)`` (toys; pyhf data layout: main bins then auxiliary data)."""
    nu_index = np.asarray(nu_index)
    base = jnp.asarray(nu_base, dtype=jnp.float64)
    if with_data:
        f = belle2.with_data()
        return lambda nu, b_np, data: f(base.at[nu_index].set(nu), b_np, data)
    return lambda nu, b_np: belle2.twice_nll(base.at[nu_index].set(nu), b_np)


def _random_points(belle2, nu_ref, with_data, seed=0):
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(PATTERN_POINTS):
        b = np.zeros(100)
        j = rng.integers(0, 99)
        b[j:j + 2] = 1e-5 * rng.uniform(0.2, 1.0, 2)
        args = (jnp.asarray(b),) + ((jnp.asarray(belle2.data),) if with_data else ())
        points.append((nu_ref + 0.1 * rng.standard_normal(nu_ref.size), args))
    return points


@functools.lru_cache(maxsize=8)
def _belle2_profiler(belle2, index_key, base_key, with_data):
    nu_index = np.frombuffer(index_key, dtype=np.int64)
    nu_base = np.frombuffer(base_key, dtype=np.float64)
    f = belle2_function(belle2, nu_index, nu_base, with_data)
    bounds = belle2.bounds[nu_index]
    pattern = measure_pattern(f, bounds[:, 0], bounds[:, 1],
                              _random_points(belle2, nu_base[nu_index], with_data))
    return NuisanceProfiler(f, bounds[:, 0], bounds[:, 1], pattern)


def for_belle2(belle2, nu_index, nu_base, with_data=False):
    """The :class:`NuisanceProfiler` of a :class:`~bkdm.likelihoods.belle2.Belle2Likelihood` over its
    parameters ``nu_index`` (the others at ``nu_base``), cached; ``with_data``: see
    :func:`belle2_function`."""
    return _belle2_profiler(belle2, np.asarray(nu_index, dtype=np.int64).tobytes(),
                            np.asarray(nu_base, dtype=np.float64).tobytes(), bool(with_data))


def for_joint(joint):
    """The :class:`NuisanceProfiler` of a :class:`~bkdm.inference.joint.JointLikelihood`'s Belle II
    term over its free nuisances (``joint.nuisance_names``; μ = 1), ``f(nu, b_np)``."""
    if joint.belle2 is None:
        raise ValueError("nuisances = 'profile' needs a Belle II term (likelihood.belle2)")
    return for_belle2(joint.belle2, joint._nu_index, joint._nu_base)


def with_theta(profiler, b_of_theta, theta_lower, theta_upper, theta_ref, nu_ref, args_ref=()):
    """A :class:`NuisanceProfiler` over z = (θ, ν) of ``profiler.twice_nll(ν, b_of_theta(θ), *args)``:
    a few physics parameters θ (a two-body line's m_X and BR·P_inv, or a model's) minimised jointly
    with the nuisances by the same Newton iteration (exact Hessian; the θ columns are dense and get
    their own products). θ bounds ``theta_lower``/``theta_upper``; fix a θ by giving
    :meth:`~NuisanceProfiler.solve_bounded` equal bounds. ``theta_ref``, ``nu_ref``, ``args_ref``
    (the further arguments, e.g. data): a typical point for the sparsity pattern."""
    k = len(theta_lower)

    def f(z, *args):
        return profiler.twice_nll(z[k:], b_of_theta(z[:k]), *args)

    lower = np.concatenate([np.asarray(theta_lower, dtype=float), profiler.lower])
    upper = np.concatenate([np.asarray(theta_upper, dtype=float), profiler.upper])
    rng = np.random.default_rng(1)
    theta_ref, nu_ref = np.asarray(theta_ref, dtype=float), np.asarray(nu_ref, dtype=float)
    points = [(np.concatenate([theta_ref, nu_ref + 0.1 * rng.standard_normal(nu_ref.size)]), tuple(args_ref))
              for _ in range(PATTERN_POINTS)]
    return NuisanceProfiler(f, lower, upper, measure_pattern(f, lower, upper, points),
                            n_dense=DENSE_COLUMNS + k)


_MINIMA = weakref.WeakKeyDictionary()


def belle2_minimum(joint, theta0, nu0, nuisance_mode="profile"):
    """min over the joint's free θ (inside their prior ranges; a normal prior without a range: mean
    ± 10σ) and — ``nuisance_mode="profile"`` — the nuisances of the Belle II term, started at
    (``theta0``, ``nu0``); with ``"fixed"`` ν stays at ``nu0``. The reference of a scan's Belle II
    Δχ² (``bkdm scan``; one Newton iteration over z = (θ, ν), :func:`with_theta`). Returns
    dict(theta, nu, twice_nll, status) (numpy; status as in :meth:`NuisanceProfiler.solve`)."""
    if nuisance_mode not in ("profile", "fixed"):
        raise ValueError(f"nuisance_mode = {nuisance_mode!r} is not allowed: choose 'profile' or 'fixed'")
    k = joint.n_theta
    theta0 = np.asarray(theta0, dtype=float)
    nu0 = np.asarray(nu0, dtype=float)
    if joint not in _MINIMA:
        priors = [joint.spec.free[name] for name in joint.names]
        lower = [p.low if p.low is not None else p.mean - 10.0 * p.sigma for p in priors]
        upper = [p.high if p.high is not None else p.mean + 10.0 * p.sigma for p in priors]
        z_profiler = with_theta(for_joint(joint), joint.b_np_bins, lower, upper, theta0, nu0)
        _MINIMA[joint] = (z_profiler, jax.jit(z_profiler.solve_bounded))
    z_profiler, solve = _MINIMA[joint]
    lower, upper = z_profiler.lower.copy(), z_profiler.upper.copy()
    if nuisance_mode == "fixed":
        lower[k:] = upper[k:] = nu0
    out = solve(jnp.asarray(np.concatenate([theta0, nu0])), lower, upper)
    z = np.asarray(out["nu"])
    return {"theta": z[:k], "nu": z[k:], "twice_nll": float(out["twice_nll"]), "status": int(out["status"])}
