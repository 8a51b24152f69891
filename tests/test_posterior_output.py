"""ArviZ output of posteriors (bkdm.inference.inference_data) and convergence verdicts
(bkdm.inference.convergence).

References: the normalisation constants of a Gaussian (−½ ln 2πσ²) written out here; ArviZ's own
loo/waic; the WAIC definition lppd − p_waic (Gelman, Hwang, Vehtari 2014, arXiv:1307.5928, eqs. 5, 11)
recomputed here from the stored pointwise values; SHA-256 of the fit file from hashlib; the priors'
CDFs (Kolmogorov–Smirnov). Synthetic draws (no sampler): only the output is under test.
"""

import hashlib
import json
import math
from pathlib import Path

import arviz as az
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import bkdm
from bkdm.inference import convergence, fitspec, inference_data
from bkdm.inference.joint import JointLikelihood
from bkdm.likelihoods import planck

FITS = Path(__file__).parents[1] / "bkdm" / "fits"


@pytest.fixture(scope="module")
def dark_photon():
    """The shipped dark-photon fit (Belle II + Planck + the Belle 2017 K* limit) and 2 × 50 synthetic
    draws near its start point; Ωh² per draw given (no relic solve)."""
    joint = JointLikelihood(fitspec.load(FITS / "dark_photon.toml"))
    rng = np.random.default_rng(0)
    start = np.array([p.start for p in joint.spec.free.values()])
    theta = start * np.exp(0.05 * rng.standard_normal((2, 50, joint.n_theta)))
    nu = joint.nuisance_init + 0.01 * rng.standard_normal((2, 50, joint.n_nuisance))
    lo, hi = joint.nuisance_bounds.T
    nu = np.clip(nu, lo + 1e-6, hi - 1e-6)
    omega = 0.12 * (1 + 0.01 * rng.standard_normal((2, 50)))
    posterior = {n: theta[..., i] for i, n in enumerate(joint.names)}
    posterior.update(nuisances=nu, omega_h2=omega)
    stats_ = {"diverging": np.zeros((2, 50), dtype=bool), "lp": rng.standard_normal((2, 50))}
    idata = inference_data.build(joint, posterior, stats_, {"sampler": "test", "chains": 2, "flag": True})
    return joint, idata, theta, nu, omega


def test_pointwise_log_likelihood_sums_to_the_joint(dark_photon):
    # Σ_observations ln L = −½ (−2 ln L) + the Gaussian constants of Planck and of the limit, which
    # twice_nll drops: −½ ln(2πσ²) each; pyhf's Belle II logpdf is normalised already. Rounding only.
    joint, idata, theta, nu, omega = dark_photon
    ll = idata.log_likelihood["data"].values
    labels = list(idata.log_likelihood["observation"].values)
    assert ll.shape == (2, 50, 30 + 1 + 1 + 1)
    assert labels[:2] == ["belle2:A[0]", "belle2:A[1]"] and labels[-3:] == [
        "belle2:auxiliary", "planck", "limit:belle2017_kstar"]
    sigma_p = float(planck.omega_h2_sigma(0.01))
    sigma_k = 2.7e-5 / stats.norm.ppf(0.90)
    const = -0.5 * math.log(2 * math.pi * sigma_p**2) - 0.5 * math.log(2 * math.pi * sigma_k**2)
    for c, d in [(0, 0), (1, 17)]:
        twice_nll = joint.terms(jnp.asarray(theta[c, d]), jnp.asarray(nu[c, d]))
        chi2_planck = float(planck.twice_nll(omega[c, d], 0.01))
        expected = -0.5 * (float(twice_nll["belle2"]) + chi2_planck + float(twice_nll["constraints"])) + const
        assert ll[c, d].sum() == pytest.approx(expected, rel=1e-12, abs=1e-8)


def test_netcdf_round_trip_loo_waic_summary(dark_photon, tmp_path):
    joint, idata, *_ = dark_photon
    path = tmp_path / "posterior.nc"
    az.to_netcdf(idata, str(path))
    loaded = az.from_netcdf(str(path))
    assert set(loaded.groups()) >= {"posterior", "sample_stats", "log_likelihood", "observed_data", "prior"}
    # observed data: the Belle II counts are pyhf's workspace data; Planck's value and σ
    np.testing.assert_array_equal(loaded.observed_data["belle2_counts"].values, joint.belle2.main_data)
    assert loaded.observed_data["omega_h2"].values.tolist() == [0.120]
    assert loaded.observed_data.attrs["omega_h2_sigma"] == pytest.approx(float(planck.omega_h2_sigma(0.01)))
    # attrs: version, model, hash of the fit file, units of every variable
    attrs = loaded.attrs
    assert loaded.posterior.attrs["fit_hash"] == attrs["fit_hash"]
    assert attrs["bkdm_version"] == bkdm.__version__ and attrs["model"] == "dark-photon"
    assert attrs["fit_hash"] == hashlib.sha256((FITS / "dark_photon.toml").read_bytes()).hexdigest()
    assert attrs["flag"] == "True" and attrs["chains"] == 2
    units = json.loads(attrs["units"])
    assert units["m_x"] == "GeV" and units["delta"] == "" and units["omega_h2"] == ""
    assert loaded.posterior["m_x"].attrs["units"] == "GeV" and loaded.prior["m_x"].attrs["units"] == "GeV"
    # az.loo / az.waic / az.summary run on the file; WAIC recomputed from its definition
    ll = loaded.log_likelihood["data"].values.reshape(100, -1)
    lppd = float(np.sum(logsumexp(ll, axis=0) - math.log(ll.shape[0])))
    p_waic = float(np.sum(np.var(ll, axis=0)))  # ArviZ takes the variance over draws with ddof 0
    with np.errstate(all="ignore"):
        waic = az.waic(loaded)
        loo = az.loo(loaded)
    assert waic.elpd_waic == pytest.approx(lppd - p_waic, rel=1e-10)
    assert loo.n_data_points == 33 and math.isfinite(loo.elpd_loo) and loo.elpd_loo <= lppd + 1e-9
    table = az.summary(loaded, var_names=list(joint.names))
    assert list(table.index) == list(joint.names)


