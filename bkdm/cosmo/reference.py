"""Slow, independent reference solutions of the Boltzmann systems with scipy (tests and benchmarks).

Everything here is numpy/scipy only and shares no numerical code with the JAX engine: Bessel
functions from ``scipy.special.kve``, g_*(T) re-implemented from the
docs/physics/alp-freeze-in.md §3.8 table, thermal averages by adaptive ``scipy.integrate.quad`` (tabulated
once per point on a dense log grid and spline-interpolated in the right-hand side),
and ``scipy.integrate.solve_ivp(method="Radau")`` with an analytic Jacobian on the equations written
in plain yields.
"""

import math

import numpy as np
from scipy.integrate import quad, solve_ivp
from scipy.interpolate import CubicSpline
from scipy.special import kve

M_PLANCK_REDUCED = 2.435e18
OMEGA_H2_PER_MY = 2.7439e8

# docs/physics/alp-freeze-in.md §3.8, Wantz–Shellard: (a0, a_i, b_i, c_i) for g_* and g_*s
_WS = {
    "rho": (1.21, [0.572, 0.330, 0.579, 0.138, 0.108], [-8.77, -2.95, -1.80, -0.162, 3.76],
            [0.682, 1.01, 0.165, 0.934, 0.869]),
    "s": (1.36, [0.498, 0.327, 0.579, 0.140, 0.109], [-8.74, -2.89, -1.79, -0.102, 3.82],
          [0.693, 1.01, 0.155, 0.963, 0.907]),
}


def g_eff(T, kind):
    a0, a, b, c = _WS[kind]
    t = np.log(T)
    return np.exp(a0 + sum(ai * (1 + np.tanh((t - bi) / ci)) for ai, bi, ci in zip(a, b, c, strict=True)))


def dlng_dlnT(T, kind="s"):
    _, a, b, c = _WS[kind]
    t = np.log(T)
    return sum(ai / ci / np.cosh((t - bi) / ci) ** 2 for ai, bi, ci in zip(a, b, c, strict=True))


def entropy(T):
    return 2 * np.pi**2 / 45 * g_eff(T, "s") * T**3


def hubble(T):
    return np.sqrt(np.pi**2 * g_eff(T, "rho") / 90) * T**2 / M_PLANCK_REDUCED


def hubble_tilde(T):
    return hubble(T) / (1 + dlng_dlnT(T) / 3)


def yield_eq(m, g, T):
    x = m / T
    return 45 * g / (4 * np.pi**4 * g_eff(T, "s")) * x**2 * kve(2, x) * np.exp(-x)


def sigma_v_gondolo_gelmini(sigma_v_lab, m, T, eps_res=None):
    """GG average (docs/physics/resonant-alp.md §5.5): 2x/K₂(x)² ∫dε σv_lab(ε) √ε (1+2ε) K₁(2x√(1+ε)),
    adaptive quad."""
    x = m / T

    def f(e):
        arg = 2 * x * np.sqrt(1 + e)
        return sigma_v_lab(e) * np.sqrt(e) * (1 + 2 * e) * kve(1, arg) * np.exp(-(arg - 2 * x))

    upper = 60.0 / x + 60.0**2 / (4 * x * x)
    pts = [] if eps_res is None or not (0 < eps_res < upper) else [eps_res]
    val = quad(f, 0.0, upper, limit=400, epsabs=0, epsrel=1e-11, points=pts or None)[0]
    return 2 * x / kve(2, x) ** 2 * val


def freeze_out(sigma_v_of_T, m, g, x_start=5.0, x_end=None, rtol=1e-10, grid=600):
    """NBE reference: dY/dx = −λ(Y² − Y_eq²), λ = s⟨σv⟩/(xH̃), Radau in Y from Y_eq(x_start).

    ⟨σv⟩(T) is tabulated on ``grid`` log-spaced x points and spline-interpolated in ln-ln; after
    x_end (default: where Y_eq drops 60 e-folds below its value at x_start + 20) the exact tail
    1/Y_∞ = 1/Y(x_end) + ∫λ dx is added by quad. Returns (Ωh², Y_∞).
    """
    if x_end is None:
        x_end = x_start + 80.0
    xs = np.geomspace(x_start, x_end * 1e6, grid)
    log_sv = CubicSpline(np.log(xs), np.log([sigma_v_of_T(m / x) for x in xs]))

    def lam(x):
        T = m / x
        return entropy(T) * np.exp(log_sv(np.log(x))) / (x * hubble_tilde(T))

    def rhs(x, y):
        return [-lam(x) * (y[0] ** 2 - yield_eq(m, g, m / x) ** 2)]

    def jac(x, y):
        return [[-2 * lam(x) * y[0]]]

    sol = solve_ivp(rhs, [x_start, x_end], [yield_eq(m, g, m / x_start)], method="Radau", rtol=rtol,
                    atol=1e-40, jac=jac)
    y_end = sol.y[0, -1]
    tail = quad(lambda v: lam(x_end * math.exp(v)) * x_end * math.exp(v), 0, math.log(1e6), limit=500,
                epsrel=1e-11)[0]
    y_inf = 1 / (1 / y_end + tail)
    return OMEGA_H2_PER_MY * m * y_inf, y_inf


