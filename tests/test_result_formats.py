"""Self-describing result formats: bestfit.json (format 2, and format 1 of bkdm 0.1.0 still readable)
and `bkdm info --json`.

References: the documented layouts (BestFitResult docstring; docs/getting-started.md "Results and
their formats") written out by hand here, and the illustrative ALP point of docs/physics/alp.md §2.7
(cτ_a = 234 m, BR(B⁺ → K⁺a) = 9.13e-6, quoted to 3 digits → 0.5 %).
"""

import json
import math

import numpy as np
import pytest

from bkdm import __version__, cli
from bkdm.inference import bestfit

NAMES = ("m_a", "f_a")
FORMAT_1 = {  # bestfit.json as bkdm 0.1.0 wrote it: parallel lists
    "spec_name": "two", "model_name": "alp", "names": list(NAMES), "theta": [2.1, 1.5e8],
    "theta_sigma": [0.1, 2.5e7], "theta_interval": [[2.0, 2.2], [1.27e8, 1.77e8]],
    "covariance": [[0.01, 0.0], [0.0, 6.25e14]], "nuisances": [0.5, -0.2], "twice_nll": 12.5,
    "terms": {"belle2": 12.0, "planck": 0.5}, "observables": {"omega_h2": 0.12}, "twice_nll_sm": 25.0,
    "delta_chi2_sm": 13.0, "starts": [], "converged": True, "relic_failures": 0, "wall_time_s": 3.0,
    "edm": 1e-9, "notes": [], "nuisance_names": ["alpha_1", "gamma_2"]}


def test_bestfit_json_layout_and_round_trip(tmp_path):
    old = bestfit.BestFitResult.from_dict(FORMAT_1)
    best = bestfit.BestFitResult(**{**old.__dict__, "units": ("GeV", "GeV"),
                                    "provenance": {"fit_hash": "ab" * 32, "bkdm_version": __version__}})
    best.save_json(tmp_path / "bestfit.json")
    data = json.loads((tmp_path / "bestfit.json").read_text())
    assert data["format_version"] == 2 and data["bkdm_version"] == __version__
    assert data["fit_hash"] == "ab" * 32
    assert (data["fit"], data["model"]) == ("two", "alp")
    assert data["parameters"] == {
        "m_a": {"value": 2.1, "error": 0.1, "interval": [2.0, 2.2], "unit": "GeV"},
        "f_a": {"value": 1.5e8, "error": 2.5e7, "interval": [1.27e8, 1.77e8], "unit": "GeV"}}
    assert data["nuisances"] == {"names": ["alpha_1", "gamma_2"], "values": [0.5, -0.2]}
    assert data["covariance"]["names"] == list(NAMES)
    back = bestfit.BestFitResult.load_json(tmp_path / "bestfit.json")
    for key, value in best.__dict__.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(back, key), value)
        else:
            assert getattr(back, key) == value, key


def test_format_1_still_loads(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({**FORMAT_1, "edm": None}))
    old = bestfit.BestFitResult.load_json(tmp_path / "old.json")
    assert old.names == NAMES and list(old.theta) == [2.1, 1.5e8] and math.isnan(old.edm)
    assert old.units == () and old.provenance == {}
    assert cli._best_point(tmp_path / "old.json")[0] == {"m_a": 2.1, "f_a": 1.5e8}  # `bkdm scan` reads it


def test_fit_provenance_hash_follows_the_declaration():
    """The same declaration (by name or by file stem, i.e. another source) has one hash; changing a
    fixed value changes it; sha256 hex."""
    import tomllib

    from bkdm.inference import fitspec

    spec = fitspec.load("alp-freeze-in")
    data = tomllib.loads(fitspec.resolve("alp-freeze-in").read_text())
    changed = fitspec.parse({**data, "fixed": {**data["fixed"], "c_q": 2.0}})
    assert bestfit.fit_provenance(spec) == bestfit.fit_provenance(fitspec.parse(data, source="elsewhere"))
    assert bestfit.fit_provenance(spec)["fit_hash"] != bestfit.fit_provenance(changed)["fit_hash"]
    assert len(bestfit.fit_provenance(spec)["fit_hash"]) == 64


def test_info_json_of_the_illustrative_alp_point(capsys):
    assert cli.main(["info", "--model", "alp", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bkdm_version"] == __version__ and data["model"] == "alp"
    assert data["parameters"]["f_a"] == {"value": 1.5e8, "unit": "GeV", "allowed": "(0, inf)",
                                         "description": "ALP decay constant"}
    assert data["summary"]["c tau_a"] == {"value": pytest.approx(234.0, rel=5e-3), "unit": "m"}
    assert data["summary"]["BR(B+->K+ a)"]["value"] == pytest.approx(9.13e-6, rel=5e-3)
