"""Figures of bkdm results (matplotlib; every function writes ``<path>.png`` and ``<path>.pdf``).

Each plotting function takes plain data (arrays, dicts, result objects) and an output path, saves
the figure as PNG (Agg renderer) and vector PDF next to each other (whatever suffix ``path`` has) and
returns the ``matplotlib.figure.Figure``. Figures are built with :class:`~matplotlib.figure.Figure`
directly, without pyplot: no global backend switch, no GUI, nothing to close. Labels are matplotlib
mathtext (LaTeX syntax, no TeX installation needed) with units: :func:`parameter_label`.

* :func:`belle2_bin_counts` / :func:`plot_belle2_bins` — Belle II analysis bins with their q²_rec
  and η definitions: observed events, the fitted background, SM signal and new-physics signal as
  stacked components, the background-subtracted excess, and pulls of the SM + NP and SM-only fits.
* :func:`belle2_spectrum` / :func:`plot_spectrum` — dB/dq² of B⁺ → K⁺ + invisible: the SM
  spectrum and the new-physics line on the Belle II generator binning (with a posterior band).
* :func:`plot_corner` — a small corner plot of posterior samples.
* :func:`plot_trace` / :func:`plot_rank` — ArviZ's trace and rank plots of a posterior's chains
  (convergence diagnostics: chains that disagree show as separate traces / non-uniform ranks).
* :func:`plot_coupling_plane` — Ωh² = 0.12 contour and Belle II 1σ/2σ regions in a plane of two
  parameters.
* :func:`plot_yield_evolution` / :func:`relic_curves` — Y(x) (and y/y_eq) of a relic-density solve.
* :func:`plot_profiles` — 1-D profile-likelihood curves Δχ²(θ).
"""

import functools
import re
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

OMEGA_DM_H2 = 0.120  # Planck 2018 (docs/physics/constants.md §1.3)
DELTA_CHI2_2D = (2.30, 6.18)  # 1σ, 2σ for two parameters (68.27 %, 95.45 % CL)
DELTA_CHI2_1D = (1.0, 4.0)  # 1σ, 2σ for one parameter

# Belle II signal channels shown in the bin plot: (label, channel-name prefixes in the pyhf model)
BELLE2_PANELS = {
    "ITA": ("A__", "B__"),
    "HTA": ("sgn1_had",),
}
BELLE2_TITLES = {"ITA": r"ITA, on-resonance ($\eta(\mathrm{BDT_2}) > 0.92$)",
                 "HTA": r"HTA ($\eta(\mathrm{BDT_h})$ bins of equal SM signal)"}
LUMINOSITY_LABEL = r"Belle II, 362 fb$^{-1}$"
# rcParams of the figures made here (ticks on all sides, inward; sizes for a 2-column paper figure)
STYLE = {"font.size": 9, "axes.labelsize": 10, "axes.titlesize": 10, "legend.fontsize": 8,
         "legend.frameon": False, "xtick.direction": "in", "ytick.direction": "in", "xtick.top": True,
         "ytick.right": True, "xtick.minor.visible": True, "ytick.minor.visible": True,
         "axes.formatter.use_mathtext": True, "axes.formatter.limits": (-3, 4)}
COLOURS = {"background": "#c9c9c9", "signal_sm": "#4c78a8", "signal_np": "#f58518", "sm_fit": "#2b2b2b",
           "data": "black", "band": "#f58518"}


