"""Profile-likelihood scans in one and two physics parameters (units: each parameter's own, GeV-based).

Test statistic (docs/statistics.md). At every grid point the scanned parameters θ_a are held at their
(physical) grid values and −2 ln L is minimised over all other θ and — ``nuisances="profile"``, the
default — every Belle II nuisance ν, with the L-BFGS loop, Newton polish and compiled objective of
:mod:`bkdm.inference.bestfit` (fixed coordinates are masked: no recompilation):

    Δχ²(θ_a) = min_{θ_rest, ν} −2 ln L(θ_a, θ_rest, ν) − min_{all} −2 ln L

With ``nuisances="fixed"`` ν stays at the best fit's ν̂ (a conditional likelihood: narrower than the
profile; for comparisons only). A point counts as converged if its EDM ≤ ``bestfit.EDM_MAX``. The grid
is swept outward from the point nearest the best fit; each point is warm-started from its already
profiled neighbour (from the best fit if that start is non-finite). The reference minimum is the
best fit's −2 ln L, or the profile's lowest value if the scan finds a lower one (then noted).

Intervals (Wilks; :func:`profile_intervals`): the 1-D Δχ² = 1 / 3.84 / 4 crossings give the 68.3 % /
95 % / 95.4 % intervals, the 2-D Δχ² = 2.30 / 5.99 contours the 68.3 % / 95 % regions.
:func:`profile_auto` extends a 1-D profile by itself — steps growing ×2 in the prior's unconstrained
coordinate beyond the last point — until Δχ² ≥ 4 on both sides or the prior range ends; a side on
which Δχ² stays below the level up to the prior bound gives a **one-sided** interval ending at that
bound (never NaN). :func:`compare_with_hessian` sets each side's profile half-width against the
best fit's Hessian interval; the CLI warns where they differ by more than 30 % — quote the profile
interval then (the Hessian is a local, quadratic approximation).
"""

import dataclasses
import json
import math
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from bkdm.inference.bestfit import EDM_MAX, JsonResult, array_from_json, problem


@dataclasses.dataclass
class ProfileResult(JsonResult):
    """A 1-D or 2-D profile (see module docstring).

    ``names``: the scanned parameters; ``grid``: their values (one array per name);
    ``twice_nll``/``delta_chi2``/``converged``: arrays of shape ``tuple(len(g) for g in grid)``;
    ``theta``: the profiled values of all free parameters (``theta_names``), shape (*grid, n_θ);
    ``nuisances``: "profile" or "fixed" (module docstring); ``bounds_reached``: for a 1-D profile,
    "low"/"high" if the grid ends on that prior bound.
    """

    spec_name: str
    names: tuple
    grid: list
    twice_nll: np.ndarray
    delta_chi2: np.ndarray
    theta: np.ndarray
    theta_names: tuple
    converged: np.ndarray
    twice_nll_min: float
    wall_time_s: float
    notes: list = dataclasses.field(default_factory=list)
    nuisances: str = "profile"
    bounds_reached: list = dataclasses.field(default_factory=list)  # 1-D: "low"/"high" prior ends on the grid

    @classmethod
    def from_dict(cls, data):
        values = dict(data)
        values["names"], values["theta_names"] = tuple(values["names"]), tuple(values["theta_names"])
        values["grid"] = [array_from_json(g) for g in values["grid"]]
        for key in ("twice_nll", "delta_chi2", "theta"):
            values[key] = array_from_json(values[key])
        values["converged"] = np.asarray(values["converged"], dtype=bool)
        return cls(**values)

    @classmethod
    def load_json(cls, path):
        return cls.from_dict(json.loads(Path(path).read_text()))


def _outward(n, centre):
    """Indices 0…n−1 swept outward from ``centre``, each with its already-visited neighbour."""
    up = [(i, i - 1) for i in range(centre + 1, n)]
    down = [(i, i + 1) for i in range(centre - 1, -1, -1)]
    return [(centre, None)] + up + down


NUISANCE_MODES = ("profile", "fixed")


