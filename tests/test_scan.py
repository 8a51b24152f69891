"""Parameter scans (bkdm.inference.scan): grid/random points, agreement with direct single-point
evaluation, relic-failure bookkeeping, resuming an interrupted scan, sharding over 2 host devices.

Fast tests use the real JointLikelihood of a Planck-only ALP fit whose relic solve is replaced by the
docs/physics/alp-freeze-in.md §3.7 freeze-in scaling law Ωh² = 0.12 (m_χ/m*)³ (c_χ/1)² (so they compile
in seconds); the real relic solve is exercised in the slow test at the end.
"""

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from bkdm.inference import fitspec, provenance, scan
from bkdm.inference.joint import JointLikelihood

M_STAR = 3.2e-3  # GeV: m_χ where the stand-in Ωh² equals 0.12
FIT = {"fit": {"name": "alp-planck-scan", "model": "alp"},
       "free": {"m_chi": {"prior": "log-uniform", "range": [1e-3, 1e-2]},
                "c_chi": {"prior": "uniform", "range": [0.5, 1.5]}},
       "fixed": {"m_a": 2.1, "f_a": 1.5e8, "c_q": 1.0, "c_sb_v": 1.0},
       "likelihood": {"belle2": False, "planck": {"theory_uncertainty": 0.01}}}
OBSERVABLES = ("omega_h2", "br_b_to_k_invisible", "twice_nll", "twice_nll_planck", "dm_mass")


def analytic_omega(m_chi, c_chi):
    """docs/physics/alp-freeze-in.md §3.7: freeze-in Ωh² ∝ m_χ³ c_χ² (the test's stand-in for the
    relic solve)."""
    return 0.12 * (m_chi / M_STAR) ** 3 * c_chi**2


def make_joint(fail_above=None, fixed=None):
    """Planck-only ALP JointLikelihood with the relic replaced by :func:`analytic_omega`; the relic
    'fails' (status 1, Ωh² = NaN) for m_χ > ``fail_above``; ``fixed`` updates the fixed values."""
    joint = JointLikelihood(fitspec.parse({**FIT, "fixed": {**FIT["fixed"], **(fixed or {})}}))

    def omega_h2(theta):
        status = jnp.where(theta[0] > (fail_above or np.inf), 1, 0).astype(jnp.int32)
        return jnp.where(status == 0, analytic_omega(theta[0], theta[1]), jnp.nan), status

    joint.omega_h2 = omega_h2
    return joint


@pytest.fixture(scope="module")
def joint():
    return make_joint()


def test_grid_points_are_the_tensor_product_of_prior_axes(joint):
    res = scan.scan(joint, points=30, mode="grid", observables=("dm_mass",), chunk=7, progress=False)
    # round(√30) = 5 values per parameter: m_χ log-spaced, c_χ linear, end points included
    m_axis, c_axis = np.geomspace(1e-3, 1e-2, 5), np.linspace(0.5, 1.5, 5)
    expected = np.array(list(itertools.product(m_axis, c_axis)))  # C order: last parameter fastest
    assert res.theta.shape == (25, 2) and res.complete
    np.testing.assert_allclose(res.theta, expected, rtol=1e-14)  # same arithmetic up to round-off
    np.testing.assert_array_equal(res.index, np.arange(25))
    assert res.manifest["grid_shape"] == [5, 5]
    assert res.grid("m_chi").shape == (5, 5)
    # dm_mass is m_χ itself (ALP model): exact
    np.testing.assert_array_equal(res.observables["dm_mass"], res.theta[:, 0])


