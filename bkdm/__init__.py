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

Importing bkdm enables float64 in JAX (``jax_enable_x64``). Units everywhere: GeV (natural units
ħ = c = k_B = 1) unless a docstring says otherwise; dimensionful couplings in GeV⁻¹, lengths in m.
The physics, with the source equation numbers, is in the documentation (``docs/``).
"""

import os

# Runtime checks inside equinox/lineax (e.g. a linear solve fed non-finite values at an extreme
# parameter point of a NUTS trajectory) return NaN instead of aborting the whole program: bkdm
# reports such points through its status codes / +inf likelihood (never silently). Takes effect
# when bkdm is imported before equinox; set EQX_ON_ERROR yourself to override.
os.environ.setdefault("EQX_ON_ERROR", "nan")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

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
