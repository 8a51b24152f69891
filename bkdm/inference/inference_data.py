"""ArviZ ``InferenceData`` of a posterior: the groups a numpyro/ArviZ user expects, for every sampler.

Groups (units: θ in the model's ``PARAMETERS`` units — GeV, GeV⁻¹, dimensionless —, stored as the
``units`` attribute of every variable and in the ``units`` attribute of the whole object as JSON):

* ``posterior`` — the physics parameters θ, the Belle II nuisances, posterior observables
  (Ωh², BR(B⁺→K⁺X)·P_inv) and the relic status, dims (chain, draw, …);
* ``sample_stats`` — the sampler's statistics (given by the sampler);
* ``log_likelihood`` — one variable ``data`` (chain, draw, observation): ln L per observation
  (:meth:`~bkdm.inference.joint.JointLikelihood.pointwise_log_likelihood`: each Belle II main bin,
  the Belle II auxiliary terms, Planck, each flavour limit; normalisation constants included), so
  ``az.loo`` and ``az.waic`` work on it; the Planck term uses each draw's stored Ωh² (no relic solve);
* ``observed_data`` — the Belle II event counts per bin and auxiliary data, Planck's Ωh² = 0.120 and
  the limits' measured value 0 (with their σ as attributes);
* ``prior`` — draws from the fit file's priors (θ; the nuisances from the model's flat prior over
  pyhf's bounds, as sampled by :func:`bkdm.inference.nuts.make_model`) and BR·P_inv at those draws;
* ``attrs`` — bkdm version, fit name, model, fit-file hash (SHA-256), the run settings.
"""

import dataclasses
import json
from pathlib import Path

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np

import bkdm
from bkdm.inference import provenance
from bkdm.likelihoods import constraints, planck

LOG_LIKELIHOOD_CHUNK = 1000  # draws per vmapped batch of the pointwise log-likelihood
PRIOR_DRAWS = 1000


@dataclasses.dataclass
class PosteriorResult:
    """Posterior draws (``inference_data``, ArviZ) and ``summary`` (JSON-ready dict) of a sampler run;
    the NUTS and SMC results are this with their own summary keys."""

    inference_data: az.InferenceData
    summary: dict

    def to_dict(self):
        return dict(self.summary)

    def save(self, out_dir):
        """Write ``posterior.nc`` (ArviZ netCDF) and ``summary.json`` to ``out_dir``; returns the folder."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        az.to_netcdf(self.inference_data, str(out_dir / "posterior.nc"))
        (out_dir / "summary.json").write_text(json.dumps(self.to_dict(), indent=1))
        return out_dir


def fit_hash(spec):
    """SHA-256 of the fully resolved fit of a result (:func:`bkdm.inference.provenance.fit_hash`)."""
    return provenance.fit_hash(spec)


def variable_units(joint):
    """{variable: unit} for the posterior/prior variables ("" = dimensionless)."""
    units = {name: joint.model.PARAMETERS[name].unit if name in joint.model.PARAMETERS else ""
             for name in joint.names}
    units.update({"nuisances": "", "omega_h2": "", "br_b_to_k_invisible": "", "relic_status": ""})
    return units


def log_likelihood_draws(joint, theta, nuisances=None, omega_h2=None):
    """ln L per observation at each draw: ``theta`` (…, n_θ), ``nuisances`` (…, n_ν), ``omega_h2``
    (…) the draws' relic densities (None: solved here) → (…, n_observations). Vmapped in chunks."""
    theta = np.asarray(theta, dtype=float)
    shape = theta.shape[:-1]
    theta = theta.reshape(-1, joint.n_theta)
    n = theta.shape[0]
    nuisances = (np.zeros((n, 0)) if nuisances is None or not joint.n_nuisance
                 else np.asarray(nuisances, dtype=float).reshape(n, joint.n_nuisance))
    use_omega = joint.planck_options is not None and omega_h2 is not None
    omega = np.asarray(omega_h2, dtype=float).reshape(n) if use_omega else np.zeros(n)
    if use_omega:
        point = jax.jit(jax.vmap(joint.pointwise_log_likelihood))
    else:
        point = jax.jit(jax.vmap(lambda t, v, o: joint.pointwise_log_likelihood(t, v)))
    out = []
    for start in range(0, n, LOG_LIKELIHOOD_CHUNK):
        stop = min(start + LOG_LIKELIHOOD_CHUNK, n)
        pad = LOG_LIKELIHOOD_CHUNK - (stop - start) if n > LOG_LIKELIHOOD_CHUNK else 0
        idx = np.concatenate([np.arange(start, stop), np.full(pad, start)])
        out.append(np.asarray(point(jnp.asarray(theta[idx]), jnp.asarray(nuisances[idx]),
                                    jnp.asarray(omega[idx])))[: stop - start])
    return np.concatenate(out).reshape(*shape, -1)