def _log_spline(f, lo, hi, n=400):
    """Cubic spline of ln f(x) in ln x on [lo, hi] (f evaluated on a numpy array)."""
    xs = np.geomspace(lo, hi, n)
    return CubicSpline(np.log(xs), np.log(np.asarray(f(xs), dtype=float)))


def freeze_in(log_production_rate, m_a, g_a, m_x, g_x, width_sm, width_dm, t_start, x_end,
              window=None, rtol=1e-10, equilibrium_start=False, x_eval=None):
    """[C] (27)–(28) reference: Radau in (Y_a, Y_χ) and ln x from Y = 0 at T = t_start.

    ``log_production_rate(T_array)`` → ln Γ_prod(T) (tabulated on 400 points, spline in ln x);
    ``window(T_array)`` multiplies it. ⟨Γ⟩ = Γ K₁/K₂ with scipy ``kve``. Returns (Ωh², Y_χ), and
    with ``x_eval`` (array of x) also the (2, len(x_eval)) array of (Y_a, Y_χ) there (Radau's
    dense output). ``equilibrium_start``: Y_a = Y_a^eq and Y_χ = Y_χ^eq at t_start instead (for couplings
    so large that both are in equilibrium there; Radau cannot take the first step from Y = 0 when the
    rates exceed H by ~10¹⁰).
    """
    window = window or (lambda T: np.ones_like(T))
    x0 = m_a / t_start
    log_prod = _log_spline(lambda x: np.exp(log_production_rate(m_a / x)), x0, x_end)

    def avg(width, x):
        return width * kve(1, x) / kve(2, x)

    def rhs(u, y):
        x = math.exp(u)
        T = m_a / x
        h = hubble_tilde(T)
        ya_eq = yield_eq(m_a, g_a, T)
        q2 = (y[1] / yield_eq(m_x, g_x, T)) ** 2
        prod = math.exp(log_prod(u)) * float(window(np.array(T)))
        inverse = y[0] - ya_eq * q2
        return [((prod + avg(width_sm, x)) * (ya_eq - y[0]) - avg(width_dm, x) * inverse) / h,
                2 * avg(width_dm, x) * inverse / h]

    y0 = [yield_eq(m_a, g_a, t_start), yield_eq(m_x, g_x, t_start)] if equilibrium_start else [0.0, 0.0]
    sol = solve_ivp(rhs, [math.log(x0), math.log(x_end)], y0, method="Radau", rtol=rtol,
                    atol=[1e-30, 1e-40], dense_output=x_eval is not None)
    if not sol.success:
        raise RuntimeError(f"reference freeze-in solve failed: {sol.message}")
    y_dm = sol.y[1, -1]
    if x_eval is not None:
        return OMEGA_H2_PER_MY * m_x * y_dm, y_dm, sol.sol(np.log(np.asarray(x_eval, dtype=float)))
    return OMEGA_H2_PER_MY * m_x * y_dm, y_dm


