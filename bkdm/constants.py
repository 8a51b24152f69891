"""Physical constants (docs/physics/constants.md §1). Natural units: GeV, ħ = c = k_B = 1.

Every block names its source. Values marked "(M)" in docs/physics/constants.md §1 are quoted
from memory of the PDG and should be re-read from the PDG when possible (docs/physics/conventions.md §8.13).
"""

import math

# --- Conversion factors (CODATA 2018 exact/derived) -------------------------------------------
HBAR_GEV_S = 6.582119569e-25  # ħ [GeV s]
HBARC_GEV_M = 1.973269804e-16  # ħc [GeV m]
GEV3_PER_CM3 = 7.6835e-42  # 1 cm⁻³ in GeV³ (docs/physics/constants.md §1.3)

# --- Particle masses [GeV] — PDG 2024 (RPP), docs/physics/constants.md §1.1 ---------------------------------
M_B_PLUS = 5.27941
M_B0 = 5.27972
M_K_PLUS = 0.493677
M_KSTAR_PLUS = 0.89167  # K*(892)+
M_KSTAR0 = 0.89555
TAU_B_PLUS_S = 1.638e-12  # τ(B+) [s]
GAMMA_B_PLUS = HBAR_GEV_S / TAU_B_PLUS_S  # ħ/τ(B+) = 4.0184e-13 GeV

M_W = 80.3692
M_Z = 91.1880
M_E = 0.51099895e-3
M_MU = 0.1056583755
M_TAU = 1.77693

# MS-bar quark masses (PDG 2024): m_q(2 GeV) for u, d, s; m_q(m_q) for c, b; pole-like direct
# measurement for t (docs/physics/constants.md §1.1; the scale choice in ALP widths is a model uncertainty,
# docs/physics/conventions.md §8.11).
M_U = 2.16e-3
M_D = 4.70e-3
M_S = 0.0935
M_C = 1.2730
M_BQ = 4.183  # b quark, m_b(m_b)
M_T = 172.57  # (M) PDG 2024 direct; 2025 table: 172.56

QUARKS = ("u", "d", "s", "c", "b", "t")
QUARK_MASSES = (M_U, M_D, M_S, M_C, M_BQ, M_T)
QUARK_CHARGES = (2.0 / 3.0, -1.0 / 3.0, -1.0 / 3.0, 2.0 / 3.0, -1.0 / 3.0, 2.0 / 3.0)
LEPTONS = ("e", "mu", "tau")
LEPTON_MASSES = (M_E, M_MU, M_TAU)
N_COLOURS = 3

# --- Couplings — docs/physics/constants.md §1.2 -------------------------------------------------------------
G_FERMI = 1.1663788e-5  # G_F [GeV⁻²], PDG via flavio (V)
V_HIGGS = 1.0 / math.sqrt(math.sqrt(2.0) * G_FERMI)  # v = (√2 G_F)^(-1/2) = 246.2196 GeV
ALPHA_EM_0 = 1.0 / 137.035999084  # α(0), CODATA; a→γγ and direct detection
ALPHA_EM_MZ = 1.0 / 127.951  # α̂(m_Z) MS-bar, PDG 2023 (V); used in B→Kνν̄
SIN2_THETA_W_MSBAR = 0.23121  # sin²θ̂_W(m_Z) MS-bar, PDG 2023 (V)
SIN2_THETA_W_ONSHELL = 1.0 - M_W**2 / M_Z**2  # 0.22321, on-shell; dark-photon couplings
ALPHA_S_MZ = 0.1180  # (M) PDG 2024
X_T = 1.462  # Brod–Gorbahn–Stamou 2105.02868 (V)
V_TS = 0.04110  # (M) PDG 2024 global fit
V_TB = 0.999118  # (M)
VTB_VTS = V_TB * V_TS  # |V_tb V_ts*| = 0.04106

# --- Cosmology — docs/physics/constants.md §1.3 -------------------------------------------------------------
M_PLANCK_REDUCED = 2.435e18  # (8πG)^(-1/2) [GeV]; H of [C] (26)
M_PLANCK = 1.22089e19  # non-reduced [GeV]; H = 1.66 √g* T²/m_Pl form of [D]/DRAKE
T_CMB_K = 2.7255
S0_GEV3 = 2891.2 * GEV3_PER_CM3  # s₀ = 2891.2 cm⁻³ = 2.2214e-38 GeV³
RHO_CRIT_OVER_H2_GEV4 = 8.096e-47  # ρ_c/h² = 1.05371e-5 GeV cm⁻³
# s₀/(ρ_c/h²) [GeV⁻¹]: Ωh² = 2.7439e8 (m/GeV) Y_∞  (docs/physics/constants.md §1.3, [C] (30))
OMEGA_H2_PER_MY = 2.7439e8
OMEGA_DM_H2 = 0.120  # Planck 2018 TT,TE,EE+lowE+lensing (V)
OMEGA_DM_H2_SIGMA = 0.001

# --- Belle II detector geometry defaults -------------------------------------------------------
# [m] "typical detector size" of [C] (11): value stripped; assumption (docs/physics/alp.md §2.5)
DETECTOR_LENGTH_C = 3.0
DETECTOR_RADIUS_D = 1.5  # [m] [D] (5.2): outer radius of the calorimeter

# --- Numerical constants -----------------------------------------------------------------------
ZETA3 = 1.2020569031595942
EULER_GAMMA = 0.5772156649015329
