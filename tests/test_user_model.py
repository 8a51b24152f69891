"""User-defined models (bkdm.models.register_model, BKDM_MODELS, the bkdm.models entry points, the CLI's
--plugin), with the toy scalar portal of tests/fixtures/toy_scalar.py defined outside the package.

References: the interface contract (bkdm.models.base.REQUIRED: a model missing names is refused, naming
them); the toy's own physics scalings (BR ∝ g_sb², BR × P_inv ∝ f_inv) for `bkdm info`; the scipy Radau
NBE of bkdm.cosmo.reference (independent of the JAX solver) for `bkdm relic`, the best fit and the scan.
"""

import importlib.metadata
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import bkdm
from bkdm import cli, models
from bkdm.cosmo import reference
from bkdm.models import base

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOY = FIXTURES / "toy_scalar.py"
TOY_FIT = FIXTURES / "toy_scalar_planck.toml"
M_CHI, G_CHI = 0.5, 2.0  # the toy's benchmark DM mass [GeV] and Majorana degrees of freedom


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def reference_omega(sigma_v):
    """Ωh² of a constant ⟨σv⟩ [GeV⁻²] from scipy Radau (bkdm.cosmo.reference.freeze_out)."""
    return reference.freeze_out(lambda T: sigma_v, M_CHI, G_CHI)[0]


@pytest.fixture
def isolated_registry(monkeypatch):
    """A registry without user models, restored after the test."""
    monkeypatch.setattr(models, "_registered", {})
    monkeypatch.setattr(models, "_entry_points", {})
    monkeypatch.setattr(models, "_discovered", False)
    monkeypatch.delenv(models.MODELS_ENV, raising=False)


# ------------------------------------------------------------------------------------------ registry
def test_incomplete_model_is_refused_with_the_missing_names(isolated_registry):
    toy = bkdm.register_model(TOY)
    partial = types.SimpleNamespace(**{name: getattr(toy, name) for name in base.REQUIRED
                                       if name not in ("relic", "BENCHMARK")})
    partial.NAME = "partial"
    with pytest.raises(ValueError, match=r"lacks \['BENCHMARK', 'relic'\]"):
        bkdm.register_model(partial)
    assert "partial" not in bkdm.model_names()


def test_builtin_models_have_the_whole_interface():
    for name in models.BUILTIN_NAMES:
        assert base.missing_names(bkdm.get_model(name)) == []


def test_register_by_path_and_name_rules(isolated_registry):
    toy = bkdm.register_model(TOY)
    assert bkdm.get_model("toy_scalar") is toy and "toy-scalar" in bkdm.model_names()
    assert bkdm.register_model(toy) is toy  # registering the same object again is fine
    other = types.SimpleNamespace(**{name: getattr(toy, name) for name in base.REQUIRED})
    with pytest.raises(ValueError, match="already registered"):
        bkdm.register_model(other)
    other.NAME = "alp"
    with pytest.raises(ValueError, match="built-in"):
        bkdm.register_model(other)
    p = bkdm.benchmark("toy-scalar", g_sb=2e-8)  # BENCHMARK with one change, validated
    assert float(p.g_sb) == 2e-8 and float(p.m_s) == 2.0
    with pytest.raises(ValueError, match="f_inv = 2 is not allowed"):
        bkdm.benchmark("toy-scalar", f_inv=2.0)


def test_environment_variable_and_entry_point_are_read_lazily(isolated_registry, monkeypatch):
    monkeypatch.setenv(models.MODELS_ENV, str(TOY))
    assert "toy-scalar" in bkdm.model_names()
    # an entry point is listed without importing its module, which is loaded on first use
    monkeypatch.setattr(models, "_registered", {})
    monkeypatch.setattr(models, "_discovered", False)
    monkeypatch.delenv(models.MODELS_ENV)
    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.delitem(sys.modules, "toy_scalar", raising=False)
    entry = importlib.metadata.EntryPoint(name="toy-scalar", value="toy_scalar",
                                          group=models.ENTRY_POINT_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [entry] if group == models.ENTRY_POINT_GROUP else [])
    assert "toy-scalar" in bkdm.model_names() and "toy_scalar" not in sys.modules
    assert bkdm.get_model("toy-scalar").NAME == "toy-scalar" and "toy_scalar" in sys.modules


