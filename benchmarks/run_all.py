"""Run every bkdm benchmark and write benchmarks/RESULTS.md and benchmarks/results.json.

    python benchmarks/run_all.py            # full sizes (tens of minutes on a 2-core CPU)
    python benchmarks/run_all.py --quick    # small sizes, a smoke run
    python benchmarks/run_all.py --nuts     # also NUTS on the ALP default fit (ESS/s)

Sections: particle layer (:mod:`particle`), relic densities (:mod:`relic`), likelihoods
(:mod:`likelihood`) and, with ``--nuts``, the NUTS sampling of the ALP default fit
(``bkdm.inference.nuts.run_nuts``; skipped with a note if that module is absent). NUTS runs in a
child process so that its chains get one XLA host device each (as ``bkdm fit --method nuts`` does)
without changing the device set-up of the other benchmarks. Every section records the device, the
jax version and the UTC date.
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SECTIONS = ("particle", "relic", "likelihood")
NUTS_TITLE = "NUTS: ALP default fit"
TABLE1 = common.HERE.parent / "notebooks" / "figures" / "d_table1.md"
POSTERIOR_RUNS = common.HERE / "posterior_runs.md"  # written by benchmarks/posterior.py
POSTERIOR_READING = common.HERE / "posterior_notes.md"  # hand-written reading of those runs
TWO_BODY_EVIDENCE = common.HERE / "two_body_evidence.md"  # written by benchmarks/two_body_evidence.py


# ------------------------------------------------------------------------------------------- NUTS
def _nuts_child(out_path, quick, fit_path):
    """Best fit (if the fit asks to start from it) then NUTS; writes a JSON record to ``out_path``."""
    import likelihood

    found = likelihood.default_alp_fit_file(fit_path)
    data = tomllib.loads(found.read_text()) if found is not None else likelihood.ALP_DEFAULT_FIT
    sampler = dict(data.get("sampler", {}))
    if quick:
        sampler.update(data.get("quick", {}).get("sampler", {}))
    from bkdm.inference import nuts

    nuts.set_host_devices(sampler.get("chains", 4))  # before the first JAX computation
    from bkdm.inference import bestfit
    from bkdm.inference.joint import JointLikelihood

    env = common.environment()
    spec, source = likelihood.default_alp_spec(fit_path)
    if quick:
        spec = spec.with_quick()
    s, b = spec.sampler, spec.bestfit
    joint = JointLikelihood(spec)
    best, t_best = None, None
    if s["init_from_bestfit"]:
        t0 = time.perf_counter()
        best = bestfit.best_fit(joint, starts=b["starts"], max_steps=b["max_steps"], seed=b["seed"],
                                tolerance=b["tolerance"], progress=False)
        t_best = time.perf_counter() - t0
    result = nuts.run_nuts(joint, chains=s["chains"], warmup=s["warmup"], draws=s["draws"], seed=s["seed"],
                           target_accept=s["target_accept"], max_tree_depth=s["max_tree_depth"],
                           warmup_tree_depth=s["warmup_tree_depth"], init=best,
                           progress=False)
    record = {"benchmark": "nuts", "environment": env, "quick": quick, "fit": spec.name, "source": source,
              "bestfit_s": t_best, "summary": result.summary}
    common.save_json(out_path, record)


def run_nuts(quick, fit_path, out_dir):
    """NUTS ESS/s of the ALP default fit in a child process; a 'skipped' record if unavailable."""
    env = common.environment()
    if importlib.util.find_spec("bkdm.inference.nuts") is None:
        return {"benchmark": "nuts", "environment": env, "skipped": "bkdm.inference.nuts is not available"}
    out = out_dir / ".nuts_result.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--nuts-child", str(out)] + (["--quick"] if quick else [])
    if fit_path is not None:
        cmd += ["--fit", str(fit_path)]
    print("[nuts] " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        return {"benchmark": "nuts", "environment": env, "skipped": "NUTS run failed", "log_tail": tail}
    record = json.loads(out.read_text())
    out.unlink()
    record["wall_time_with_startup_s"] = wall
    return record


def format_nuts(record):
    if "skipped" in record:
        lines = [f"NUTS skipped: {record['skipped']}."] + [f"    {x}" for x in record.get("log_tail", [])]
        return "\n".join(lines)
    s = record["summary"]
    st = s.get("settings", {})
    rows = [[f"{record['fit']} [{record['source']}]",
             f"{st.get('chains')} × ({st.get('warmup')} + {st.get('draws')}), {st.get('chain_method')}, "
             f"mass matrix {st.get('mass_matrix', 'adapt')}",
             f"{s['ess_per_second']:.3g}" if s.get("ess_per_second") is not None else "—",
             common.fmt_time(s.get("sampling_time_s")), common.fmt_time(s.get("warmup_time_s")),
             common.fmt_time(s.get("compile_time_s")), common.fmt_time(s.get("wall_time_s")),
             common.fmt_time(record.get("bestfit_s")), f"{s.get('mean_tree_depth', float('nan')):.2f}",
             f"{s.get('grad_evaluations_per_second', float('nan')):.3g}",
             s.get("n_divergences"), s.get("relic_failures"),
             ", ".join(f"{n} {v['ess_bulk']:.0f}/{v['r_hat']:.3f}" for n, v in s.items()
                       if isinstance(v, dict) and None not in (v.get("ess_bulk"), v.get("r_hat")))]]
    return common.markdown_table(
        ["fit", "chains × (warmup + draws)", "ESS/s (min bulk ESS / sampling time)", "sampling", "warmup",
         "compile", "NUTS wall (compile + warmup + sampling, posterior observables inside)", "best fit",
         "mean tree depth",
         "gradients/s", "divergences", "relic failures", "ESS_bulk/R̂ per parameter"], rows)


# ------------------------------------------------------------------------------------------- report
def results_markdown(records, command):
    env = common.environment()
    import likelihood
    import particle
    import relic

    titles = {"particle": particle.TITLE, "relic": relic.TITLE, "likelihood": likelihood.TITLE,
              "nuts": NUTS_TITLE}
    parts = ["# bkdm benchmark results", "",
             f"Command: `{command}`", "",
             f"Machine: {common.environment_line(env)}; jaxlib {env['jaxlib']}, numpy {env['numpy']}, "
             f"scipy {env['scipy']}, pyhf {env['pyhf']}, Python {env['python']}.", "",
             "How each number is defined: benchmarks/README.md. Raw figures: benchmarks/results.json."]
    for key, rec in records.items():
        body = format_nuts(rec) if key == "nuts" else rec["text"]
        quick = " (--quick sizes)" if rec.get("quick") else ""
        parts += ["", f"## {titles[key]}{quick}", "", common.environment_line(rec["environment"]), "", body]
    if POSTERIOR_RUNS.exists():
        import posterior

        parts += ["", f"## {posterior.TITLE}", "",
                  "Each row: `python benchmarks/posterior.py FIT --method M [--set section.key=value]` "
                  "(runs the "
                  "CLI; wall time includes compilation and the best fit; the 2-core CPU is shared with other "
                  "jobs, so times are noisy).", "",
                  POSTERIOR_RUNS.read_text().strip()]
        if TWO_BODY_EVIDENCE.exists():
            parts += ["", "### Two-body Belle II fit: evidence and Bayes factor vs the SM "
                      "(benchmarks/two_body_evidence.py)", "", TWO_BODY_EVIDENCE.read_text().strip()]
        if POSTERIOR_READING.exists():
            parts += ["", POSTERIOR_READING.read_text().strip()]
    if TABLE1.exists():  # written by notebooks/d_fig7_table1.py (issue: both normalisations in RESULTS.md)
        parts += ["", "## [D] Table 1 compared number by number (notebooks/d_fig7_table1.py)", "",
                  TABLE1.read_text().strip()]
    return "\n".join(parts) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats (a smoke run)")
    p.add_argument("--nuts", action="store_true", help="also run NUTS on the ALP default fit (ESS/s)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated subset of {SECTIONS} ('' for none, e.g. with --nuts); sections not "
                        "run keep their records from an earlier results.json in --out")
    p.add_argument("--relic-points", type=int, default=None,
                   help="vmapped batch of the relic benchmark (default 1000 on CPU, 100000 on GPU)")
    p.add_argument("--particle-points", type=int, default=None, help="batch of the particle benchmark (1e5)")
    p.add_argument("--fit", type=Path, default=None, help="fit file of the ALP default fit (joint, NUTS)")
    p.add_argument("--out", type=Path, default=common.HERE, help="directory of RESULTS.md and results.json")
    p.add_argument("--nuts-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.nuts_child is not None:
        _nuts_child(args.nuts_child, args.quick, args.fit)
        return
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")

    import likelihood
    import particle
    import relic

    # sections not run now keep their previous records (each names its own device and date)
    previous = args.out / "results.json"
    records = json.loads(previous.read_text()).get("benchmarks", {}) if previous.exists() else {}
    if "particle" in only:
        records["particle"] = particle.run(args.quick, args.particle_points)
    if "relic" in only:
        records["relic"] = relic.run(args.quick, args.relic_points)
    if "likelihood" in only:
        records["likelihood"] = likelihood.run(args.quick, fit_path=args.fit)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.nuts:
        records["nuts"] = run_nuts(args.quick, args.fit, args.out)
        common.report(NUTS_TITLE, records["nuts"]["environment"], format_nuts(records["nuts"]))

    command = "python benchmarks/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / "RESULTS.md").write_text(results_markdown(records, command.strip()))
    common.save_json(args.out / "results.json",
                     {"command": command.strip(), "environment": common.environment(), "benchmarks": records})
    print(f"wrote {args.out / 'RESULTS.md'} and {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