def _styled(function):
    """Build the figure of ``function`` under :data:`STYLE`."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)
    return wrapper


def unit_label(unit):
    """A unit string of ``PARAMETERS`` (``"GeV^-1"``) as mathtext (``GeV$^{-1}$``)."""
    return re.sub(r"\^(-?\d+)", r"$^{\1}$", unit) if unit else ""


def parameter_label(name, unit="", symbol=None, log=False):
    """Axis label of a parameter: ``$symbol$ [unit]`` (``symbol``: mathtext without $, e.g. from a
    model's ``SYMBOLS``; default the name with its first ``_`` as a subscript), ``log10`` prefixed."""
    if symbol is None:
        head, sep, tail = name.partition("_")
        symbol = rf"{head}_{{\mathrm{{{tail}}}}}" if sep else name
    text = rf"$\log_{{10}}\,{symbol}$" if log else f"${symbol}$"
    return f"{text} [{unit_label(unit)}]" if unit else text


def model_parameter_label(model, name, log=False):
    """:func:`parameter_label` of ``model``'s parameter ``name`` (unit from ``PARAMETERS``, symbol from
    the optional ``SYMBOLS``)."""
    info = getattr(model, "PARAMETERS", {}).get(name)
    symbol = getattr(model, "SYMBOLS", {}).get(name)
    return parameter_label(name, info.unit if info is not None else "", symbol, log)


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
    """Observed events and fitted expectations in the Belle II signal channels, bin by bin.

    ``belle2``: a :class:`bkdm.likelihoods.belle2.Belle2Likelihood`; ``np_nuisances``,
    ``sm_nuisances``: its full nuisance vectors (POI μ included, 1 = SM signal) of the SM + NP and
    SM-only fits; ``b_np_bins``: the 100 new-physics BRs per generator q² bin at the best fit;
    ``band_draws``: optional iterable of (nuisance vector, b_np_bins) posterior draws for a 68 %
    posterior-predictive band of the total. Returns {panel ("ITA", "HTA"): dict of arrays per bin}:
    ``observed``; the SM + NP fit's stacked components ``background`` (μ = 0, B_NP = 0),
    ``signal_sm`` (the SM B⁺ → K⁺νν̄ signal) and ``signal_np`` (the new physics) and their sum
    ``total``; ``sm_fit`` (total of the SM-only fit); ``total_low``/``total_high`` (band);
    ``q2_low``/``q2_high`` [GeV²] and ``eta_low``/``eta_high`` (bin definitions, NaN where unknown:
    :func:`bkdm.likelihoods.belle2.analysis_bins`); ``channel_sizes``. ITA bins are ordered by η,
    then q²_rec.
    """
    from bkdm.likelihoods.belle2 import POI, analysis_bins

    model = belle2.model
    n_main = model.config.nmaindata
    observed = np.asarray(belle2.data[:n_main])
    zeros = np.zeros(np.shape(b_np_bins))
    poi = list(belle2.parameter_names).index(POI)

    def expected(nuisances, b_np, mu=None):
        nuisances = np.array(nuisances, dtype=float)
        if mu is not None:
            nuisances[poi] = mu
        pars = np.asarray(belle2.full_parameters(nuisances, b_np))
        return np.asarray(model.expected_data(pars, include_auxdata=False))

    total = expected(np_nuisances, b_np_bins)
    without_np = expected(np_nuisances, zeros)
    background = expected(np_nuisances, zeros, mu=0.0)
    sm_fit = expected(sm_nuisances, zeros)
    draws = None if band_draws is None else np.array([expected(n, b) for n, b in band_draws])
    out = {}
    for label, prefixes in BELLE2_PANELS.items():
        channels = [ch for ch in model.config.channels if ch.startswith(prefixes)]
        if not channels:
            continue
        index, definitions, sizes = [], [], []
        for ch in channels:
            s = model.config.channel_slices[ch]
            for d in analysis_bins(ch):
                index.append(s.start + d["index"])
                definitions.append((*(d["eta"] or (np.nan, np.nan)), *(d["q2_rec"] or (np.nan, np.nan))))
            sizes.append(s.stop - s.start)
        definitions = np.array(definitions, dtype=float)
        order = np.lexsort((definitions[:, 2], definitions[:, 0])) if label == "ITA" else slice(None)
        index, definitions = np.asarray(index)[order], definitions[order]
        panel = {"observed": observed[index], "background": background[index],
                 "signal_sm": (without_np - background)[index], "signal_np": (total - without_np)[index],
                 "total": total[index], "sm_fit": sm_fit[index], "channel_sizes": np.asarray(sizes),
                 "eta_low": definitions[:, 0], "eta_high": definitions[:, 1],
                 "q2_low": definitions[:, 2], "q2_high": definitions[:, 3]}
        if draws is not None and len(draws):
            panel["total_low"], panel["total_high"] = np.percentile(draws[:, index], [16.0, 84.0], axis=0)
        out[label] = panel
    return out


def _number(x):
    return f"{x:g}".replace("-", "−")


def _sci(x, digits=2):
    """``x`` as mathtext scientific notation, e.g. ``1.23\\times10^{-5}``."""
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return rf"{mantissa}\times10^{{{int(exponent)}}}"


def _group_edges(d):
    """Bin positions where the η slice changes (ITA), for separators and group labels."""
    eta = np.asarray(d.get("eta_low", np.full(len(d["observed"]), np.nan)))
    if not np.all(np.isfinite(eta)):
        return [0, len(eta)]
    change = np.flatnonzero(np.diff(eta) != 0) + 1
    return [0, *change.tolist(), len(eta)]


def _with_legacy_keys(d):
    """Bin data of bkdm ≤ 0.1.0 result folders ("sm", "np" totals only) in the current keys."""
    if "total" in d:
        return d
    d = dict(d)
    d["total"], d["sm_fit"] = d.pop("np"), d.pop("sm")
    if "np_low" in d:
        d["total_low"], d["total_high"] = d.pop("np_low"), d.pop("np_high")
    return d


@_styled
def plot_belle2_bins(bins, path, title=LUMINOSITY_LABEL):
    """Belle II analysis bins (output of :func:`belle2_bin_counts`), one column per panel:

    top — observed events (√N errors) on the stacked background, SM signal and new-physics signal
    of the SM + NP fit, with the total of the SM-only fit as a line (and a 68 % posterior band);
    middle — data minus the fitted background against the two signal components;
    bottom — pulls (obs − exp)/√exp of both fits.
    The x axis gives each bin's definition: q²_rec ranges in slices of η(BDT₂) (ITA), or the
    η(BDT_h) bin number (HTA).
    """
    bins = {label: _with_legacy_keys(d) for label, d in bins.items()}
    widths = [len(d["observed"]) + 2 for d in bins.values()]
    fig = _figure(0.42 * sum(widths) + 1.6, 6.8)
    grid = fig.add_gridspec(3, len(bins), height_ratios=(3.0, 1.7, 1.2), width_ratios=widths)
    for col, (label, d) in enumerate(bins.items()):
        top = fig.add_subplot(grid[0, col])
        mid = fig.add_subplot(grid[1, col], sharex=top)
        bottom = fig.add_subplot(grid[2, col], sharex=top)
        n = len(d["observed"])
        edges = np.arange(n + 1) - 0.5
        centres = np.arange(n)
        observed = np.asarray(d["observed"], dtype=float)
        error = np.sqrt(np.maximum(observed, 1.0))
        has_parts = "background" in d
        if has_parts:
            stack = [("background", "background (fit)"), ("signal_sm", r"SM $K^+\nu\bar\nu$ signal"),
                     ("signal_np", r"new physics $K^+X$")]
            base = np.zeros(n)
            for key, name in stack:
                top.stairs(base + d[key], edges, baseline=base, fill=True, color=COLOURS[key], label=name)
                base = base + d[key]
            top.stairs(d["total"], edges, color="black", lw=0.8)
        else:
            top.stairs(d["total"], edges, color=COLOURS["signal_np"], lw=1.6, label="SM + NP (best fit)")
        if "total_low" in d:
            top.stairs(d["total_high"], edges, baseline=d["total_low"], fill=True, color=COLOURS["band"],
                       alpha=0.35, label="SM + NP, 68 % posterior")
        top.stairs(d["sm_fit"], edges, color=COLOURS["sm_fit"], lw=1.2, ls="--", label="SM-only fit")
        top.errorbar(centres, observed, yerr=error, fmt="o", color=COLOURS["data"], ms=3.5, lw=1,
                     label="data")
        top.set_ylim(0.0, 1.28 * float(np.max(observed + error)))
        top.set_ylabel("events / bin")
        top.set_title(BELLE2_TITLES.get(label, label), fontsize=9)
        if has_parts:
            excess = observed - d["background"]
            mid.stairs(d["signal_sm"], edges, fill=True, color=COLOURS["signal_sm"])
            mid.stairs(d["signal_sm"] + d["signal_np"], edges, baseline=d["signal_sm"], fill=True,
                       color=COLOURS["signal_np"])
            mid.errorbar(centres, excess, yerr=error, fmt="o", color=COLOURS["data"], ms=3.5, lw=1)
            mid.axhline(0.0, color="grey", lw=0.6)
            mid.set_ylabel("data − bkg [events]")
        else:
            mid.set_visible(False)
        for key, style in (("sm_fit", dict(color=COLOURS["sm_fit"], marker="s", mfc="none",
                                           label="SM-only fit")),
                           ("total", dict(color=COLOURS["signal_np"], marker="o", label="SM + NP fit"))):
            pull = (observed - d[key]) / np.sqrt(np.maximum(d[key], 1e-9))
            bottom.plot(centres, pull, ls="none", ms=4, **style)
        bottom.axhline(0.0, color="grey", lw=0.6)
        bottom.axhspan(-1.0, 1.0, color="grey", alpha=0.15, lw=0)
        bottom.set_ylim(-3.5, 3.5)
        bottom.set_ylabel(r"pull $(n-\nu)/\sqrt{\nu}$")
        groups = _group_edges(d)
        for ax in (top, mid, bottom):
            for b in groups[1:-1]:
                ax.axvline(b - 0.5, color="grey", ls=":", lw=0.8)
            ax.tick_params(axis="x", which="minor", bottom=False, top=False)
            ax.set_xlim(edges[0], edges[-1])
        for ax in (top, mid):
            ax.tick_params(labelbottom=False)
        if np.all(np.isfinite(d.get("q2_low", [np.nan]))):
            ranges = zip(d["q2_low"], d["q2_high"], strict=True)
            bottom.set_xticks(centres, [f"{_number(lo)}–{_number(hi)}" for lo, hi in ranges], fontsize=7.5)
            bottom.set_xlabel(r"$q^2_\mathrm{rec}$ [GeV$^2$] in slices of $\eta(\mathrm{BDT_2})$")
            for lo, hi in zip(groups[:-1], groups[1:], strict=True):
                eta = rf"$\eta \in [{d['eta_low'][lo]:.2f}, {d['eta_high'][lo]:.2f}]$"
                top.text(0.5 * (lo + hi) - 0.5, 1.0, eta,
                         transform=top.get_xaxis_transform(), ha="center", va="top", fontsize=7.5,
                         bbox=dict(fc="white", ec="none", alpha=0.8, pad=1.0))
        else:
            bottom.set_xticks(centres, [str(i + 1) for i in centres])
            bottom.set_xlabel(r"$\eta(\mathrm{BDT_h})$ bin (low → high)")
        if col == 0:
            top.legend(loc="upper right", bbox_to_anchor=(1.0, 0.93), fontsize=7.5)
            bottom.legend(loc="lower left", ncol=2, fontsize=7)
    fig.suptitle(rf"$B^+\to K^+ + \mathrm{{invisible}}$: {title}", fontsize=10)
    save(fig, path)
    return fig


# ------------------------------------------------------------------------------ (b) corner plot
# 2-D credible levels of the corner plot: the mass inside 1σ and 2σ of a 2-D Gaussian, 1 − exp(−k²/2)
CORNER_LEVELS_2D = (1.0 - np.exp(-0.5), 1.0 - np.exp(-2.0))


def _density_levels(hist, masses):
    """Density thresholds of a 2-D histogram enclosing the given probability ``masses`` (highest
    density first), ascending, for contour/contourf."""
    flat = np.sort(hist.ravel())[::-1]
    cumulative = np.cumsum(flat) / max(flat.sum(), np.finfo(float).tiny)
    levels = [flat[min(int(np.searchsorted(cumulative, m)), flat.size - 1)] for m in masses]
    return sorted(set(levels))


def _smoothed_hist2d(x, y, bins, ranges):
    """A 2-D histogram of the draws smoothed by a Gaussian of one bin (σ = 1 bin), its bin centres."""
    from scipy.ndimage import gaussian_filter

    hist, xe, ye = np.histogram2d(x, y, bins=bins, range=ranges)
    return gaussian_filter(hist, 1.0), 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])


