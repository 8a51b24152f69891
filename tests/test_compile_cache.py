"""bkdm.compile_cache: the exported-function cache never returns a wrong function.

References: the plain ``jax.jit`` of the same function (the cache must be invisible in the results,
compared exactly: the same program runs either way) and the cache's own contract — a new key for any
change of source fingerprint, options or input structure; corrupt, truncated or foreign files ignored
and rewritten; nothing written when switched off. Small functions only (milliseconds to compile)."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bkdm import compile_cache

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(compile_cache.CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(compile_cache.NO_CACHE_ENV, raising=False)
    monkeypatch.setattr(compile_cache, "_disabled", False)
    for k in compile_cache.stats:
        monkeypatch.setitem(compile_cache.stats, k, 0)
    return tmp_path


def _entries(cache):
    return sorted((cache / "exported").glob("*.bin")) if (cache / "exported").is_dir() else []


def poly(x, coeffs):
    """A small function of two array arguments returning a dict (like the CLI's relic outputs)."""
    return {"value": jnp.polyval(coeffs, x), "sum": jnp.sum(coeffs) * x}


X = jnp.linspace(0.0, 2.0, 5)
C = jnp.asarray([1.0, -2.0, 0.5])


def _same(a, b):
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))


def test_disk_entry_reused_by_a_new_instance_with_identical_results(cache):
    ref = jax.jit(poly)(X, C)
    first = compile_cache.cached_jit(poly, "poly")
    _same(first(X, C), ref)
    assert compile_cache.stats["exported"] == 1 and len(_entries(cache)) == 1
    _same(first(X, C), ref)  # in-memory hit
    assert compile_cache.stats["memory"] == 1
    second = compile_cache.cached_jit(poly, "poly")  # as in a new process: read from disk
    _same(second(X, C), ref)
    assert compile_cache.stats["disk"] == 1 and compile_cache.stats["exported"] == 1


def test_new_key_for_source_options_and_input_structure(cache, monkeypatch):
    compile_cache.cached_jit(poly, "poly")(X, C)
    compile_cache.cached_jit(poly, "poly")(X[:3], C)  # other shape
    compile_cache.cached_jit(poly, "poly")(X.astype(jnp.float32), C)  # other dtype
    compile_cache.cached_jit(poly, "poly", options={"order": 2})(X, C)  # other options
    compile_cache.cached_jit(poly, "poly-b")(X, C)  # other name
    assert compile_cache.stats["exported"] == 5 and len(_entries(cache)) == 5
    monkeypatch.setattr(compile_cache, "source_fingerprint", lambda: "another bkdm source")
    compile_cache.cached_jit(poly, "poly")(X, C)
    assert compile_cache.stats["exported"] == 6 and compile_cache.stats["disk"] == 0


def test_options_select_the_function_they_describe(cache):
    """Two closures that differ only in a captured option: each gets its own entry and result."""
    def make(power):
        return compile_cache.cached_jit(lambda x: {"y": x**power}, "power", options=power)

    np.testing.assert_array_equal(np.asarray(make(2)(X)["y"]), np.asarray(X**2))
    np.testing.assert_array_equal(np.asarray(make(3)(X)["y"]), np.asarray(X**3))
    np.testing.assert_array_equal(np.asarray(make(2)(X)["y"]), np.asarray(X**2))  # from disk
    assert compile_cache.stats["disk"] == 1