def test_prior_group_follows_the_priors(dark_photon):
    # KS test of each prior draw set against the prior's CDF (1000 draws; p > 1e-3 for a correct
    # sampler fails with probability 1e-3 per parameter; the seed is fixed, so deterministic)
    joint, idata, *_ = dark_photon
    prior = idata.prior
    for name, p in joint.spec.free.items():
        x = prior[name].values.ravel()
        assert x.size == inference_data.PRIOR_DRAWS and np.all((x >= p.low) & (x <= p.high))
        if p.kind == "log-uniform":
            x, lo, hi = np.log(x), math.log(p.low), math.log(p.high)
        else:
            lo, hi = p.low, p.high
        assert stats.kstest(x, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    lo, hi = joint.nuisance_bounds.T
    nu = prior["nuisances"].values[0]
    assert np.all((nu >= lo) & (nu <= hi))
    assert np.all(prior["br_b_to_k_invisible"].values > 0)


# --------------------------------------------------------------------------------- convergence
GOOD = {"r_hat": 1.004, "ess_bulk": 900.0, "ess_tail": 700.0}


def test_verdict_converged_and_not():
    ok = convergence.assess({"a": GOOD, "n_divergences": 3}, ("a",), draws=1000,
                            settings={"chains": 4, "target_accept": 0.8})
    assert ok["converged"] and ok["verdict"].startswith("converged") and "0.07 %" in ok["verdict"]
    # m_a as in benchmarks/RESULTS.md (4 × 1000 draws, R̂ 1.23, ESS 14, 165 divergences)
    bad = convergence.assess({"a": GOOD, "m_a": {"r_hat": 1.228, "ess_bulk": 14.0, "ess_tail": 30.0},
                              "n_divergences": 165, "relic_failures": 0}, ("a", "m_a"), draws=1000,
                             settings={"chains": 4, "target_accept": 0.8})
    assert not bad["converged"] and bad["verdict"].startswith("NOT converged")
    assert any("m_a: R̂ = 1.228 > 1.01" in w for w in bad["warnings"])
    assert any("bulk ESS = 14, tail ESS = 30 < 400" in w for w in bad["warnings"])
    assert any("165 divergent transitions (4.1 %" in w for w in bad["warnings"])
    # R̂ − 1 = 0.228 → ×22.8 draws; ESS 14 → ×28.6: the larger, ×1.3, rounded up to 500s
    assert "sampler.draws = 37500" in bad["verdict"] and "sampler.target_accept to 0.9" in bad["verdict"]
    assert "--method smc" in bad["verdict"]
    # failed relic solves alone are reported but do not fail the verdict
    note = convergence.assess({"a": GOOD, "relic_failures": 2}, ("a",), draws=1000, settings={"chains": 4})
    assert note["converged"] and "2 failed relic solves" in note["warnings"][0]


def test_settings_that_cannot_work_are_errors_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"sampler\.draws = 50: 4 chains × 50 draws = 200 < 400.*≥ 100"):
        convergence.check_settings(4, 50)
    with pytest.raises(ValueError, match=r"sampler\.chains = 65: at most 64"):
        convergence.check_settings(65, 1000)
    text = (FITS / "dark_photon.toml").read_text()
    for patch, key in [("draws = 1000", "sampler.draws = 90"), ("chains = 4", "sampler.chains = 100")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text.replace(patch, patch.split("=")[0] + "= " + key.split("= ")[1], 1))
        with pytest.raises(fitspec.FitFileError, match=rf"bad.toml: sampler: {key}"):
            fitspec.load(bad)
    bad.write_text(text.replace("sampler = { chains = 2, warmup = 100, draws = 200 }",
                                "sampler = { chains = 2, warmup = 100, draws = 100 }"))
    with pytest.raises(fitspec.FitFileError, match=r"quick.sampler: sampler.draws = 100"):
        fitspec.load(bad)
    with pytest.raises(ValueError, match="draws = 10"):
        from bkdm.inference import nuts
        nuts.run_nuts(None, chains=2, draws=10)
