"""Generate the ALPaca reference table of ALP decay widths used by tests/test_alp_hadronic.py.

ALPaca (J. Alda et al., arXiv:2508.08354; PyPI ``alpaca-alps``, MIT licence) is an independent Python code
for ALP phenomenology; its hadronic ALP decays implement Aloni, Soreq, Williams (arXiv:1811.03474) plus
scalar/tensor-resonance exchange. It is a *test-only* reference: do not install it into bkdm's
environment. Run it in its own virtual environment:

    python3 -m venv /tmp/alpaca-venv && /tmp/alpaca-venv/bin/pip install alpaca-alps==1.2.0
    /tmp/alpaca-venv/bin/python validation/alpaca_reference.py   # ≈ 10 min on one core

Output: tests/fixtures/alpaca_widths.json — for each coupling pattern and each m_a of the grid, every
ALPaca channel width [GeV] (keys as ALPaca's ``total_decay_width``), for

* ``full``: ALPaca 1.2.0 as shipped;
* ``lo``: the same with its scalar/tensor-resonance couplings set to zero (gTf2 = CoefA = CoefB =
  CoefC = CoefD = 0) and its 3π K-factor 2.7 divided out — the leading-order chiral amplitudes of
  ASW alone (only the 3π, ηππ, η′ππ channels differ from ``full``).

Couplings are set directly at the scale μ = m_a in ALPaca's ``VA_below`` basis (axial couplings, no
running: ``integrator='no_rge'``), which is bkdm's convention (Params fields at the ALP mass):

* ``universal``: c^A_q = 1 for u, c (cuA) and d, s, b (cdA), f_a = 1.5e8 GeV ([C]'s benchmark family;
  c^V_sb plays no role in the ALP widths);
* ``gluon``: c_GG = 1 only, f_a = 1.5e8 GeV;
* ``up``: c^A_u = 1 only (u quark; isospin-violating, exercises the π⁰ mixing), f_a = 1.5e8 GeV.

The three-body widths are vegas integrals; nitn = 10, neval = 4000 (ALPaca's defaults are 10, 100)
keeps the Monte-Carlo scatter between runs below 1 % (checked by running twice; quoted in the JSON).
"""

import json
import pathlib
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")

import alpaca  # noqa: E402
from alpaca import ALPcouplings  # noqa: E402
from alpaca.decays.alp_decays import branching_ratios, hadronic_decays_def  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "alpaca_widths.json"
F_A = 1.5e8
MASSES = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.96, 1.0, 1.1, 1.2, 1.3, 1.4,
          1.45, 1.5, 1.6, 1.8, 2.0, 2.2, 2.5, 3.0, 3.5, 4.0]
PATTERNS = {
    "universal": {"cuA": 1.0, "cdA": 1.0},
    "gluon": {"cG": 1.0},
    "up": {"cuA": np.diag([1.0, 0.0])},
}
VEGAS = dict(nitn=10, neval=4000)
RESONANCE_COUPLINGS = ("gTf2", "CoefA", "CoefB", "CoefC", "CoefD")
K_FACTOR_3PI = 2.7  # ALPaca's local kfact in ampato3pi0 / ampatopicharged


def widths(pattern, m_a):
    couplings = ALPcouplings(dict(PATTERNS[pattern]), scale=m_a, basis="VA_below")
    branching_ratios._total_decay_width.cache_clear()
    w = branching_ratios.total_decay_width(m_a, couplings, F_A, integrator="no_rge", **VEGAS)
    return {k: float(np.real(v)) for k, v in w.items()}


def main():
    out = {
        "generator": "validation/alpaca_reference.py",
        "alpaca_version": alpaca.__version__,
        "units": "GeV (widths), GeV (m_a, f_a)",
        "f_a": F_A,
        "couplings": {k: {c: (np.asarray(v).tolist()) for c, v in p.items()} for k, p in PATTERNS.items()},
        "basis": "ALPaca VA_below at scale m_a, integrator no_rge",
        "vegas": VEGAS,
        "masses": MASSES,
        "notes": "full = ALPaca as shipped; lo = resonance couplings gTf2, CoefA-D set to 0 and the 3pi "
                 "K-factor 2.7 divided out (3pis, pi0pippim, pi0pi0pi0 only). Vegas scatter between runs "
                 "< 1 %.",
        "full": {},
        "lo": {},
    }
    saved = {name: getattr(hadronic_decays_def, name) for name in RESONANCE_COUPLINGS}
    for variant in ("full", "lo"):
        for name in RESONANCE_COUPLINGS:
            setattr(hadronic_decays_def, name, 0.0 if variant == "lo" else saved[name])
        for pattern in PATTERNS:
            rows = []
            for m_a in MASSES:
                t0 = time.time()
                w = widths(pattern, m_a)
                if variant == "lo":
                    for key in ("3pis", "pi0pippim", "pi0pi0pi0"):
                        w[key] /= K_FACTOR_3PI
                rows.append(w)
                print(f"{variant:4s} {pattern:9s} m_a = {m_a:5.2f}  DW_SM = {w['DW_SM']:.3e}  "
                      f"({time.time() - t0:.1f} s)", flush=True)
            out[variant][pattern] = {key: [r[key] for r in rows] for key in rows[0]}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
