"""Common model interface.

Every model is a module (or any object with these attributes) that likelihoods, scans, fits and
the command line treat uniformly. The built-in models live in ``bkdm.models``; your own model is
registered with :func:`bkdm.models.register_model` (``docs/add-a-model.md``). Required names
(:data:`REQUIRED`; a model missing any of them is refused at registration):

``NAME``            registry name (``"alp"``, ``"dark-photon"``, ``"resonant-alp"``, ...)
``SOURCE``          the paper it implements
``Params``          an ``eqx.Module`` subclass of :class:`ModelParams` (validated when built eagerly)
``PARAMETERS``      ``{field: ParameterInfo}``: unit, description, allowed range (fit files, CLI)
``CONDITIONS``      the model's validity conditions, a tuple of :class:`Condition` (below)
``validity_status(p)``     0 where every condition holds, else ``solver.STATUS_INVALID_INPUT`` (pure JAX)
``BENCHMARK``       ``{parameter: value}`` of the default point of ``bkdm info``/``bkdm relic`` and
                    :func:`bkdm.benchmark` (fit-level names: aliases and ties to other names allowed)
``DM_DOF``          internal degrees of freedom g of the dark matter in the relic solve (counting
                    particle and antiparticle: Dirac 4, Majorana 2), for the Y_eq of yield plots
``mediator_mass(p)``       mass of the boson X produced in B → K X [GeV]
``dm_mass(p)``             dark-matter mass [GeV]
``widths(p)``              ``{channel: partial width [GeV]}`` of the mediator
``total_width(p)``         Σ widths [GeV]
``br_b_to_k(p)``           BR(B⁺ → K⁺ X)
``br_b_to_kstar(p)``       BR(B⁺ → K*⁺ X)
``invisible_fraction(p)``  probability that X is unseen at Belle II (decay to DM or escape)
``br_b_to_k_invisible(p)`` BR(B⁺ → K⁺ X) × invisible fraction — the quantity the Belle II fit sees
``summary(p)``             ``{label: float}`` printed by ``bkdm info`` (units in the labels)
``relic(p, settings=..., history=0, **options)``  the relic-density solve: a result with
                           ``omega_h2``, ``status`` (0 = success) and, with ``history=N``, the Y(x)
                           history (the result types of :mod:`bkdm.cosmo`); pure JAX, never raises
``omega_h2(p, settings=..., **options)``  Ωh² today, raising ``SolverError`` eagerly on failure

Optional names (:data:`OPTIONAL`, defaults used when absent): ``ALIASES`` (fit-level names that
expand to fields, ``{alias: function(value, values) → {field: value}}``), ``OPTIONS`` (static
string fields of ``Params``), ``RELIC_METHODS`` (choices of ``relic``'s ``method`` option, the first
the default), ``SYMBOLS`` (``{parameter: mathtext}`` for plot labels, e.g. ``"m_a": "m_a"``).

All functions are pure JAX functions of the parameter container and work under jit, grad and vmap
(vmap over a ``Params`` whose fields are arrays).

Validity. A model is only defined inside its validity region: positive masses, the mass ordering
its decays need, and rates that do not exceed the B⁺ width (BR(B⁺ → K⁺X) + BR(B⁺ → K*⁺X) ≤ 1). The
conditions are written once, as :class:`Condition` objects whose ``holds(p)`` is pure JAX, and used
three ways:

* eagerly, building ``Params`` raises ``ValueError`` naming the parameter, its value, unit and allowed
  range (:func:`check_conditions`, run by :meth:`ModelParams.validate`);
* under jit/vmap, where values are not known, :func:`validity_status` gives a status per point: the
  relic solves return NaN with ``status = solver.STATUS_INVALID_INPUT`` there (next to the solver's
  failure codes; they solve a safe substitute point instead, :func:`safe_params`, so an invalid point
  costs no more than a valid one), and the particle-layer functions above, which have no status,
  return NaN (:func:`nan_unless_valid`) — never the value of a neighbouring valid point;
* a fit file whose prior box reaches a point where a condition fails is refused when it is loaded
  (:mod:`bkdm.inference.fitspec`), naming the parameters the condition ``involves``.
"""

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from bkdm._validation import format_value, is_concrete


def _as_float64(x):
    """float64 array of a parameter value; strings and booleans are left as they are, so that
    :meth:`ModelParams.__check_init__` can refuse them by name (numpy would read "2.1" as 2.1)."""
    kind = getattr(getattr(x, "dtype", None), "kind", "f")
    if isinstance(x, (str, bytes, bool, np.bool_)) or kind in "bUSO":
        return x
    return jnp.asarray(x, dtype=jnp.float64)


