"""Hadronic form factors for B → K and B → K* (docs/physics/alp.md §2.3; data file: bkdm/data/formfactors).

Default set: GRvDV 2023 (Gubernari, Reboud, van Dyk, Virto, arXiv:2305.06301) in the BSZ
parametrisation with N = 2,

    F(q²) = 1/(1 − q²/m_R,F²) · Σ_{k=0}^{2} α_k^F [z(q²) − z(0)]^k,
    z(t) = (√(t₊ − t) − √(t₊ − t₀)) / (√(t₊ − t) + √(t₊ − t₀)),
    t± = (m_B ± m_M)²,  t₀ = t₊ (1 − √(1 − t₋/t₊)),

with the EOS mass conventions m_B = 5.279, m_K = 0.492, m_K* = 0.896 GeV and the poles of
``POLES`` (docs/data.md §13.2). Exact q² = 0 relations fill the parameters that
are not in the file: α₀^{f0} = α₀^{f+}, α₀^{A12} = (m_B² − m_K*²)/(8 m_B m_K*) α₀^{A0},
α₀^{T2} = α₀^{T1}. A2 and T3 follow from the definitions of A12 and T23.

Every function takes q² [GeV²] and an optional coefficient vector ``alpha`` (same order as
``bk_parameters().names`` / ``bkstar_parameters().names``): pass a varied vector to float the
form factors as nuisance parameters (mean and covariance are in the ``FormFactorParameters``).
"""

import dataclasses
import functools
from importlib import resources

import jax.numpy as jnp
import numpy as np
import yaml

# EOS/GRvDV mass conventions [GeV] (docs/data.md §13.2)
FF_M_B = 5.279
FF_M_K = 0.492
FF_M_KSTAR = 0.896
POLES = {
    "f+": 5.415, "fT": 5.415, "f0": 5.630,  # B→K: B_s*(1⁻), B_s0*(0⁺)
    "A0": 5.366, "V": 5.415, "T1": 5.415,  # B→K*: B_s(0⁻), B_s*(1⁻)
    "A1": 5.829, "A12": 5.829, "T2": 5.829, "T23": 5.829,  # B_s1(1⁺)
}
_BK_KEY = "B->K::FormFactors[parametric,BSZ]@GRvDV:2023A"
_BKSTAR_KEY = "B->K^*::FormFactors[parametric,BSZ]@GRvDV:2023A"


@dataclasses.dataclass(frozen=True)
class FormFactorParameters:
    """Multivariate-Gaussian set of BSZ coefficients: names, mean vector, covariance matrix."""

    label: str
    names: tuple
    mean: np.ndarray
    covariance: np.ndarray

    @property
    def sigma(self):
        return np.sqrt(np.diag(self.covariance))

    def index(self, name):
        """Position of coefficient ``name`` (e.g. ``'alpha^f+_1'``) in the vector."""
        short = [n.split("::")[1].split("@")[0] for n in self.names]
        return short.index(name)


@functools.lru_cache(maxsize=1)
def _load():
    text = resources.files("bkdm.data").joinpath("formfactors/GRvDV2023_BSZ_N2.yaml").read_text()
    return yaml.safe_load(text)


def _params(key):
    block = _load()[key]
    return FormFactorParameters(
        label=key,
        names=tuple(block["observables"]),
        mean=np.array(block["means"], dtype=np.float64),
        covariance=np.array(block["covariance"], dtype=np.float64),
    )


@functools.lru_cache(maxsize=1)
def bk_parameters():
    """GRvDV 2023 B→K coefficients: α^{f+}_{0,1,2}, α^{f0}_{1,2}, α^{fT}_{0,1,2}."""
    return _params(_BK_KEY)


@functools.lru_cache(maxsize=1)
def bkstar_parameters():
    """GRvDV 2023 B→K* coefficients: A0₀₋₂, A1₀₋₂, A12₁₋₂, V₀₋₂, T1₀₋₂, T2₁₋₂, T23₀₋₂."""
    return _params(_BKSTAR_KEY)


def _alpha(alpha, params):
    return jnp.asarray(params.mean if alpha is None else alpha, dtype=jnp.float64)


def z_parameter(q2, m_b, m_m):
    """Conformal variable z(q²) with t₀ = t₊(1 − √(1 − t₋/t₊)) (docs/physics/alp.md §2.3)."""
    tp = (m_b + m_m) ** 2
    tm = (m_b - m_m) ** 2
    t0 = tp * (1.0 - np.sqrt(1.0 - tm / tp))
    a = jnp.sqrt(tp - q2)
    b = np.sqrt(tp - t0)
    return (a - b) / (a + b)


def bsz(q2, coeffs, m_pole, m_b, m_m):
    """BSZ expansion 1/(1 − q²/m_R²) Σ_k α_k [z(q²) − z(0)]^k (docs/physics/alp.md §2.3)."""
    dz = z_parameter(q2, m_b, m_m) - z_parameter(0.0, m_b, m_m)
    series = coeffs[0] + dz * (coeffs[1] + dz * coeffs[2])
    return series / (1.0 - q2 / m_pole**2)


# ---------------------------------------------------------------------------- B → K
def bk_f_plus(q2, alpha=None):
    """B→K vector form factor f₊(q²) (GRvDV 2023, docs/physics/alp.md §2.3)."""
    a = _alpha(alpha, bk_parameters())
    return bsz(q2, a[0:3], POLES["f+"], FF_M_B, FF_M_K)


