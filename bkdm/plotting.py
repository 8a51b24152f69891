"""Figures of bkdm results (matplotlib; every function writes ``<path>.png`` and ``<path>.pdf``).

Each plotting function takes plain data (arrays, dicts, result objects) and an output path, saves
the figure as PNG (Agg renderer) and PDF next to each other (whatever suffix ``path`` has) and
returns the ``matplotlib.figure.Figure``. Figures are built with :class:`~matplotlib.figure.Figure`
directly, without pyplot: no global backend switch, no GUI, nothing to close.

* :func:`belle2_bin_counts` / :func:`plot_belle2_bins` — Belle II signal-region bins: observed
  events vs SM and SM + new-physics expectations, with a residual panel.
* :func:`plot_corner` — a small corner plot of posterior samples.
* :func:`plot_coupling_plane` — Ωh² = 0.12 contour and Belle II 1σ/2σ regions in a plane of two
  parameters.
* :func:`plot_yield_evolution` / :func:`relic_curves` — Y(x) (and y/y_eq) of a relic-density solve.
* :func:`plot_profiles` — 1-D profile-likelihood curves Δχ²(θ).
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

OMEGA_DM_H2 = 0.120  # Planck 2018 (SPEC §1.3)
DELTA_CHI2_2D = (2.30, 6.18)  # 1σ, 2σ for two parameters (68.27 %, 95.45 % CL)
DELTA_CHI2_1D = (1.0, 4.0)  # 1σ, 2σ for one parameter

# Belle II signal channels shown in the bin plot: (label, channel name in the pyhf model)
BELLE2_PANELS = {
    "ITA (12 bins: 9 signal region + 3 control, Y(4S))": ("A__", "B__"),
    "HTA (6 bins)": ("sgn1_had",),
}


def base_path(path):
    """``path`` without a .png/.pdf suffix: the figures go to ``<base>.png`` and ``<base>.pdf``."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in (".png", ".pdf") else path


def save(fig, path):
    """Write ``fig`` as ``<path>.png`` and ``<path>.pdf`` (parent folders created); returns the PNG path."""
    base = base_path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(base.with_suffix(".png"), dpi=130)
    fig.savefig(base.with_suffix(".pdf"))
    return base.with_suffix(".png")


def _figure(width, height):
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


# ------------------------------------------------------------------------------ (a) Belle II bins
def belle2_bin_counts(belle2, np_nuisances, b_np_bins, sm_nuisances, band_draws=None):
    """Observed and expected events in the Belle II signal channels.

    ``belle2``: a :class:`bkdm.likelihoods.belle2.Belle2Likelihood`; ``np_nuisances``,
    ``sm_nuisances``: its full nuisance vectors (POI included) of the SM + NP and SM fits;
    ``b_np_bins``: the 100 new-physics BRs per generator q² bin at the best fit (SM: zeros);
    ``band_draws``: optional iterable of (nuisance vector, b_np_bins) posterior draws for a 68 %
    posterior-predictive band. Returns {panel label: {"observed", "sm", "np"[, "np_low", "np_high"],
    "channel_sizes"}} (arrays of events per reconstructed bin; bins per pyhf channel).
    """
    model = belle2.model
    n_main = model.config.nmaindata
    observed = np.asarray(belle2.data[:n_main])

    def expected(nuisances, b_np):
        pars = np.asarray(belle2.full_parameters(nuisances, b_np))
        return np.asarray(model.expected_data(pars, include_auxdata=False))

    sm = expected(sm_nuisances, np.zeros(np.shape(b_np_bins)))
    best = expected(np_nuisances, b_np_bins)
    draws = None if band_draws is None else np.array([expected(n, b) for n, b in band_draws])
    out = {}
    for label, prefixes in BELLE2_PANELS.items():
        slices = [model.config.channel_slices[ch] for ch in model.config.channels
                  if ch.startswith(prefixes)]
        if not slices:
            continue
        index = np.concatenate([np.arange(s.start, s.stop) for s in slices])
        panel = {"observed": observed[index], "sm": sm[index], "np": best[index],
                 "channel_sizes": np.array([s.stop - s.start for s in slices])}
        if draws is not None and len(draws):
            panel["np_low"], panel["np_high"] = np.percentile(draws[:, index], [16.0, 84.0], axis=0)
        out[label] = panel
    return out


