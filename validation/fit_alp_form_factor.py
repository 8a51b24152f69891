"""Fit the smooth data-driven ALP hadronic form factor F(m_a) shipped with bkdm.

Input: ``bkdm/data/alp_hadronic/aloni2018_F_digitised.csv`` — F(m_a) of Aloni, Soreq, Williams,
arXiv:1811.03474 (Fig. 2, the function of their eq. (17)), digitised by the ALPaca authors (ALPaca 1.2.0,
``alpaca/chiPT/ffunction_Aloni.csv``, MIT licence). The digitisation is noisy (steps of ±1.5 %).

Output: ``bkdm/data/alp_hadronic/form_factor_hermite.json`` — a C¹ cubic Hermite spline (values and
slopes at knots 1.45, 1.50, 1.60, …, 2.00 GeV) used by :func:`bkdm.models.alp_hadronic.form_factor`:

* F = 1 for m_a ≤ 1.45 GeV (chiral regime; the data are 1 within the digitisation noise up to 1.45 GeV),
  imposed as F(1.45) = 1, F'(1.45) = 0;
* F = F(2.00) (2.00 GeV/m_a)⁴ for m_a ≥ 2.00 GeV (the m_a⁻⁴ fall-off used above 2 GeV by ALPaca;
  the data from 2.00 to 2.09 GeV follow it within 2 %), imposed as F'(2.00) = −2 F(2.00)/GeV;
* in between, the remaining 6 values and 5 slopes are a linear least-squares fit to all 304 points;
  the result is checked to fall monotonically (dense grid).

Run with any Python that has numpy:  ``python validation/fit_alp_form_factor.py``. It prints the fit
residuals (rms and largest) and rewrites the JSON.
"""

import csv
import json
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "bkdm" / "data" / "alp_hadronic"
KNOTS = np.round(np.concatenate([[1.45], np.arange(1.50, 2.0001, 0.10)]), 2)
TAIL_POWER = 4.0


def hermite_basis(x, x0, x1):
    """Cubic Hermite basis (h00, h10, h01, h11) on [x0, x1] at x (slopes in units of 1/GeV)."""
    h = x1 - x0
    t = (x - x0) / h
    return (2 * t**3 - 3 * t**2 + 1, (t**3 - 2 * t**2 + t) * h, -2 * t**3 + 3 * t**2, (t**3 - t**2) * h)


def design_row(m):
    """Row of the linear map (v1..v6, d1..d5) → F(m), plus the constant part from v0 = 1, d0 = 0."""
    n = len(KNOTS)
    row = np.zeros(2 * n - 3)  # v_1..v_{n-1}, d_1..d_{n-2}; d_{n-1} = −p v_{n-1}/x_{n-1}
    iv = lambda i: i - 1
    idv = lambda i: (n - 1) + (i - 1)
    const = 0.0
    if m <= KNOTS[0]:
        return row, 1.0
    if m >= KNOTS[-1]:
        row[iv(n - 1)] = (KNOTS[-1] / m) ** TAIL_POWER
        return row, 0.0
    k = int(np.searchsorted(KNOTS, m) - 1)
    h00, h10, h01, h11 = hermite_basis(m, KNOTS[k], KNOTS[k + 1])
    for idx, coef_v, coef_d in ((k, h00, h10), (k + 1, h01, h11)):
        if idx == 0:
            const += coef_v * 1.0  # v0 = 1, d0 = 0
        else:
            row[iv(idx)] += coef_v
            if idx == n - 1:
                row[iv(idx)] += coef_d * (-TAIL_POWER / KNOTS[-1])
            else:
                row[idv(idx)] += coef_d
    return row, const


def main():
    with open(DATA / "aloni2018_F_digitised.csv") as f:
        rows = [(float(a), float(b)) for a, b in list(csv.reader(f))[1:]]
    m, y = np.array(rows).T
    design = np.array([design_row(x)[0] for x in m])
    const = np.array([design_row(x)[1] for x in m])
    sol, *_ = np.linalg.lstsq(design, y - const, rcond=None)
    n = len(KNOTS)
    values = np.concatenate([[1.0], sol[: n - 1]])
    slopes = np.concatenate([[0.0], sol[n - 1:], [-TAIL_POWER * sol[n - 2] / KNOTS[-1]]])
    fit = design @ sol + const
    res = fit - y
    print(f"{len(m)} points, rms residual {np.sqrt(np.mean(res**2)):.4f}, largest {np.max(np.abs(res)):.4f}"
          f" at m_a = {m[np.argmax(np.abs(res))]:.3f} GeV")
    print("knot  value  slope[1/GeV]")
    for x, v, d in zip(KNOTS, values, slopes, strict=True):
        print(f"{x:.2f}  {v:.5f}  {d:+.5f}")
    dense = np.linspace(1.3, 2.2, 2001)
    curve = np.array([design_row(x)[0] @ sol + design_row(x)[1] for x in dense])
    assert np.all(np.diff(curve) <= 1e-15), "fit is not monotonically falling"
    out = {
        "description": "C1 cubic Hermite spline of the data-driven ALP hadronic form factor F(m_a) of "
                       "Aloni, Soreq, Williams arXiv:1811.03474 (Fig. 2), least-squares fit to "
                       "aloni2018_F_digitised.csv by validation/fit_alp_form_factor.py. F = 1 below the "
                       "first knot, F = F(last) (last/m_a)^tail_power above the last knot.",
        "units": {"knots": "GeV", "values": "1", "slopes": "1/GeV"},
        "knots": [round(float(x), 2) for x in KNOTS],
        "values": [round(float(v), 6) for v in values],
        "slopes": [round(float(d), 6) for d in slopes],
        "tail_power": TAIL_POWER,
        "fit_rms_residual": round(float(np.sqrt(np.mean(res**2))), 5),
        "fit_max_residual": round(float(np.max(np.abs(res))), 5),
    }
    (DATA / "form_factor_hermite.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
