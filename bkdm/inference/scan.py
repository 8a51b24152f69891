"""Grid and random parameter scans of model observables, sharded over devices, chunked and resumable.

    scan(joint, points=2500, mode="grid", observables=("omega_h2", "br_b_to_k_invisible", "twice_nll"))

Points (θ in physical units — GeV for masses, GeV⁻¹ for dimensionful couplings, as in the model's
``PARAMETERS``; order of ``joint.names``):

- ``mode="grid"``: tensor product of k = round(points^(1/n)) values per free parameter (n free
  parameters, k^n points in all), log-spaced for log-uniform priors, linear otherwise, end points
  included: the prior ``range``, or mean ± 3σ for a normal prior without one. Point i is the
  C-order (last parameter fastest) flattening of the grid.
- ``mode="random"``: ``points`` draws from the priors (``Prior.sample`` with
  ``numpy.random.default_rng(seed)``, one parameter after the other), so a seed fixes the points.

Observables (any subset of :func:`available_observables`): the model-interface quantities
(``br_b_to_k_invisible``, ``dm_mass``, …, see :mod:`bkdm.models.base`), ``omega_h2`` (Ωh² from the
joint's relic solve), ``twice_nll`` (−2 ln L) and ``twice_nll_<term>`` for each likelihood term.

Belle II nuisances (``nuisance_mode``, docs/statistics.md):

- ``"profile"`` (default): at every point −2 ln L is minimised over the 231 Belle II nuisances ν at
  that point's new physics, −2 ln L(θ) = min_ν −2 ln L(θ, ν) (:mod:`bkdm.inference.nuisance_profile`:
  Newton with the exact Hessian, vmapped over the chunk, every point started from ``nuisances``,
  normally the best fit's ν̂). The inner fit's status is stored per point (``nuisance_status``,
  0 = converged); a point with status ≠ 0 has an unreliable −2 ln L and is reported, never used.
- ``"fixed"``: −2 ln L at the fixed ``nuisances`` (default ``joint.nuisance_init``): a *conditional*
  likelihood, Δχ² too large away from where ν was fitted (issue 18: 39.7 instead of 13.2 at an
  SM-like point) — for quick looks only.

A fit without a Belle II term has no nuisances (``nuisance_mode`` is recorded as "none"). The relic
status code (0 = success) of every point is stored as well; a failed solve gives Ωh² = NaN and
−2 ln L = +∞ (joint.py). Scans store −2 ln L, not Δχ²: the reference (the global best fit, or the
Belle II term's profiled minimum over the scanned plane) is the caller's (``bkdm scan``).

Evaluation: one ``jax.jit(jax.vmap(point))`` per (joint, observables, nuisances, mode), applied to chunks
of ``chunk`` points. Each chunk is padded (with copies of its last point, dropped afterwards) to one
fixed size, a multiple of the local device count, so the function compiles once; with several local
devices the chunk is placed with ``jax.sharding.NamedSharding`` over a 1-d ``Mesh`` of
``jax.local_devices()`` and jit partitions the batch (GSPMD). (``pmap``/``shard_map`` around the
diffrax solve fail in jax 0.10.2, docs/physics/numerics.md §10.8.) Test the sharded path on CPU with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` set before JAX is imported.

Multi-host: chunk k is evaluated by process ``k % jax.process_count()`` (``jax.process_index()``);
every process writes its chunks to the shared ``out_dir`` and the result is assembled from disk after
a barrier. :func:`initialize_distributed` calls ``jax.distributed.initialize()`` (cluster settings
from the environment: ``JAX_COORDINATOR_ADDRESS``/``JAX_NUM_PROCESSES``/``JAX_PROCESS_ID`` or SLURM,
Open MPI…; :mod:`bkdm.inference.distributed`) only if the environment variable
``BKDM_JAX_DISTRIBUTED=1`` is set; it must run before any JAX computation, so a driver (the CLI)
calls it first thing. Without that variable a scan is single-process. Before any point is evaluated
the processes compare their fit hash and point set and stop with an error naming both if they differ
(``distributed.check_same_scan``). A job killed mid-way (one process or all) is restarted as a whole
with the same arguments and resumes from the chunks on disk. Tested with 2 and 3 processes on one
machine (tests/test_distributed.py); launch recipes in docs/scale-out.md.

Output (``out_dir``): ``chunk_00000.npz``, … (arrays ``index`` — global point indices —, ``theta``,
``status`` and one per observable; each written to a temporary file and renamed, so a chunk on disk
is complete; a temporary left by a killed single-process scan is removed when the scan is re-run)
and ``manifest.json`` (fit name, model, mode, seed, points, chunk size, observables,
parameter names, nuisances, grid shape, completed chunks, and the provenance of
:mod:`bkdm.inference.provenance`: ``fit_hash``, ``bkdm_version`` and the resolved fit). With
``resume=True`` (default) chunks already on disk whose indices and θ's match the scan are kept and
skipped, so an interrupted scan re-run with the same arguments neither loses nor duplicates points;
a manifest for a different scan — other settings, or another fit hash (a changed fixed value, prior,
likelihood or relic option, data file) or bkdm version — is an error naming what changed.
"""