def test_source_fingerprint_follows_file_contents(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("1,2\n")
    before = compile_cache._files_digest(tmp_path)
    (tmp_path / "data" / "t.csv").write_text("1,3\n")
    assert compile_cache._files_digest(tmp_path) != before
    (tmp_path / "data" / "t.csv").write_text("1,2\n")
    assert compile_cache._files_digest(tmp_path) == before
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert compile_cache._files_digest(tmp_path) == before


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "foreign", "empty"])
def test_damaged_entry_is_ignored_and_rewritten(cache, damage):
    ref = jax.jit(poly)(X, C)
    compile_cache.cached_jit(poly, "poly")(X, C)
    (path,) = _entries(cache)
    good = path.read_bytes()
    head = len(compile_cache.FORMAT) + 130
    bad = {"garbage": b"not a cache file" * 10,
           "truncated": good[: len(good) // 2],
           "flipped": good[:head] + bytes([good[head] ^ 0xFF]) + good[head + 1:],
           "foreign": good[:len(compile_cache.FORMAT)] + b"0" * 64 + good[len(compile_cache.FORMAT) + 64:],
           "empty": b""}[damage]
    path.write_bytes(bad)
    _same(compile_cache.cached_jit(poly, "poly")(X, C), ref)
    assert compile_cache.stats["disk"] == 0 and compile_cache.stats["exported"] == 2
    _same(compile_cache.cached_jit(poly, "poly")(X, C), ref)  # the rewritten entry is read back
    assert compile_cache.stats["disk"] == 1 and compile_cache.stats["exported"] == 2


def test_switched_off_by_environment_or_disable(cache, monkeypatch):
    monkeypatch.setenv(compile_cache.NO_CACHE_ENV, "1")
    _same(compile_cache.cached_jit(poly, "poly")(X, C), jax.jit(poly)(X, C))
    assert _entries(cache) == [] and compile_cache.stats["exported"] == 0
    monkeypatch.setenv(compile_cache.NO_CACHE_ENV, "0")
    assert compile_cache.enabled()
    monkeypatch.setattr(compile_cache, "_disabled", True)
    assert not compile_cache.enabled()


def test_functions_with_host_callbacks_fall_back_to_jit(cache):
    seen = []

    def f(x):
        jax.debug.callback(lambda v: seen.append(float(v)), jnp.sum(x))
        return {"y": 2.0 * x}

    y = compile_cache.cached_jit(f, "callback")(X)["y"]
    np.testing.assert_array_equal(np.asarray(y), 2.0 * np.asarray(X))
    jax.effects_barrier()
    assert seen == [float(jnp.sum(X))]
    assert compile_cache.stats["fallback"] == 1 and _entries(cache) == []


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(compile_cache.CACHE_DIR_ENV, str(tmp_path / "here"))
    assert compile_cache.cache_dir() == tmp_path / "here"
    monkeypatch.delenv(compile_cache.CACHE_DIR_ENV)
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert compile_cache.cache_dir() == tmp_path / "xdg" / "bkdm"


def test_import_sets_the_jax_cache_and_respects_the_user(tmp_path):
    """In fresh processes: import bkdm points JAX at <cache>/xla; JAX_COMPILATION_CACHE_DIR wins;
    BKDM_NO_CACHE=1 leaves JAX's cache off."""
    code = "import bkdm, jax; print(jax.config.jax_compilation_cache_dir)"
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "BKDM_NO_CACHE")}
    env.update(BKDM_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")

    def out(**extra):
        return subprocess.run([sys.executable, "-c", code], env={**env, **extra}, capture_output=True,
                              text=True, check=True).stdout.strip()

    assert out() == str(tmp_path / "xla")
    assert out(JAX_COMPILATION_CACHE_DIR=str(tmp_path / "mine")) == str(tmp_path / "mine")
    assert out(BKDM_NO_CACHE="1") == "None"


def test_cli_no_cache_flag_is_accepted():
    from bkdm import cli

    args = cli.build_parser().parse_args(["relic", "--model", "alp", "--no-cache"])
    assert args.no_cache
    assert not cli.build_parser().parse_args(["info", "--model", "alp"]).no_cache


@pytest.mark.slow
def test_cli_relic_second_process_reads_the_cache(tmp_path):
    """Two `bkdm relic` processes on one cache folder: the second loads the exported solve (no new
    entry) and prints the same numbers, digit for digit, as the first and as a run with --no-cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "BKDM_NO_CACHE")}
    env.update(BKDM_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))

    def relic(*extra):
        out = subprocess.run([sys.executable, "-m", "bkdm.cli", "relic", "--model", "dark-photon", *extra],
                             env=env, capture_output=True, text=True, check=True).stdout
        return [line for line in out.splitlines() if " = " in line and "incl. compilation" not in line]

    first = relic()
    entries = sorted((tmp_path / "exported").glob("cli-relic-dark-photon-*.bin"))
    assert len(entries) == 1 and any((tmp_path / "xla").iterdir())
    stamp = entries[0].stat().st_mtime_ns
    assert relic() == first
    assert sorted((tmp_path / "exported").glob("*.bin")) == entries and entries[0].stat().st_mtime_ns == stamp
    assert relic("--no-cache") == first


DARK_PHOTON_KSTAR_FIT = """
[fit]
name = "cache-test"
model = "dark-photon"
[free.m_x]
prior = "uniform"
range = [1.0, 4.6]
[free.delta]
prior = "log-uniform"
range = [1e-4, 1e-1]
[fixed]
epsilon = 1e-3
alpha_x = 2.33e-3
m_psi = 0.3
m_hp = 0.05
[likelihood]
belle2 = false
planck = false
constraints = ["belle2017_kstar"]
"""


def test_bestfit_objective_restored_from_disk_equals_the_compiled_one(cache, tmp_path, monkeypatch):
    """The best fit's value_and_grad (bkdm.inference.cached_objective): a second Problem of the same fit
    loads the exported program (no new entry) and returns what a cache-off build returns at every z —
    exactly: the same program compiled by the same XLA (a small fit without a relic solve)."""
    from bkdm.inference import bestfit, cached_objective, fitspec
    from bkdm.inference.joint import JointLikelihood

    monkeypatch.setattr(cached_objective, "ENABLED", True)  # the mechanism (off by default, see there)
    path = tmp_path / "fit.toml"
    path.write_text(DARK_PHOTON_KSTAR_FIT)
    first = bestfit.Problem(JointLikelihood(fitspec.load(path)))
    entries = [p for p in _entries(cache) if p.name.startswith("bestfit-objective-")]
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    restored = bestfit.Problem(JointLikelihood(fitspec.load(path)))
    assert [p for p in _entries(cache) if p.name.startswith("bestfit-objective-")] == entries
    assert entries[0].stat().st_mtime_ns == stamp
    monkeypatch.setattr(compile_cache, "_disabled", True)
    plain = bestfit.Problem(JointLikelihood(fitspec.load(path)))
    for z in ([0.0, 0.0], [-1.3, 2.1], [0.7, -0.4]):
        for problem in (first, restored):
            value, grad, aux = problem.value_and_grad(np.asarray(z))
            ref_value, ref_grad, ref_aux = plain.value_and_grad(np.asarray(z))
            assert value == ref_value
            np.testing.assert_array_equal(grad, ref_grad)
            _same(aux["terms"], ref_aux["terms"])