def plot_belle2_bins(bins, path, title="Belle II B⁺ → K⁺ + invisible (362 fb⁻¹)"):
    """Observed events (√N errors) vs SM and SM + NP expectations per reconstructed bin, one column
    per panel of ``bins`` (output of :func:`belle2_bin_counts`), residuals (obs − exp)/√exp below."""
    fig = _figure(5.0 * len(bins), 5.2)
    grid = fig.add_gridspec(2, len(bins), height_ratios=(3, 1))
    for col, (label, d) in enumerate(bins.items()):
        top = fig.add_subplot(grid[0, col])
        bottom = fig.add_subplot(grid[1, col], sharex=top)
        n = len(d["observed"])
        edges = np.arange(n + 1) + 0.5
        centres = np.arange(1, n + 1)
        if "np_low" in d:
            top.fill_between(edges, np.append(d["np_low"], d["np_low"][-1]),
                             np.append(d["np_high"], d["np_high"][-1]), step="post", color="C1",
                             alpha=0.3, label="SM + NP, 68 % posterior")
        top.stairs(d["sm"], edges, color="C0", lw=1.6, label="SM (fit)")
        top.stairs(d["np"], edges, color="C1", lw=1.6, ls="--", label="SM + NP (best fit)")
        top.errorbar(centres, d["observed"], yerr=np.sqrt(np.maximum(d["observed"], 1.0)), fmt="ko",
                     ms=4, label="data")
        top.set_ylabel("events / bin")
        top.set_title(label, fontsize=10)
        top.legend(fontsize=8)
        for key, style in (("sm", dict(color="C0", marker="s", mfc="none", label="SM")),
                           ("np", dict(color="C1", marker="o", label="SM + NP"))):
            resid = (d["observed"] - d[key]) / np.sqrt(np.maximum(d[key], 1e-9))
            bottom.plot(centres, resid, ls="none", **style)
        for boundary in np.cumsum(d.get("channel_sizes", [n]))[:-1]:
            for ax in (top, bottom):
                ax.axvline(boundary + 0.5, color="grey", ls=":", lw=1)
        bottom.axhline(0.0, color="grey", lw=0.8)
        bottom.legend(fontsize=7, ncol=2)
        bottom.set_ylabel("(obs − exp)/√exp")
        bottom.set_xlabel("reconstructed bin")
        bottom.set_xticks(centres)
    fig.suptitle(title, fontsize=11)
    save(fig, path)
    return fig


# ------------------------------------------------------------------------------ (b) corner plot
def plot_corner(samples, path, truths=None, log_scale=(), bins=30):
    """Corner plot: 1-D histograms on the diagonal, 2-D histograms below it.

    ``samples``: {name: 1-D array of draws}; ``truths``: optional {name: value} (e.g. the best fit),
    drawn as lines; ``log_scale``: names shown as log10(value).
    """
    names = list(samples)
    data = {k: np.log10(np.asarray(v, dtype=float)) if k in log_scale else np.asarray(v, dtype=float)
            for k, v in samples.items()}
    marks = {k: (np.log10(v) if k in log_scale else v) for k, v in (truths or {}).items()}
    labels = {k: f"log10 {k}" if k in log_scale else k for k in names}
    n = len(names)
    fig = _figure(2.2 * n + 0.6, 2.2 * n + 0.4)
    axes = fig.subplots(n, n, squeeze=False)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(data[xj], bins=bins, histtype="step", color="C0")
                ax.set_yticks([])
                if xj in marks:
                    ax.axvline(marks[xj], color="C3", lw=1)
            else:
                ax.hist2d(data[xj], data[yi], bins=bins, cmap="Blues")
                if xj in marks and yi in marks:
                    ax.plot(marks[xj], marks[yi], "x", color="C3")
                ax.set_ylabel(labels[yi] if j == 0 else "")
            ax.set_xlabel(labels[xj] if i == n - 1 else "")
            if i < n - 1:
                ax.tick_params(labelbottom=False)
            if j > 0 and i != j:
                ax.tick_params(labelleft=False)
    save(fig, path)
    return fig


