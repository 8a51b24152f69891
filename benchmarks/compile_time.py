"""Cold compile time of the relic solves, split by stage: tracing, lowering, XLA compilation.

    python benchmarks/compile_time.py [--systems dark-photon,alp,resonant-cbe,resonant-nbe]
                                      [--kinds value,grad,jacfwd3] [--trees base=DIR,new=DIR] [--rounds N]
                                      [--json out.json]

Each (tree, system, kind) runs in a fresh Python process with every compilation cache off (JAX's
persistent cache disabled, ``BKDM_NO_CACHE=1``), so every figure is a cold start of that function:

* ``value``: ``jit(lambda p: model.relic(p).omega_h2)`` at the ``bkdm relic`` benchmark point;
* ``grad``: ``jit(grad(...))`` of the same Ωh² with respect to every float field of the model's
  ``Params`` (reverse mode through the custom JVP of ``solver.integrate_to_end``);
* ``jacfwd3``: the fits' relic path — ``jit`` of the value and forward-mode Jacobian with respect
  to the three free parameters of the fit file (``JointLikelihood`` relic settings).

Stages: ``trace`` = ``jit(f).trace(args)`` (Python → jaxpr), ``lower`` = ``.lower()`` (jaxpr →
StableHLO), ``compile`` = ``.compile()`` (XLA), ``run`` = the first call. Also the jaxpr size (equations,
nested ones included) and the StableHLO text size. ``--trees`` compares source trees (e.g. a checkout
of an earlier commit) interleaved, round by round, so that machine load affects both alike.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEMS = ("dark-photon", "alp", "resonant-cbe", "resonant-nbe")
KINDS = ("value", "grad", "jacfwd3")
FIT_FILES = {"dark-photon": "dark_photon.toml", "alp": "alp_freeze_in.toml",
             "resonant-cbe": "resonant_alp.toml",
             "resonant-nbe": "resonant_alp.toml"}


def _count_eqns(jaxpr):
    from jax.extend import core as jex_core

    n = 0
    for eqn in jaxpr.eqns:
        n += 1
        for value in eqn.params.values():
            for sub in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(sub, jex_core.ClosedJaxpr):
                    n += _count_eqns(sub.jaxpr)
                elif isinstance(sub, jex_core.Jaxpr):
                    n += _count_eqns(sub)
    return n


def child(system, kind):
    """Measure one (system, kind) in this (fresh) process; prints one JSON line."""
    t_import = time.perf_counter()
    import jax
    import jax.numpy as jnp

    from bkdm import cli

    jax.config.update("jax_enable_compilation_cache", False)
    resonant = system.startswith("resonant")
    model_name, method = ("resonant-alp", system.split("-")[1]) if resonant else (system, None)
    model, p = cli.build_point(model_name)
    kwargs = {} if method is None else {"method": method}
    t0 = time.perf_counter()
    if kind == "value":
        f, args = jax.jit(lambda q: model.relic(q, **kwargs).omega_h2), (p,)
    elif kind == "grad":
        f, args = jax.jit(jax.grad(lambda q: model.relic(q, **kwargs).omega_h2)), (p,)
    else:
        from bkdm.inference import fitspec
        from bkdm.inference.joint import RELIC_SETTINGS

        spec = fitspec.load(HERE.parent / "bkdm" / "fits" / FIT_FILES[system])
        options = dict(spec.likelihood["relic"])
        options.update(kwargs)
        theta = jnp.asarray([prior.start for prior in spec.free.values()])

        def omega(t):
            return model.relic(spec.build_params([t[i] for i in range(t.shape[0])]), settings=RELIC_SETTINGS,
                               **options).omega_h2

        f, args = jax.jit(lambda t: (omega(t), jax.jacfwd(omega)(t))), (theta,)
    traced = f.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    t4 = time.perf_counter()
    print(json.dumps({"system": system, "kind": kind, "import_s": t0 - t_import, "trace_s": t1 - t0,
                      "lower_s": t2 - t1, "compile_s": t3 - t2, "run_s": t4 - t3,
                      "jaxpr_eqns": _count_eqns(traced.jaxpr.jaxpr), "hlo_chars": len(lowered.as_text())}))


def run(trees, systems, kinds, rounds):
    records = []
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["BKDM_NO_CACHE"] = "1"
    for r in range(rounds):
        for system in systems:
            for kind in kinds:
                for name, tree in trees.items():
                    proc = subprocess.run([sys.executable, __file__, "--child", system, kind],
                                          capture_output=True, text=True, cwd=tree,
                                          env={**env, "PYTHONPATH": str(tree)})
                    if proc.returncode:
                        print(proc.stderr[-3000:], file=sys.stderr)
                        raise SystemExit(f"{name} {system} {kind}: child failed")
                    rec = json.loads(proc.stdout.strip().splitlines()[-1])
                    rec.update(tree=name, round=r)
                    records.append(rec)
                    print(f"{name:6s} {system:13s} {kind:8s} trace {rec['trace_s']:6.2f}"
                          f"  lower {rec['lower_s']:6.2f}  compile {rec['compile_s']:6.2f}"
                          f"  run {rec['run_s']:5.2f}  eqns {rec['jaxpr_eqns']:7d}"
                          f"  hlo {rec['hlo_chars'] / 1e6:5.2f} MB", flush=True)
    return records


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=2, metavar=("SYSTEM", "KIND"), help=argparse.SUPPRESS)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--kinds", default="value,grad")
    ap.add_argument("--trees", default=f"new={HERE.parent}", help="name=DIR,... source trees to compare")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", help="write the records here")
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)
    trees = dict(item.split("=", 1) for item in args.trees.split(","))
    records = run(trees, args.systems.split(","), args.kinds.split(","), args.rounds)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