@_styled
def plot_corner(samples, path, truths=None, log_scale=(), bins=30, labels=None):
    """Corner plot of posterior draws: marginal histograms on the diagonal (68 % central interval
    shaded, median and ±1σ in the title), 2-D marginals below it as filled 1σ/2σ credible regions
    (39.3 % and 86.5 % highest-density mass of a histogram smoothed by one bin) over the draws.

    ``samples``: {name: 1-D array of draws}; ``truths``: optional {name: value} (e.g. the best fit),
    drawn as lines and a star; ``log_scale``: names shown as log10(value); ``labels``: {name: axis
    label} (e.g. :func:`model_parameter_label` with the unit); default :func:`parameter_label`.
    Written as PNG and PDF (vector).
    """
    names = list(samples)
    labels = labels or {}
    data = {k: np.log10(np.asarray(v, dtype=float)) if k in log_scale else np.asarray(v, dtype=float)
            for k, v in samples.items()}
    marks = {k: (np.log10(v) if k in log_scale else v) for k, v in (truths or {}).items() if k in data}
    axis_label = {k: labels.get(k) or parameter_label(k, log=k in log_scale) for k in names}
    if labels:  # a given label gets the log10 wrapper here
        axis_label.update({k: rf"$\log_{{10}}$ ({labels[k]})" for k in names
                           if k in log_scale and k in labels})
    ranges = {}
    for k, v in data.items():
        lo, hi = np.percentile(v, [0.1, 99.9]) if v.size else (0.0, 1.0)
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ranges[k] = (lo - pad, hi + pad)
    n = len(names)
    size = 2.0 * n + 0.8
    fig = _figure(size, size)
    axes = fig.subplots(n, n, squeeze=False)
    colour = COLOURS["signal_sm"]
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                v = data[xj]
                ax.hist(v, bins=bins, range=ranges[xj], histtype="stepfilled", color=colour, alpha=0.25)
                ax.hist(v, bins=bins, range=ranges[xj], histtype="step", color=colour, lw=1.2)
                q16, q50, q84 = np.percentile(v, [15.865, 50.0, 84.135])
                ax.axvspan(q16, q84, color=colour, alpha=0.15, lw=0)
                ax.axvline(q50, color=colour, lw=1.0, ls="--")
                up, down = _plain_number(q84 - q50), _plain_number(q50 - q16)
                text = rf"${{{_plain_number(q50)}}}^{{+{up}}}_{{-{down}}}$"  # braces: 10^k has its own ^
                ax.set_title(text, fontsize=8)
                ax.set_yticks([])
                if xj in marks:
                    ax.axvline(marks[xj], color=COLOURS["signal_np"], lw=1.2)
                ax.set_xlim(ranges[xj])
            else:
                x, y = data[xj], data[yi]
                m = min(x.size, y.size)
                ax.plot(x[:m], y[:m], ",", color="0.55", alpha=0.5, rasterized=True)
                hist, xc, yc = _smoothed_hist2d(x[:m], y[:m], bins, (ranges[xj], ranges[yi]))
                levels = _density_levels(hist, CORNER_LEVELS_2D[::-1])  # 2σ threshold first (lower)
                if len(levels) == 2 and levels[0] < levels[1]:
                    top = hist.max() + 1.0
                    ax.contourf(xc, yc, hist.T, levels=[levels[0], top], colors=[colour], alpha=0.25)
                    ax.contourf(xc, yc, hist.T, levels=[levels[1], top], colors=[colour], alpha=0.45)
                    ax.contour(xc, yc, hist.T, levels=levels, colors=[colour], linewidths=[0.8, 1.2])
                if xj in marks and yi in marks:
                    ax.plot(marks[xj], marks[yi], "*", color=COLOURS["signal_np"], ms=8, mec="black",
                            mew=0.5)
                ax.set_xlim(ranges[xj])
                ax.set_ylim(ranges[yi])
                ax.set_ylabel(axis_label[yi] if j == 0 else "")
                ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.set_xlabel(axis_label[xj] if i == n - 1 else "")
            if i < n - 1:
                ax.tick_params(labelbottom=False)
            else:
                ax.tick_params(axis="x", labelrotation=30)
            if j > 0 and i != j:
                ax.tick_params(labelleft=False)
    if marks:
        fig.legend(handles=[Line2D([], [], color=COLOURS["signal_np"], marker="*", ls="-", mec="black",
                                   mew=0.5, label="best fit"),
                            Patch(color=colour, alpha=0.45, label=r"2-D 1$\sigma$ (39 %) region"),
                            Patch(color=colour, alpha=0.25, label=r"2-D 2$\sigma$ (86 %) region"),
                            Patch(color=colour, alpha=0.15, label="1-D 68 % interval")],
                   loc="upper right", fontsize=8, frameon=False)
    save(fig, path)
    return fig