def param(default=None):
    """A float64 model parameter field (array-valued fields allow vmapping over points)."""
    if default is None:
        return eqx.field(converter=_as_float64, metadata={"bkdm_param": True})
    return eqx.field(default=default, converter=_as_float64, metadata={"bkdm_param": True})


@dataclasses.dataclass(frozen=True)
class ParameterInfo:
    """Metadata of one model parameter: unit, meaning and allowed range (None = unbounded)."""

    unit: str
    description: str
    lower: float | None = None
    upper: float | None = None
    lower_open: bool = True
    log_scale: bool = False  # natural prior/scan scale is logarithmic

    def allowed(self):
        lo = "-inf" if self.lower is None else f"{self.lower:g}"
        hi = "inf" if self.upper is None else f"{self.upper:g}"
        lb = "(" if (self.lower_open or self.lower is None) else "["
        rb = ")" if self.upper is None else "]"
        return f"{lb}{lo}, {hi}{rb}"


# ------------------------------------------------------------------------------------ validity
@dataclasses.dataclass(frozen=True)
class Condition:
    """One validity condition of a model.

    ``holds(p)`` → bool array (pure JAX, broadcast over vmapped fields; False for NaN); ``name``: the
    parameter an eager error names, ``unit`` its unit, ``allowed``: the allowed range in words;
    ``involves``: every parameter the condition depends on (default: ``name``) — fit files whose prior
    box reaches a failing point are refused naming them; ``why``: the reason; ``detail(p)``: optional
    text with the offending derived numbers for the eager message (e.g. the BR).
    """

    name: str
    allowed: str
    holds: Callable
    unit: str = ""
    why: str = ""
    involves: tuple = ()
    detail: Callable | None = None
    flavour: bool = False  # a B-decay condition (BR ≤ 1): waived by a Params option br_limit=False

    @property
    def parameters(self):
        return self.involves or (self.name,)


def _finite(v):
    return jnp.isfinite(v)


def positive(name, unit=""):
    """Condition 0 < ``name`` < ∞."""
    return Condition(name, f"0 < {name} < inf", lambda p: _finite(getattr(p, name))
                     & (getattr(p, name) > 0.0), unit)


def nonnegative(name, unit=""):
    """Condition 0 ≤ ``name`` < ∞."""
    return Condition(name, f"0 ≤ {name} < inf", lambda p: _finite(getattr(p, name))
                     & (getattr(p, name) >= 0.0), unit)


def finite(name, unit=""):
    """Condition: ``name`` is a finite real number."""
    return Condition(name, f"a finite real {name}", lambda p: _finite(getattr(p, name)), unit)


def active(conditions, p):
    """The conditions that define ``p``'s validity: all, or without the flavour ones (BR ≤ 1) when
    ``p`` has the static option ``br_limit=False`` (a cosmology-only study at couplings flavour
    excludes; the B-decay BRs themselves stay NaN there, :func:`holds_all` with every condition)."""
    if getattr(p, "br_limit", True):
        return tuple(conditions)
    return tuple(c for c in conditions if not c.flavour)


def holds_all(conditions, p):
    """Bool array: every condition holds (pure JAX)."""
    ok = jnp.asarray(True)
    for cond in conditions:
        ok = ok & cond.holds(p)
    return ok


def validity_status(conditions, p):
    """0 where every condition holds, else ``solver.STATUS_INVALID_INPUT`` (int32, pure JAX)."""
    from bkdm.cosmo.solver import STATUS_INVALID_INPUT

    return jnp.where(holds_all(conditions, p), 0, STATUS_INVALID_INPUT).astype(jnp.int32)


def nan_unless_valid(conditions, p, value):
    """``value`` where ``p`` is valid, NaN elsewhere (particle-layer functions, which carry no status)."""
    return jnp.where(holds_all(conditions, p), value, jnp.nan)


def safe_params(p, valid, safe):
    """``p`` where ``valid``, else the parameter values of the valid point ``safe`` (same Params class;
    ``p``'s static options kept): what a relic solve integrates at an invalid point, whose result it
    then discards — no NaN or extreme value enters the solver, and no gradient flows from ``safe``."""
    changes = {f.name: jnp.where(valid, getattr(p, f.name), getattr(safe, f.name))
               for f in dataclasses.fields(p) if f.metadata.get("bkdm_param")}
    return dataclasses.replace(p, **changes)