import dataclasses
import json
import math
import os
import weakref
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from bkdm.inference import distributed, nuisance_profile, provenance

MODES = ("grid", "random")
MODEL_OBSERVABLES = ("mediator_mass", "dm_mass", "total_width", "br_b_to_k", "br_b_to_kstar",
                     "invisible_fraction", "br_b_to_k_invisible")
DEFAULT_OBSERVABLES = ("omega_h2", "br_b_to_k_invisible", "twice_nll")
MANIFEST = "manifest.json"
DISTRIBUTED_ENV = distributed.DISTRIBUTED_ENV
NORMAL_GRID_HALF_WIDTH = 3.0  # grid over mean ± 3σ for a normal prior without a range


def initialize_distributed():
    """:func:`bkdm.inference.distributed.initialize`: ``jax.distributed.initialize()`` if
    ``BKDM_JAX_DISTRIBUTED=1`` (module docstring); call it before any JAX computation. Returns True if
    JAX is distributed."""
    return distributed.initialize()


# ------------------------------------------------------------------------------------------- points
def _term_names(joint):
    return tuple(t for t, on in (("belle2", joint.belle2 is not None),
                                 ("planck", joint.planck_options is not None),
                                 ("constraints", bool(joint.limits))) if on)


def available_observables(joint):
    """Observable names a scan of ``joint`` can evaluate (module docstring)."""
    return (*MODEL_OBSERVABLES, "omega_h2", "twice_nll", *(f"twice_nll_{t}" for t in _term_names(joint)))


def _axis(prior, k):
    half = NORMAL_GRID_HALF_WIDTH * (prior.sigma or 0.0)
    lo = prior.low if prior.low is not None else prior.mean - half
    hi = prior.high if prior.high is not None else prior.mean + half
    return np.geomspace(lo, hi, k) if prior.kind == "log-uniform" else np.linspace(lo, hi, k)


def grid_shape(joint, points):
    """Values per free parameter of a grid scan: k = max(2, round(points^(1/n))) each (one
    parameter: exactly ``points``)."""
    n = joint.n_theta
    k = points if n == 1 else max(2, int(round(points ** (1.0 / n))))
    return (k,) * n


def scan_points(joint, points, mode="grid", seed=0):
    """θ's of a scan, shape (N, n) in the order of ``joint.names`` (module docstring)."""
    priors = list(joint.spec.free.values())
    if mode == "grid":
        axes = [_axis(p, k) for p, k in zip(priors, grid_shape(joint, points), strict=True)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)
    rng = np.random.default_rng(seed)
    return np.stack([p.sample(rng, points) for p in priors], axis=1)


