"""Belle II B⁺ → K⁺νν̄ (362 fb⁻¹) likelihood with the signal reweighted for new physics.

The published HistFactory model (Belle II, arXiv:2311.14647; reinterpretation release
arXiv:2507.12393, HEPData ins2947386; bkdm/data/belle2) evaluated with pyhf's JAX backend.

New physics (docs/physics/belle2-likelihood.md §9.6, §9.9; the "redist" reweighting of arXiv:2402.08417):
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
μ̂ are reproduced. (Codes 1/0, the defaults of pyhf's modifier classes, are not what its model uses:
docs/physics/belle2-likelihood.md §9.9.)

Parameters: pyhf's full vector = the "nuisance" vector (everything except the shapefactors: the
232 published parameters including the POI ``mu``) plus the physics-driven shapefactors. For a
new-physics fit keep ``mu`` = 1 (SM signal) and let B_NP carry the new physics.
"""

import contextlib
import copy
import dataclasses
import functools
import hashlib
import io
import json
import logging
from importlib import resources
from pathlib import Path

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pyhf
import scipy.optimize
from jax.scipy.special import gammaln

from bkdm import compile_cache
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
logger = logging.getLogger(__name__)

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


def _read_spec(source=None):
    if isinstance(source, dict):
        return copy.deepcopy(source)
    path = _data_file("combined_likelihood.json") if source is None else Path(source)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"Belle II likelihood file {path} is not valid JSON: {err}") from err