def _plain_number(x):
    """A short mathtext number: 3 significant digits, ×10^k outside [10⁻², 10⁴)."""
    x = float(x)
    if x == 0 or 1e-2 <= abs(x) < 1e4:
        return f"{x:.3g}"
    exponent = int(np.floor(np.log10(abs(x))))
    return rf"{x / 10**exponent:.2f}\times10^{{{exponent}}}"


def _posterior_view(posterior, names, log_scale):
    """The posterior's ``names`` as a Dataset, log-scale ones as log10 (renamed ``log10 <name>``)."""
    import xarray as xr

    return xr.Dataset({(f"log10 {n}" if n in log_scale else n):
                       (np.log10(posterior[n]) if n in log_scale else posterior[n]) for n in names})


def plot_trace(posterior, names, path, log_scale=()):
    """ArviZ trace plot (per parameter: the chains' marginal densities and their traces).
    ``posterior``: an xarray Dataset with (chain, draw) variables ``names``."""
    import arviz as az

    data = _posterior_view(posterior, names, log_scale)
    fig = _figure(9.0, 1.9 * len(names) + 0.4)
    axes = fig.subplots(len(names), 2, squeeze=False)
    az.plot_trace(data, axes=axes, compact=False, show=False)
    save(fig, path)
    return fig


