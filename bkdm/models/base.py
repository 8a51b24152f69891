"""Common model interface.

Every model is one module in ``bkdm.models`` exposing the same names, so that likelihoods,
scans, fits and the command line treat models uniformly (a new model is one new module):

``NAME``            registry name (``"alp"``, ``"dark-photon"``, ``"resonant-alp"``)
``SOURCE``          the paper it implements
``Params``          an ``eqx.Module`` subclass of :class:`ModelParams` (validated when built eagerly)
``PARAMETERS``      ``{field: ParameterInfo}``: unit, description, allowed range (fit files, CLI)
``mediator_mass(p)``       mass of the boson X produced in B → K X [GeV]
``dm_mass(p)``             dark-matter mass [GeV]
``widths(p)``              ``{channel: partial width [GeV]}`` of the mediator
``total_width(p)``         Σ widths [GeV]
``br_b_to_k(p)``           BR(B⁺ → K⁺ X)
``br_b_to_kstar(p)``       BR(B⁺ → K*⁺ X)
``invisible_fraction(p)``  probability that X is unseen at Belle II (decay to DM or escape)
``br_b_to_k_invisible(p)`` BR(B⁺ → K⁺ X) × invisible fraction — the quantity the Belle II fit sees

All of these are pure JAX functions of the parameter container and work under jit, grad and vmap
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
