"""One process of a distributed scan, started by tests/test_distributed.py (not a test module).

    python distributed_scan_worker.py FIT.toml OUT_DIR POINTS CHUNK

Cluster settings come from the environment (BKDM_JAX_DISTRIBUTED=1, JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES, JAX_PROCESS_ID). ``BKDM_TEST_EXIT_AFTER_CHUNKS=k`` makes process
``BKDM_TEST_EXIT_PROCESS`` (default 1) die (``os._exit``) right after writing its k-th chunk."""

import os
import sys

from bkdm.inference import scan

OBSERVABLES = ("br_b_to_k_invisible", "dm_mass", "twice_nll", "twice_nll_constraints")


def main(fit, out_dir, points, chunk):
    scan.initialize_distributed()
    import jax

    from bkdm.inference import fitspec
    from bkdm.inference.joint import JointLikelihood

    exit_after = int(os.environ.get("BKDM_TEST_EXIT_AFTER_CHUNKS", "0"))
    if exit_after and jax.process_index() == int(os.environ.get("BKDM_TEST_EXIT_PROCESS", "1")):
        write, written = scan._write_chunk, []

        def write_then_die(out, k, chunk_data):
            write(out, k, chunk_data)
            written.append(k)
            if len(written) == exit_after:
                os._exit(3)

        scan._write_chunk = write_then_die
    joint = JointLikelihood(fitspec.load(fit))
    result = scan.scan(joint, points=int(points), mode="grid", observables=OBSERVABLES, chunk=int(chunk),
                       out_dir=out_dir, progress=False)
    print(f"process {jax.process_index()}/{jax.process_count()}: {len(result.index)} points", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