# ------------------------------------------------------------------------------ (c) coupling plane
def plot_coupling_plane(x, y, omega_h2, belle2_delta_chi2, path, xlabel="", ylabel="", best=None,
                        log_x=False, log_y=False, title="", nuisances="profile", best_label="best fit"):
    """Plane of two parameters on a grid: Ωh² = 0.12 contour and the Belle II 68 %/95 % regions
    (Δχ² of the Belle II term < 2.30 / 6.18 for two parameters, Wilks).

    ``x`` (nx,), ``y`` (ny,): grid axes; ``omega_h2``, ``belle2_delta_chi2``: (ny, nx) arrays, the
    latter already relative to its reference (the profiled minimum, docs/statistics.md), NaN where
    the relic solve or the inner nuisance fit failed; ``nuisances``: "profile" or "fixed" (said in
    the legend); ``best``: optional (x, y) of the point marked ``best_label``.
    """
    fig = _figure(5.6, 4.6)
    ax = fig.add_subplot()
    xx, yy = np.meshgrid(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    chi2 = np.asarray(belle2_delta_chi2, dtype=float)
    chi2 = np.where(np.isfinite(chi2), chi2, np.nan)
    if np.any(np.isfinite(chi2)):
        ax.contourf(xx, yy, chi2, levels=[-1e-9, DELTA_CHI2_2D[0], DELTA_CHI2_2D[1]],
                    colors=["#2b8cbe", "#a6bddb"], alpha=0.8)
        ax.contour(xx, yy, chi2, levels=list(DELTA_CHI2_2D), colors=["#045a8d", "#2b8cbe"], linewidths=1)
    omega = np.asarray(omega_h2, dtype=float)
    omega = np.where(np.isfinite(omega), omega, np.nan)
    if np.nanmin(omega) < OMEGA_DM_H2 < np.nanmax(omega):
        ax.contour(xx, yy, omega, levels=[OMEGA_DM_H2], colors="C3", linewidths=2)
    if best is not None:
        ax.plot(*best, marker="*", color="gold", mec="k", ms=14, ls="none")
    how = {"profile": "ν profiled", "fixed": "ν fixed at the best fit"}.get(nuisances, nuisances)
    handles = [Patch(color="#2b8cbe", label=f"Belle II 68 % (Δχ² < 2.30, {how})"),
               Patch(color="#a6bddb", label=f"Belle II 95 % (Δχ² < 6.18, {how})")] if np.any(
        np.isfinite(chi2)) else []
    handles.append(Line2D([], [], color="C3", lw=2, label="Ωh² = 0.12"))
    if best is not None:
        handles.append(Line2D([], [], marker="*", color="gold", mec="k", ms=12, ls="none",
                              label=best_label))
    ax.legend(handles=handles, fontsize=8)
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    save(fig, path)
    return fig


# ------------------------------------------------------------------------------ (d) yield evolution
def relic_curves(result, m_dm, g_dm):
    """Curves of a relic result with history (``model.relic(p, history=N)``) for
    :func:`plot_yield_evolution`: (x, {label: Y(x)}, {label: y/y_eq} or None, x label).

    Freeze-in results (bkdm.cosmo.freeze_in) are on x = m_mediator/T, freeze-out and cBE results on
    x = m_DM/T; ``m_dm`` [GeV] and ``g_dm`` give Y_eq for freeze-out results, which do not store it.
    """
    from bkdm.cosmo import thermo

    x = np.asarray(result.x_history)
    if hasattr(result, "yield_mediator_history"):
        curves = {"Y_mediator": result.yield_mediator_history,
                  "Y_mediator^eq": result.yield_mediator_eq_history,
                  "Y_DM": result.yield_dm_history}
        return x, _arrays(curves), None, "x = m_mediator / T"
    curves = {"Y_DM": result.yield_history}
    if getattr(result, "yield_eq_history", None) is not None:
        curves["Y_DM^eq"] = result.yield_eq_history
    else:
        curves["Y_DM^eq"] = thermo.yield_eq(m_dm, g_dm, m_dm / x)
    curves["Y_DM today"] = np.full(x.shape, float(result.yield_today))  # incl. the tail beyond x_end
    ratio = None
    if getattr(result, "y_history", None) is not None:
        ratio = {"y / y_eq": np.asarray(result.y_history) / np.asarray(result.y_eq_history)}
    return x, _arrays(curves), ratio, "x = m_DM / T"


def _arrays(curves):
    return {k: np.asarray(v, dtype=float) for k, v in curves.items()}


def plot_yield_evolution(x, yields, path, ratios=None, xlabel="x = m / T", title=""):
    """Y(x) curves on log–log axes (``yields``: {label: array}); an optional lower panel shows
    dimensionless ratios such as the cBE temperature variable y/y_eq (``ratios``: {label: array})."""
    fig = _figure(5.6, 6.0 if ratios else 4.4)
    grid = fig.add_gridspec(2 if ratios else 1, 1, height_ratios=(2, 1) if ratios else (1,))
    ax = fig.add_subplot(grid[0])
    for i, (label, y) in enumerate(yields.items()):
        positive = np.where(np.asarray(y) > 0, y, np.nan)
        style = ":" if "today" in label else "--" if "eq" in label else "-"
        ax.loglog(x, positive, lw=1.8, ls=style, color=f"C{i}", label=label)
    tracked = [np.asarray(y)[np.asarray(y) > 0] for label, y in yields.items() if "eq" not in label]
    tracked = np.concatenate(tracked) if tracked else np.zeros(0)
    if tracked.size:  # equilibrium yields fall by hundreds of decades: show the evolving ones
        everything = np.concatenate([np.asarray(y)[np.asarray(y) > 0] for y in yields.values()])
        ax.set_ylim(1e-3 * tracked.min(), 10.0 * everything.max())
    ax.set_ylabel("yield Y = n / s")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    if ratios:
        low = fig.add_subplot(grid[1], sharex=ax)
        for label, r in ratios.items():
            low.semilogx(x, r, lw=1.8, label=label)
        low.axhline(1.0, color="grey", lw=0.8)
        low.set_ylabel("ratio")
        low.legend(fontsize=8)
        low.set_xlabel(xlabel)
    else:
        ax.set_xlabel(xlabel)
    save(fig, path)
    return fig


# ------------------------------------------------------------------------------ (e) profiles
def plot_profiles(profiles, path, log_scale=(), ylabel="Δχ²", intervals=None):
    """1-D profile curves Δχ²(θ), one panel per parameter, with the 1σ/2σ lines (Δχ² = 1, 4).

    ``profiles``: {name: (grid, delta_chi2)}; ``log_scale``: names plotted on a log axis;
    ``ylabel``: says what Δχ² is (e.g. "Δχ² (ν profiled)"); ``intervals``: optional {name: (lo, hi)}
    68 % intervals drawn as a bar at Δχ² = 1 (None/NaN ends: one-sided).
    """
    n = len(profiles)
    fig = _figure(4.0 * n, 3.4)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (name, (grid, chi2)) in zip(axes, profiles.items(), strict=True):
        ax.plot(np.asarray(grid, dtype=float), np.asarray(chi2, dtype=float), "o-", ms=3)
        for level in DELTA_CHI2_1D:
            ax.axhline(level, color="grey", lw=0.8, ls=":")
        lo, hi = (intervals or {}).get(name, (None, None))
        g = np.asarray(grid, dtype=float)
        lo = g.min() if lo is None or not np.isfinite(lo) else lo
        hi = g.max() if hi is None or not np.isfinite(hi) else hi
        if intervals and name in intervals:
            ax.plot([lo, hi], [1.0, 1.0], color="C3", lw=3, alpha=0.7, label="68 % interval")
            ax.legend(fontsize=7)
        finite = g[np.isfinite(g) & (g > 0)]
        wide = finite.size > 1 and finite.max() / finite.min() > 10.0  # less than a decade: linear axis
        ax.set_xscale("log" if name in log_scale and wide else "linear")
        if ax.get_xscale() == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 4))
        ax.set_xlabel(name)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0.0)
    save(fig, path)
    return fig
