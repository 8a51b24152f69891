"""Belle II B⁺ → K⁺νν̄ (362 fb⁻¹) likelihood with the signal reweighted for new physics.

The published HistFactory model (Belle II, arXiv:2311.14647; reinterpretation release
arXiv:2507.12393, HEPData ins2947386; bkdm/data/belle2) evaluated with pyhf's JAX backend.

New physics (shared/data/belle2/NOTES.md §4.1, §4.2; the "redist" reweighting of arXiv:2402.08417):
the expected signal in reconstructed bin i becomes

    ν_i^sig = ν_i^SM + Σ_j k_ij B_NP,j,    k_ij = n_ij / B_SM,j,

with n_ij the joint number densities (reconstructed bin i × generator q² bin j, underflow column
dropped), B_SM,j the Belle II reference SM spectrum per generator bin
(:func:`bkdm.flavour.belle2_sm_bin_branching_fractions`) and B_NP,j the model's branching fraction
per generator bin (:func:`bkdm.flavour.np_bin_branching_fractions`). It enters as one pyhf
``shapefactor`` per signal sample (channels A, B and ``sgn1_had``) whose per-bin factor is set to
r_i = ν_i^{SM+NP}/ν_i^SM. A shapefactor multiplies the sample like ``mu`` does, so the signal
``histosys``/``staterror`` stay relative variations of the reweighted template (as in redist), and it
is unconstrained, so the constraint terms are untouched: r = 1 is exactly the published model.

Interpolation codes: pyhf 0.7.6's defaults (normsys code4, histosys code4p), with which the published
μ̂ are reproduced. (NOTES §4.2 calls code1/code0 the pyhf defaults; that is not what pyhf 0.7.6 uses.)

Parameters: pyhf's full vector = the "nuisance" vector (everything except the shapefactors: the
232 published parameters including the POI ``mu``) plus the physics-driven shapefactors. For a
new-physics fit keep ``mu`` = 1 (SM signal) and let B_NP carry the new physics.
"""

import contextlib
import copy
import dataclasses
import io
import json
from importlib import resources
from pathlib import Path

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pyhf
import scipy.optimize
from jax.scipy.special import gammaln

from bkdm._validation import check_choice
from bkdm.flavour import BELLE2_N_GEN_BINS, belle2_sm_bin_branching_fractions

CHANNEL_ITA_A = "A__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomSR_Y4S"
CHANNEL_ITA_B = "B__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomCR_Y4S"
CHANNEL_ITA_C = "C__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomSR_offres"
CHANNEL_ITA_D = "D__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomCR_offres"
CHANNEL_HTA = "sgn1_had"

SUBSETS = {
    "combined": (CHANNEL_ITA_A, CHANNEL_ITA_B, CHANNEL_ITA_C, CHANNEL_ITA_D, CHANNEL_HTA),
    "ita": (CHANNEL_ITA_A, CHANNEL_ITA_B, CHANNEL_ITA_C, CHANNEL_ITA_D),
    "hta": (CHANNEL_HTA,),
}


@dataclasses.dataclass(frozen=True)
class SignalChannel:
    """A channel with signal: its signal sample, number-density file and added shapefactor name."""

    channel: str
    sample: str
    density_file: str
    shapefactor: str


SIGNAL_CHANNELS = (
    SignalChannel(CHANNEL_ITA_A, "signal", "number_density_ita_regA.csv", "bkdm_np_ita_A"),
    SignalChannel(CHANNEL_ITA_B, "signal", "number_density_ita_regB.csv", "bkdm_np_ita_B"),
    SignalChannel(CHANNEL_HTA, "sgn_1_had", "number_density_hta.csv", "bkdm_np_hta"),
)
POI = "mu"  # B(B⁺→K⁺νν̄)/4.97e-6 in the published model

# Analysis bins (docs/physics/belle2-likelihood.md §9.3–9.4; edges inferred from the files): ITA channels
# A–D are 3 bins of the reconstructed q² [GeV²] times η(BDT₂) slices, bin index 3 k_η + k_q² (q² fastest);
# the HTA has 6 bins of η(BDT_h) with equal SM signal (edges not in the file).
ITA_Q2_REC_EDGES = (-1.0, 4.0, 8.0, 25.0)
ITA_ETA_EDGES = {CHANNEL_ITA_A: (0.94, 0.96, 0.98, 1.00), CHANNEL_ITA_B: (0.92, 0.94),
                 CHANNEL_ITA_C: (0.94, 0.96, 0.98, 1.00), CHANNEL_ITA_D: (0.92, 0.94)}
HTA_BINS = 6


