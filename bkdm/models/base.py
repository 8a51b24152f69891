"""Common model interface.

Every model is a module (or any object with these attributes) that likelihoods, scans, fits and
the command line treat uniformly. The built-in models live in ``bkdm.models``; your own model is
registered with :func:`bkdm.models.register_model` (``docs/add-a-model.md``). Required names
(:data:`REQUIRED`; a model missing any of them is refused at registration):

``NAME``            registry name (``"alp"``, ``"dark-photon"``, ``"resonant-alp"``, ...)
``SOURCE``          the paper it implements
``Params``          an ``eqx.Module`` subclass of :class:`ModelParams` (validated when built eagerly)
``PARAMETERS``      ``{field: ParameterInfo}``: unit, description, allowed range (fit files, CLI)
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
"""

import dataclasses

import equinox as eqx
import jax.numpy as jnp


def _as_float64(x):
    return jnp.asarray(x, dtype=jnp.float64)


def param(default=None):
    """A float64 model parameter field (array-valued fields allow vmapping over points)."""
    if default is None:
        return eqx.field(converter=_as_float64)
    return eqx.field(default=default, converter=_as_float64)


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


class ModelParams(eqx.Module):
    """Base class of the parameter containers.

    Subclasses declare their fields with :func:`param` and implement :meth:`validate`, which is
    run on construction (``__check_init__``); validation skips traced values, so containers can be
    built inside jit/vmap too.
    """

    def __check_init__(self):
        self.validate()

    def validate(self):  # pragma: no cover - overridden
        pass

    def replace(self, **changes):
        """A copy with some fields changed (re-validated)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        """Field name → value (arrays) for printing and saving."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


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
