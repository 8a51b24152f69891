"""Input validation at the API boundary (outside jit).

All checks are skipped for JAX tracers (inside ``jit``/``vmap``/``grad`` values are not known), so
the same constructors work in traced code; eagerly built parameters are always checked. Errors are
``ValueError`` naming the parameter, its value and the allowed range.
"""

import jax
import numpy as np


def is_concrete(*values):
    """True when none of ``values`` is a JAX tracer (so they can be inspected with numpy)."""
    for v in values:
        if isinstance(v, jax.core.Tracer):
            return False
    return True


def format_value(value):
    """A value for an error message: the number, or an array's shape and range."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    flat = a.ravel()
    return f"array (shape {a.shape}, min {flat.min():.6g}, max {flat.max():.6g})"


def _fail(name, value, allowed, unit=""):
    u = f" {unit}" if unit else ""
    raise ValueError(f"{name} = {format_value(value)}{u} is not allowed: {allowed}")


def check_finite(name, value, unit=""):
    if is_concrete(value) and not np.all(np.isfinite(np.asarray(value, dtype=float))):
        _fail(name, value, "it must be a finite real number", unit)


def check_positive(name, value, unit=""):
    """value > 0 (and finite)."""
    check_finite(name, value, unit)
    if is_concrete(value) and not np.all(np.asarray(value, dtype=float) > 0):
        _fail(name, value, "allowed range is > 0", unit)


def check_nonnegative(name, value, unit=""):
    """value ≥ 0 (and finite)."""
    check_finite(name, value, unit)
    if is_concrete(value) and not np.all(np.asarray(value, dtype=float) >= 0):
        _fail(name, value, "allowed range is ≥ 0", unit)


def check_range(name, value, lo=None, hi=None, unit="", lo_open=False, hi_open=False, why=""):
    """lo ≤ value ≤ hi (open ends with lo_open/hi_open); ``why`` explains the bound."""
    check_finite(name, value, unit)
    if not is_concrete(value, lo, hi):
        return
    v = np.asarray(value, dtype=float)
    ok = np.ones(v.shape, dtype=bool)  # broadcast (not in place): lo/hi may be arrays of another shape
    if lo is not None:
        ok = ok & ((v > np.asarray(lo)) if lo_open else (v >= np.asarray(lo)))
    if hi is not None:
        ok = ok & ((v < np.asarray(hi)) if hi_open else (v <= np.asarray(hi)))
    if not np.all(ok):
        left = "" if lo is None else f"{format_value(lo)} {'<' if lo_open else '≤'} "
        right = "" if hi is None else f" {'<' if hi_open else '≤'} {format_value(hi)}"
        rng = f"allowed range is {left}{name}{right}"
        if unit:
            rng += f" ({unit})"
        _fail(name, value, rng + (f" — {why}" if why else ""), unit)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} = {value!r} is not allowed: choose one of {sorted(choices)}")