# ------------------------------------------------------------------------------------------ CLI
def test_cli_info_on_the_user_model(capsys):
    """BR(B⁺ → K⁺S) ∝ g_sb² and BR × P_inv ∝ f_inv (the toy's Γ formula); `--model` lists the toy."""
    code, out, err = run(["--plugin", TOY, "info", "--model", "toy-scalar", "--json"], capsys)
    assert code == 0, err
    base_ = json.loads(out)
    assert base_["model"] == "toy-scalar" and base_["parameters"]["sigma_v"]["unit"] == "GeV^-2"
    br = base_["summary"]["BR(B+->K+ inv)"]["value"]
    assert 1e-6 < br < 1e-4
    code, out, _ = run(["--plugin", TOY, "info", "--model", "toy-scalar", "--set", "g_sb=3.4e-8", "--set",
                        "f_inv=0.25", "--json"], capsys)
    assert json.loads(out)["summary"]["BR(B+->K+ inv)"]["value"] == pytest.approx(4 * 0.25 * br, rel=1e-12)
    code, _, err = run(["--plugin", FIXTURES / "absent.py", "info", "--model", "toy-scalar"], capsys)
    assert code == 2 and "absent.py" in err and len(err.strip().splitlines()) == 1


def test_cli_relic_on_the_user_model(capsys):
    """Ωh² of the toy's s-wave freeze-out vs scipy Radau: measured 2e-6 apart (DEFAULT solver
    tolerances, freeze-out tail by quadrature in both) → 2e-5."""
    code, out, err = run(["--plugin", TOY, "relic", "--model", "toy-scalar", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["relic"]["solve"]["status"] == 0 and data["relic"]["method"] is None
    sigma_v = data["parameters"]["sigma_v"]["value"]
    assert data["relic"]["omega_h2"] == pytest.approx(reference_omega(sigma_v), rel=2e-5)


@pytest.mark.slow
def test_cli_fit_and_scan_on_the_user_model(tmp_path, capsys):
    """A Planck-only best fit of ⟨σv⟩ and a 4-point scan of the toy through the CLI. The fit's ⟨σv⟩
    must give Ωh² = 0.120 by the scipy reference: a converged fit has EDM ≤ 1e-3, i.e. Ωh² within
    √(2·1e-3) σ_Ω ≈ 0.045 × 0.0016 of 0.120 (6e-4 relative) → 1e-3; scan points vs the reference at
    the fits' relic tolerance rtol = atol = 1e-5 (joint.RELIC_SETTINGS): measured 1.3e-4 at most
    (9e-7 at the library default rtol 1e-8) → 3e-4, still 1/40 of Planck's 1.3 % error."""
    out_dir = tmp_path / "toy"
    code, out, err = run(["--plugin", TOY, "fit", TOY_FIT, "--out", out_dir], capsys)
    assert code == 0, err
    best = json.loads((out_dir / "bestfit.json").read_text())
    sigma_v = best["parameters"]["sigma_v"]["value"] if "parameters" in best else best["theta"][0]
    assert reference_omega(sigma_v) == pytest.approx(0.120, rel=1e-3)
    code, out, err = run(["--plugin", TOY, "scan", TOY_FIT, "--out", out_dir], capsys)
    assert code == 0, err
    with np.load(out_dir / "scan_1d.npz") as f:
        axis, omega = f["axis"], f["omega_h2"]
    assert len(axis) == 4 and (out_dir / "scan_1d.png").is_file()
    np.testing.assert_allclose(omega, [reference_omega(s) for s in axis], rtol=3e-4)