def _setup(joint, best, names, grids, nuisances):
    if nuisances not in NUISANCE_MODES:
        raise ValueError(f"nuisances = {nuisances!r} is not allowed: choose one of {list(NUISANCE_MODES)}")
    prob = problem(joint)
    for name in names:
        if name not in joint.names:
            raise ValueError(f"profile: {name!r} is not a free parameter of {joint.spec.name}; "
                             f"choose from {list(joint.names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"profile: the two parameters must differ, got {names}")
    index = [joint.names.index(name) for name in names]
    grids = [np.asarray(g, dtype=float).ravel() for g in grids]
    for name, i, g in zip(names, index, grids, strict=True):
        if g.size == 0:
            raise ValueError(f"profile: no values given for {name}")
        p = prob.priors[i]
        outside = (p.low is not None and np.any(g < p.low)) or (p.high is not None and np.any(g > p.high))
        if outside:
            raise ValueError(f"profile: values of {name} must lie in its prior range [{p.low}, {p.high}], "
                             f"got [{g.min():g}, {g.max():g}]")
    x_best = prob.x_of(best.theta, best.nuisances)
    free = np.ones_like(x_best)
    free[index] = 0.0
    if nuisances == "fixed":
        free[prob.n_theta:] = 0.0
    return prob, index, grids, x_best, free


def _point(prob, spec, starts, index, fixed_u, free):
    """Profile one point: L-BFGS from the first start with finite −2 ln L, then the Newton polish."""
    run = None
    for start in starts:
        x0 = start.copy()
        x0[index] = fixed_u
        run = prob.minimise(x0, free=free, max_steps=spec.bestfit["max_steps"],
                            tolerance=spec.bestfit["tolerance"])
        if math.isfinite(run["twice_nll"]):
            break
    if math.isfinite(run["twice_nll"]):
        polished = prob.newton(np.asarray(prob.z_of_x(jnp.asarray(run["x"]))), free=free > 0)
        z = polished["z"]
        run["x"] = np.concatenate([z[: prob.n_theta], prob.w_of_nu(z[prob.n_theta:])])
        run["twice_nll"] = polished["twice_nll"]
        run["converged"] = polished["edm"] <= EDM_MAX  # False for nan (H not positive definite)
    return run


def _reference(best, twice_nll, converged):
    notes = []
    reference = best.twice_nll
    finite = np.isfinite(twice_nll)
    lowest = float(np.min(twice_nll[finite])) if finite.any() else math.inf
    if lowest < reference - 1e-6 * max(1.0, abs(reference)):
        notes.append(f"the profile found −2 ln L = {lowest:.6f} below the best fit's {reference:.6f}: "
                     "Δχ² is relative to the profile minimum")
        reference = lowest
    if not converged.all():
        notes.append(f"{int((~converged).sum())} of {converged.size} points did not converge")
    return reference, notes


def _profile(joint, best, names, grids, progress, nuisances="profile"):
    t0 = time.perf_counter()
    prob, index, grids, x_best, free = _setup(joint, best, names, grids, nuisances)
    u_grid = [np.array([float(prob.priors[i].to_unconstrained(v)) for v in g])
              for i, g in zip(index, grids, strict=True)]
    shape = tuple(g.size for g in grids)
    centre = [int(np.argmin(np.abs(g - best.theta[i]))) for i, g in zip(index, grids, strict=True)]
    if len(shape) == 1:
        order = [((i,), None if p is None else (p,)) for i, p in _outward(shape[0], centre[0])]
    else:
        order = []
        for i, pi in _outward(shape[0], centre[0]):
            for j, pj in _outward(shape[1], centre[1]):
                parent = (i, pj) if pj is not None else (None if pi is None else (pi, j))
                order.append(((i, j), parent))
    twice_nll = np.full(shape, np.nan)
    converged = np.zeros(shape, dtype=bool)
    x_at = {}
    spec = joint.spec
    for point, parent in tqdm(order, desc=f"profile {' × '.join(names)}", disable=not progress, unit="pt"):
        fixed_u = [u_grid[k][point[k]] for k in range(len(point))]
        starts = ((x_at[parent],) if parent is not None else ()) + (x_best,)
        run = _point(prob, spec, starts, index, fixed_u, free)
        x_at[point] = run["x"]
        twice_nll[point] = run["twice_nll"]
        converged[point] = run["converged"]
    theta = np.zeros(shape + (prob.n_theta,))
    for point, x in x_at.items():
        theta[point] = prob.theta_numpy(x[: prob.n_theta])
    reference, notes = _reference(best, twice_nll, converged)
    return ProfileResult(spec_name=spec.name, names=tuple(names), grid=grids, twice_nll=twice_nll,
                         delta_chi2=twice_nll - reference, theta=theta, theta_names=tuple(joint.names),
                         converged=converged, twice_nll_min=float(reference),
                         wall_time_s=time.perf_counter() - t0, notes=notes, nuisances=nuisances)


def profile_1d(joint, best, name, values, progress=True, nuisances="profile"):
    """Profile −2 ln L in ``name`` over ``values`` (physical units) around the
    :class:`~bkdm.inference.bestfit.BestFitResult` ``best``; ``nuisances``: "profile" (default) or
    "fixed" at the best fit. Returns :class:`ProfileResult`."""
    return _profile(joint, best, (name,), [values], progress, nuisances)


def profile_2d(joint, best, names, values_a, values_b, progress=True, nuisances="profile"):
    """Profile −2 ln L on the grid ``values_a`` × ``values_b`` of ``names = (a, b)`` (physical units).
    Returns :class:`ProfileResult` with arrays of shape (len(values_a), len(values_b))."""
    if len(names) != 2:
        raise ValueError(f"profile_2d: names must be two parameter names, got {names!r}")
    return _profile(joint, best, tuple(names), [values_a, values_b], progress, nuisances)


AUTO_LEVEL = 4.0  # a self-extending profile continues until Δχ² ≥ 4 (2σ) on both sides
AUTO_MAX_POINTS = 24  # extra points per side at most
BOUND_FRACTION = 1e-9  # the prior bound is profiled at θ = bound ∓ 1e-9 of the range (u finite)


def default_grid(prior, theta, interval, n):
    """n values spanning ±3σ_Hessian around ``theta``, evenly in the prior's unconstrained coordinate u
    (log for log-uniform priors); ±1.5 in u if the Hessian interval is unknown; clipped to the range."""
    u0 = float(prior.to_unconstrained(theta))
    lo, hi = interval
    half = 1.5
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        half = 1.5 * float(prior.to_unconstrained(hi) - prior.to_unconstrained(lo))
    values = [float(prior.to_physical(u)) for u in np.linspace(u0 - half, u0 + half, n)]
    return _clip_to_prior(prior, np.asarray(values))


def _clip_to_prior(prior, values):
    if prior.low is None or prior.high is None:
        return values
    margin = BOUND_FRACTION * (prior.high - prior.low)
    return np.clip(values, prior.low + margin, prior.high - margin)


def profile_auto(joint, best, name, n=9, level=AUTO_LEVEL, progress=True, nuisances="profile",
                 max_points=AUTO_MAX_POINTS):
    """A 1-D profile that finds its interval (module docstring): first ``n`` points over ±3σ of the
    Hessian (:func:`default_grid`), then, on each side where Δχ² < ``level`` at the last point, more
    points with the step in u doubling (from the grid's), warm-started from the previous one, until
    Δχ² ≥ ``level``, the prior bound (profiled there, recorded in ``bounds_reached``) or
    ``max_points``. Returns :class:`ProfileResult`."""
    t0 = time.perf_counter()
    i = joint.names.index(name) if name in joint.names else None
    if i is None:
        raise ValueError(f"profile: {name!r} is not a free parameter of {joint.spec.name}; "
                         f"choose from {list(joint.names)}")
    prior = joint.spec.free[name]
    result = profile_1d(joint, best, name, default_grid(prior, best.theta[i], best.theta_interval[i], n),
                        progress, nuisances)
    grid = list(result.grid[0])
    values, conv = list(result.twice_nll), list(result.converged)
    thetas = list(result.theta)
    bounds_reached = []
    u_lo = -np.inf if prior.low is None else float(prior.to_unconstrained(prior.low + BOUND_FRACTION * (
        prior.high - prior.low)))
    u_hi = np.inf if prior.high is None else float(prior.to_unconstrained(prior.high - BOUND_FRACTION * (
        prior.high - prior.low)))
    for side in (-1, 1):
        order = np.argsort(grid)
        end = order[0] if side < 0 else order[-1]
        nxt = order[1] if side < 0 else order[-2]
        u_end = float(prior.to_unconstrained(grid[end]))
        step = abs(u_end - float(prior.to_unconstrained(grid[nxt])))
        x_prev, added = None, 0
        bar = None
        while values[end] - min(best.twice_nll, min(values)) < level and added < max_points:
            if (side < 0 and u_end <= u_lo) or (side > 0 and u_end >= u_hi):
                bounds_reached.append("low" if side < 0 else "high")
                break
            step *= 2.0
            u_end = max(u_end - step, u_lo) if side < 0 else min(u_end + step, u_hi)
            if x_prev is None:  # compiled objective only when an extension is needed
                prob, index, _, x_best, free = _setup(joint, best, (name,), [result.grid[0]], nuisances)
                x_prev = prob.x_of(thetas[end], best.nuisances)
                bar = tqdm(desc=f"extend {name} {'down' if side < 0 else 'up'}", disable=not progress,
                           unit="pt")
            run = _point(prob, joint.spec, (x_prev, x_best), index, [u_end], free)
            grid.append(float(prior.to_physical(u_end)))
            values.append(run["twice_nll"])
            conv.append(bool(run["converged"]))
            thetas.append(prob.theta_numpy(run["x"][: prob.n_theta]))
            end, x_prev, added = len(grid) - 1, run["x"], added + 1
            bar.update()
            if not math.isfinite(run["twice_nll"]):
                break
        if bar is not None:
            bar.close()
    order = np.argsort(grid)
    twice_nll = np.asarray(values, dtype=float)[order]
    converged = np.asarray(conv, dtype=bool)[order]
    reference, notes = _reference(best, twice_nll, converged)
    if len(grid) - len(result.grid[0]) >= 2 * max_points:
        notes.append(f"stopped after {max_points} extra points per side")
    return ProfileResult(spec_name=joint.spec.name, names=(name,), grid=[np.asarray(grid)[order]],
                         twice_nll=twice_nll, delta_chi2=twice_nll - reference,
                         theta=np.asarray(thetas)[order], theta_names=tuple(joint.names),
                         converged=converged, twice_nll_min=float(reference),
                         wall_time_s=time.perf_counter() - t0,
                         notes=notes, nuisances=nuisances, bounds_reached=sorted(set(bounds_reached)))


def interval_from_profile(result, level=1.0):
    """(low, high) where a 1-D profile's Δχ² crosses ``level``, on either side of the profile minimum;
    nan on a side where the grid never reaches it. Interpolates √Δχ² linearly between grid points:
    exact for a Gaussian profile (√Δχ² = |θ − θ̂|/σ), whatever the grid spacing, as long as the
    crossing is not in a grid interval adjacent to the minimum point."""
    if len(result.names) != 1:
        raise ValueError(f"interval_from_profile needs a 1-D profile, got names {result.names}")
    grid = np.asarray(result.grid[0], dtype=float)
    order = np.argsort(grid)
    grid, d = grid[order], np.asarray(result.delta_chi2, dtype=float)[order]
    if not np.any(np.isfinite(d)):
        return math.nan, math.nan
    i0 = int(np.nanargmin(np.where(np.isfinite(d), d, np.nan)))
    r, target = np.sqrt(np.maximum(d, 0.0)), math.sqrt(level)

    def crossing(indices):
        previous = i0
        for i in indices:
            if not np.isfinite(d[i]):
                return math.nan
            if r[i] >= target:
                f = (target - r[previous]) / (r[i] - r[previous])
                return float(grid[previous] + f * (grid[i] - grid[previous]))
            previous = i
        return math.nan

    return crossing(range(i0 - 1, -1, -1)), crossing(range(i0 + 1, grid.size))


def profile_intervals(result, prior, level=1.0):
    """(low, high, low_kind, high_kind) of a 1-D profile at Δχ² = ``level`` (1: 68.3 %, 3.84: 95 %):
    kind "crossing" (interpolated in √Δχ², :func:`interval_from_profile`); "bound" where Δχ² stays
    below ``level`` up to the prior bound, which is then that end (a one-sided interval); "open" where
    the grid stops before either happens (end NaN: extend the profile)."""
    low, high = interval_from_profile(result, level)
    out = []
    for value, side, bound in ((low, "low", prior.low), (high, "high", prior.high)):
        if math.isfinite(value):
            out.append((value, "crossing"))
        elif side in result.bounds_reached and bound is not None:
            out.append((float(bound), "bound"))
        else:
            out.append((math.nan, "open"))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def compare_with_hessian(best_value, hessian_interval, profile_interval):
    """Ratios profile/Hessian of the lower and upper 1σ half-widths (θ̂ − low, high − θ̂); NaN where a
    side is unknown. |ratio − 1| > 0.3 on either side is the CLI's disagreement warning."""
    (h_lo, h_hi), (p_lo, p_hi) = hessian_interval, profile_interval
    lower = (best_value - p_lo) / (best_value - h_lo) if best_value != h_lo else math.nan
    upper = (p_hi - best_value) / (h_hi - best_value) if h_hi != best_value else math.nan
    return float(lower), float(upper)