def plot_rank(posterior, names, path, log_scale=()):
    """ArviZ rank plot: for each parameter, the histogram of the draws' ranks (over all chains)
    per chain; uniform histograms mean the chains sample the same distribution (Vehtari et al.
    2021, arXiv:1903.08008)."""
    import arviz as az

    data = _posterior_view(posterior, names, log_scale)
    fig = _figure(3.0 * len(names) + 0.4, 3.2)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    az.plot_rank(data, ax=axes, show=False)
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
    :func:`plot_yield_evolution`: (x, {label: Y(x)}, {label: y/y_eq} or None, x label); labels in
    mathtext.

    Freeze-in results (bkdm.cosmo.freeze_in) are on x = m_mediator/T, freeze-out and cBE results on
    x = m_DM/T; ``m_dm`` [GeV] and ``g_dm`` give Y_eq for freeze-out results, which do not store it.
    A freeze-in history's Y_mediator is dropped (NaN) below its absolute resolution
    (``yield_mediator_floor``): those digits are not determined by the solve.
    """
    from bkdm.cosmo import thermo

    x = np.asarray(result.x_history)
    if hasattr(result, "yield_mediator_history"):
        y_med = np.asarray(result.yield_mediator_history, dtype=float)
        floor = getattr(result, "yield_mediator_floor", None)
        if floor is not None:
            y_med = np.where(y_med > float(floor), y_med, np.nan)
        curves = {r"$Y_\mathrm{med}$": y_med,
                  r"$Y_\mathrm{med}^\mathrm{eq}$": result.yield_mediator_eq_history,
                  r"$Y_\mathrm{DM}$": result.yield_dm_history}
        return x, _arrays(curves), None, r"$x = m_\mathrm{med}/T$"
    curves = {r"$Y_\mathrm{DM}$": result.yield_history}
    if getattr(result, "yield_eq_history", None) is not None:
        curves[r"$Y_\mathrm{DM}^\mathrm{eq}$"] = result.yield_eq_history
    else:
        curves[r"$Y_\mathrm{DM}^\mathrm{eq}$"] = thermo.yield_eq(m_dm, g_dm, m_dm / x)
    # incl. the tail beyond the last saved x
    curves[r"$Y_\mathrm{DM}$ today"] = np.full(x.shape, float(result.yield_today))
    ratio = None
    if getattr(result, "y_history", None) is not None:
        ratio = {r"$y/y_\mathrm{eq}$ ($T_\mathrm{DM}/T$)": np.asarray(result.y_history)
                 / np.asarray(result.y_eq_history)}
    return x, _arrays(curves), ratio, r"$x = m_\mathrm{DM}/T$"


def _arrays(curves):
    return {k: np.asarray(v, dtype=float) for k, v in curves.items()}


def _plain_log_ticks(axis, values):
    """Plain-number ticks ("20", "30", "50"; more per decade below one decade) on a log axis spanning
    less than 1.5 decades, where the default labels would be 2×10¹-style or missing."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    span = values.max() / values.min() if values.size else np.inf
    if span < 10**1.5:
        subs = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0) if span < 10 else (1.0, 2.0, 3.0, 5.0)
        axis.set_major_locator(LogLocator(subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _positive(y):
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y) & (y > 0), y, np.nan)


