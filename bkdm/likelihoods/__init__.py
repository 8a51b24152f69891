"""Likelihood terms: Belle II B⁺→K⁺νν̄ (:mod:`.belle2`), Planck Ωh² (:mod:`.planck`) and optional
flavour upper limits (:mod:`.constraints`). Every term is −2 ln L (up to a constant), pure JAX."""

from bkdm.likelihoods import belle2, constraints, planck

__all__ = ["belle2", "constraints", "planck"]