# ------------------------------------------------------------------------------------- evaluation
def point_function(joint, observables, nuisances, nuisance_mode="fixed"):
    """θ (n,) → ({observable: value}, relic status) for one point (pure JAX). With
    ``nuisance_mode="profile"`` the −2 ln L observables are at ν̂(θ), started from ``nuisances``, and
    the values include ``nuisance_status`` (module docstring)."""
    nuisances = jnp.asarray(nuisances, dtype=jnp.float64)
    with_relic = joint.planck_options is not None or "omega_h2" in observables
    profiled = nuisance_mode == "profile" and any(o.startswith("twice_nll") for o in observables)
    profiler = nuisance_profile.for_joint(joint) if profiled else None

    def point(theta):
        out = {}
        nu = nuisances
        if profiled:
            solution = profiler.solve(nuisances, joint.b_np_bins(theta))
            nu, out["nuisance_status"] = solution["nu"], solution["status"]
        if any(o in MODEL_OBSERVABLES for o in observables):
            p = joint.params(theta)
            out.update({o: getattr(joint.model, o)(p) for o in observables if o in MODEL_OBSERVABLES})
        if with_relic:
            omega, status = joint.omega_h2(theta)
        else:
            omega, status = jnp.nan, jnp.zeros((), dtype=jnp.int32)
        if "omega_h2" in observables:
            out["omega_h2"] = omega
        if "twice_nll" in observables:
            out["twice_nll"] = joint.twice_nll(theta, nu)
        if any(o.startswith("twice_nll_") for o in observables):
            terms = joint.terms(theta, nu)
            out.update({o: terms[o.removeprefix("twice_nll_")] for o in observables
                        if o.startswith("twice_nll_")})
        values = {o: jnp.asarray(out[o], dtype=jnp.float64) for o in observables}
        if profiled:
            values["nuisance_status"] = out["nuisance_status"]
        return values, status

    return point


_COMPILED = weakref.WeakKeyDictionary()


def batch_function(joint, observables, nuisances, nuisance_mode="fixed"):
    """``jax.jit(jax.vmap(point_function(...)))``, cached per joint, observables, nuisances and mode
    so that repeated scans (resumes, chunks) reuse one compilation."""
    nuisances = np.asarray(nuisances, dtype=float)
    key = (tuple(observables), nuisances.tobytes(), nuisance_mode)
    cache = _COMPILED.setdefault(joint, {})
    if key not in cache:
        cache[key] = jax.jit(jax.vmap(point_function(joint, tuple(observables), nuisances, nuisance_mode)))
    return cache[key]


def evaluate(function, theta, size=None, devices=None):
    """Apply a :func:`batch_function` to θ's (m, n): padded to ``size`` rows (default: m rounded
    up to a multiple of the device count) by repeating the last point, sharded over ``devices``
    (default ``jax.local_devices()``), padding dropped. Returns ({name: (m,)}, status (m,))."""
    devices = jax.local_devices() if devices is None else list(devices)
    theta = np.asarray(theta, dtype=float)
    m = theta.shape[0]
    size = max(m, size or 0)
    size = -(-size // len(devices)) * len(devices)
    padded = np.concatenate([theta, np.repeat(theta[-1:], size - m, axis=0)])
    if len(devices) > 1:
        mesh = Mesh(np.array(devices), ("points",))
        batch = jax.device_put(padded, NamedSharding(mesh, PartitionSpec("points", None)))
    else:
        batch = jax.device_put(padded, devices[0])
    values, status = function(batch)
    return {k: np.asarray(v)[:m] for k, v in values.items()}, np.asarray(status)[:m]


# ------------------------------------------------------------------------------------------ result
@dataclasses.dataclass
class ScanResult:
    """A scan: ``theta`` (N, n) [physical units], ``observables`` {name: (N,)}, ``status`` (N,)
    relic status codes (0 = success), ``index`` (N,) global point indices, ``names`` (free
    parameters), ``manifest`` (scan settings, see module docstring), ``nuisance_status`` (N,) the
    inner nuisance fit's status (:mod:`bkdm.inference.nuisance_profile`; 0 = converged, all 0 when
    the nuisances are not profiled)."""

    names: tuple
    theta: np.ndarray
    observables: dict
    status: np.ndarray
    index: np.ndarray
    manifest: dict
    nuisance_status: np.ndarray | None = None

    def __post_init__(self):
        if self.nuisance_status is None:
            self.nuisance_status = np.zeros(len(self.index), dtype=np.int32)

    @property
    def complete(self):
        return len(self.index) == self.manifest["points"]

    def grid(self, name):
        """An observable (or a parameter name) reshaped to the grid shape (grid scans only)."""
        if self.manifest["mode"] != "grid" or not self.complete:
            raise ValueError("grid(): only for a complete grid scan")
        values = self.theta[:, self.names.index(name)] if name in self.names else self.observables[name]
        return values.reshape(self.manifest["grid_shape"])

    def to_dict(self):
        """JSON-ready dict (lists; NaN/inf as None)."""
        def clean(a):
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]
        return {"manifest": self.manifest, "names": list(self.names),
                "theta": {n: clean(self.theta[:, i]) for i, n in enumerate(self.names)},
                "observables": {k: clean(v) for k, v in self.observables.items()},
                "status": [int(s) for s in self.status], "index": [int(i) for i in self.index],
                "nuisance_status": [int(s) for s in self.nuisance_status]}

    @classmethod
    def load(cls, out_dir):
        """Read a scan from ``out_dir`` (manifest and every chunk on disk, sorted by index)."""
        out_dir = Path(out_dir)
        manifest = json.loads((out_dir / MANIFEST).read_text())
        chunks = [_read_chunk(out_dir, k, manifest["observables"]) for k in range(manifest["n_chunks"])]
        return _assemble(manifest, [c for c in chunks if c is not None])