def analysis_bins(channel):
    """Definitions of a channel's bins: one dict per bin with ``q2_rec`` ((low, high) [GeV²] or None)
    and ``eta`` ((low, high) of η(BDT₂) for the ITA, None for the HTA whose edges are unknown) and
    ``index`` (position within the channel)."""
    if channel == CHANNEL_HTA:
        return [{"index": i, "q2_rec": None, "eta": None} for i in range(HTA_BINS)]
    if channel not in ITA_ETA_EDGES:
        raise ValueError(f"channel = {channel!r} is not allowed: choose one of "
                         f"{[*ITA_ETA_EDGES, CHANNEL_HTA]}")
    q2, eta = ITA_Q2_REC_EDGES, ITA_ETA_EDGES[channel]
    return [{"index": 3 * k + j, "q2_rec": (q2[j], q2[j + 1]), "eta": (eta[k], eta[k + 1])}
            for k in range(len(eta) - 1) for j in range(len(q2) - 1)]


def _short_channel(name):
    """Short label of a channel: "A".."D" for the ITA regions (``A__…``), else the name itself."""
    return name.split("__")[0]


def _data_file(name):
    return resources.files("bkdm.data").joinpath("belle2").joinpath(name)


def load_spec(source=None):
    """The workspace JSON as a dict, validated with pyhf's schema (ValueError if malformed).

    ``source``: None (shipped combined_likelihood.json), a path, or a dict.
    """
    if isinstance(source, dict):
        spec = copy.deepcopy(source)
    else:
        path = _data_file("combined_likelihood.json") if source is None else Path(source)
        try:
            spec = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"Belle II likelihood file {path} is not valid JSON: {err}") from err
    validate_spec(spec)
    return spec


def validate_spec(spec):
    """pyhf schema validation plus the structure bkdm relies on (signal samples, bin counts)."""
    try:
        pyhf.Workspace(spec)
    except pyhf.exceptions.InvalidSpecification as err:
        raise ValueError(f"Belle II likelihood spec fails the pyhf workspace schema: {err}") from err
    channels = {ch["name"]: ch for ch in spec["channels"]}
    for sig in SIGNAL_CHANNELS:
        if sig.channel not in channels:
            raise ValueError(f"Belle II likelihood spec: channel {sig.channel!r} is missing")
        samples = {s["name"]: s for s in channels[sig.channel]["samples"]}
        if sig.sample not in samples:
            raise ValueError(
                f"Belle II likelihood spec: channel {sig.channel!r} has no sample {sig.sample!r}")
        n_rows = number_density(sig.channel).shape[0]
        if len(samples[sig.sample]["data"]) != n_rows:
            raise ValueError(
                f"Belle II likelihood spec: sample {sig.sample!r} of {sig.channel!r} has "
                f"{len(samples[sig.sample]['data'])} bins, the number densities have {n_rows}")


def number_density(channel):
    """n_ij [events] for a signal channel: rows = reconstructed bins, 100 generator q² bins
    (the CSV's column 0, the [−1, 0) GeV² underflow, is dropped: B_SM = 0 there; NOTES §4.1)."""
    (sig,) = [s for s in SIGNAL_CHANNELS if s.channel == channel]
    table = np.loadtxt(io.StringIO(_data_file(sig.density_file).read_text()), delimiter=",", ndmin=2)
    if table.shape[1] != BELLE2_N_GEN_BINS + 1:
        raise ValueError(f"{sig.density_file}: {table.shape[1]} columns, expected {BELLE2_N_GEN_BINS + 1}")
    return table[:, 1:]


def events_per_unit_br(channel):
    """k_ij = n_ij / B_SM,j: expected events in reconstructed bin i per unit branching fraction in
    generator bin j (NOTES §3.4, §4.1)."""
    return number_density(channel) / np.asarray(belle2_sm_bin_branching_fractions())


