"""Convergence runs of the shipped fits: `bkdm fit <fit> --method nuts|smc` as a user runs it.

    python benchmarks/posterior.py dark-photon --method nuts
    python benchmarks/posterior.py alp-freeze-in --method smc [--set smc.particles=256]

Runs the CLI in a child process (compilation, best fit and sampling included in the wall time, as
the 15-minute target of issue 19 counts them; the child's CPU time is recorded too, the better measure
on a 2-core machine shared with other jobs: unloaded, wall ≈ CPU time / (1 to 2 busy cores)), reads
the result folder's summary.json and appends one record to benchmarks/posterior_runs.json (replacing
an earlier record of the same fit, method and settings), then rewrites benchmarks/posterior_runs.md,
which run_all.py includes in RESULTS.md. ``--set section.key=value`` edits a copy of the fit file
(recorded with the run). Each record names the device, the jax version, the git commit and the date.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

from bkdm.inference import fitspec

RUNS = common.HERE / "posterior_runs.json"
TABLE = common.HERE / "posterior_runs.md"
TITLE = "Posterior convergence and evidence: the shipped fits"


def _git(*args):
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=common.HERE,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _edited_fit(path, sets, out_dir):
    """A copy of the fit file with ``sets`` (["section.key=value", ...], TOML values) applied as text
    edits (comments kept): the key's line in ``[section]`` replaced, or added under the header."""
    if not sets:
        return Path(path), {}
    lines = Path(path).read_text().splitlines()  # path: already resolved (run())
    applied = {}
    for item in sets:
        key, _, value = item.partition("=")
        section, _, name = key.strip().partition(".")
        applied[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        new = f"{name} = {value.strip()}"
        header = next((i for i, line in enumerate(lines)
                       if line.split("#")[0].strip() == f"[{section}]"), None)
        if header is None:
            lines += ["", f"[{section}]", new]
            continue
        end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")),
                   len(lines))
        hit = next((i for i in range(header + 1, end)
                    if "=" in lines[i] and lines[i].split("=")[0].strip() == name), None)
        if hit is None:
            lines.insert(header + 1, new)
        else:
            lines[hit] = new
    copy = out_dir / Path(path).name
    copy.write_text("\n".join(lines) + "\n")
    return copy, applied


def run(fit, method, sets, out_dir, quick=False):
    out_dir.mkdir(parents=True, exist_ok=True)
    fit_file, applied = _edited_fit(fitspec.resolve(fit), sets, out_dir)  # a shipped fit's name or a path
    cmd = [sys.executable, "-m", "bkdm.cli", "fit", str(fit_file), "--method", method, "--out", str(out_dir)]
    if quick:
        cmd.append("--quick")
    print("[posterior] " + " ".join(cmd), flush=True)
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out_dir / "cli.log", "w") as log:  # streamed: progress visible while it runs
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"bkdm fit failed (exit {proc.returncode}); log in {out_dir / 'cli.log'}")
    summary = json.loads((out_dir / "summary.json").read_text())
    return {"fit": str(fit), "method": method, "quick": quick, "sets": applied,
            "command": "bkdm fit " + " ".join(cmd[4:]), "wall_time_s": wall, "cpu_time_s": cpu,
            "environment": common.environment(), "commit": _git("rev-parse", "--short", "HEAD"),
            "summary": summary}


def _parameters(summary):
    return {k: v for k, v in summary.items() if isinstance(v, dict) and "r_hat" in v}


def format_runs(records):
    rows = []
    for r in records:
        s = r["summary"]
        st = s.get("settings", {})
        if r["method"] == "nuts":
            setting = f"{st.get('chains')} × ({st.get('warmup')} + {st.get('draws')})"
            if st.get("target_accept") not in (None, 0.8):
                setting += f", target_accept {st['target_accept']}"
            n = (st.get("chains") or 0) * (st.get("draws") or 0)
            div = f"{s.get('n_divergences')} ({100 * s.get('n_divergences', 0) / n:.2f} %)" if n else "—"
        else:
            setting = (f"{st.get('runs')} runs × {st.get('particles')} particles, "
                       f"{st.get('mcmc_steps')} HMC × {st.get('leapfrog_steps')} steps")
            div = "—"
        params = ", ".join(f"{n} {v['r_hat']:.3f}/{v['ess_bulk']:.0f}/{v['ess_tail']:.0f}"
                           for n, v in _parameters(s).items()
                           if None not in (v.get("r_hat"), v.get("ess_bulk"), v.get("ess_tail")))
        ev = s.get("evidence", {})
        evidence = ""
        if ev:
            evidence = f"ln Z {ev['ln_z']:.2f} ± {ev['ln_z_error']:.2f}"
            if "ln_bayes_factor" in ev:
                evidence += (f"; ln B vs SM {ev['ln_bayes_factor']:.2f} ± {ev['ln_bayes_factor_error']:.2f} "
                             f"({ev['jeffreys']})")
            for label, m in ev.get("modes", {}).items():
                evidence += f"; {label}: {m['mass']:.2f} ± {m['error']:.2f}"
        rows.append([f"`{r['command']}`" + (f" ({', '.join(f'{k}={v}' for k, v in r['sets'].items())})"
                                             if r["sets"] else ""),
                     setting, f"{common.fmt_time(r['wall_time_s'])} ({common.fmt_time(r.get('cpu_time_s'))})",
                     params, div,
                     "yes" if s.get("converged") else "**no**", evidence,
                     f"{r['commit']}, {r['environment'].get('date', '')}"])
    return common.markdown_table(
        ["command (settings edited)", "sampler settings",
         "wall (CPU) time: CLI incl. compile + best fit + sampling",
         "R̂ / bulk ESS / tail ESS per parameter", "divergences", "converged", "evidence",
         "commit, date"], rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("fit", type=Path)
    p.add_argument("--method", choices=("nuts", "smc"), required=True)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="result folder (default /tmp/bkdm-posterior/<fit>)")
    args = p.parse_args(argv)
    out = args.out or Path("/tmp/bkdm-posterior") / f"{args.fit.stem}-{args.method}"
    record = run(args.fit, args.method, args.set, out, args.quick)
    records = json.loads(RUNS.read_text()) if RUNS.exists() else []
    key = (record["fit"], record["method"], json.dumps(record["sets"], sort_keys=True), record["quick"])
    records = [r for r in records if (r["fit"], r["method"], json.dumps(r["sets"], sort_keys=True),
                                      r["quick"]) != key] + [record]
    common.save_json(RUNS, records)
    TABLE.write_text(format_runs(records) + "\n")
    print(format_runs([record]))


if __name__ == "__main__":
    main()
