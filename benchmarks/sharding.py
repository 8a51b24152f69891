"""Local multi-device scans: GSPMD (jit + NamedSharding) vs shard_map with vmap inside vs one process
per device, against one device — compile time and throughput of the vmapped relic solve.

    python benchmarks/sharding.py [--devices 2] [--points 64] [--case dark-photon] [--repeat 3] [--json F]

On GPUs (``--platform cuda``) the devices are the visible GPUs and each process of ``processes``
gets one (``CUDA_VISIBLE_DEVICES``). Every mode runs in fresh processes (JAX's persistent
compilation cache off, ``BKDM_NO_CACHE=1``), one mode after the other, so the ratios come from one
run on the same machine:

* ``single``: ``jit(vmap(relic))`` on one device, the whole batch (the reference);
* ``gspmd``: the same function with the batch placed with ``NamedSharding`` over a 1-d mesh of the
  local devices (``XLA_FLAGS=--xla_force_host_platform_device_count=D`` on a CPU): XLA partitions the
  program (what ``bkdm.inference.scan.evaluate`` does with several local devices);
* ``shard_map``: ``jax.shard_map(vmap(relic))`` over the same mesh: each device runs the unpartitioned
  vmapped program on its block;
* ``processes``: D processes with one device each, each evaluating 1/D of the batch (what a
  distributed scan does, ``bkdm.inference.distributed``); wall time = the slowest process.

Reported per mode: trace+lower, XLA compile, first call and the median of ``--repeat`` further calls
of the whole batch; and the throughput ratio to ``single``. On a CPU the devices share the cores, so
no mode can beat ``single`` by more than the core count; what matters is compile time and that the
partitioned solve is not slower (diffrax issue #718: GSPMD auto-partitioning of a diffrax while loop
can compile and run ~100× slower).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = ("single", "gspmd", "shard_map", "processes")


def _points(case, n):
    import jax.numpy as jnp
    import numpy as np

    from bkdm import cli

    model, p = cli.build_point(case)
    rng = np.random.default_rng(0)
    factors = 1.0 + 0.1 * (2.0 * rng.random(n) - 1.0)
    field = {"dark-photon": "alpha_x", "alp": "f_a", "resonant-alp": "g_achichi"}[case]
    values = {k: jnp.broadcast_to(jnp.asarray(v), (n,)) if k != field else jnp.asarray(v) * factors
              for k, v in p.as_dict().items() if k not in getattr(model, "OPTIONS", ())}
    return model, p.replace(**values)


def child(mode, case, n, repeat, part, parts):
    """Time one mode in this process; prints a JSON line."""
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    jax.config.update("jax_enable_compilation_cache", False)
    model, batch = _points(case, n)
    if mode == "processes":
        lo, hi = part * n // parts, (part + 1) * n // parts
        batch = jax.tree_util.tree_map(lambda x: x[lo:hi], batch)

    def omega(q):
        r = model.relic(q)
        return r.omega_h2, r.status

    f = jax.vmap(omega)
    if mode in ("gspmd", "shard_map"):
        mesh = Mesh(np.array(jax.local_devices()), ("points",))
        sharding = NamedSharding(mesh, PartitionSpec("points"))
        batch = jax.device_put(batch, sharding)
        if mode == "shard_map":
            spec = PartitionSpec("points")
            # check_vma=False: the solve mixes replicated constants with the per-device batch inside
            # custom_jvp/while bodies, which JAX's varying-axes check rejects (a JAX limitation)
            f = jax.shard_map(f, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
    t0 = time.perf_counter()
    lowered = jax.jit(f).lower(batch)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    out = jax.block_until_ready(compiled(batch))
    t3 = time.perf_counter()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(compiled(batch))
        times.append(time.perf_counter() - t)
    print(json.dumps({"mode": mode, "devices": jax.local_device_count(), "points": int(np.size(out[0])),
                      "trace_lower_s": t1 - t0, "compile_s": t2 - t1, "first_call_s": t3 - t2,
                      "median_s": statistics.median(times), "failures": int(np.sum(np.asarray(out[1]) != 0)),
                      "omega_sum": float(np.nansum(np.asarray(out[0])))}))


def _last_error(stderr):
    """The exception line of a child's traceback (not JAX's note on filtered frames)."""
    lines = [ln for ln in stderr.strip().splitlines() if re.match(r"[\w.]+(Error|Exception): ", ln)]
    return (lines[-1] if lines else "failed")[:300]


def _run(mode, args):
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env.update(BKDM_NO_CACHE="1", JAX_PLATFORMS=args.platform)
    flags = env.get("XLA_FLAGS", "")
    cmd = [sys.executable, __file__, "--child", mode, "--case", args.case, "--points", str(args.points),
           "--repeat", str(args.repeat)]
    if mode in ("gspmd", "shard_map") and args.platform == "cpu":
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={args.devices}".strip()
    if mode == "single" and args.platform != "cpu":
        env["CUDA_VISIBLE_DEVICES"] = env.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]
    if mode != "processes":
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode:
            return {"mode": mode, "error": _last_error(proc.stderr)}
        return json.loads(proc.stdout.strip().splitlines()[-1])
    t0 = time.perf_counter()
    gpu = {} if args.platform == "cpu" else {"CUDA_VISIBLE_DEVICES": None}
    procs = [subprocess.Popen(cmd + ["--part", str(i), str(args.devices)], stdout=subprocess.PIPE,
                              env={**env, **{k: str(i) for k in gpu}}, stderr=subprocess.PIPE, text=True)
             for i in range(args.devices)]
    outs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t0
    if any(p.returncode for p in procs):
        errors = [e for (_, e), p in zip(outs, procs, strict=True) if p.returncode]
        return {"mode": mode, "error": _last_error(errors[0])}
    recs = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    rec = {k: max(r[k] for r in recs) for k in ("trace_lower_s", "compile_s", "first_call_s", "median_s")}
    rec.update(mode=mode, devices=args.devices, points=sum(r["points"] for r in recs),
               failures=sum(r["failures"] for r in recs), omega_sum=sum(r["omega_sum"] for r in recs),
               process_wall_s=wall)
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--part", nargs=2, type=int, default=(0, 1), help=argparse.SUPPRESS)
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--points", type=int, default=64)
    ap.add_argument("--case", default="dark-photon", choices=("dark-photon", "alp", "resonant-alp"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--platform", default="cpu", choices=("cpu", "cuda"),
                    help="cpu: D forced host devices; cuda: the visible GPUs (one per process in "
                         "'processes')")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.case, args.points, args.repeat, *args.part)
    records = []
    for mode in args.modes.split(","):
        rec = _run(mode, args)
        records.append(rec)
        print(json.dumps(rec), flush=True)
    base = next((r for r in records if r["mode"] == "single" and "error" not in r), None)
    print(f"\n{args.case}, {args.points} points, {args.devices} devices/processes\n")
    print("| mode | trace+lower | XLA compile | first call | batch (median) | throughput vs single "
          "| failures |")
    print("|---|---|---|---|---|---|---|")
    for r in records:
        if "error" in r:
            print(f"| {r['mode']} | error: {r['error']} | | | | | |")
            continue
        ratio = f"{base['median_s'] / r['median_s']:.2f}×" if base else "–"
        print(f"| {r['mode']} | {r['trace_lower_s']:.1f} s | {r['compile_s']:.1f} s | "
              f"{r['first_call_s']:.2f} s | {r['median_s'] * 1e3:.0f} ms | {ratio} | {r['failures']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