@contextlib.contextmanager
def _pyhf_backend(name):
    """Temporarily switch pyhf's global backend (64-bit). pyhf re-converts every live model's arrays
    on a switch; ``ensure_compile_time_eval`` keeps them concrete if this runs inside a jax trace."""
    previous = pyhf.get_backend()
    with jax.ensure_compile_time_eval():
        pyhf.set_backend(name, precision="64b")
    try:
        yield
    finally:
        with jax.ensure_compile_time_eval():
            pyhf.set_backend(*previous)


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Minimum of −2 ln L over the free nuisance parameters (``pars`` is the full nuisance vector)."""

    pars: np.ndarray
    twice_nll: float
    success: bool
    message: str


class Belle2Likelihood:
    """Belle II B⁺ → K⁺νν̄ likelihood, pyhf JAX backend, signal reweighted by B_NP per generator bin.

    ``channels``: "combined" (ITA + HTA), "ita" (inclusive tag only) or "hta" (hadronic tag only).
    ``spec``: workspace (None = shipped file, a path, or a dict).

    ``twice_nll(nuisance_pars, b_np_bins)`` = −2 ln L (pyhf ``logpdf`` incl. constraint terms) is
    jitted and differentiable in both arguments; ``b_np_bins`` are the 100 new-physics branching
    fractions per generator bin (zeros = published model). ``value_and_grad(nuisance_pars,
    b_np_bins)`` returns (−2 ln L, (∂/∂nuisance, ∂/∂B_NP)), jitted.

    Cost: construction spends a few seconds in pyhf's JAX-backend set-up (eager array ops) and
    traces pyhf's logpdf once; afterwards one value+gradient evaluation takes ~0.3 ms on a CPU core.
    """

    def __init__(self, channels="combined", spec=None):
        check_choice("channels", channels, SUBSETS)
        spec = load_spec(spec)
        for ch in spec["channels"]:
            for sig in SIGNAL_CHANNELS:
                if ch["name"] == sig.channel:
                    sample = next(s for s in ch["samples"] if s["name"] == sig.sample)
                    sample["modifiers"].append({"name": sig.shapefactor, "type": "shapefactor", "data": None})
        workspace = pyhf.Workspace(spec)
        drop = [name for name in SUBSETS["combined"] if name not in SUBSETS[channels]]
        if drop:
            workspace = workspace.prune(channels=drop)
        self.channels = channels
        self.workspace = workspace
        with _pyhf_backend("numpy"):
            self.model = workspace.model()
            self.data = np.asarray(workspace.data(self.model), dtype=np.float64)
        config = self.model.config

        # physics-driven parameters: the shapefactors, in the order of the rows of k_ij
        self.signal_channels = tuple(s for s in SIGNAL_CHANNELS if s.channel in SUBSETS[channels])
        np_index, k_rows, nominal = [], [], []
        for sig in self.signal_channels:
            sl = config.par_slice(sig.shapefactor)
            np_index.extend(range(sl.start, sl.stop))
            k_rows.append(events_per_unit_br(sig.channel))
            nominal.extend(self._nominal_signal(spec, sig))
        self.np_index = np.asarray(np_index)
        self.k_matrix = np.concatenate(k_rows)  # events per unit BR, (n_signal_bins, 100)
        self.sm_signal = np.asarray(nominal)  # ν_i^SM (μ = 1 template) [events]

        all_names = config.par_names
        self.nuisance_index = np.asarray([i for i in range(config.npars) if i not in set(np_index)])
        self.parameter_names = tuple(all_names[i] for i in self.nuisance_index)
        self.np_parameter_names = tuple(all_names[i] for i in self.np_index)
        self.init = np.asarray(config.suggested_init(), dtype=np.float64)[self.nuisance_index]
        self.bounds = np.asarray(config.suggested_bounds(), dtype=np.float64)[self.nuisance_index]
        self.fixed = np.asarray(config.suggested_fixed(), dtype=bool)[self.nuisance_index]
        self.poi_index = self.parameter_names.index(POI)
        self._order = np.argsort(np.concatenate([self.nuisance_index, self.np_index]))
        # Trace pyhf's JAX-backend logpdf once; afterwards −2 ln L is a plain JAX function that no
        # longer depends on pyhf's global backend (so later jit/grad/vmap never re-enter pyhf).
        with _pyhf_backend("jax"):
            jaxpr = jax.make_jaxpr(self._pyhf_twice_nll)(jnp.asarray(self.init), jnp.zeros(BELLE2_N_GEN_BINS))
        self._twice_nll_jaxpr = jax.extend.core.jaxpr_as_fun(jaxpr)
        with _pyhf_backend("jax"):
            jaxpr = jax.make_jaxpr(self._pyhf_rates_and_constraint)(jnp.asarray(self.init),
                                                                     jnp.zeros(BELLE2_N_GEN_BINS))
        self._rates_jaxpr = jax.extend.core.jaxpr_as_fun(jaxpr)
        self.n_main = int(config.nmaindata)
        self.main_data = self.data[: self.n_main]
        self.aux_data = self.data[self.n_main:]
        self.bin_labels = tuple(f"{_short_channel(ch)}[{i}]" for ch in config.channels
                                for i in range(config.channel_nbins[ch]))
        self.twice_nll = jax.jit(self._twice_nll)
        self.value_and_grad = jax.jit(jax.value_and_grad(self._twice_nll, argnums=(0, 1)))

    @staticmethod
    def _nominal_signal(spec, sig):
        channel = next(ch for ch in spec["channels"] if ch["name"] == sig.channel)
        return next(s for s in channel["samples"] if s["name"] == sig.sample)["data"]

    # ----------------------------------------------------------------------------------- physics
    def signal_ratio(self, b_np_bins):
        """r_i = ν_i^{SM+NP}/ν_i^SM = 1 + Σ_j k_ij B_NP,j / ν_i^SM for every signal bin (NOTES §4.1)."""
        b_np_bins = jnp.asarray(b_np_bins, dtype=jnp.float64)
        return 1.0 + (self.k_matrix @ b_np_bins) / self.sm_signal

    def full_parameters(self, nuisance_pars, b_np_bins):
        """pyhf's full parameter vector: nuisance parameters with the shapefactors set to r(B_NP)."""
        nuisance_pars = jnp.asarray(nuisance_pars, dtype=jnp.float64)
        return jnp.concatenate([nuisance_pars, self.signal_ratio(b_np_bins)])[self._order]

    def _pyhf_twice_nll(self, nuisance_pars, b_np_bins):
        pars = self.full_parameters(nuisance_pars, b_np_bins)
        return -2.0 * self.model.logpdf(pars, jnp.asarray(self.data))[0]

    def _pyhf_rates_and_constraint(self, nuisance_pars, b_np_bins):
        pars = self.full_parameters(nuisance_pars, b_np_bins)
        aux = jnp.asarray(self.data[self.model.config.nmaindata:])
        return self.model.expected_actualdata(pars), self.model.constraint_logpdf(aux, pars)

    def pointwise_log_likelihood(self, nuisance_pars, b_np_bins):
        """(ln Pois(n_i | λ_i) per main bin i (``bin_labels``; λ_i = pyhf's expected events),
        ln of the auxiliary-measurement (constraint) terms summed) — the pieces of pyhf's
        ``logpdf`` with all normalisation constants: ln Pois(n | λ) = n ln λ − λ − ln Γ(n + 1).
        Their sum is −½ ``twice_nll``. Dimensionless; JAX (jit/vmap/grad)."""
        args = (jnp.asarray(nuisance_pars, dtype=jnp.float64), jnp.asarray(b_np_bins, dtype=jnp.float64))
        rates, constraint = self._rates_jaxpr(*args)
        n = jnp.asarray(self.main_data)
        safe = jnp.where(rates > 0, rates, 1.0)
        main = jnp.where(n > 0, n * jnp.log(safe), 0.0) - rates - gammaln(n + 1.0)
        return jnp.where(rates > 0, main, jnp.where(n > 0, -jnp.inf, -rates)), constraint

    def _twice_nll(self, nuisance_pars, b_np_bins):
        args = (jnp.asarray(nuisance_pars, dtype=jnp.float64), jnp.asarray(b_np_bins, dtype=jnp.float64))
        return self._twice_nll_jaxpr(*args)[0]

    def twice_nll_numpy(self, nuisance_pars, b_np_bins):
        """Same −2 ln L evaluated with pyhf's NumPy backend (reference; not differentiable)."""
        pars = np.asarray(self.full_parameters(nuisance_pars, b_np_bins))
        with _pyhf_backend("numpy"):
            return float(-2.0 * self.model.logpdf(pars, self.data)[0])

    # ------------------------------------------------------------------------------------ fits
    def fit(self, b_np_bins=None, mu=None, init=None, gtol=1e-6, ftol=1e-12, maxiter=20000):
        """Minimise −2 ln L over the nuisance parameters (L-BFGS-B, exact JAX gradients).

        ``b_np_bins``: new-physics BR per generator bin (default 0); ``mu``: fixed POI value
        (None = free). Returns :class:`FitResult`. A reference/test tool; for large scans prefer a
        jitted optimiser.
        """
        b = jnp.zeros(BELLE2_N_GEN_BINS) if b_np_bins is None else jnp.asarray(b_np_bins, dtype=jnp.float64)
        x0 = np.array(self.init if init is None else init, dtype=np.float64)
        fixed = self.fixed.copy()
        if mu is not None:
            x0[self.poi_index] = mu
            fixed[self.poi_index] = True
        free = ~fixed

        def objective(x_free):
            x = x0.copy()
            x[free] = x_free
            value, (grad, _) = self.value_and_grad(jnp.asarray(x), b)
            return float(value), np.asarray(grad)[free]

        res = scipy.optimize.minimize(
            objective, x0[free], jac=True, method="L-BFGS-B", bounds=self.bounds[free],
            options={"maxiter": maxiter, "maxfun": 2 * maxiter, "gtol": gtol, "ftol": ftol, "maxcor": 30},
        )
        pars = x0.copy()
        pars[free] = res.x
        return FitResult(pars=pars, twice_nll=float(res.fun), success=bool(res.success),
                         message=str(res.message))

    def fit_mu(self, **kwargs):
        """Published-model fit (no new physics, μ free): returns (μ̂, FitResult)."""
        result = self.fit(b_np_bins=None, mu=None, **kwargs)
        return float(result.pars[self.poi_index]), result