@_styled
def plot_yield_evolution(x, yields, path, ratios=None, xlabel=r"$x = m/T$", title=""):
    """Y(x) curves on log–log axes (``yields``: {label: array}; NaN or ≤ 0 values are not drawn);
    an optional lower panel shows dimensionless ratios such as the cBE temperature variable y/y_eq
    (``ratios``: {label: array}). Equilibrium curves (label containing "eq") are dashed and may
    fall far below the evolving yields: the y range follows the evolving ones."""
    fig = _figure(5.2, 5.6 if ratios else 4.0)
    grid = fig.add_gridspec(2 if ratios else 1, 1, height_ratios=(2.2, 1) if ratios else (1,))
    ax = fig.add_subplot(grid[0])
    for i, (label, y) in enumerate(yields.items()):
        style = ":" if "today" in label else "--" if "eq" in label else "-"
        ax.loglog(x, _positive(y), lw=1.2 if style == "--" else 1.6, ls=style, color=f"C{i}", label=label)
    tracked = [_positive(y) for label, y in yields.items() if "eq" not in label]
    tracked = np.concatenate(tracked) if tracked else np.zeros(0)
    tracked = tracked[np.isfinite(tracked)]
    if tracked.size:  # equilibrium yields fall by hundreds of decades: show the evolving ones
        top = max(np.nanmax(_positive(y)) for y in yields.values())
        ax.set_ylim(max(1e-3 * tracked.min(), 1e-30 * top), 10.0 * top)
    ax.yaxis.set_major_locator(LogLocator(numticks=12))
    ax.yaxis.set_minor_locator(LogLocator(subs="auto", numticks=12))
    _plain_log_ticks(ax.xaxis, x)
    ax.set_ylabel(r"yield $Y = n/s$")
    ax.legend(loc="best")
    ax.set_title(title)
    if ratios:
        ax.tick_params(labelbottom=False)
        low = fig.add_subplot(grid[1], sharex=ax)
        for label, r in ratios.items():
            low.semilogx(x, r, lw=1.6, label=label)
        low.axhline(1.0, color="grey", lw=0.6)
        low.set_ylabel("ratio")
        low.legend(loc="best")
        low.set_xlabel(xlabel)
    else:
        ax.set_xlabel(xlabel)
    save(fig, path)
    return fig


