"""bkdm — a differentiable JAX engine for B⁺ → K⁺ + invisible and dark-matter relic density.

Importing bkdm enables float64 in JAX (``jax_enable_x64``). Units everywhere: GeV (natural units
ħ = c = k_B = 1) unless a docstring says otherwise. Physics lives in SPEC.md (shared/physics);
every formula cites its section and the source paper's equation.
"""

import os

# Runtime checks inside equinox/lineax (e.g. a linear solve fed non-finite values at an extreme
# parameter point of a NUTS trajectory) return NaN instead of aborting the whole program: bkdm
# reports such points through its status codes / +inf likelihood (never silently). Takes effect
# when bkdm is imported before equinox; set EQX_ON_ERROR yourself to override.
os.environ.setdefault("EQX_ON_ERROR", "nan")
# One OpenBLAS thread (numpy's and scipy's, whose LAPACK JAX calls for Cholesky/LU on the CPU): bkdm's
# matrices are ≤ 250 × 250, too small to gain from threads, and on a busy machine the spinning
# threads made a 231 × 231 float64 Cholesky 300× slower (measured on the 2-core VM at load 12:
# 0.38 s vs 1.2 ms). Only effective if bkdm is imported before numpy/scipy; set it yourself to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

from bkdm import constants, formfactors, kinematics, qcd, special  # noqa: E402

__all__ = ["constants", "formfactors", "kinematics", "qcd", "special", "__version__"]