def bk_f_zero(q2, alpha=None):
    """B→K scalar form factor f₀(q²); α₀^{f0} = α₀^{f+} (docs/physics/alp.md §2.3)."""
    a = _alpha(alpha, bk_parameters())
    return bsz(q2, jnp.stack([a[0], a[3], a[4]]), POLES["f0"], FF_M_B, FF_M_K)


def bk_f_tensor(q2, alpha=None):
    """B→K tensor form factor f_T(q²) (GRvDV 2023)."""
    a = _alpha(alpha, bk_parameters())
    return bsz(q2, a[5:8], POLES["fT"], FF_M_B, FF_M_K)


# ---------------------------------------------------------------------------- B → K*
def bkstar_a0(q2, alpha=None):
    """B→K* axial form factor A₀(q²) (GRvDV 2023)."""
    a = _alpha(alpha, bkstar_parameters())
    return bsz(q2, a[0:3], POLES["A0"], FF_M_B, FF_M_KSTAR)


def bkstar_a1(q2, alpha=None):
    """B→K* axial form factor A₁(q²)."""
    a = _alpha(alpha, bkstar_parameters())
    return bsz(q2, a[3:6], POLES["A1"], FF_M_B, FF_M_KSTAR)


def bkstar_a12(q2, alpha=None):
    """B→K* A₁₂(q²); α₀^{A12} = (m_B² − m_K*²)/(8 m_B m_K*) α₀^{A0} (docs/physics/alp.md §2.3)."""
    a = _alpha(alpha, bkstar_parameters())
    a12_0 = (FF_M_B**2 - FF_M_KSTAR**2) / (8.0 * FF_M_B * FF_M_KSTAR) * a[0]
    return bsz(q2, jnp.stack([a12_0, a[6], a[7]]), POLES["A12"], FF_M_B, FF_M_KSTAR)


def bkstar_v(q2, alpha=None):
    """B→K* vector form factor V(q²)."""
    a = _alpha(alpha, bkstar_parameters())
    return bsz(q2, a[8:11], POLES["V"], FF_M_B, FF_M_KSTAR)


def bkstar_t1(q2, alpha=None):
    """B→K* tensor form factor T₁(q²)."""
    a = _alpha(alpha, bkstar_parameters())
    return bsz(q2, a[11:14], POLES["T1"], FF_M_B, FF_M_KSTAR)


def bkstar_t2(q2, alpha=None):
    """B→K* tensor form factor T₂(q²); α₀^{T2} = α₀^{T1}."""
    a = _alpha(alpha, bkstar_parameters())
    return bsz(q2, jnp.stack([a[11], a[14], a[15]]), POLES["T2"], FF_M_B, FF_M_KSTAR)


def bkstar_t23(q2, alpha=None):
    """B→K* tensor form factor T₂₃(q²)."""
    a = _alpha(alpha, bkstar_parameters())
    return bsz(q2, a[16:19], POLES["T23"], FF_M_B, FF_M_KSTAR)


def bkstar_a2(q2, alpha=None):
    """B→K* A₂ from A₁ and A₁₂ (docs/data.md §13.2):
    A₂ = [(m_B+m_V)²(m_B²−m_V²−q²)A₁ − 16 m_B m_V²(m_B+m_V)A₁₂]/λ."""
    mb, mv = FF_M_B, FF_M_KSTAR
    lam = mb**4 + mv**4 + q2**2 - 2.0 * (mb**2 * mv**2 + mb**2 * q2 + mv**2 * q2)
    return ((mb + mv) ** 2 * (mb**2 - mv**2 - q2) * bkstar_a1(q2, alpha)
            - 16.0 * mb * mv**2 * (mb + mv) * bkstar_a12(q2, alpha)) / lam


def bkstar_t3(q2, alpha=None):
    """B→K* T₃ from T₂ and T₂₃ (docs/data.md §13.2):
    T₃ = [(m_B²−m_V²)(m_B²+3m_V²−q²)T₂ − 8 m_B m_V²(m_B−m_V)T₂₃]/λ."""
    mb, mv = FF_M_B, FF_M_KSTAR
    lam = mb**4 + mv**4 + q2**2 - 2.0 * (mb**2 * mv**2 + mb**2 * q2 + mv**2 * q2)
    return ((mb**2 - mv**2) * (mb**2 + 3.0 * mv**2 - q2) * bkstar_t2(q2, alpha)
            - 8.0 * mb * mv**2 * (mb - mv) * bkstar_t23(q2, alpha)) / lam


# ---------------------------------------------------------------------------- [D]'s simple fit
def ding_f_k(q2, m_b=None):
    """[D] (3.3): F_K(q²) = 0.33 exp(0.63 s − 0.095 s² + 0.591 s³), s = q²/m_B².

    An old fit whose shape is that of f₀; 1–12 % below GRvDV f₀ for m_a = 0.75–4.5 GeV
    (docs/physics/resonant-alp.md §5.2, docs/physics/conventions.md §8.9). Use it only to reproduce [D].
    ``m_b`` defaults to m_B⁺ (PDG).
    """
    from bkdm.constants import M_B_PLUS

    s = q2 / (M_B_PLUS if m_b is None else m_b) ** 2
    return 0.33 * jnp.exp(0.63 * s - 0.095 * s**2 + 0.591 * s**3)
