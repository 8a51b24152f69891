"""bkdm — a differentiable JAX engine for B⁺ → K⁺ + invisible and dark-matter relic density.

Start here (``docs/getting-started.md``; every name below has a docstring)::

    import bkdm
    model = bkdm.get_model("alp")                  # "alp", "dark-photon", "resonant-alp" or your own
    p = bkdm.benchmark("alp", f_a=2e8)             # Params at the model's benchmark point [GeV units]
    model.br_b_to_k_invisible(p), model.omega_h2(p)
    lik = bkdm.load_fit("alp-freeze-in")           # Belle II + Planck −2 ln L of a shipped fit
    best = bkdm.fit("alp-freeze-in", quick=True)   # the BestFitResult `bkdm fit` writes

``get_model``, ``register_model``, ``model_names``, ``benchmark``, ``fits``, ``load_fit``, ``fit``,
``sample`` and ``scan`` are defined in :mod:`bkdm.api` and imported on first use, as are the
subpackages (``bkdm.models``, ``bkdm.cosmo``, ``bkdm.inference``, ...), so ``import bkdm`` is cheap.

Importing bkdm enables float64 in JAX (``jax_enable_x64``) and JAX's persistent compilation cache
in a per-user folder (:mod:`bkdm.compile_cache`; ``docs/performance.md``). Units everywhere: GeV
(natural units ħ = c = k_B = 1) unless a docstring says otherwise; dimensionful couplings in GeV⁻¹,
lengths in m.
The physics, with the source equation numbers, is in the documentation (``docs/``).
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

# JAX's persistent compilation cache in bkdm's per-user cache folder (bkdm.compile_cache: only sets
# the option; BKDM_NO_CACHE=1 switches it off, JAX_COMPILATION_CACHE_DIR or BKDM_CACHE_DIR moves it).
from bkdm import compile_cache  # noqa: E402

compile_cache.enable_jax_cache()

__version__ = "0.1.0"

from bkdm import constants, formfactors, kinematics, qcd, special  # noqa: E402

_API = ("get_model", "register_model", "model_names", "benchmark", "benchmark_values", "fits", "load_fit",
        "fit", "sample", "scan")
_SUBMODULES = ("api", "cli", "cosmo", "flavour", "inference", "likelihoods", "models", "plotting")


def __getattr__(name):
    """``bkdm.fit`` etc. from :mod:`bkdm.api`, and the subpackages, imported on first use."""
    if name in _API:
        from bkdm import api

        return getattr(api, name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"bkdm.{name}")
    raise AttributeError(f"module 'bkdm' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API) | set(_SUBMODULES))


__all__ = [*_API, "constants", "formfactors", "kinematics", "qcd", "special", "__version__"]