def observed_data(joint):
    """The measured values the likelihood compares with (module docstring)."""
    out, attrs = {}, {}
    if joint.belle2 is not None:
        out["belle2_counts"] = np.asarray(joint.belle2.main_data)
        out["belle2_auxdata"] = np.asarray(joint.belle2.aux_data)
    if joint.planck_options is not None:
        out["omega_h2"] = np.array(planck.OMEGA_DM_H2)
        attrs["omega_h2_sigma"] = float(planck.omega_h2_sigma(joint.planck_options["theory_uncertainty"]))
    if joint.limits:
        out["limit_br"] = np.zeros(len(joint.limits))
        attrs["limit_br_sigma"] = json.dumps({n: constraints.limit_sigma(n) for n in joint.limits})
    return out, attrs


def prior_draws(joint, n=PRIOR_DRAWS, seed=0):
    """{variable: (1, n) draws} from the priors (module docstring)."""
    from bkdm.inference.nuts import theta_distribution

    key_theta, key_nu = jax.random.split(jax.random.PRNGKey(seed))
    keys = jax.random.split(key_theta, joint.n_theta)
    theta = np.stack([np.asarray(theta_distribution(joint.spec.free[name]).sample(k, (n,)))
                      for name, k in zip(joint.names, keys, strict=True)], axis=-1)
    out = {name: theta[None, :, i] for i, name in enumerate(joint.names)}
    if joint.n_nuisance:
        lo, hi = np.asarray(joint.nuisance_bounds, dtype=float).T
        out["nuisances"] = np.asarray(jax.random.uniform(key_nu, (1, n, lo.size), minval=lo, maxval=hi))
    br = jax.jit(jax.vmap(lambda t: joint.model.br_b_to_k_invisible(joint.params(t))))(jnp.asarray(theta))
    out["br_b_to_k_invisible"] = np.asarray(br)[None]
    return out


def _attr(value):
    """A netCDF-storable attribute: numbers as they are, everything else (bools included) as text."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def build(joint, posterior, sample_stats, settings, prior_seed=0, log_likelihood=True):
    """The :class:`arviz.InferenceData` of a posterior of ``joint``: ``posterior`` and ``sample_stats``
    dicts of (chain, draw, …) arrays (θ by name, ``nuisances``, observables), ``settings`` (run
    settings → attrs) ; adds the other groups of the module docstring."""
    theta = np.stack([np.asarray(posterior[name]) for name in joint.names], axis=-1)
    coords = {"observation": list(joint.observation_labels)}
    dims = {"data": ["observation"]}
    if joint.n_nuisance:
        coords["nuisance"] = list(joint.nuisance_names)
        dims["nuisances"] = ["nuisance"]
    observed, observed_attrs = observed_data(joint)
    if joint.belle2 is not None:
        coords["belle2_bin"] = list(joint.belle2.bin_labels)
        coords["belle2_aux"] = list(range(len(joint.belle2.aux_data)))
        dims.update({"belle2_counts": ["belle2_bin"], "belle2_auxdata": ["belle2_aux"]})
    if joint.limits:
        coords["limit"] = list(joint.limits)
        dims["limit_br"] = ["limit"]
    groups = {"posterior": posterior, "sample_stats": sample_stats, "observed_data": observed,
              "prior": prior_draws(joint, seed=prior_seed)}
    if log_likelihood:
        groups["log_likelihood"] = {"data": log_likelihood_draws(
            joint, theta, posterior.get("nuisances"), posterior.get("omega_h2"))}
    units = variable_units(joint)
    attrs = {"bkdm_version": bkdm.__version__, "fit": joint.spec.name, "model": joint.spec.model_name,
             "fit_file": str(joint.spec.source), "fit_hash": fit_hash(joint.spec),
             "provenance": json.dumps(provenance.record(joint.spec)),
             "units": json.dumps(units), **{k: _attr(v) for k, v in settings.items()}}
    idata = az.from_dict(**groups, coords=coords, dims=dims, attrs=attrs)
    for group in ("posterior", "prior"):
        for var in getattr(idata, group).data_vars:
            getattr(idata, group)[var].attrs["units"] = units.get(var, "")
    idata.posterior.attrs.update(attrs)  # also on the group, where xarray users look first
    idata.observed_data.attrs.update(observed_attrs)
    return idata
