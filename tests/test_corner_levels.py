"""The corner plot's 2-D credible regions: density thresholds against the analytic Gaussian."""

import numpy as np
import pytest

from bkdm import plotting


@pytest.mark.parametrize("k", [1, 2])
def test_density_level_of_a_gaussian_is_the_k_sigma_ellipse(k):
    # a 2-D standard normal on a fine grid: the region holding 1 − exp(−k²/2) of the mass is the disc
    # r < k, so its density threshold is φ(r = k) = exp(−k²/2)/(2π) × cell area (grid step 0.01:
    # discretisation error of the threshold ~1e-3 relative; 0.5 % asked)
    step = 0.01
    grid = np.arange(-6.0, 6.0, step) + step / 2
    x, y = np.meshgrid(grid, grid, indexing="ij")
    cell = np.exp(-0.5 * (x**2 + y**2)) / (2 * np.pi) * step**2
    (level,) = plotting._density_levels(cell, [plotting.CORNER_LEVELS_2D[k - 1]])
    assert level == pytest.approx(np.exp(-0.5 * k**2) / (2 * np.pi) * step**2, rel=5e-3)


def test_corner_plot_writes_png_and_pdf(tmp_path):
    rng = np.random.default_rng(0)
    # a median near 0 (−1.5e-3 printed as ×10^k: once a mathtext "double superscript") and a log-scale one
    draws = {"m_x": rng.normal(-1.5e-3, 0.9, 2000), "delta": 10 ** rng.normal(-3, 0.3, 2000)}
    plotting.plot_corner(draws, tmp_path / "corner", truths={"m_x": 2.1, "delta": 1e-3}, log_scale={"delta"},
                         labels={"m_x": r"$m_X$ [GeV]", "delta": r"$\delta$"})
    assert (tmp_path / "corner.png").stat().st_size > 0 and (tmp_path / "corner.pdf").stat().st_size > 0