# ------------------------------------------------------------------------------ (e) profiles
def _interval_crossings(grid, chi2, level):
    """Outermost grid points' linear crossings of Δχ² = ``level`` around the minimum (NaN if none)."""
    i0 = int(np.nanargmin(chi2))
    out = []
    for indices in (range(i0, 0, -1), range(i0, len(grid) - 1)):
        value = np.nan
        for i in indices:
            j = i - 1 if indices.step == -1 else i + 1
            a, b = chi2[i], chi2[j]
            if np.isfinite(a) and np.isfinite(b) and (a - level) * (b - level) <= 0 and a != b:
                value = grid[i] + (level - a) * (grid[j] - grid[i]) / (b - a)
                break
        out.append(value)
    return out


@_styled
def plot_profiles(profiles, path, log_scale=(), labels=None, ylabel=r"$\Delta\chi^2$ (profile)",
                  intervals=None):
    """1-D profile curves Δχ²(θ), one panel per parameter, with the 1σ/2σ levels (Δχ² = 1, 4) and the
    Δχ² < 1 interval shaded.

    ``profiles``: {name: (grid, delta_chi2)}; ``log_scale``: names plotted on a log axis;
    ``labels``: {name: axis label} (e.g. :func:`model_parameter_label`, with the unit), default
    :func:`parameter_label` of the name; ``ylabel``: what Δχ² is (a profile, or a scan at fixed
    other parameters), e.g. "Δχ² (ν profiled)"; ``intervals``: optional {name: (lo, hi)} 68 % intervals
    to shade instead of the grid crossings (None/NaN end: one-sided, shaded to the grid's end).
    """
    n = len(profiles)
    labels = labels or {}
    fig = _figure(3.2 * n + 0.4, 3.0)
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    for k, (ax, (name, (grid, chi2))) in enumerate(zip(axes, profiles.items(), strict=True)):
        grid, chi2 = np.asarray(grid, dtype=float), np.asarray(chi2, dtype=float)
        ok = np.isfinite(chi2)
        ax.plot(grid[ok], chi2[ok], "-", color="C0", lw=1.6)
        ax.plot(grid[ok], chi2[ok], "o", color="C0", ms=2.5)
        if intervals and name in intervals:
            lo, hi = (np.nan if v is None else float(v) for v in intervals[name])
            lo = grid[ok].min() if not np.isfinite(lo) and ok.any() else lo
            hi = grid[ok].max() if not np.isfinite(hi) and ok.any() else hi
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axvspan(lo, hi, color="C0", alpha=0.12, lw=0)
        elif ok.any():
            lo, hi = _interval_crossings(grid, np.where(ok, chi2, np.nan), DELTA_CHI2_1D[0])
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axvspan(lo, hi, color="C0", alpha=0.12, lw=0)
        for level, text in zip(DELTA_CHI2_1D, (r"$1\sigma$", r"$2\sigma$"), strict=True):
            ax.axhline(level, color="grey", lw=0.7, ls=":")
            if k == n - 1:
                ax.text(1.01, level, text, transform=ax.get_yaxis_transform(), va="center", fontsize=8)
        log = name in log_scale
        ax.set_xscale("log" if log else "linear")
        if not log:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, prune=None))
        ax.set_xlabel(labels.get(name, parameter_label(name)))
        if k == 0:
            ax.set_ylabel(ylabel)
    finite = np.concatenate([np.asarray(c, dtype=float) for _, c in profiles.values()])
    finite = finite[np.isfinite(finite)]
    # up to Δχ² = 10 at most (beyond 3σ the curves only compress the interesting part)
    axes[0].set_ylim(0.0, min(10.0, max(5.0, 1.05 * float(np.max(finite)))) if finite.size else 5.0)
    save(fig, path)
    return fig


# ------------------------------------------------------------------------------ (f) dB/dq² spectrum
def _line_bins(edges, mediator_mass, br):
    """A narrow two-body line B⁺ → K⁺X histogrammed on ``edges``: all of ``br`` in the bin holding m_X²."""
    out = np.zeros(len(edges) - 1)
    j = int(np.searchsorted(edges, float(mediator_mass) ** 2, side="right")) - 1
    if 0 <= j < out.size:
        out[j] = float(br)
    return out