def _chunk_path(out_dir, k):
    return Path(out_dir) / f"chunk_{k:05d}.npz"


def _read_chunk(out_dir, k, observables):
    path = _chunk_path(out_dir, k)
    if not path.is_file():
        return None
    try:
        with np.load(path) as f:
            chunk = {key: f[key] for key in ("index", "theta", "status", *observables)}
            chunk["nuisance_status"] = (f["nuisance_status"] if "nuisance_status" in f.files
                                        else np.zeros(len(chunk["index"]), dtype=np.int32))
            return chunk
    except (OSError, ValueError, KeyError):
        return None  # unreadable or incomplete: treated as missing and recomputed


def _write_chunk(out_dir, k, chunk):
    tmp = Path(out_dir) / f".chunk_{k:05d}.{os.getpid()}.tmp.npz"
    try:
        np.savez(tmp, **chunk)
        os.replace(tmp, _chunk_path(out_dir, k))
    except BaseException:  # interrupted (Ctrl-C, SIGTERM → exception) or failed: no partial file left
        tmp.unlink(missing_ok=True)
        raise


def _remove_stale_temporaries(out_dir):
    """Temporary chunk/manifest files of a single-process scan that was killed while writing them
    (SIGKILL leaves no chance to clean up): a chunk on disk is only ever one renamed complete file."""
    for stale in (*Path(out_dir).glob(".chunk_*.tmp.npz"), *Path(out_dir).glob(f".{MANIFEST}.*.tmp")):
        stale.unlink(missing_ok=True)


def _assemble(manifest, chunks):
    names = tuple(manifest["names"])
    observables = manifest["observables"]
    if not chunks:
        return ScanResult(names, np.zeros((0, len(names))), {o: np.zeros(0) for o in observables},
                          np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64), manifest)
    cat = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    order = np.argsort(cat["index"], kind="stable")
    index = cat["index"][order]
    duplicated = index[:-1][np.diff(index) == 0]
    if duplicated.size:
        raise ValueError(f"scan chunks hold duplicated point indices: {np.unique(duplicated)}")
    return ScanResult(names, cat["theta"][order], {o: cat[o][order] for o in observables},
                      cat["status"][order], index, manifest, cat["nuisance_status"][order])


def _write_manifest(out_dir, manifest):
    tmp = Path(out_dir) / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, Path(out_dir) / MANIFEST)


_IDENTITY_KEYS = ("fit", "model", "mode", "seed", "points", "chunk", "observables", "names", "nuisances",
                  "nuisance_mode", "fit_hash")
NUISANCE_MODES = ("profile", "fixed")


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:30]}…"


