"""Form factors: docs/validation.md §7.8 reference values (derived independently from the same file
with plain numpy), exact q² = 0 relations, and transforms."""

import jax
import numpy as np
import pytest
from transforms import check_transforms

from bkdm import formfactors as ff

# docs/validation.md §7.8 at q² = 4.41 GeV² (tolerance 1e-4 as stated there)
REF = {
    ff.bk_f_zero: 0.37203, ff.bk_f_plus: 0.42993, ff.bkstar_a0: 0.44805,
    ff.bkstar_a1: 0.31757, ff.bkstar_a12: 0.26248, ff.bkstar_v: 0.46930,
}


@pytest.mark.parametrize("f", list(REF))
def test_reference_values(f):
    assert abs(float(f(4.41)) / REF[f] - 1) < 1e-4


def test_f0_at_4():
    assert abs(float(ff.bk_f_zero(4.00)) / 0.36786 - 1) < 1e-4


def test_q2_zero_relations():
    bk = ff.bk_parameters()
    assert float(ff.bk_f_plus(0.0)) == pytest.approx(bk.mean[0], rel=1e-14)
    assert float(ff.bk_f_zero(0.0)) == pytest.approx(float(ff.bk_f_plus(0.0)), rel=1e-14)
    assert float(ff.bkstar_t2(0.0)) == pytest.approx(float(ff.bkstar_t1(0.0)), rel=1e-14)
    # A0(0) = 8 m_B m_K*/(m_B² − m_K*²) A12(0)
    mb, mv = ff.FF_M_B, ff.FF_M_KSTAR
    assert float(ff.bkstar_a0(0.0)) == pytest.approx(
        8 * mb * mv / (mb**2 - mv**2) * float(ff.bkstar_a12(0.0)), rel=1e-14)
    # GRvDV 2023 at q² = 0 (docs/data.md §13.2): f+(0) = 0.33196, A0(0) = 0.3421
    assert float(ff.bk_f_plus(0.0)) == pytest.approx(0.33196, abs=1e-5)
    assert float(ff.bkstar_a0(0.0)) == pytest.approx(0.3421, abs=1e-4)


def test_a2_t3_relations_consistent():
    # A12 definition solved back: A12 = [(mB+mV)²(mB²−mV²−q²)A1 − λ A2] / (16 mB mV² (mB+mV))
    q2 = 3.0
    mb, mv = ff.FF_M_B, ff.FF_M_KSTAR
    lam = mb**4 + mv**4 + q2**2 - 2 * (mb**2 * mv**2 + mb**2 * q2 + mv**2 * q2)
    a12 = ((mb + mv) ** 2 * (mb**2 - mv**2 - q2) * float(ff.bkstar_a1(q2))
           - lam * float(ff.bkstar_a2(q2))) / (16 * mb * mv**2 * (mb + mv))
    assert a12 == pytest.approx(float(ff.bkstar_a12(q2)), rel=1e-12)


def test_covariance_is_valid():
    for p in (ff.bk_parameters(), ff.bkstar_parameters()):
        assert p.covariance.shape == (len(p.names), len(p.names))
        np.testing.assert_allclose(p.covariance, p.covariance.T, rtol=0, atol=1e-15)
        assert np.all(np.linalg.eigvalsh(p.covariance) > -1e-12)


def test_floating_coefficients():
    # f+ is linear in the α's: shifting α1 by δ shifts f+ by δ·[z(q²) − z(0)]/(1 − q²/m_R²)
    bk = ff.bk_parameters()
    q2 = 10.0
    a = bk.mean.copy()
    a[1] += 0.01
    dz = float(ff.z_parameter(q2, ff.FF_M_B, ff.FF_M_K) - ff.z_parameter(0.0, ff.FF_M_B, ff.FF_M_K))
    expect = float(ff.bk_f_plus(q2)) + 0.01 * dz / (1 - q2 / ff.POLES["f+"] ** 2)
    assert float(ff.bk_f_plus(q2, a)) == pytest.approx(expect, rel=1e-13)
    g = jax.grad(lambda al: ff.bk_f_plus(q2, al))(bk.mean)
    assert g.shape == (8,) and float(g[1]) == pytest.approx(dz / (1 - q2 / ff.POLES["f+"] ** 2))


def test_ding_fk_below_grvdv():
    # docs/physics/resonant-alp.md §5.2: F_K is 1–12 % below GRvDV f0 for m_a = 0.75–4.5 GeV
    for ma in [0.75, 1.0, 2.0, 3.0, 4.47]:
        r = float(ff.ding_f_k(ma**2)) / float(ff.bk_f_zero(ma**2))
        assert 0.87 < r < 0.995


@pytest.mark.parametrize("f", [ff.bk_f_plus, ff.bk_f_zero, ff.bkstar_a0, ff.bkstar_v, ff.bkstar_a2,
                               ff.bkstar_t3, ff.ding_f_k])
def test_transforms(f):
    check_transforms(f, 4.41)
