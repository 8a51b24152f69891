"""The top-level API (bkdm.api): benchmark points, shipped fits, load_fit and scan.

References: the model's own scaling BR(B⁺ → K⁺a) ∝ f_a⁻² ([C] (8), docs/physics/alp.md §2.3) for a
scan through ``bkdm.scan``; the illustrative ALP point (docs/physics/alp.md §2.7) for ``benchmark``;
errors name the parameter and list the allowed names.
"""

import numpy as np
import pytest

import bkdm

FIT_DICT = {"fit": {"name": "api-scan", "model": "alp"},
        "free": {"f_a": {"prior": "log-uniform", "range": [1e8, 4e8]}},
        "fixed": {"m_a": 2.1, "m_chi": 1e-3, "c_q": 1.0, "c_sb_v": 1.0, "c_sb_a": 1.0, "c_chi": 1.0},
        "likelihood": {"belle2": False, "planck": False, "constraints": ["belle2017_kstar"]},
        "scan": {"points": 3, "observables": ["br_b_to_k", "twice_nll"]}}


def test_exports_are_lazy_and_documented():
    for name in bkdm.__all__:
        assert getattr(bkdm, name).__doc__ or name == "__version__", name
    assert bkdm.benchmark.__module__ == "bkdm.api"


def test_benchmark_and_errors():
    p = bkdm.benchmark("alp")
    assert (float(p.m_a), float(p.f_a), float(p.m_chi), float(p.c_cc)) == (2.1, 1.5e8, 1e-3, 1.0)
    assert float(bkdm.benchmark("resonant-alp", m_a=1.5).m_chi) == pytest.approx(0.477 * 1.5)  # r alias
    with pytest.raises(ValueError, match="f_axion: unknown parameter .* allowed: .*'f_a'"):
        bkdm.benchmark("alp", f_axion=1e8)
    with pytest.raises(ValueError, match="choose one of .*'dark-photon'"):
        bkdm.get_model("dark_photons")
    with pytest.raises(ValueError, match="shipped: .*'alp-freeze-in'"):
        bkdm.load_fit("alp-freeze-out")


def test_scan_through_the_api():
    """A 3-point grid in f_a (log-spaced over the prior range) with the flavour-limit term only:
    BR(B⁺ → K⁺a) f_a² constant to rounding (1e-12)."""
    result = bkdm.scan(FIT_DICT)
    f_a = result.theta[:, 0]
    np.testing.assert_allclose(f_a, [1e8, 2e8, 4e8], rtol=1e-12)
    br = result.observables["br_b_to_k"]
    np.testing.assert_allclose(br * f_a**2, br[0] * f_a[0] ** 2, rtol=1e-12)
    assert np.all(np.isfinite(result.observables["twice_nll"])) and np.all(result.status == 0)
    assert bkdm.load_fit(FIT_DICT).names == ("f_a",)