def belle2_spectrum(mediator_mass, br_invisible, draws=None):
    """dB/dq² data of :func:`plot_spectrum` on the 100 Belle II generator q² bins
    (``bkdm.flavour.belle2_generator_bin_edges``, 0.229 GeV² wide).

    The new physics is the two-body line B⁺ → K⁺X at q² = m_X² (``mediator_mass`` [GeV]) carrying
    ``br_invisible`` = BR(B⁺ → K⁺X) × P_inv, histogrammed as the generator would: all in the bin of
    m_X² (the likelihood spreads it over neighbouring bins with interpolation weights, a device for
    smoothness in m_X, docs/physics/belle2-likelihood.md §9.8); ``draws``: optional (n, 2) posterior
    draws of (m_X, BR × P_inv) for a 68 % band. Returns a dict of arrays: ``edges`` [GeV²], ``sm`` and
    ``np`` (BR per bin), ``np_low``/``np_high`` (16/84 % of the draws per bin), ``q2`` and
    ``dbr_dq2_sm`` (the SM spectrum [GeV⁻²] on a fine grid), ``mediator_mass``, ``br_invisible``.
    """
    from bkdm import flavour

    edges = flavour.belle2_generator_bin_edges()
    q2 = np.linspace(0.0, edges[-1], 600)
    out = {"edges": edges, "sm": np.asarray(flavour.belle2_sm_bin_branching_fractions(), dtype=float),
           "np": _line_bins(edges, mediator_mass, br_invisible), "q2": q2,
           "dbr_dq2_sm": np.asarray(flavour.dbr_dq2_belle2_sm(q2), dtype=float),
           "mediator_mass": float(mediator_mass), "br_invisible": float(br_invisible)}
    if draws is not None and len(draws):
        binned = np.array([_line_bins(edges, m, br) for m, br in np.asarray(draws, dtype=float)])
        out["np_low"], out["np_high"] = np.percentile(binned, [16.0, 84.0], axis=0)
    return out


@_styled
def plot_spectrum(spectrum, path, title=""):
    """dB/dq² [GeV⁻²] of B⁺ → K⁺ + invisible on the generator binning (output of
    :func:`belle2_spectrum`): the SM K⁺νν̄ spectrum (binned, and as a curve) with the new-physics
    two-body line stacked on it (and its 68 % posterior band); log scale, since the line is a
    spike two orders of magnitude above the continuum."""
    d = spectrum
    edges = np.asarray(d["edges"])
    width = np.diff(edges)
    sm, new = np.asarray(d["sm"]) / width, np.asarray(d["np"]) / width
    fig = _figure(5.6, 3.9)
    ax = fig.add_subplot()
    floor = 3e-3 * float(np.max(sm))
    ax.stairs(sm, edges, baseline=floor, fill=True, color=COLOURS["signal_sm"], alpha=0.75,
              label=r"SM $K^+\nu\bar\nu$ (generator bins)")
    ax.stairs(sm + new, edges, baseline=sm, fill=True, color=COLOURS["signal_np"],
              label=r"new physics $K^+X$, best fit")
    if "np_low" in d:
        ax.stairs(sm + np.asarray(d["np_high"]) / width, edges, baseline=sm + np.asarray(d["np_low"]) / width,
                  fill=True, color="none", hatch="////", edgecolor=COLOURS["signal_np"], lw=0,
                  label="new physics, 68 % posterior")
    ax.plot(d["q2"], d["dbr_dq2_sm"], color="black", lw=0.8, label=r"SM $d\mathcal{B}/dq^2$")
    m_x, br = float(d["mediator_mass"]), float(d["br_invisible"])
    if br > 0 and m_x**2 < edges[-1]:
        text = rf"$m_X^2 = {m_x**2:.2f}$ GeV$^2$" + "\n" + rf"$\mathcal{{B}}\,P_\mathrm{{inv}} = {_sci(br)}$"
        ax.annotate(text, xy=(m_x**2, float(np.max(sm + new))), xytext=(10, -2), textcoords="offset points",
                    fontsize=8, va="top")
    ax.set_yscale("log")
    ax.set_ylim(floor, 3.0 * float(np.max(sm + new)))
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(r"$q^2$ [GeV$^2$]")
    ax.set_ylabel(r"$d\mathcal{B}/dq^2$ [GeV$^{-2}$]")
    ax.legend(loc="upper right")
    ax.set_title(title or r"$B^+\to K^+ +$ invisible: SM spectrum and new-physics line")
    save(fig, path)
    return fig