def check_conditions(conditions, p):
    """Eager check (skipped when any field is traced): ValueError naming the parameter, its value,
    unit and allowed range for the first condition that fails at some element."""
    if not is_concrete(*[getattr(p, f.name) for f in dataclasses.fields(p)]):
        return
    for cond in conditions:
        ok = np.asarray(cond.holds(p))
        if ok.all():
            continue
        value = np.asarray(getattr(p, cond.name), dtype=float)
        if value.ndim and ok.ndim:
            bad = np.broadcast_to(~ok, np.broadcast_shapes(ok.shape, value.shape))
            idx = np.argwhere(bad)[0]
            shown = (f"array of shape {value.shape} with {int(bad.sum())} of {bad.size} points outside "
                     f"the range, e.g. {np.broadcast_to(value, bad.shape)[tuple(idx)]:.6g} at index "
                     f"{tuple(int(i) for i in idx)}")
        else:
            shown = format_value(value)
        unit = f" {cond.unit}" if cond.unit else ""
        msg = f"{cond.name} = {shown}{unit} is not allowed: allowed range is {cond.allowed}"
        if cond.unit:
            msg += f" ({cond.unit})"
        if cond.detail is not None:
            msg += f"; {cond.detail(p)}"
        if cond.why:
            msg += f" — {cond.why}"
        raise ValueError(msg)


# ------------------------------------------------------------------------------------ parameters
class ParameterNameError(TypeError, ValueError):
    """Unknown or missing parameter name (a TypeError as Python raises, and a ValueError: bad input)."""


class _ParamsMeta(type(eqx.Module)):
    """Names the valid fields when a Params is built with an unknown or a missing one."""

    def __call__(cls, *args, **kwargs):
        fields = [f for f in dataclasses.fields(cls) if f.init]
        names = [f.name for f in fields]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise ParameterNameError(f"{cls.__module__.rsplit('.', 1)[-1]}.Params: unknown parameter "
                                     f"{', '.join(map(repr, unknown))}; valid names: {', '.join(names)}")
        required = [f.name for f in fields if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        missing = [n for n in required[len(args):] if n not in kwargs]
        if missing:
            raise ParameterNameError(f"{cls.__module__.rsplit('.', 1)[-1]}.Params: missing parameter "
                                     f"{', '.join(map(repr, missing))}; required: {', '.join(required)}")
        return super().__call__(*args, **kwargs)


class ModelParams(eqx.Module, metaclass=_ParamsMeta):
    """Base class of the parameter containers.

    Subclasses declare their fields with :func:`param` and implement :meth:`validate` (normally
    :func:`check_conditions` on the model's ``CONDITIONS``), which is run on construction
    (``__check_init__``) after every field has been checked to be a real number (not a string or a
    boolean); validation skips traced values, so containers can be built inside jit/vmap too.
    """

    def __check_init__(self):
        for f in dataclasses.fields(self):
            if not f.metadata.get("bkdm_param"):
                continue
            value = getattr(self, f.name)
            kind = getattr(getattr(value, "dtype", None), "kind", None)
            if isinstance(value, (str, bytes, bool, np.bool_)) or kind in ("b", "U", "S", "O"):
                raise ValueError(f"{f.name} = {value!r} is not allowed: a real number (or an array of "
                                 f"real numbers) is expected, not {type(value).__name__}")
        self.validate()

    def validate(self):  # pragma: no cover - overridden
        pass

    def replace(self, **changes):
        """A copy with some fields changed (re-validated)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        """Field name → value (arrays) for printing and saving."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __repr__(self):
        def show(v):
            if isinstance(v, str) or not is_concrete(v):
                return repr(v) if isinstance(v, str) else f"<traced {getattr(v, 'shape', ())}>"
            a = np.asarray(v)
            return f"{float(a):.6g}" if a.ndim == 0 else np.array2string(a, precision=6, threshold=8)
        body = ", ".join(f"{k}={show(v)}" for k, v in self.as_dict().items())
        return f"{type(self).__module__.rsplit('.', 1)[-1]}.Params({body})"

REQUIRED = ("NAME", "SOURCE", "Params", "PARAMETERS", "BENCHMARK", "DM_DOF", "mediator_mass", "dm_mass",
            "widths", "total_width", "br_b_to_k", "br_b_to_kstar", "invisible_fraction",
            "br_b_to_k_invisible", "summary", "relic", "omega_h2")
OPTIONAL = {"ALIASES": {}, "OPTIONS": (), "RELIC_METHODS": (), "SYMBOLS": {}}


def missing_names(model):
    """The names of :data:`REQUIRED` that ``model`` (a module or object) lacks, in that order."""
    return [name for name in REQUIRED if not hasattr(model, name)]


def optional(model, name):
    """``model``'s optional attribute ``name`` (:data:`OPTIONAL`), or its default."""
    return getattr(model, name, OPTIONAL[name])
