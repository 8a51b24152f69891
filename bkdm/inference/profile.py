"""Profile-likelihood scans in one and two physics parameters (units: each parameter's own, GeV-based).

At every grid point the scanned parameters are held at their (physical) grid values and −2 ln L is
minimised over all other θ and every Belle II nuisance parameter with the L-BFGS loop, Newton polish
and compiled objective of :mod:`bkdm.inference.bestfit` (fixed coordinates are masked: no
recompilation). A point counts as converged if its EDM ≤ ``bestfit.EDM_MAX``.

    Δχ²(θ_a) = min_{θ_rest, ν} −2 ln L(θ_a, θ_rest, ν) − min_{all} −2 ln L

The grid is swept outward from the point nearest the best fit; each point is warm-started from its
already-profiled neighbour (from the best fit if that start is non-finite). The reference minimum is
the best fit's −2 ln L, or the profile's lowest value if the scan finds a lower one (then noted).
By Wilks' theorem the 1-D Δχ² = 1 crossings give the 68.3 % interval, the 2-D Δχ² = 2.30 / 5.99
contours the 68.3 % / 95 % regions.
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
    ``theta``: the profiled values of all free parameters (``theta_names``), shape (*grid, n_θ).
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


def _profile(joint, best, names, grids, progress):
    t0 = time.perf_counter()
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
    u_grid = [np.array([float(prob.priors[i].to_unconstrained(v)) for v in g])
              for i, g in zip(index, grids, strict=True)]
    x_best = prob.x_of(best.theta, best.nuisances)
    free = np.ones_like(x_best)
    free[index] = 0.0
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
    max_steps, tolerance = spec.bestfit["max_steps"], spec.bestfit["tolerance"]
    for point, parent in tqdm(order, desc=f"profile {' × '.join(names)}", disable=not progress, unit="pt"):
        fixed_u = [u_grid[k][point[k]] for k in range(len(point))]
        run = None
        for start in ((x_at[parent],) if parent is not None else ()) + (x_best,):
            x0 = start.copy()
            x0[index] = fixed_u
            run = prob.minimise(x0, free=free, max_steps=max_steps, tolerance=tolerance)
            if math.isfinite(run["twice_nll"]):
                break
        if math.isfinite(run["twice_nll"]):
            polished = prob.newton(np.asarray(prob.z_of_x(jnp.asarray(run["x"]))), free=free > 0)
            z = polished["z"]
            run["x"] = np.concatenate([z[: prob.n_theta], prob.w_of_nu(z[prob.n_theta:])])
            run["twice_nll"] = polished["twice_nll"]
            run["converged"] = polished["edm"] <= EDM_MAX  # False for nan (H not positive definite)
        x_at[point] = run["x"]
        twice_nll[point] = run["twice_nll"]
        converged[point] = run["converged"]
    theta = np.zeros(shape + (prob.n_theta,))
    for point, x in x_at.items():
        theta[point] = prob.theta_numpy(x[: prob.n_theta])
    notes = []
    reference = best.twice_nll
    lowest = np.nanmin(np.where(np.isfinite(twice_nll), twice_nll, np.nan)) if np.any(
        np.isfinite(twice_nll)) else math.inf
    if lowest < reference - 1e-6 * max(1.0, abs(reference)):
        notes.append(f"the profile found −2 ln L = {lowest:.6f} below the best fit's {reference:.6f}: "
                     "Δχ² is relative to the profile minimum")
        reference = lowest
    if not converged.all():
        notes.append(f"{int((~converged).sum())} of {converged.size} points did not converge")
    return ProfileResult(spec_name=spec.name, names=tuple(names), grid=grids, twice_nll=twice_nll,
                         delta_chi2=twice_nll - reference, theta=theta, theta_names=tuple(joint.names),
                         converged=converged, twice_nll_min=float(reference),
                         wall_time_s=time.perf_counter() - t0, notes=notes)


def profile_1d(joint, best, name, values, progress=True):
    """Profile −2 ln L in ``name`` over ``values`` (physical units) around the
    :class:`~bkdm.inference.bestfit.BestFitResult` ``best``. Returns :class:`ProfileResult`."""
    return _profile(joint, best, (name,), [values], progress)


def profile_2d(joint, best, names, values_a, values_b, progress=True):
    """Profile −2 ln L on the grid ``values_a`` × ``values_b`` of ``names = (a, b)`` (physical units).
    Returns :class:`ProfileResult` with arrays of shape (len(values_a), len(values_b))."""
    if len(names) != 2:
        raise ValueError(f"profile_2d: names must be two parameter names, got {names!r}")
    return _profile(joint, best, tuple(names), [values_a, values_b], progress)


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
