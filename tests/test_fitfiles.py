"""The shipped fit files (bkdm/fits/*.toml, package data) and the validation of invalid ones
(tests/fixtures/).

Independent references: each invalid fixture breaks exactly one documented rule of the fit-file
format (bkdm/inference/fitspec.py docstring), so the error must name that field; the shipped files
must start at physically sensible points — the Belle II excess (BR(B⁺→K⁺ inv) ~ 10⁻⁵,
docs/physics/b-to-k-nunu.md §6) and the Planck relic density Ωh² = 0.120 (docs/physics/constants.md §1.3).
"""

from pathlib import Path

import numpy as np
import pytest

from bkdm.inference import fitspec

ROOT = Path(__file__).resolve().parent.parent
FITS = ROOT / "bkdm" / "fits"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED = ("alp_freeze_in", "dark_photon", "resonant_alp")

# fixture → text the error message must contain (the offending field, or the rule)
INVALID = {
    "malformed_toml": "malformed TOML",
    "unknown_section": "priors",
    "unknown_model": "fit.model",
    "unknown_parameter": "free.m_axion",
    "prior_outside_physical_range": "free.f_a.range",
    "prior_below_physical_bound": "free.m_a.range",
    "bad_prior_kind": "free.m_a.prior",
    "missing_range": "free.m_a.range",
    "init_outside_range": "free.m_a.init",
    "tie_to_unknown": "fixed.g_aww",
    "unknown_likelihood_key": "lhcb",
    "bad_sampler_value": "sampler.chains",
    "bad_sampler_flag": "sampler.pool_step_size",
    "mass_ordering": "m_chi",
    "prior_box_forbidden": "m_psi < m_x/2",
    "unknown_relic_option": "likelihood.relic",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_fit_file_names_the_field(name):
    path = FIXTURES / f"{name}.toml"
    with pytest.raises(fitspec.FitFileError) as err:
        fitspec.load(path)
    assert isinstance(err.value, ValueError)
    message = str(err.value)
    assert INVALID[name] in message
    assert str(path) in message  # the file is named too


def test_every_invalid_fixture_is_covered():
    """No fixture without an expectation (planck_only.toml and toy_scalar_planck.toml are the valid
    fixtures, for test_cli and test_user_model)."""
    on_disk = {p.stem for p in FIXTURES.glob("*.toml")} - {"planck_only", "toy_scalar_planck"}
    assert on_disk == set(INVALID)


def test_missing_file_is_a_fit_file_error(tmp_path):
    with pytest.raises(fitspec.FitFileError, match="no such fit file") as err:
        fitspec.load(tmp_path / "absent.toml")
    assert "alp-freeze-in" in str(err.value)  # the shipped names are listed


def test_shipped_fits_by_name(tmp_path, monkeypatch):
    """Every shipped file is listed under its [fit] name and loads by that name or its stem from any
    working directory (package data, not the checkout); a local file of that name wins."""
    shipped = fitspec.shipped_fits()
    assert {p.stem for p in shipped.values()} == set(SHIPPED) and set(shipped) == {
        "alp-freeze-in", "dark-photon", "resonant-alp"}
    monkeypatch.chdir(tmp_path)
    for name, path in shipped.items():
        assert fitspec.load(name).source == str(path) == fitspec.load(path.stem).source
    (tmp_path / "alp-freeze-in").write_text(shipped["alp-freeze-in"].read_text())
    assert fitspec.resolve("alp-freeze-in") == Path("alp-freeze-in")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_fit_file_loads_with_belle2_signal_at_start(name):
    """Loads; the start point predicts B⁺→K⁺ + invisible within an order of magnitude of the Belle II
    excess (≈ 1.8e-5 above the SM, docs/physics/b-to-k-nunu.md §6), so the fit starts near the data."""
    spec = fitspec.load(FITS / f"{name}.toml")
    quick = spec.with_quick()
    assert quick.bestfit["starts"] <= 2 and quick.sampler["chains"] == 2
    p = spec.build_params([prior.start for prior in spec.free.values()])
    br = float(spec.model.br_b_to_k_invisible(p))
    assert np.isfinite(br) and 1e-6 < br < 1e-4
    assert spec.likelihood["belle2"] is not None and spec.likelihood["planck"] is not None


def test_fit_file_details_follow_the_papers():
    alp = fitspec.load(FITS / "alp_freeze_in.toml")
    assert alp.free["m_chi"].low == pytest.approx(1e-5)  # 10 keV Lyman-α bound quoted by [C]
    dark = fitspec.load(FITS / "dark_photon.toml")
    assert dark.likelihood["constraints"] == ["belle2017_kstar"]  # [C] (47): B → K* X is predicted
    res = fitspec.load(FITS / "resonant_alp.toml")
    p = res.build_params([prior.start for prior in res.free.values()])
    assert float(p.m_chi / p.m_a) == pytest.approx(0.477)  # [D] Table 1
    assert float(p.g_aww) == float(p.g_agg)  # c_B = c_W
    assert res.likelihood["relic"] == {"method": "cbe"}


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_fit_file_relic_density_at_start(name):
    """Ωh² at the start point is finite and within a factor 2.5 of Planck's 0.120 (the inits were
    chosen near it, so the optimiser starts in the relic-density valley)."""
    import jax

    spec = fitspec.load(FITS / f"{name}.toml")
    p = spec.build_params([prior.start for prior in spec.free.values()])
    options = dict(spec.likelihood["relic"])
    result = jax.jit(lambda q: spec.model.relic(q, **options))(p)
    assert int(result.status) == 0
    assert 0.12 / 2.5 < float(result.omega_h2) < 0.12 * 2.5
