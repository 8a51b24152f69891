"""The best fit's compiled objective — −2 ln L and its gradient through the relic solve — cached on disk.

:class:`bkdm.inference.bestfit.Problem` compiles ``value_and_grad`` of its objective ahead of time: a
minute or more of tracing and XLA compilation on a CPU, the bulk of a first ``bkdm fit --quick``.
:func:`value_and_grad_executable` exports that program once (``jax.export``, :mod:`bkdm.compile_cache`)
and later processes load it, so they skip the tracing and lowering, and JAX's persistent cache
serves the XLA compilation.

Key (besides bkdm's source, dependency versions and backend, see :mod:`bkdm.compile_cache`): the fit
hash of the resolved fit (:func:`bkdm.inference.provenance.fit_hash`: the fully resolved fit, data
file hashes included) and the length of z. The relic-failure count that ``JointLikelihood.omega_h2``
keeps with a host callback (which ``jax.export`` cannot serialise) is taken instead from the relic
status the objective returns in its aux output, once per evaluation — the same count.
"""

import copy

import jax
import jax.numpy as jnp

from bkdm import compile_cache
from bkdm.inference import provenance
from bkdm.inference.joint import JointLikelihood

CACHE_NAME = "bestfit-objective"
# Off by default: the key (the fit hash) cannot see a likelihood whose methods were replaced in Python
# after construction — measured: a test's toy JointLikelihood with its own omega_h2 was served the
# objective of the real Planck-only fit of the same declaration (a silent wrong best fit). The best fit
# then compiles its objective in each process; JAX's persistent compilation cache serves the XLA part.
ENABLED = False


class CountingExecutable:
    """A compiled ``value_and_grad`` of the objective that adds failed relic solves (from the aux output
    ``omega_h2`` = (Ωh², status)) to ``joint.relic_failures``, as ``JointLikelihood.omega_h2`` does."""

    def __init__(self, compiled, joint):
        self.compiled = compiled
        self.joint = joint

    def __call__(self, z):
        out = self.compiled(z)
        (_, aux), _ = out
        if "omega_h2" in aux:
            omega, status = aux["omega_h2"]
            self.joint._count(status, omega)
        return out


def _without_callback(problem):
    """A shallow copy of ``problem`` whose joint likelihood computes (Ωh², status) without the host
    callback that counts failures (counted by :class:`CountingExecutable` instead)."""
    joint = copy.copy(problem.joint)
    joint.omega_h2 = lambda theta: problem.joint._omega(jnp.asarray(theta, dtype=jnp.float64))
    view = copy.copy(problem)
    view.joint = joint
    return view


def value_and_grad_executable(problem):
    """``jax.jit(jax.value_and_grad(problem._total, has_aux=True))`` compiled for z of shape (n,): from
    the exported-program cache when on and the likelihood is a :class:`JointLikelihood` of one of bkdm's
    models (module docstring; a user's model is not in the key), else compiled here (also when the
    objective cannot be exported)."""
    n = problem.n_theta + problem.n_nuisance
    spec = jax.ShapeDtypeStruct((n,), jnp.float64)
    if not (ENABLED and compile_cache.enabled() and isinstance(problem.joint, JointLikelihood)
            and compile_cache.in_package(problem.joint.model)):
        return jax.jit(jax.value_and_grad(problem._total, has_aux=True)).lower(spec).compile()
    from jax import export

    record = {"fit_hash": provenance.fit_hash(problem.joint.spec), "n": n,
              "code": compile_cache._code_identity(type(problem)._total)}
    exported = None
    payload = compile_cache.load_artifact(CACHE_NAME, record)
    if payload is not None:
        try:
            exported = export.deserialize(bytearray(payload))
        except Exception:  # noqa: BLE001 - a damaged entry is exported again
            exported = None
    if exported is None:
        view = _without_callback(problem)
        try:
            exported = export.export(jax.jit(jax.value_and_grad(view._total, has_aux=True)))(spec)
        except Exception:  # noqa: BLE001 - e.g. a host callback in a likelihood term: plain jit
            return jax.jit(jax.value_and_grad(problem._total, has_aux=True)).lower(spec).compile()
        compile_cache.store_artifact(CACHE_NAME, record, exported.serialize())
    return CountingExecutable(jax.jit(exported.call).lower(spec).compile(), problem.joint)
