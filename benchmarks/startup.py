"""Time to first result: wall time of the README's commands with an empty and with a warm cache.

    python benchmarks/startup.py [--commands relic-dark-photon,fit-alp-quick,...] [--rounds N] [--json F]

Each command runs as a new process (``python -m bkdm.cli ...``), three ways, one right after the other
so that machine load affects them alike (ratios from one run):

* **no cache**: ``--no-cache`` (neither JAX's persistent compilation cache nor bkdm's exported
  programs; what every run cost before bkdm.compile_cache);
* **cold**: caches on, in a new empty folder (``BKDM_CACHE_DIR``) — a first run, which also writes them;
* **warm**: the same command again on that folder — every later run.

``JAX_COMPILATION_CACHE_DIR`` is removed from the environment, so the folder above is the only cache.
``scan`` and ``plot`` need a best fit in their result folder: each round first runs the ALP quick fit
into a scratch folder (untimed) for them. Reported: median wall time per way over the rounds, and
cold/warm.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COMMANDS = {
    "info-alp": ["info", "--model", "alp"],
    "info-alp-relic": ["info", "--model", "alp", "--relic"],
    "relic-dark-photon": ["relic", "--model", "dark-photon"],
    "relic-alp": ["relic", "--model", "alp"],
    "relic-resonant-cbe": ["relic", "--model", "resonant-alp"],
    "relic-resonant-nbe": ["relic", "--model", "resonant-alp", "--method", "nbe"],
    "relic-dark-photon-plot": ["relic", "--model", "dark-photon", "--plot", "{tmp}/yield"],
    "fit-alp-quick": ["fit", "alp-freeze-in", "--quick", "--out", "{tmp}/fit"],
    "scan-alp-quick": ["scan", "alp-freeze-in", "--quick", "--out", "{result}"],
    "plot": ["plot", "{result}"],
}
DEFAULT = ("info-alp", "info-alp-relic", "relic-dark-photon", "relic-alp", "relic-resonant-cbe",
           "relic-resonant-nbe", "fit-alp-quick", "scan-alp-quick", "plot")
NEEDS_RESULT = ("scan-alp-quick", "plot")


def _env(cache):
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "BKDM_NO_CACHE")}
    env["BKDM_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _timed(argv, env, tmp):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bkdm.cli", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return wall


def _result_folder(tmp, cache):
    """A result folder with the ALP quick best fit (for scan and plot), made untimed."""
    out = tmp / "result"
    if not (out / "bestfit.json").is_file():
        _timed(["fit", "alp-freeze-in", "--quick", "--out", str(out)], _env(cache), tmp)
    return out


def _clean(result, fresh):
    if fresh:
        for d in result.glob("scan_*"):
            shutil.rmtree(d)


def run(commands, rounds, no_cache=True):
    records = []
    with tempfile.TemporaryDirectory(prefix="bkdm-startup-") as scratch:
        scratch = Path(scratch)
        for r in range(rounds):
            for name in commands:
                tmp = scratch / f"{name}-{r}"
                tmp.mkdir()
                result = _result_folder(scratch, scratch / "result-cache") if name in NEEDS_RESULT else None
                argv = [a.format(tmp=tmp, result=result) for a in COMMANDS[name]]
                cache = tmp / "cache"
                rec = {"command": name, "argv": argv, "round": r}
                fresh = name == "scan-alp-quick"  # the scan resumes from its chunks: start each way afresh
                _clean(result, fresh)
                rec["no_cache_s"] = (_timed([*argv, "--no-cache"], _env(cache), tmp) if no_cache
                                     else float("nan"))
                _clean(result, fresh)
                rec["cold_s"] = _timed(argv, _env(cache), tmp)
                _clean(result, fresh)
                rec["warm_s"] = _timed(argv, _env(cache), tmp)
                rec["cache_mb"] = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) / 1e6
                records.append(rec)
                print(f"{name:24s} no cache {rec['no_cache_s']:7.1f} s  cold {rec['cold_s']:7.1f} s  "
                      f"warm {rec['warm_s']:6.1f} s  cold/warm {rec['cold_s'] / rec['warm_s']:5.1f}×  "
                      f"cache {rec['cache_mb']:.1f} MB", flush=True)
    return records


def table(records):
    rows = ["| command | no cache | cold (empty cache) | warm | cold / warm | cache size |",
            "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["command"] for r in records):
        rs = [r for r in records if r["command"] == name]

        def med(key, rs=rs):
            return statistics.median(r[key] for r in rs)

        rows.append(f"| `{name}` | {med('no_cache_s'):.1f} s | {med('cold_s'):.1f} s | "
                    f"{med('warm_s'):.1f} s | {med('cold_s') / med('warm_s'):.1f}× "
                    f"| {med('cache_mb'):.1f} MB |")
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", default=",".join(DEFAULT), help=f"subset of {list(COMMANDS)}")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-no-cache", action="store_true", help="time only cold and warm (not --no-cache)")
    args = ap.parse_args(argv)
    commands = [c.strip() for c in args.commands.split(",")]
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        ap.error(f"unknown commands {unknown}; choose from {list(COMMANDS)}")
    records = run(commands, args.rounds, not args.skip_no_cache)
    print()
    print(table(records))
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