def kinetic_decoupling(sigma_v, sigma_v_2, gamma, m, g, x_start, x_final, rtol=1e-10):
    """[D] (4.8)–(4.9) reference (NR Fokker–Planck elastic term), Radau in (ln Y, ln y) and ln x.

    ``sigma_v(T_array)``, ``sigma_v_2(T_array)``, ``gamma(T_array)`` are tabulated on 400 log points
    (T from 10 m/x_start down to m x_start/(10 x_final²)) and spline-interpolated; w(T_χ) from
    ⟨p⁴/E³⟩ by quad, tabulated likewise. Starts in equilibrium (Y = Y_eq, T_χ = T) at x_start.
    Returns (Ωh², Y(x_final), T_χ/T at x_final).
    """
    lo, hi = x_start / 10, 10 * x_final**2 / x_start
    l_sv = _log_spline(lambda x: sigma_v(m / x), lo, hi)
    l_sv2 = _log_spline(lambda x: sigma_v_2(m / x), lo, hi)
    l_gam = _log_spline(lambda x: gamma(m / x), lo, hi)

    def w_of(x):
        # p = √(2mT) t puts the Maxwell–Boltzmann peak at t ~ 1 for every temperature
        T = m / x
        k = math.sqrt(2 * m * T)

        def kin(t):  # E − m without cancellation
            p = k * t
            return p * p / (math.sqrt(p * p + m * m) + m)

        num = quad(lambda t: (k * t) ** 6 / (kin(t) + m) ** 3 * math.exp(-kin(t) / T), 0, np.inf)[0]
        den = quad(lambda t: (k * t) ** 2 * math.exp(-kin(t) / T), 0, np.inf)[0]
        return 1 - num / den / (6 * T)

    xs = np.geomspace(lo, hi, 200)
    one_minus_w = CubicSpline(np.log(xs), np.log([1 - w_of(x) for x in xs]))

    def y_eq(T):
        return m * T / entropy(T) ** (2 / 3)

    u_lo, u_hi = math.log(lo), math.log(hi)

    def rates(u, z, slopes=False):
        """The RHS's ingredients at (u, z) (with ``slopes``, also those of the Jacobian); u_χ clamped to
        the tables' range, as bkdm's tables are (a trial Newton iterate of Radau may leave it: a spline
        extrapolated there overflows)."""
        x = math.exp(u)
        T = m / x
        Y, y = math.exp(z[0]), math.exp(z[1])
        s = entropy(T)
        ht = hubble_tilde(T)
        u_chi = math.log(m / (s ** (2 / 3) * y / m))
        inside = u_lo <= u_chi <= u_hi
        u_chi = min(max(u_chi, u_lo), u_hi)
        out = dict(
            a=s / ht, Y=Y, y_ratio=y_eq(T) / y, Yeq2_over_Y=yield_eq(m, g, T) ** 2 / Y,
            sv_t=math.exp(l_sv(u)), sv2_t=math.exp(l_sv2(u)), gam=math.exp(l_gam(u)) / ht,
            sv_c=math.exp(l_sv(u_chi)), sv2_c=math.exp(l_sv2(u_chi)),
            hub=2 * math.exp(one_minus_w(u_chi)) * hubble(T) / ht)
        if slopes:  # d/dz1 of the u_χ-dependent factors (∂u_χ/∂ ln y = −1; 0 where clamped)
            out.update(dsv_c=-float(l_sv(u_chi, 1)) * inside, dsv2_c=-float(l_sv2(u_chi, 1)) * inside,
                       dhub=-float(one_minus_w(u_chi, 1)) * inside)
        return out

    def rhs(u, z):
        r = rates(u, z)
        a, Y, q = r["a"], r["Y"], r["Yeq2_over_Y"]
        dlnY = a * (q * r["sv_t"] - Y * r["sv_c"])
        dlny = (r["gam"] * (r["y_ratio"] - 1) + a * Y * (r["sv_c"] - r["sv2_c"])
                + a * q * (r["y_ratio"] * r["sv2_t"] - r["sv_t"]) + r["hub"])
        return [dlnY, dlny]

    def jac(u, z):  # analytic: Y, y_eq/y and the u_χ-dependent rates are the only z-dependences
        r = rates(u, z, slopes=True)
        a, Y, q, yr = r["a"], r["Y"], r["Yeq2_over_Y"], r["y_ratio"]
        sv_c, sv2_c = r["sv_c"], r["sv2_c"]
        return [[-a * (q * r["sv_t"] + Y * sv_c), -a * Y * sv_c * r["dsv_c"]],
                [a * Y * (sv_c - sv2_c) - a * q * (yr * r["sv2_t"] - r["sv_t"]),
                 -r["gam"] * yr + a * Y * (sv_c * r["dsv_c"] - sv2_c * r["dsv2_c"])
                 - a * q * yr * r["sv2_t"] + r["hub"] * r["dhub"]]]

    T0 = m / x_start
    z0 = [math.log(yield_eq(m, g, T0)), math.log(y_eq(T0))]
    sol = solve_ivp(rhs, [math.log(x_start), math.log(x_final)], z0, method="Radau", rtol=rtol, atol=1e-12,
                    jac=jac)
    Y = math.exp(sol.y[0, -1])
    T1 = m / x_final
    return OMEGA_H2_PER_MY * m * Y, Y, math.exp(sol.y[1, -1]) / y_eq(T1)