def load_spec(source=None):
    """The workspace JSON as a dict, validated with pyhf's schema (ValueError if malformed).

    ``source``: None (shipped combined_likelihood.json), a path, or a dict.
    """
    spec = _read_spec(source)
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
    (the CSV's column 0, the [−1, 0) GeV² underflow, is dropped: B_SM = 0 there;
    docs/physics/belle2-likelihood.md §9.6)."""
    (sig,) = [s for s in SIGNAL_CHANNELS if s.channel == channel]
    table = np.loadtxt(io.StringIO(_data_file(sig.density_file).read_text()), delimiter=",", ndmin=2)
    if table.shape[1] != BELLE2_N_GEN_BINS + 1:
        raise ValueError(f"{sig.density_file}: {table.shape[1]} columns, expected {BELLE2_N_GEN_BINS + 1}")
    return table[:, 1:]


def events_per_unit_br(channel):
    """k_ij = n_ij / B_SM,j: expected events in reconstructed bin i per unit branching fraction in
    generator bin j (docs/physics/belle2-likelihood.md §9.5, §9.6)."""
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


# ------------------------------------------------------------------------------ on-disk cache
# What Belle2Likelihood keeps from pyhf (arrays; plus the parameter names and −2 ln L). A likelihood
# restored from bkdm.compile_cache skips pyhf's schema validation, model construction, its JAX-backend
# conversion and the trace (seconds), and evaluates −2 ln L through two exported programs.
_STATE_ARRAYS = ("np_index", "k_matrix", "sm_signal", "nuisance_index", "init", "bounds", "fixed", "_order",
                 "_data")
# Exported-program cache of the likelihood (below): off. The exported −2 ln L supports grad and jvp to
# first order only, and the nuisance profiler (bkdm.inference.nuisance_profile) needs its exact Hessian
# (measured: jax.hessian of a restored likelihood fails inside custom_vmap_call). With it off every
# process builds the likelihood with pyhf (seconds) and JAX's persistent cache serves the XLA compile.
EXPORT_PROGRAMS = False
_CACHE_NAME = "belle2-likelihood"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _cache_record(spec, channels):
    """What a cached likelihood depends on besides bkdm's source (compile_cache.artifact_key): the
    channel subset and the SHA-256 of the workspace (canonical JSON) and of the number-density files."""
    return {"channels": channels,
            "workspace_sha256": _sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()),
            "number_density_sha256": {s.density_file: _sha256(_data_file(s.density_file).read_bytes())
                                      for s in SIGNAL_CHANNELS}}


def _exported_twice_nll(value, value_and_grad):
    """−2 ln L(ν, B_NP) from two exported programs vmapped over a symbolic batch axis — the value and
    the value with both gradients. Works under jit, vmap, grad and jvp (first derivatives: the JVP is
    ∇·tangent from the exported gradient; higher orders raise an error)."""
    value = compile_cache.batched_call(value)
    value_and_grad = compile_cache.batched_call(value_and_grad)

    @jax.custom_jvp
    def twice_nll(nuisance_pars, b_np_bins):
        return value(nuisance_pars, b_np_bins)

    @twice_nll.defjvp
    def _jvp(primals, tangents):
        v, (g_nu, g_b) = value_and_grad(*primals)
        return v, jnp.sum(g_nu * tangents[0]) + jnp.sum(g_b * tangents[1])

    return twice_nll


def _store_state(record, state):
    """Export −2 ln L, write the state to the cache; returns the state with the exported −2 ln L (so a
    fresh and a restored likelihood run the same programs)."""
    from jax import export

    (n,) = export.symbolic_shape("n")
    specs = (jax.ShapeDtypeStruct((n, len(state["init"])), jnp.float64),
             jax.ShapeDtypeStruct((n, BELLE2_N_GEN_BINS), jnp.float64))
    f = state["twice_nll"]
    value = export.export(jax.jit(jax.vmap(f)))(*specs)
    value_and_grad = export.export(jax.jit(jax.vmap(jax.value_and_grad(f, argnums=(0, 1)))))(*specs)
    arrays = {name: np.asarray(state[name]) for name in _STATE_ARRAYS}
    arrays.update(parameter_names=np.asarray(state["parameter_names"], dtype=str),
                  np_parameter_names=np.asarray(state["np_parameter_names"], dtype=str),
                  value=np.frombuffer(value.serialize(), dtype=np.uint8),
                  value_and_grad=np.frombuffer(value_and_grad.serialize(), dtype=np.uint8))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    compile_cache.store_artifact(_CACHE_NAME, record, buffer.getvalue())
    return {**state, "twice_nll": _exported_twice_nll(value, value_and_grad)}


def _load_state(record):
    """The cached state for ``record`` (module comment above), or None."""
    from jax import export

    payload = compile_cache.load_artifact(_CACHE_NAME, record)
    if payload is None:
        return None
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as f:
            state = {name: f[name] for name in _STATE_ARRAYS}
            state["parameter_names"] = [str(n) for n in f["parameter_names"]]
            state["np_parameter_names"] = [str(n) for n in f["np_parameter_names"]]
            exported = [export.deserialize(bytearray(f[k].tobytes())) for k in ("value", "value_and_grad")]
    except Exception as err:  # noqa: BLE001 - a damaged entry is rebuilt (read_entry checks a SHA-256 first)
        logger.warning("bkdm cache: ignoring a Belle II likelihood entry (%s)", err)
        return None
    state["twice_nll"] = _exported_twice_nll(*exported)
    return state


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

    Cost: a first construction spends seconds in pyhf (schema validation, model, JAX-backend set-up
    with eager array ops, one trace of the logpdf); afterwards one value+gradient evaluation takes
    ~0.3 ms on a CPU core. With :data:`EXPORT_PROGRAMS` (off by default: exported programs are only
differentiable to first order) and :mod:`bkdm.compile_cache` on, the result — parameter
    arrays and names, and −2 ln L exported (``jax.export``) as a value program and a value+gradient
    program over a symbolic batch axis — is stored keyed by the SHA-256 of the workspace and of the
    number-density files (and bkdm's source), and a later construction restores it in a fraction of a
    second without pyhf; ``model``/``workspace`` (pyhf objects, for plots and the NumPy reference) are
    then built on first use. Both paths run the exported programs, which support jit, vmap (any
    nesting), grad and jvp to first order; with the cache off −2 ln L is the traced pyhf function itself.
    """

    def __init__(self, channels="combined", spec=None):
        check_choice("channels", channels, SUBSETS)
        spec = _read_spec(spec)
        self.channels = channels
        self.signal_channels = tuple(s for s in SIGNAL_CHANNELS if s.channel in SUBSETS[channels])
        self._spec = spec
        self._workspace = self._model = self._with_data = None
        record = _cache_record(spec, channels)
        state = _load_state(record) if EXPORT_PROGRAMS else None
        if state is None:
            validate_spec(spec)
            state = self._build(spec)
            if EXPORT_PROGRAMS and compile_cache.enabled():
                state = _store_state(record, state)
        for name in _STATE_ARRAYS:
            setattr(self, name, state[name])
        self.parameter_names = tuple(state["parameter_names"])
        self.np_parameter_names = tuple(state["np_parameter_names"])
        self.poi_index = self.parameter_names.index(POI)
        self._twice_nll_impl = state["twice_nll"]
        self.twice_nll = jax.jit(self._twice_nll)
        self.value_and_grad = jax.jit(jax.value_and_grad(self._twice_nll, argnums=(0, 1)))

    def _build(self, spec):
        """The likelihood from the workspace with pyhf (module docstring): the state arrays and −2 ln L
        as a plain JAX function of (nuisance parameters, B_NP bins) traced from pyhf's JAX backend."""
        state = {}
        config = self.model.config
        # physics-driven parameters: the shapefactors, in the order of the rows of k_ij
        np_index, k_rows, nominal = [], [], []
        for sig in self.signal_channels:
            sl = config.par_slice(sig.shapefactor)
            np_index.extend(range(sl.start, sl.stop))
            k_rows.append(events_per_unit_br(sig.channel))
            nominal.extend(self._nominal_signal(spec, sig))
        state["np_index"] = np.asarray(np_index)
        state["k_matrix"] = np.concatenate(k_rows)  # events per unit BR, (n_signal_bins, 100)
        state["sm_signal"] = np.asarray(nominal, dtype=np.float64)  # ν_i^SM (μ = 1 template) [events]
        state["_data"] = self.data
        all_names = config.par_names
        nuisance_index = np.asarray([i for i in range(config.npars) if i not in set(np_index)])
        state["nuisance_index"] = nuisance_index
        state["parameter_names"] = tuple(all_names[i] for i in nuisance_index)
        state["np_parameter_names"] = tuple(all_names[i] for i in np_index)
        state["init"] = np.asarray(config.suggested_init(), dtype=np.float64)[nuisance_index]
        state["bounds"] = np.asarray(config.suggested_bounds(), dtype=np.float64)[nuisance_index]
        state["fixed"] = np.asarray(config.suggested_fixed(), dtype=bool)[nuisance_index]
        state["_order"] = np.argsort(np.concatenate([nuisance_index, np_index]))
        for name in _STATE_ARRAYS:
            setattr(self, name, state[name])
        # Trace pyhf's JAX-backend logpdf once; afterwards −2 ln L is a plain JAX function that no
        # longer depends on pyhf's global backend (so later jit/grad/vmap never re-enter pyhf).
        with _pyhf_backend("jax"):
            jaxpr = jax.make_jaxpr(self._pyhf_twice_nll)(jnp.asarray(state["init"]),
                                                         jnp.zeros(BELLE2_N_GEN_BINS))
        twice_nll = jax.extend.core.jaxpr_as_fun(jaxpr)
        state["twice_nll"] = lambda *args: twice_nll(*args)[0]
        return state

    # ----------------------------------------------------------------------------------- pyhf
    @property
    def workspace(self):
        """The pyhf workspace with bkdm's shapefactors added (built on first use)."""
        if self._workspace is None:
            spec = copy.deepcopy(self._spec)
            for ch in spec["channels"]:
                for sig in SIGNAL_CHANNELS:
                    if ch["name"] == sig.channel:
                        sample = next(s for s in ch["samples"] if s["name"] == sig.sample)
                        sample["modifiers"].append({"name": sig.shapefactor, "type": "shapefactor",
                                                    "data": None})
            workspace = pyhf.Workspace(spec)
            drop = [name for name in SUBSETS["combined"] if name not in SUBSETS[self.channels]]
            self._workspace = workspace.prune(channels=drop) if drop else workspace
        return self._workspace

    @property
    def model(self):
        """The pyhf model (NumPy backend; built on first use — a likelihood restored from the cache
        evaluates −2 ln L without it)."""
        if self._model is None:
            with _pyhf_backend("numpy"):
                self._model = self.workspace.model()
        return self._model

    @property
    def data(self):
        """Observed main + auxiliary data of the workspace (pyhf's order)."""
        if "_data" not in self.__dict__:
            with _pyhf_backend("numpy"):
                self._data = np.asarray(self.workspace.data(self.model), dtype=np.float64)
        return self._data

    @functools.cached_property
    def n_main(self):
        """Number of main (observed-count) bins; the auxiliary data follow them in ``data``."""
        return int(self.model.config.nmaindata)

    @property
    def main_data(self):
        return self.data[: self.n_main]

    @property
    def aux_data(self):
        return self.data[self.n_main:]

    @functools.cached_property
    def bin_labels(self):
        """Labels of the main bins, in pyhf's order ("A[0]", …, "HTA[5]")."""
        config = self.model.config
        return tuple(f"{_short_channel(ch)}[{i}]" for ch in config.channels
                     for i in range(config.channel_nbins[ch]))

    @functools.cached_property
    def _rates_jaxpr(self):
        """pyhf's expected main data and constraint log-density as a JAX function (traced once, on first
        use: a likelihood restored from the cache builds the pyhf model for it)."""
        with _pyhf_backend("jax"):
            jaxpr = jax.make_jaxpr(self._pyhf_rates_and_constraint)(jnp.asarray(self.init),
                                                                     jnp.zeros(BELLE2_N_GEN_BINS))
        return jax.extend.core.jaxpr_as_fun(jaxpr)

    @staticmethod
    def _nominal_signal(spec, sig):
        channel = next(ch for ch in spec["channels"] if ch["name"] == sig.channel)
        return next(s for s in channel["samples"] if s["name"] == sig.sample)["data"]

    # ----------------------------------------------------------------------------------- physics
    def signal_ratio(self, b_np_bins):
        """r_i = ν_i^{SM+NP}/ν_i^SM = 1 + Σ_j k_ij B_NP,j / ν_i^SM for every signal bin
        (docs/physics/belle2-likelihood.md §9.6)."""
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
        return self._twice_nll_impl(*args)

    def with_data(self):
        """−2 ln L as a function ``f(nuisance_pars, b_np_bins, data)`` of the observed data too (pyhf
        layout: ``nmaindata`` main bins, then the auxiliary data) — for toy data sets; jit/vmap-able.
        pyhf's logpdf is traced once on first call (call it outside a jax trace)."""
        if self._with_data is None:
            def pyhf_twice_nll(nuisance_pars, b_np_bins, data):
                return -2.0 * self.model.logpdf(self.full_parameters(nuisance_pars, b_np_bins), data)[0]

            with _pyhf_backend("jax"):
                jaxpr = jax.make_jaxpr(pyhf_twice_nll)(jnp.asarray(self.init), jnp.zeros(BELLE2_N_GEN_BINS),
                                                       jnp.asarray(self.data))
            fun = jax.extend.core.jaxpr_as_fun(jaxpr)
            self._with_data = lambda nuisance_pars, b_np_bins, data: fun(
                jnp.asarray(nuisance_pars, dtype=jnp.float64), jnp.asarray(b_np_bins, dtype=jnp.float64),
                jnp.asarray(data, dtype=jnp.float64))[0]
        return self._with_data

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
