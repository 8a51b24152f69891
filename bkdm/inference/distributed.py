"""Multi-process scans: start-up of ``jax.distributed`` and the check that every process runs the same scan.

A scan (:mod:`bkdm.inference.scan`) runs on several processes — on one machine or many, typically one
process per accelerator — when ``BKDM_JAX_DISTRIBUTED=1``. :func:`initialize` then calls
``jax.distributed.initialize`` with the cluster settings, from the environment:

* ``JAX_COORDINATOR_ADDRESS`` (host:port of process 0, reachable from every process),
  ``JAX_NUM_PROCESSES`` (N) and ``JAX_PROCESS_ID`` (0 … N−1, different in every process); or
* nothing, under a cluster manager JAX detects: SLURM (``srun``), Open MPI (``mpirun``), Kubernetes,
  Cloud TPU. ``JAX_LOCAL_DEVICE_IDS`` (e.g. ``0``) restricts a process to some local accelerators.

Without any of them :func:`initialize` stops at once with a one-line ``ValueError`` naming the
variables (JAX's own auto-detection would otherwise fail with a bare message). Processes that start
but never all meet fail after ``BKDM_JAX_INIT_TIMEOUT`` seconds (default 300), not never.

Before evaluating any point, :func:`check_same_scan` compares across processes the fit
(:func:`bkdm.inference.provenance.fit_hash` of the resolved fit) and the scan (a SHA-256 of the points,
chunking, observables and nuisances with their mode): any
difference stops every process with a ``ValueError`` naming both sides. Launch recipes:
``docs/scale-out.md``.
"""

import hashlib
import json
import os

import numpy as np

DISTRIBUTED_ENV = "BKDM_JAX_DISTRIBUTED"
TIMEOUT_ENV = "BKDM_JAX_INIT_TIMEOUT"
CLUSTER_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
_INFO_BYTES = 1024


def requested():
    """True if ``BKDM_JAX_DISTRIBUTED=1``."""
    return os.environ.get(DISTRIBUTED_ENV) == "1"


def _int_env(name):
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def _cluster_detected():
    from jax._src import clusters

    return any(not env.opt_in_only_method and env.is_env_present()
               for env in clusters.ClusterEnv._cluster_types)


def initialize():
    """``jax.distributed.initialize`` if ``BKDM_JAX_DISTRIBUTED=1`` and not yet initialised (module
    docstring); call it before any JAX computation. Returns True if JAX is distributed."""
    import jax

    if not requested() or jax.distributed.is_initialized():
        return jax.distributed.is_initialized()
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    n, pid = _int_env("JAX_NUM_PROCESSES"), _int_env("JAX_PROCESS_ID")
    if (address is None or n is None or pid is None) and not _cluster_detected():
        missing = [v for v, x in zip(CLUSTER_VARIABLES, (address, n, pid), strict=True) if x is None]
        raise ValueError(f"{DISTRIBUTED_ENV}=1 but {', '.join(missing)} not set and no cluster manager "
                         "(SLURM, Open MPI) detected: set JAX_COORDINATOR_ADDRESS=host:port of process 0, "
                         "JAX_NUM_PROCESSES=N and JAX_PROCESS_ID=0..N-1 in every process "
                         "(docs/scale-out.md)")
    jax.distributed.initialize(coordinator_address=address, num_processes=n, process_id=pid,
                               initialization_timeout=_int_env(TIMEOUT_ENV) or 300)
    return True


def scan_hash(theta, chunk, observables, nuisances, nuisance_mode):
    """SHA-256 (hex) of what a scan evaluates: the points θ (float64 bytes), the chunk size, the
    observables, the Belle II nuisances (start values) and their mode (profiled or fixed)."""
    h = hashlib.sha256(np.ascontiguousarray(theta, dtype=np.float64).tobytes())
    h.update(json.dumps([int(chunk), list(observables), str(nuisance_mode)]).encode())
    h.update(np.ascontiguousarray(nuisances, dtype=np.float64).tobytes())
    return h.hexdigest()


def _allgather_json(info):
    """Every process's ``info`` (a small JSON-able dict), in process order (a collective: every process
    must call it)."""
    from jax.experimental import multihost_utils

    data = json.dumps(info, sort_keys=True).encode()
    if len(data) > _INFO_BYTES:
        raise ValueError(f"process info too long for the consistency check ({len(data)} bytes)")
    buffer = np.zeros(_INFO_BYTES, dtype=np.uint8)
    buffer[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    gathered = np.asarray(multihost_utils.process_allgather(buffer))
    return [json.loads(bytes(row).rstrip(b"\0").decode()) for row in gathered.reshape(-1, _INFO_BYTES)]


def check_same_scan(spec, theta, chunk, observables, nuisances, nuisance_mode):
    """Stop (ValueError on every process) if the processes of a distributed scan disagree on the fit or
    on the scan (module docstring). A collective: every process calls it at the same point."""
    import jax

    from bkdm.inference import provenance

    mine = {"process": jax.process_index(), "fit": spec.name, "fit_hash": provenance.fit_hash(spec),
            "points": int(len(theta)),
            "scan_hash": scan_hash(theta, chunk, observables, nuisances, nuisance_mode)}
    everyone = _allgather_json(mine)
    first = everyone[0]
    for other in everyone[1:]:
        if other["fit_hash"] != first["fit_hash"]:
            raise ValueError(f"distributed scan: process {other['process']} runs fit {other['fit']!r} "
                             f"(fit hash {other['fit_hash'][:12]}) but process 0 runs fit {first['fit']!r} "
                             f"(fit hash {first['fit_hash'][:12]}); start every process with the same fit "
                             "file and options")
        if other["scan_hash"] != first["scan_hash"]:
            raise ValueError(f"distributed scan: process {other['process']} has a different point set "
                             f"({other['points']} points, scan hash {other['scan_hash'][:12]}) than "
                             f"process 0 ({first['points']} points, scan hash {first['scan_hash'][:12]}); "
                             "start every process with the same --points/--plane/seed and best fit")
    return first
