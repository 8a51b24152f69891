"""Result provenance (bkdm.inference.provenance): the fit hash changes exactly when the statistical
model changes, and a mismatch names the changed field.

References: the sha256 sums published in bkdm/data/README.md (computed independently of this code,
with sha256sum), and hand-made fit declarations differing in one field each.
"""

import copy
import re
from importlib import resources

import pytest

from bkdm.inference import fitspec, provenance

FIT = {"fit": {"name": "dp", "model": "dark-photon", "description": "d"},
       "free": {"m_x": {"prior": "uniform", "range": [1.0, 4.6], "init": 2.1},
                "delta": {"prior": "log-uniform", "range": [1e-4, 1e-1]}},
       "fixed": {"epsilon": 1e-3, "alpha_x": 2.33e-3, "m_psi": 0.3, "m_hp": 0.05, "q_s": 1, "theta": 0.0},
       "likelihood": {"belle2": {"channels": "combined"}, "planck": True, "constraints": ["belle2017_kstar"]},
       "bestfit": {"starts": 8}}


def spec_with(change=None):
    data = copy.deepcopy(FIT)
    if change:
        change(data)
    return fitspec.parse(data)


def test_data_hashes_match_the_published_sha256_sums():
    readme = resources.files("bkdm.data").joinpath("README.md").read_text()
    published = dict((path, digest) for digest, path in re.findall(r"([0-9a-f]{64})\s+(\S+)", readme))
    hashes = provenance.data_hashes()
    assert set(hashes) >= {"belle2/combined_likelihood.json", "belle2/number_density_hta.csv",
                           "formfactors/GRvDV2023_BSZ_N2.yaml"}
    for path, digest in hashes.items():
        assert published[path] == digest, path


def test_hash_ignores_name_init_and_method_settings():
    base = provenance.fit_hash(spec_with())
    assert len(base) == 64
    same = [lambda d: d["fit"].update(name="other", description="x"),
            lambda d: d["free"]["m_x"].update(init=3.0),
            lambda d: d.update(bestfit={"starts": 2}, sampler={"draws": 200}, scan={"points": 9}),
            lambda d: d["fixed"].update(q_s=1.0),  # int and float of the same value
            lambda d: d["likelihood"].update(planck={"theory_uncertainty": 0.01})]  # = the default
    for change in same:
        assert provenance.fit_hash(spec_with(change)) == base


@pytest.mark.parametrize("change,named", [
    (lambda d: d["fixed"].update(m_psi=0.4), "fixed.m_psi: 0.3 → 0.4"),  # 0.6 > m_x/2 is refused at load
    (lambda d: d["free"]["m_x"].update(range=[1.0, 4.0]), "free.m_x.range: [1.0,4.6] → [1.0,4.0]"),
    (lambda d: d["likelihood"]["belle2"].update(line_shape="breit-wigner"),
     "likelihood.belle2.line_shape: interpolate → breit-wigner"),
    (lambda d: d["likelihood"].update(constraints=[]), "likelihood.constraints: [\"belle2017_kstar\"] → []"),
])
def test_a_changed_field_changes_the_hash_and_is_named(change, named):
    old, new = spec_with(), spec_with(change)
    assert provenance.fit_hash(old) != provenance.fit_hash(new)
    assert provenance.mismatch(provenance.record(old), new) == [named]
    with pytest.raises(ValueError, match=re.escape(named)) as err:
        provenance.check(provenance.record(old), new, "scan results/dp")
    assert "\n" not in str(err.value) and "--restart" in str(err.value)


def test_missing_provenance_and_other_version_are_mismatches():
    spec = spec_with()
    assert provenance.mismatch(provenance.record(spec), spec) == []
    assert provenance.mismatch(None, spec)[0].startswith("fit_hash: absent")
    old = provenance.record(spec)
    old["bkdm_version"] = "0.0.1"
    assert provenance.mismatch(old, spec) == [f"bkdm_version: 0.0.1 → {provenance.bkdm_version()}"]