def test_random_points_follow_the_priors_and_the_seed(joint):
    a = scan.scan_points(joint, 400, mode="random", seed=3)
    b = scan.scan_points(joint, 400, mode="random", seed=3)
    c = scan.scan_points(joint, 400, mode="random", seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (400, 2)
    # log-uniform m_χ: ln m uniform on [ln 1e-3, ln 1e-2]; uniform c_χ on [0.5, 1.5]. KS tests at
    # p > 1e-3 (a correct sampler fails this once in a thousand seeds; seed fixed → deterministic)
    lo, hi = np.log(1e-3), np.log(1e-2)
    assert scipy.stats.kstest(np.log(a[:, 0]), scipy.stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    assert scipy.stats.kstest(a[:, 1], scipy.stats.uniform(0.5, 1.0).cdf).pvalue > 1e-3


def test_scan_matches_direct_single_point_evaluation(joint):
    # 7 points in chunks of 3: the last chunk (1 point) is padded; results must not depend on it
    res = scan.scan(joint, points=7, mode="random", observables=OBSERVABLES, chunk=3, seed=1,
                    progress=False)
    assert res.theta.shape == (7, 2) and set(res.observables) == set(OBSERVABLES)
    nu = joint.nuisance_init
    for i, theta in enumerate(res.theta):
        p = joint.params(jnp.asarray(theta))
        direct = {"omega_h2": analytic_omega(*theta),
                  "br_b_to_k_invisible": float(joint.model.br_b_to_k_invisible(p)),
                  "twice_nll": float(joint.twice_nll(jnp.asarray(theta), nu)),
                  "twice_nll_planck": ((analytic_omega(*theta) - 0.120) ** 2
                                       # docs/physics/constants.md §1.3: 0.120 ± 0.001, 1 %
                                       / (0.001**2 + (0.01 * 0.120) ** 2)),
                  "dm_mass": theta[0]}
        for name, value in direct.items():
            # vmapped/jitted vs eager single point: same arithmetic up to round-off → 1e-10
            assert res.observables[name][i] == pytest.approx(value, rel=1e-10), name
    np.testing.assert_array_equal(res.status, 0)


def test_failed_relic_points_are_flagged_not_dropped():
    joint = make_joint(fail_above=4e-3)
    res = scan.scan(joint, points=12, mode="grid", observables=("omega_h2", "twice_nll"), chunk=5,
                    progress=False)
    bad = res.theta[:, 0] > 4e-3
    assert bad.any() and (~bad).any()
    np.testing.assert_array_equal(res.status, bad.astype(int))
    assert np.all(np.isnan(res.observables["omega_h2"][bad]))
    assert np.all(np.isposinf(res.observables["twice_nll"][bad]))  # zero likelihood (joint.py)
    assert np.all(np.isfinite(res.observables["twice_nll"][~bad]))


def test_interrupted_scan_resumes_without_losing_or_duplicating_points(joint, tmp_path):
    kwargs = dict(points=10, mode="random", observables=("omega_h2", "twice_nll"), chunk=4, seed=2,
                  out_dir=tmp_path, progress=False)
    full = scan.scan(joint, **kwargs)
    files = sorted(tmp_path.glob("chunk_*.npz"))
    assert [f.name for f in files] == ["chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["completed"] == [0, 1, 2] and manifest["points"] == 10
    kept = {f.name: f.stat().st_mtime_ns for f in files[:2]}
    files[-1].unlink()  # simulate an interruption before the last chunk was written
    partial = scan.ScanResult.load(tmp_path)
    assert not partial.complete and len(partial.index) == 8

    resumed = scan.scan(joint, **kwargs)
    np.testing.assert_array_equal(resumed.index, np.arange(10))  # nothing lost, nothing duplicated
    np.testing.assert_array_equal(resumed.theta, full.theta)
    for name in kwargs["observables"]:
        np.testing.assert_array_equal(resumed.observables[name], full.observables[name])
    assert {f.name: f.stat().st_mtime_ns for f in sorted(tmp_path.glob("chunk_*.npz"))[:2]} == kept
    loaded = scan.ScanResult.load(tmp_path)
    np.testing.assert_array_equal(loaded.index, np.arange(10))
    np.testing.assert_array_equal(loaded.observables["twice_nll"], full.observables["twice_nll"])
    assert json.loads(json.dumps(loaded.to_dict()))["index"] == list(range(10))

    with pytest.raises(ValueError, match="different scan"):
        scan.scan(joint, **{**kwargs, "seed": 5})


def test_resuming_with_a_changed_fixed_value_is_refused_naming_it(joint, tmp_path):
    """Issue 18's stale-scan case: the same scan folder, [fixed] f_a changed in the fit → the fit hash
    differs, resuming is refused with the field named, and resume=False (--restart) recomputes."""
    kwargs = dict(points=4, mode="random", observables=("omega_h2", "twice_nll"), chunk=4, seed=2,
                  out_dir=tmp_path, progress=False)
    scan.scan(joint, **kwargs)
    assert json.loads((tmp_path / "manifest.json").read_text())["fit_hash"] == provenance.fit_hash(joint.spec)
    changed = make_joint(fixed={"f_a": 3e8})
    with pytest.raises(ValueError, match=r"fixed\.f_a: 1\.5e\+08 → 3e\+08"):
        scan.scan(changed, **kwargs)
    again = scan.scan(changed, **{**kwargs, "resume": False})
    assert again.manifest["fit_hash"] == provenance.fit_hash(changed.spec) != provenance.fit_hash(joint.spec)


def test_invalid_arguments_are_rejected(joint):
    with pytest.raises(ValueError, match="mode"):
        scan.scan(joint, points=4, mode="sobol")
    with pytest.raises(ValueError, match="not allowed"):
        scan.scan(joint, points=4, observables=("br_b_to_pi",))
    with pytest.raises(ValueError, match="twice_nll_belle2"):  # no Belle II term in this fit
        scan.scan(joint, points=4, observables=("twice_nll_belle2",))
    with pytest.raises(ValueError, match="nuisances"):
        scan.scan(joint, points=4, nuisances=np.zeros(3))
    with pytest.raises(ValueError, match="chunk"):
        scan.scan(joint, points=4, chunk=0)


SHARDED_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    import jax
    import numpy as np
    import bkdm
    from bkdm.inference import scan
    from test_scan import make_joint, OBSERVABLES
    res = scan.scan(make_joint(), points=11, mode="random", observables=OBSERVABLES, chunk=5,
                    seed=7, progress=False)
    np.savez({out!r}, n_devices=len(jax.devices()), theta=res.theta, index=res.index,
             **res.observables)
""")


def test_scan_sharded_over_two_host_devices_matches_unsharded(joint, tmp_path):
    out = tmp_path / "sharded.npz"
    script = SHARDED_SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    sharded = np.load(out)
    assert int(sharded["n_devices"]) == 2
    assert len(jax.devices()) == 1  # this process: unsharded reference
    ref = scan.scan(joint, points=11, mode="random", observables=OBSERVABLES, chunk=5, seed=7,
                    progress=False)
    np.testing.assert_array_equal(sharded["index"], ref.index)
    np.testing.assert_array_equal(sharded["theta"], ref.theta)
    for name in OBSERVABLES:  # same arithmetic on a different device split → round-off only, 1e-10
        np.testing.assert_allclose(sharded[name], ref.observables[name], rtol=1e-10)


@pytest.mark.slow
def test_scan_of_the_real_relic_matches_single_point_solves():
    joint = JointLikelihood(fitspec.parse(FIT))
    res = scan.scan(joint, points=4, mode="random", observables=("omega_h2", "twice_nll"), chunk=4,
                    seed=0, progress=False)
    np.testing.assert_array_equal(res.status, 0)
    for theta, omega in zip(res.theta, res.observables["omega_h2"], strict=True):
        single = float(joint.omega_h2(jnp.asarray(theta))[0])
        # vmapped vs single solve with the same tolerances: each point has its own step control
        # (diffrax vmaps the adaptive loop per element), so only round-off differs → 1e-10
        assert omega == pytest.approx(single, rel=1e-10)


BELLE2_FIT = {"fit": {"name": "dp-belle2", "model": "dark-photon"},
              "free": {"m_x": {"prior": "uniform", "range": [1.5, 3.0]},
                       "delta": {"prior": "log-uniform", "range": [2e-3, 2e-2]}},
              "fixed": {"epsilon": 1e-3, "alpha_x": 2.33e-3, "m_psi": 0.3, "m_hp": 0.05, "q_s": 1.0,
                        "theta": 0.0},
              "likelihood": {"belle2": {"channels": "combined"}, "planck": False}}


def test_scan_without_belle2_records_no_nuisance_mode(joint):
    res = scan.scan(joint, points=4, mode="random", observables=("twice_nll",), chunk=4, progress=False)
    assert res.manifest["nuisance_mode"] == "none" and np.all(res.nuisance_status == 0)
    with pytest.raises(ValueError, match="nuisance_mode"):
        scan.scan(joint, points=4, nuisance_mode="marginal")


@pytest.mark.slow
def test_profiled_scan_of_the_belle2_term_against_scipy_fits():
    """A 2 × 2 dark-photon grid (Belle II term only, no relic): profiled −2 ln L ≤ the fixed-ν value at
    every point (a minimum over ν), equal to scipy L-BFGS-B over the nuisances (Belle2Likelihood.fit,
    an independent optimiser; tolerance 1e-3, its own convergence is ~1e-6) at two points, every inner
    fit converged; the plane minimum of nuisance_profile.belle2_minimum lies below every grid value."""
    from bkdm.inference import nuisance_profile

    joint = JointLikelihood(fitspec.parse(BELLE2_FIT))
    observables = ("twice_nll", "twice_nll_belle2")
    prof = scan.scan(joint, points=4, mode="grid", observables=observables, chunk=4, progress=False)
    fixed = scan.scan(joint, points=4, mode="grid", observables=observables, chunk=4, progress=False,
                      nuisance_mode="fixed")
    assert prof.manifest["nuisance_mode"] == "profile" and fixed.manifest["nuisance_mode"] == "fixed"
    np.testing.assert_array_equal(prof.nuisance_status, 0)
    assert np.all(prof.observables["twice_nll"] <= fixed.observables["twice_nll"] + 1e-9)
    for i in (0, 3):
        b = joint.b_np_bins(jnp.asarray(prof.theta[i]))
        reference = joint.belle2.fit(b_np_bins=b, mu=1.0)
        assert prof.observables["twice_nll_belle2"][i] == pytest.approx(reference.twice_nll, abs=1e-3)
    low = int(np.argmin(prof.observables["twice_nll_belle2"]))
    found = nuisance_profile.belle2_minimum(joint, prof.theta[low], joint.nuisance_init)
    assert found["status"] == 0 and found["twice_nll"] <= prof.observables["twice_nll_belle2"].min()
