"""The joint likelihood of a fit: Belle II q² likelihood + Planck Ωh² + optional flavour limits.

    −2 ln L(θ, ν) = −2 ln L_BelleII(ν; B_NP(θ)) + χ²_Planck(Ωh²(θ)) + Σ_limits −2 ln L_k(θ)

θ: the fit's free physics parameters (physical units, order of ``FitSpec.free``); ν: the Belle II
nuisance parameters (the published model's 232 parameters minus the POI ``mu``, which stays 1: the
SM signal, with the new physics entering through the reweighted signal of
:mod:`bkdm.likelihoods.belle2`). Priors are *not* included (the inference methods add them).

The relic density enters through a ``jax.custom_vjp`` whose forward pass computes Ωh² and its
Jacobian in forward mode (``jax.jacfwd``; a handful of θ's, each tangent obtained from the
variational equation along the solved trajectory, :func:`bkdm.cosmo.solver.integrate_to_end`) and
whose backward pass is a vector–Jacobian product: reverse-mode callers (optax, numpyro NUTS) then
get exact gradients without reverse-mode through the stiff solve (benchmarks/RESULTS.md: the
three-parameter Jacobian costs 1.5–2.5 solves). A failed relic solve gives −2 ln L = +∞ (zero
likelihood) with a zero gradient, and is counted in :attr:`JointLikelihood.relic_failures`; so is, when
the gradient is taken, a finite Ωh² whose Jacobian is not finite (status
``solver.STATUS_NONFINITE_DERIVATIVE``), and a point outside the model's validity
(``solver.STATUS_INVALID_INPUT``).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bkdm import flavour
from bkdm.cosmo import solver as slv
from bkdm.likelihoods import constraints, planck
from bkdm.likelihoods.belle2 import POI, Belle2Likelihood


@functools.lru_cache(maxsize=4)
def _belle2(channels):
    """Belle II likelihoods are expensive to build (pyhf set-up): one per channel subset."""
    return Belle2Likelihood(channels)


# Relic solve inside fits: rtol = atol = 1e-5 (measured on three ALP points across the prior box,
# 2026-11-22: Ωh² within 1e-4 and d ln Ωh²/d ln θ within 6e-5 of the PRECISE solve — < 1e-2 of Planck's
# 1.3 % error; the batch-of-4 value+Jacobian used by NUTS costs ~20 % less than at 1e-6 and ~2× less
# than at the library default rtol 1e-8, which the single-point APIs keep).
RELIC_SETTINGS = slv.SolverSettings(rtol=1e-5, atol=1e-5, forward_mode=True)


class JointLikelihood:
    """−2 ln L of a :class:`~bkdm.inference.fitspec.FitSpec` (see module docstring).

    Attributes: ``names`` (free physics parameters), ``nuisance_names``, ``nuisance_init``,
    ``nuisance_bounds`` (free Belle II nuisances; empty if the fit has no Belle II term).
    Methods are pure JAX functions of (theta, nuisances) and can be jitted, vmapped, differentiated.
    """

    def __init__(self, spec):
        self.spec = spec
        self.model = spec.model
        self.names = spec.free_names
        lk = spec.likelihood
        self.belle2_options = lk["belle2"]
        self.planck_options = lk["planck"]
        self.limits = tuple(lk["constraints"])
        self.relic_options = dict(lk["relic"])
        self.relic_failures = 0
        if self.belle2_options is not None:
            self.belle2 = _belle2(self.belle2_options["channels"])
            names, fixed = self.belle2.parameter_names, self.belle2.fixed
            keep = np.array([n != POI and not f for n, f in zip(names, fixed, strict=True)])
            self._nu_index = np.where(keep)[0]
            base = self.belle2.init.copy()
            base[self.belle2.poi_index] = 1.0
            self._nu_base = base
            self.nuisance_names = tuple(np.asarray(self.belle2.parameter_names)[keep])
            self.nuisance_init = self.belle2.init[keep].copy()
            self.nuisance_bounds = self.belle2.bounds[keep].copy()
        else:
            self.belle2 = None
            self._nu_index = np.zeros(0, dtype=int)
            self.nuisance_names = ()
            self.nuisance_init = np.zeros(0)
            self.nuisance_bounds = np.zeros((0, 2))
        self._omega = self._make_relic()

    # --------------------------------------------------------------------------- parameters
    @property
    def n_theta(self):
        return len(self.names)

    @property
    def n_nuisance(self):
        return len(self.nuisance_names)

    def params(self, theta):
        """Model ``Params`` for the free values ``theta`` (array, order of ``names``)."""
        return self.spec.build_params([theta[i] for i in range(self.n_theta)])

    def belle2_parameters(self, nuisances):
        """Full Belle II nuisance vector (POI μ = 1 and fixed parameters inserted)."""
        return jnp.asarray(self._nu_base).at[self._nu_index].set(nuisances)

    # --------------------------------------------------------------------------- observables
    def b_np_bins(self, theta):
        """New-physics BR per Belle II generator q² bin (bkdm.flavour.np_bin_branching_fractions)."""
        opt = self.belle2_options or {"line_shape": "interpolate", "width": None}
        return flavour.np_bin_branching_fractions(self.model, self.params(theta), shape=opt["line_shape"],
                                                  width=opt["width"])

    def _make_relic(self):
        options = dict(self.relic_options)
        settings = RELIC_SETTINGS
        model = self.model

        def relic(theta):
            r = model.relic(self.spec.build_params([theta[i] for i in range(theta.shape[0])]),
                            settings=settings, **options)
            return r.omega_h2, r.status

        @jax.custom_vjp
        def omega(theta):
            return relic(theta)

        def fwd(theta):
            def f(t):
                val, status = relic(t)
                return val, (val, status)

            jac, (val, status) = jax.jacfwd(f, has_aux=True)(theta)
            # a finite Ωh² with a non-finite derivative is a failure too, reported by its status (never a
            # silently zeroed gradient); the likelihood term is then +∞ like a failed solve
            status = jnp.where((status == 0) & jnp.isfinite(val) & ~jnp.all(jnp.isfinite(jac)),
                               slv.STATUS_NONFINITE_DERIVATIVE, status)
            ok = (status == 0) & jnp.isfinite(val)
            val = jnp.where(ok, val, jnp.nan)
            jac = jnp.where(ok, jac, 0.0)
            return (val, status), jac

        def bwd(jac, cotangent):
            return (cotangent[0] * jac,)

        omega.defvjp(fwd, bwd)
        return omega

    def _count(self, status, value):
        self.relic_failures += int(np.sum((np.asarray(status) != 0) | ~np.isfinite(np.asarray(value))))

    def omega_h2(self, theta):
        """(Ωh², status) for ``theta``; status 0 = success (differentiable, see module docstring).
        Failed solves are counted in ``relic_failures``."""
        val, status = self.relic(theta)
        jax.debug.callback(self._count, status, val)
        return val, status

    def relic(self, theta):
        """:meth:`omega_h2` without the failure count (a host callback per point under ``vmap``):
        for batched callers that count failures themselves."""
        return self._omega(jnp.asarray(theta, dtype=jnp.float64))

    def observables(self, theta):
        """Named physics quantities at ``theta`` (for reports, scans and plots)."""
        p = self.params(theta)
        m = self.model
        out = {
            "mediator_mass": m.mediator_mass(p),
            "dm_mass": m.dm_mass(p),
            "br_b_to_k": m.br_b_to_k(p),
            "invisible_fraction": m.invisible_fraction(p),
            "br_b_to_k_invisible": m.br_b_to_k_invisible(p),
            "br_b_to_kstar": m.br_b_to_kstar(p),
            "total_width": m.total_width(p),
        }
        if self.planck_options is not None:
            out["omega_h2"] = self.omega_h2(theta)[0]
        return out

    # --------------------------------------------------------------------------- likelihood terms
    def terms(self, theta, nuisances):
        """{"belle2", "planck", "constraints"}: each term's −2 ln L (absent terms are omitted)."""
        theta = jnp.asarray(theta, dtype=jnp.float64)
        out = {}
        if self.belle2 is not None:
            out["belle2"] = self.belle2.twice_nll(self.belle2_parameters(nuisances), self.b_np_bins(theta))
        if self.planck_options is not None:
            val, status = self.omega_h2(theta)
            ok = (status == 0) & jnp.isfinite(val)
            safe = jnp.where(ok, val, planck.OMEGA_DM_H2)
            term = planck.twice_nll(safe, self.planck_options["theory_uncertainty"])
            out["planck"] = jnp.where(ok, term, jnp.inf)
        if self.limits:
            out["constraints"] = constraints.twice_nll(self.model, self.params(theta), self.limits)
        return out

    def twice_nll(self, theta, nuisances):
        """Total −2 ln L(θ, ν) (+∞ where the relic solve failed)."""
        return sum(self.terms(theta, nuisances).values())

    @property
    def observation_labels(self):
        """Labels of :meth:`pointwise_log_likelihood`'s entries: ``belle2:<bin>`` per Belle II main bin,
        ``belle2:auxiliary`` (its nuisance constraint terms), ``planck``, ``limit:<name>``."""
        labels = []
        if self.belle2 is not None:
            labels += [f"belle2:{b}" for b in self.belle2.bin_labels] + ["belle2:auxiliary"]
        if self.planck_options is not None:
            labels.append("planck")
        labels += [f"limit:{name}" for name in self.limits]
        return tuple(labels)

    def pointwise_log_likelihood(self, theta, nuisances, omega_h2=None):
        """ln L per observation (order of :attr:`observation_labels`), normalisation constants
        included, so the entries are log densities of the data: Belle II main bins ln Pois(n_i | λ_i)
        and the summed auxiliary terms (:meth:`Belle2Likelihood.pointwise_log_likelihood`), Planck
        ln N(0.120 | Ωh², σ) (docs/physics/constants.md §1.3; σ of :mod:`bkdm.likelihoods.planck`),
        each flavour limit ln N(0 | BR, σ_limit) (:mod:`bkdm.likelihoods.constraints`). Their sum is
        −½ :meth:`twice_nll` + the Gaussian constants −½ ln(2πσ²). ``omega_h2``: a relic density
        already computed at ``theta`` (e.g. a posterior draw's), else it is solved here; a non-finite
        one gives −∞ for Planck. Dimensionless; JAX (jit/vmap)."""
        theta = jnp.asarray(theta, dtype=jnp.float64)
        out = []
        if self.belle2 is not None:
            main, aux = self.belle2.pointwise_log_likelihood(self.belle2_parameters(nuisances),
                                                             self.b_np_bins(theta))
            out += [main, jnp.reshape(aux, (1,))]
        if self.planck_options is not None:
            if omega_h2 is None:
                val, status = self.omega_h2(theta)
                omega_h2 = jnp.where(status == 0, val, jnp.nan)
            omega_h2 = jnp.asarray(omega_h2, dtype=jnp.float64)
            ok = jnp.isfinite(omega_h2)
            sigma = planck.omega_h2_sigma(self.planck_options["theory_uncertainty"])
            chi2 = planck.twice_nll(jnp.where(ok, omega_h2, planck.OMEGA_DM_H2),
                                    self.planck_options["theory_uncertainty"])
            term = -0.5 * chi2 - 0.5 * jnp.log(2 * jnp.pi * sigma**2)
            out.append(jnp.reshape(jnp.where(ok, term, -jnp.inf), (1,)))
        if self.limits:
            p = self.params(theta)
            for name in self.limits:
                sigma = constraints.limit_sigma(name)
                chi2 = constraints.twice_nll(self.model, p, (name,))
                out.append(jnp.reshape(-0.5 * chi2 - 0.5 * jnp.log(2 * jnp.pi * sigma**2), (1,)))
        return jnp.concatenate(out)

    def twice_nll_sm(self):
        """−2 ln L of the Standard Model (B_NP = 0) minimised over the nuisances: the Δχ² reference
        for the Belle II term (Planck/limit terms have no SM value and are excluded)."""
        if self.belle2 is None:
            return 0.0
        fit = self.belle2.fit(mu=1.0)
        return fit.twice_nll