# -------------------------------------------------------------------------------------------- scan
def scan(joint, points=2500, mode="grid", observables=DEFAULT_OBSERVABLES, chunk=500, out_dir=None,
         seed=0, nuisances=None, progress=True, resume=True, nuisance_mode="profile"):
    """Evaluate ``observables`` at a grid or random set of θ's (module docstring); returns
    :class:`ScanResult`. Physical units as in the model's ``PARAMETERS`` (GeV, GeV⁻¹).
    ``nuisance_mode``: "profile" (default) or "fixed" Belle II nuisances; ``nuisances``: their start
    (profile) or fixed values (default ``joint.nuisance_init``; pass the best fit's)."""
    if mode not in MODES:
        raise ValueError(f"mode = {mode!r} is not allowed: choose one of {list(MODES)}")
    if nuisance_mode not in NUISANCE_MODES:
        raise ValueError(f"nuisance_mode = {nuisance_mode!r} is not allowed: choose one of "
                         f"{list(NUISANCE_MODES)}")
    for key, value in (("points", points), ("chunk", chunk)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    observables = tuple(observables)
    allowed = available_observables(joint)
    unknown = [o for o in observables if o not in allowed]
    if unknown or not observables:
        raise ValueError(f"observables {unknown or observables!r} not allowed: choose from {list(allowed)}")
    nuisances = np.asarray(joint.nuisance_init if nuisances is None else nuisances, dtype=float)
    if nuisances.shape != (joint.n_nuisance,):
        raise ValueError(f"nuisances must have shape ({joint.n_nuisance},), got {nuisances.shape}")
    initialize_distributed()
    process, n_process = jax.process_index(), jax.process_count()
    if n_process > 1 and out_dir is None:
        raise ValueError("a multi-process scan needs out_dir (a directory shared by all processes)")

    theta = scan_points(joint, int(points), mode, seed)
    record = provenance.record(joint.spec)
    if n_process > 1:
        distributed.check_same_scan(joint.spec, theta, chunk, observables, nuisances, nuisance_mode)
    total = theta.shape[0]
    n_chunks = math.ceil(total / chunk)
    manifest = {"fit": joint.spec.name, "model": joint.spec.model_name, "mode": mode,
                "seed": int(seed) if mode == "random" else None, "points": total,
                "requested_points": int(points), "chunk": int(chunk), "n_chunks": n_chunks,
                "observables": list(observables), "names": list(joint.names),
                "nuisances": nuisances.tolist(),
                "nuisance_mode": nuisance_mode if joint.n_nuisance else "none",
                "grid_shape": list(grid_shape(joint, int(points))) if mode == "grid" else None,
                "devices_per_process": jax.local_device_count(), "processes": n_process,
                "fit_hash": record["fit_hash"], "bkdm_version": record["bkdm_version"],
                "provenance": record, "completed": []}

    done = {}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if n_process == 1:  # several processes may be writing their own temporaries right now
            _remove_stale_temporaries(out_dir)
        old = out_dir / MANIFEST
        if old.is_file() and resume:
            previous = json.loads(old.read_text())
            differ = provenance.mismatch(previous.get("provenance"), joint.spec) + [
                f"{k}: {_short(previous.get(k))} → {_short(manifest[k])}" for k in _IDENTITY_KEYS
                if k != "fit_hash" and previous.get(k) != manifest[k]]
            if differ:
                raise ValueError(f"{out_dir} holds a different scan ({'; '.join(differ)}); use another "
                                 "out_dir or resume=False (bkdm scan --restart)")
        for k in range(n_chunks):
            found = _read_chunk(out_dir, k, observables) if resume else None
            lo, hi = k * chunk, min((k + 1) * chunk, total)
            if (found is not None and np.array_equal(found["index"], np.arange(lo, hi))
                    and np.array_equal(found["theta"], theta[lo:hi])):
                done[k] = found
            elif not resume:
                _chunk_path(out_dir, k).unlink(missing_ok=True)
        if process == 0:
            _write_manifest(out_dir, {**manifest, "completed": sorted(done)})

    todo = [k for k in range(n_chunks) if k % n_process == process and k not in done]
    effective_mode = manifest["nuisance_mode"] if manifest["nuisance_mode"] != "none" else "fixed"
    function = batch_function(joint, observables, nuisances, effective_mode) if todo else None
    for k in tqdm(todo, desc=f"scan {joint.spec.name}", unit="chunk", disable=not progress):
        lo, hi = k * chunk, min((k + 1) * chunk, total)
        values, status = evaluate(function, theta[lo:hi], size=chunk)
        inner = values.pop("nuisance_status", np.zeros(hi - lo))
        result = {"index": np.arange(lo, hi, dtype=np.int64), "theta": theta[lo:hi],
                  "status": status.astype(np.int32), "nuisance_status": np.asarray(inner, dtype=np.int32),
                  **values}
        done[k] = result
        if out_dir is not None:
            _write_chunk(out_dir, k, result)
            if process == 0:
                _write_manifest(out_dir, {**manifest, "completed": sorted(done)})

    if n_process > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("bkdm-scan-done")
        result = ScanResult.load(out_dir)
        if process == 0:
            _write_manifest(out_dir, {**manifest, "completed": [int(k) for k in range(n_chunks)
                                                                 if _chunk_path(out_dir, k).is_file()]})
        return result
    return _assemble({**manifest, "completed": sorted(done)}, [done[k] for k in sorted(done)])
