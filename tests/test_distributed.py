"""Distributed scans (bkdm.inference.scan on several processes with jax.distributed, CPU, localhost).

Reference: the same scan in a single process (this test process), point by point — the multi-process
result must hold every point exactly once, with bitwise-identical values (every process runs the
same compiled program on the same CPU, on chunks of the same padded size). A small fit keeps it cheap:
the dark photon with the Belle 2017 B → K*νν̄ limit as the only likelihood term (no relic solve, no
Belle II), a 6 × 6 grid in (m_X, δ) in chunks of 5 (8 chunks: uneven over 2 and 3 processes). Every
subprocess has a timeout and JAX's initialisation timeout is 120 s, so nothing hangs. The 2-process scan
runs in the default suite (~20 s on the 2-core CPU); 3 processes, the restart and the mismatch cases are
``slow`` (~30-70 s each).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bkdm.inference import distributed, fitspec, scan
from bkdm.inference.joint import JointLikelihood

HERE = Path(__file__).resolve().parent
WORKER = HERE / "distributed_scan_worker.py"
POINTS, CHUNK = 36, 5
FIT = """
[fit]
name = "{name}"
model = "dark-photon"
[free.m_x]
prior = "uniform"
range = [1.0, 4.6]
[free.delta]
prior = "log-uniform"
range = [1e-4, 1e-1]
[fixed]
epsilon = {epsilon}
alpha_x = 2.33e-3
m_psi = 0.3
m_hp = 0.05
[likelihood]
belle2 = false
planck = false
constraints = ["belle2017_kstar"]
"""


def write_fit(path, name="distributed-test", epsilon=1e-3):
    path.write_text(FIT.format(name=name, epsilon=epsilon))
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def cluster_env(n):
    """Environment of an n-process job on localhost (no inherited cluster settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_", "JAX_"))}
    env.update(BKDM_JAX_DISTRIBUTED="1", JAX_COORDINATOR_ADDRESS=f"localhost:{free_port()}",
               JAX_NUM_PROCESSES=str(n), JAX_PLATFORMS="cpu", BKDM_JAX_INIT_TIMEOUT="120",
               PYTHONPATH=os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")]))
    return env


def start(n, fits, out_dir, points=None, extra_env=None):
    """Start n worker processes (process i scans fits[i] with points[i]); returns the Popen objects."""
    env = {**cluster_env(n), **(extra_env or {})}
    points = points or [POINTS] * n
    return [subprocess.Popen([sys.executable, str(WORKER), str(fits[i]), str(out_dir), str(points[i]),
                              str(CHUNK)], env={**env, "JAX_PROCESS_ID": str(i)}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for i in range(n)]


def finish(procs, timeout=600):
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, stdout, stderr))
    return out


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory):
    return write_fit(tmp_path_factory.mktemp("fit") / "fit.toml")


@pytest.fixture(scope="module")
def reference(fit_file):
    """The single-process scan (in this process)."""
    from distributed_scan_worker import OBSERVABLES

    joint = JointLikelihood(fitspec.load(fit_file))
    return scan.scan(joint, points=POINTS, mode="grid", observables=OBSERVABLES, chunk=CHUNK, progress=False)


def assert_same_scan(result, reference):
    assert result.complete and len(result.index) == POINTS
    np.testing.assert_array_equal(result.index, np.arange(POINTS))  # each point once, none lost
    np.testing.assert_array_equal(result.theta, reference.theta)
    np.testing.assert_array_equal(result.status, reference.status)
    for name, values in reference.observables.items():
        np.testing.assert_array_equal(result.observables[name], values, err_msg=name)


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=pytest.mark.slow)])
def test_processes_assemble_the_single_process_scan(n, fit_file, reference, tmp_path):
    runs = finish(start(n, [fit_file] * n, tmp_path / "scan"))
    for code, stdout, stderr in runs:
        assert code == 0, stderr[-3000:]
        assert f"/{n}: {POINTS} points" in stdout
    result = scan.ScanResult.load(tmp_path / "scan")
    assert result.manifest["processes"] == n
    assert_same_scan(result, reference)


@pytest.mark.slow
def test_killed_process_then_restarted_job_resumes(fit_file, reference, tmp_path):
    """Process 1 of 3 dies after its first chunk; the job is stopped and started again: the chunks on
    disk are kept (not recomputed: same file, same modification time) and the rest completed."""
    out = tmp_path / "scan"
    procs = start(3, [fit_file] * 3, out, extra_env={"BKDM_TEST_EXIT_AFTER_CHUNKS": "1"})
    assert procs[1].wait(timeout=600) == 3
    time.sleep(1.0)
    for p in procs:
        p.kill()
    finish(procs)
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("chunk_*.npz")}
    assert 1 <= len(kept) < POINTS // CHUNK + 1
    runs = finish(start(3, [fit_file] * 3, out))
    for code, _, stderr in runs:
        assert code == 0, stderr[-3000:]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("chunk_*.npz") if p.name in kept} == kept
    assert_same_scan(scan.ScanResult.load(out), reference)


@pytest.mark.slow
def test_processes_with_different_fits_or_points_stop_naming_both(fit_file, tmp_path):
    other = write_fit(tmp_path / "other.toml", name="other-fit", epsilon=2e-3)
    for fits, points, expect in (([fit_file, other], [POINTS, POINTS], "fit hash"),
                                 ([fit_file, fit_file], [POINTS, 25], "point set")):
        procs = start(2, fits, tmp_path / f"scan-{expect}", points=points)
        for code, _, stderr in finish(procs, timeout=300):
            assert code != 0
            assert expect in stderr and "process 1" in stderr and "process 0" in stderr
            if expect == "fit hash":
                assert "'distributed-test'" in stderr and "'other-fit'" in stderr
            else:
                assert "36 points" in stderr and "25 points" in stderr
        assert not list((tmp_path / f"scan-{expect}").glob("chunk_*.npz"))  # nothing evaluated


def test_missing_coordinator_address_is_a_one_line_error(tmp_path, fit_file):
    """`bkdm scan` with BKDM_JAX_DISTRIBUTED=1 and no cluster settings: exit code 2 at once, one line
    naming the variables to set (no wait for a coordinator)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_", "JAX_"))}
    env.update(BKDM_JAX_DISTRIBUTED="1", PYTHONPATH=str(HERE.parent))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bkdm.cli", "scan", str(fit_file), "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and all(v in lines[0] for v in distributed.CLUSTER_VARIABLES)
    assert time.perf_counter() - t0 < 60
