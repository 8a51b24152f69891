"""Generate the Chebyshev coefficients used by bkdm.special for z > 2.

g_nu(w) = sqrt(z) e^z K_nu(z) with w = 2/z in (0, 1], expanded in Chebyshev polynomials of
t = 2w - 1.  Reference values from mpmath at 50 digits.  Run: python tools/gen_bessel_coeffs.py N
"""
import sys

import mpmath as mp

mp.mp.dps = 50
N = int(sys.argv[1]) if len(sys.argv) > 1 else 30


def g(nu, w):
    if w == 0:
        return mp.sqrt(mp.pi / 2)
    z = 2 / mp.mpf(w)
    return mp.sqrt(z) * mp.exp(z) * mp.besselk(nu, z)


def cheb_coeffs(nu, n):
    # Chebyshev interpolation at n Chebyshev-Gauss nodes (exact DCT formula)
    th = [mp.pi * (mp.mpf(j) + mp.mpf(1) / 2) / n for j in range(n)]
    ts = [mp.cos(x) for x in th]
    fs = [g(nu, (t + 1) / 2) for t in ts]
    c = []
    for m in range(n):
        s = mp.fsum(fs[j] * mp.cos(m * th[j]) for j in range(n))
        c.append(2 * s / n)
    c[0] /= 2
    return [float(x) for x in c]


for nu in (0, 1):
    c = cheb_coeffs(nu, N)
    print(f"_CHEB_K{nu}E = (")
    for x in c:
        print(f"    {x!r},")
    print(")")
