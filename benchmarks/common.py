"""Timing helpers shared by the bkdm benchmarks (units: seconds unless a name says otherwise).

* :func:`environment` — device (``jax.devices()[0]``: platform and device kind), CPU model and
  count, jax/jaxlib/diffrax/numpy/scipy versions, UTC date: attached to every figure.
* :func:`compile_timed` — ``jit(f).lower(*args)`` (trace + lower) and ``.compile()`` timed apart;
  returns the compiled executable, so that later calls never recompile.
* :func:`time_call` — repeated timing with ``jax.block_until_ready``: median, interquartile range,
  min, max, number of repeats (after ``warmup`` untimed calls).
* :func:`markdown_table`, :func:`fmt_time`, :func:`fmt_rate` — the human-readable tables printed
  to stdout and written to RESULTS.md; :func:`save_json` — the machine-readable record.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

import jax
import numpy as np

import bkdm  # noqa: F401  (enables float64)

HERE = Path(__file__).resolve().parent


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment():
    """Where and when the figures were taken (a flat dict of strings and numbers)."""
    dev = jax.devices()[0]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "device": f"{dev.platform}:{dev.device_kind}",
        "platform": dev.platform,
        "device_kind": dev.device_kind,
        "device_count": jax.device_count(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "jax": jax.__version__,
        "jaxlib": _version("jaxlib"),
        "diffrax": _version("diffrax"),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "pyhf": _version("pyhf"),
        "python": platform.python_version(),
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "x64": bool(jax.config.jax_enable_x64),
    }


def environment_line(env):
    """One line naming device, CPU count, jax version and date (printed above every table)."""
    return (f"device {env['device']} ({env['cpu_model']}, {env['cpu_usable']}/{env['cpu_count']} CPUs), "
            f"jax {env['jax']}, diffrax {env['diffrax']}, {env['date_utc']}")


def block(x):
    """Wait for every array in the pytree ``x`` (asynchronous dispatch) and return it."""
    return jax.block_until_ready(x)


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock statistics of repeated calls [s]: median, quartiles, extremes, number of calls."""

    median: float
    q25: float
    q75: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples):
        s = sorted(samples)
        if len(s) > 1:
            q25, _, q75 = statistics.quantiles(s, n=4, method="inclusive")
        else:
            q25 = q75 = s[0]
        return cls(statistics.median(s), q25, q75, s[0], s[-1], len(s))

    def as_dict(self):
        return dataclasses.asdict(self)

    def spread(self):
        """Half the interquartile range relative to the median (a robust relative scatter)."""
        return 0.5 * (self.q75 - self.q25) / self.median if self.median > 0 else 0.0

    def __str__(self):
        return f"{fmt_time(self.median)} ±{100 * self.spread():.0f}% (n={self.n})"


def time_call(fn, *args, repeat=20, warmup=1, max_seconds=None):
    """Call ``fn(*args)`` ``warmup`` times untimed, then time ``repeat`` calls individually (each
    waits for its result). ``max_seconds`` stops early once that much time has been spent (at least 3
    timed calls). Returns (:class:`Timing`, last result)."""
    out = None
    for _ in range(warmup):
        out = block(fn(*args))
    samples = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = block(fn(*args))
        samples.append(time.perf_counter() - t0)
        if max_seconds is not None and len(samples) >= 3 and time.perf_counter() - start > max_seconds:
            break
    return Timing.of(samples), out


def time_interleaved(calls, repeat=20, warmup=1, max_seconds=None):
    """Time several calls ``[(fn, args), ...]`` in rounds, one call of each per round, so that their
    ratios are measured under the same machine load (a shared 2-core VM drifts by 10–30 % over the
    minutes a sequential timing takes). ``max_seconds`` as in :func:`time_call`. Returns
    ([:class:`Timing` per call], [last result per call])."""
    outs = [None] * len(calls)
    for _ in range(warmup):
        outs = [block(fn(*args)) for fn, args in calls]
    samples = [[] for _ in calls]
    start = time.perf_counter()
    for _ in range(repeat):
        for i, (fn, args) in enumerate(calls):
            t0 = time.perf_counter()
            outs[i] = block(fn(*args))
            samples[i].append(time.perf_counter() - t0)
        if max_seconds is not None and len(samples[0]) >= 3 and time.perf_counter() - start > max_seconds:
            break
    return [Timing.of(x) for x in samples], outs


def compile_timed(fn, *args):
    """``jax.jit(fn)`` lowered and compiled for ``args`` with both stages timed, then called once.

    Returns (compiled executable, {"trace_lower_s", "compile_s", "first_call_s"}); the first call
    of an XLA executable still allocates buffers, so it is reported apart from the steady timings.
    """
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    block(compiled(*args))
    t3 = time.perf_counter()
    return compiled, {"trace_lower_s": t1 - t0, "compile_s": t2 - t1, "first_call_s": t3 - t2}


def total_compile(info):
    """Trace + lower + XLA compile time [s] of a :func:`compile_timed` record."""
    return info["trace_lower_s"] + info["compile_s"]


def fmt_time(seconds):
    """A duration with a readable unit (µs, ms, s)."""
    if seconds is None or not np.isfinite(seconds):
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(per_second):
    """A throughput [points/s] with three significant figures."""
    if per_second is None or not np.isfinite(per_second):
        return "—"
    return f"{per_second:,.3g}" if per_second < 1e3 else f"{per_second:,.0f}"


def fmt_ratio(x):
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x:.3g}×"


def markdown_table(headers, rows):
    """A GitHub-markdown table with aligned columns (printed to stdout and written to RESULTS.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Timing):
        return x.as_dict()
    if isinstance(x, (np.generic, jax.Array)):
        x = np.asarray(x).tolist()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def save_json(path, record):
    """Write ``record`` (nested dicts/lists of numbers, strings, :class:`Timing`) as indented JSON."""
    Path(path).write_text(json.dumps(_jsonable(record), indent=2, ensure_ascii=False) + "\n")


def parser(description, points_default=None):
    """Command-line options shared by the benchmark scripts (``--points`` only with a default batch)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats (a smoke run)")
    if points_default is not None:
        p.add_argument("--points", type=int, default=None,
                       help=f"batch size of the vmapped throughput (default {points_default})")
    p.add_argument("--repeat", type=int, default=None, help="timed repeats of single-point figures")
    p.add_argument("--json", type=Path, default=None, help="also write this benchmark's JSON record here")
    return p


def report(title, env, body):
    """Print a section: title, the environment line, then the body (tables and notes)."""
    print(f"\n## {title}\n\n{environment_line(env)}\n\n{body}\n", flush=True)
    sys.stdout.flush()
