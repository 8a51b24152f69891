"""Optional flavour constraints: 90 % CL upper limits on B → K^(*)νν̄
(docs/physics/belle2-likelihood.md §9.10).

Each limit is turned into a half-Gaussian −2 ln L on the model's invisible branching fraction:

    −2 ln L = (max(BR, 0)/σ)²,   σ = limit / Φ⁻¹(CL)  (= limit/1.2816 at 90 % CL),

i.e. the limit read as a Gaussian measurement 0 ± σ restricted to BR ≥ 0 (so BR = limit costs
Δχ² = 1.64). Approximations, stated once: (i) the published limits come from Poisson counts with
backgrounds and systematics (flavio's ``general_gamma_upper_limit`` encodes those), not from a
Gaussian; (ii) they were derived for SM-like three-body q² spectra, and the efficiency for a
two-body B → K^(*)X line depends on m_X (docs/physics/belle2-likelihood.md §9.10)
— for a line in a low-efficiency q² region the true limit is weaker; (iii) the SM contribution is ignored by
default (``sm_br``), which makes the terms conservative for new physics. Only limits whose numbers could be
read are included (the combined BaBar-2013 B⁺→K⁺νν̄ < 1.6×10⁻⁵ could not,
docs/physics/belle2-likelihood.md §9.10).
"""

import dataclasses
from statistics import NormalDist

import jax.numpy as jnp

from bkdm._validation import check_choice, check_positive, check_range


@dataclasses.dataclass(frozen=True)
class UpperLimit:
    """An upper limit: decay, which model BR it bounds ("k": B⁺→K⁺X, "kstar": B⁺→K*⁺X), value, CL,
    source."""

    decay: str
    mode: str
    limit: float
    cl: float
    source: str


LIMITS = {
    "belle2017_kstar": UpperLimit(
        "B -> K* nu nu (K*+ and K*0 combined)", "kstar", 2.7e-5, 0.90,
        "Belle, Grygier et al., PRD 96, 091101 (2017), arXiv:1702.03224 (semileptonic tag)"),
    "babar2010_sl_kplus": UpperLimit(
        "B+ -> K+ nu nu", "k", 1.3e-5, 0.90,
        "BaBar, del Amo Sanchez et al., PRD 82, 112002 (2010) (semileptonic tag)"),
    "babar2013_had_kplus": UpperLimit(
        "B+ -> K+ nu nu", "k", 3.7e-5, 0.90,
        "BaBar, Lees et al., PRD 87, 112005 (2013), arXiv:1303.7465, Tables IV-V (hadronic tag)"),
    "babar2013_had_kstarplus": UpperLimit(
        "B+ -> K*+ nu nu", "kstar", 11.6e-5, 0.90,
        "BaBar, Lees et al., PRD 87, 112005 (2013), arXiv:1303.7465, Tables IV-V (hadronic tag)"),
}
DEFAULT_LIMITS = tuple(LIMITS)


def limit_sigma(name):
    """σ = limit / Φ⁻¹(CL) of the limit ``name`` (a key of :data:`LIMITS`): the Gaussian width the
    limit is read as (module docstring)."""
    check_choice("name", name, LIMITS)
    return LIMITS[name].limit / NormalDist().inv_cdf(LIMITS[name].cl)


def half_gaussian_twice_nll(br, limit, cl=0.90):
    """−2 ln L = (max(BR, 0) Φ⁻¹(CL)/limit)² for an upper limit at confidence level CL."""
    check_positive("limit", limit)
    check_range("cl", cl, 0.5, 1.0, lo_open=True, hi_open=True)
    sigma = limit / NormalDist().inv_cdf(cl)
    return (jnp.maximum(jnp.asarray(br, dtype=jnp.float64), 0.0) / sigma) ** 2


def invisible_br(model, p, mode):
    """Model branching fraction a limit acts on: BR(B⁺→K⁺X)P_inv ("k") or BR(B⁺→K*⁺X)P_inv ("kstar").

    For the B → K* limits the B⁺ → K*⁺ rate stands for the isospin-combined one (B⁰ → K*⁰X differs
    only by τ_B⁰/τ_B⁺ and O(1 %) mass effects).
    """
    check_choice("mode", mode, ("k", "kstar"))
    if mode == "k":
        return model.br_b_to_k_invisible(p)
    return model.br_b_to_kstar(p) * model.invisible_fraction(p)


def twice_nll(model, p, names=DEFAULT_LIMITS, sm_br=None):
    """Σ of the half-Gaussian terms of ``names`` (keys of :data:`LIMITS`) for model ``p``.

    ``sm_br``: optional {"k": ..., "kstar": ...} SM branching fractions added to the model's before
    comparing with the limits (default: none — conservative for new physics).
    """
    for name in names:
        check_choice("names", name, LIMITS)
    sm = {"k": 0.0, "kstar": 0.0, **(sm_br or {})}
    total = jnp.asarray(0.0, dtype=jnp.float64)
    for name in names:
        lim = LIMITS[name]
        total = total + half_gaussian_twice_nll(invisible_br(model, p, lim.mode) + sm[lim.mode],
                                                lim.limit, lim.cl)
    return total
