"""On-disk caches that spare repeated start-up work: JAX's persistent compilation cache and a cache of
exported (traced and lowered) functions.

A first ``bkdm relic`` spends most of its time before any number is computed: tracing the relic solve
into a jaxpr (diffrax, equinox and bkdm's rate functions in Python), lowering it to StableHLO, and XLA's
compilation. Two caches, both in one per-user folder, remove that work from every later run:

* **XLA** (``<cache>/xla``): JAX's persistent compilation cache (``jax_compilation_cache_dir``), keyed by
  JAX on the lowered program, the compile options, the device and the jax/jaxlib versions.
* **exported functions** (``<cache>/exported``): :func:`cached_jit` stores a function's StableHLO
  (``jax.export``) so that a later process skips tracing and lowering. The key is a SHA-256 of
  everything the program depends on: the content of every file of the installed bkdm package (code and
  data), the versions of jax, jaxlib, diffrax, equinox, optimistix, lineax, numpy, scipy and pyhf,
  the backend (platform and device kind), ``jax_enable_x64``, ``EQX_ON_ERROR``, the function's name,
  code location and declared options, and the argument structure with every shape and dtype. Any
  change of the source, of a dependency or of the inputs' structure gives a new key — an entry is
  never reused for a different function. Each file holds a header (format tag, the full key, the
  SHA-256 of the payload): a truncated, corrupt or foreign file is ignored and rewritten, and files are
  written to a temporary name and renamed, so concurrent processes never read a partial entry.

Where (first match): ``$BKDM_CACHE_DIR``; ``$XDG_CACHE_HOME/bkdm``; ``~/.cache/bkdm`` (Linux and other
POSIX), ``~/Library/Caches/bkdm`` (macOS), ``%LOCALAPPDATA%\\bkdm\\Cache`` (Windows). Off: the
environment variable ``BKDM_NO_CACHE=1`` or the CLI flag ``--no-cache`` (:func:`disable`). Deleting the
folder is always safe.

``import bkdm`` calls :func:`enable_jax_cache`, which only sets JAX's ``jax_compilation_cache_dir``
option (nothing is created or read until JAX compiles); it leaves an existing setting alone (e.g.
``JAX_COMPILATION_CACHE_DIR``) and does nothing if JAX has already initialised its cache in this process.
"""

import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
import types
from importlib import metadata
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

CACHE_DIR_ENV = "BKDM_CACHE_DIR"
NO_CACHE_ENV = "BKDM_NO_CACHE"
FORMAT = b"bkdm-exported-v1\n"
DEPENDENCIES = ("jax", "jaxlib", "diffrax", "equinox", "optimistix", "lineax", "numpy", "scipy", "pyhf")

logger = logging.getLogger(__name__)
_disabled = False
# counts of the exported-function cache in this process (memory, disk, new, fallback)
stats = {"memory": 0, "disk": 0, "exported": 0, "fallback": 0}


# ---------------------------------------------------------------------------------------- settings
def enabled():
    """False if switched off by ``BKDM_NO_CACHE`` (any value but "", "0", "false", "no") or by
    :func:`disable`."""
    value = os.environ.get(NO_CACHE_ENV, "").strip().lower()
    return not _disabled and value in ("", "0", "false", "no")


def cache_dir():
    """The cache folder (module docstring); not created here."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "bkdm" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "bkdm"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bkdm"


def _jax_cache_initialised():
    from jax._src import compilation_cache

    return bool(getattr(compilation_cache, "_cache_initialized", False))


def enable_jax_cache():
    """Point JAX's persistent compilation cache at ``<cache>/xla`` unless switched off, unless the user
    already chose a folder, and unless JAX has already set up its cache. Returns the folder in use or None."""
    current = jax.config.jax_compilation_cache_dir
    if current is not None:
        return Path(current) if jax.config.jax_enable_compilation_cache else None
    if not enabled() or _jax_cache_initialised():
        return None
    path = cache_dir() / "xla"
    jax.config.update("jax_compilation_cache_dir", str(path))
    return path


def disable():
    """Switch both caches off for this process (the CLI's ``--no-cache``), including a JAX compilation
    cache set by :func:`enable_jax_cache` or by ``JAX_COMPILATION_CACHE_DIR``."""
    global _disabled
    _disabled = True
    jax.config.update("jax_enable_compilation_cache", False)
    if _jax_cache_initialised():
        from jax.experimental.compilation_cache import compilation_cache

        compilation_cache.reset_cache()


# ---------------------------------------------------------------------------------------- keys
def _files_digest(root):
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix not in (".pyc", ".pyo")):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def source_fingerprint():
    """SHA-256 of the bkdm package's files (code and data) and of the dependencies' versions."""
    root = Path(__file__).resolve().parent
    record = {"bkdm": _files_digest(root), "python": sys.version,
              "versions": {d: _version(d) for d in DEPENDENCIES}}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _environment():
    device = jax.devices()[0]
    return {"platform": device.platform, "device_kind": device.device_kind,
            "x64": bool(jax.config.jax_enable_x64), "eqx_on_error": os.environ.get("EQX_ON_ERROR"),
            "matmul_precision": str(jax.config.jax_default_matmul_precision)}


def _code_identity(fn):
    fn = getattr(fn, "__wrapped__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(type(fn))
    return f"{code.co_filename}:{code.co_firstlineno}:{code.co_qualname}"


def _avals(leaves):
    return [[list(np.shape(x)), str(jax.numpy.result_type(x))] for x in leaves]


def artifact_key(name, record):
    """The SHA-256 (hex) of an entry: bkdm's source fingerprint, the backend and settings
    (:func:`source_fingerprint`, module docstring), ``name`` and ``record`` (JSON-serialisable)."""
    full = {"fingerprint": source_fingerprint(), "environment": _environment(), "name": name,
            "record": record}
    return hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()


def function_key(fn, name, options, treedef, leaves, arg_types=()):
    """The key of a :func:`cached_jit` program: :func:`artifact_key` of the function's code location,
    options, argument structure, shapes and dtypes."""
    return artifact_key(name, {"code": _code_identity(fn), "options": repr(options), "tree": str(treedef),
                               "avals": _avals(leaves),
                               "types": [f"{type(a).__module__}.{type(a).__qualname__}" for a in arg_types]})


# ---------------------------------------------------------------------------------------- files
def _entry_path(name, key):
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return cache_dir() / "exported" / f"{safe}-{key[:32]}.bin"


def read_entry(path, key):
    """The payload of a cache file if its header matches ``key`` and its checksum, else None."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    head = len(FORMAT) + 64 + 1 + 64 + 1
    if len(data) < head or not data.startswith(FORMAT):
        return None
    stored_key = data[len(FORMAT):len(FORMAT) + 64].decode(errors="replace")
    checksum = data[len(FORMAT) + 65:len(FORMAT) + 129].decode(errors="replace")
    payload = data[head:]
    if stored_key != key or hashlib.sha256(payload).hexdigest() != checksum:
        return None
    return payload


def write_entry(path, key, payload):
    """Write a cache file atomically (temporary file in the same folder, then rename); errors ignored."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(FORMAT + key.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n")
            f.write(payload)
        os.replace(tmp, path)
    except OSError as err:
        logger.warning("bkdm cache: could not write %s (%s)", path, err)
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass


def load_artifact(name, record):
    """The payload (bytes) stored under (``name``, ``record``) by :func:`store_artifact`, or None
    (cache off, absent, or damaged)."""
    if not enabled():
        return None
    key = artifact_key(name, record)
    return read_entry(_entry_path(name, key), key)


def store_artifact(name, record, payload):
    """Store ``payload`` (bytes) under (``name``, ``record``); a no-op when the cache is off."""
    if enabled():
        key = artifact_key(name, record)
        write_entry(_entry_path(name, key), key, bytes(payload))


# ---------------------------------------------------------------------------------------- functions
class CachedFunction:
    """A jitted function whose traced and lowered program is cached in memory and on disk (see
    :func:`cached_jit`)."""

    def __init__(self, fn, name, options=None):
        self.fn = fn
        self.name = name
        self.options = options
        self._plain = jax.jit(fn)
        self._calls = {}

    def _flat(self, treedef):
        def flat(*leaves):
            return self.fn(*jax.tree_util.tree_unflatten(treedef, leaves))
        return flat

    def _load_or_export(self, treedef, leaves, args):
        from jax import export

        key = function_key(self.fn, self.name, self.options, treedef, leaves, args)
        path = _entry_path(self.name, key)
        payload = read_entry(path, key)
        if payload is not None:
            try:
                exported = export.deserialize(bytearray(payload))
                stats["disk"] += 1
                return jax.jit(exported.call)
            except Exception as err:  # noqa: BLE001 - a bad entry is rewritten below
                logger.warning("bkdm cache: ignoring unreadable %s (%s)", path, err)
        specs = [jax.ShapeDtypeStruct(np.shape(x), jax.numpy.result_type(x)) for x in leaves]
        try:
            exported = export.export(jax.jit(self._flat(treedef)))(*specs)
            payload = exported.serialize()
        except (ValueError, TypeError, NotImplementedError) as err:
            # e.g. host callbacks or outputs that jax.export cannot serialise: plain jit, no disk cache
            logger.info("bkdm cache: %s not exportable (%s); using jax.jit", self.name, err)
            stats["fallback"] += 1
            return None
        write_entry(path, key, bytes(payload))
        stats["exported"] += 1
        return jax.jit(exported.call)

    def __call__(self, *args):
        if not enabled():
            return self._plain(*args)
        leaves, treedef = jax.tree_util.tree_flatten(args)
        leaves = [jax.numpy.asarray(x) for x in leaves]
        signature = (treedef, tuple((np.shape(x), jax.numpy.result_type(x)) for x in leaves))
        if signature in self._calls:
            stats["memory"] += 1
        else:
            self._calls[signature] = self._load_or_export(treedef, leaves, args)
        call = self._calls[signature]
        if call is None:
            return self._plain(*args)
        return call(*leaves)


def in_package(model):
    """True if ``model`` (a module or an object) is defined inside bkdm, whose source is part of every
    cache key. A user's model (``docs/add-a-model.md``) is not, so its programs are never taken from the
    disk cache (a changed plugin would otherwise get a stale program)."""
    name = model.__name__ if isinstance(model, types.ModuleType) else type(model).__module__
    return name.split(".")[0] == "bkdm"


def cached_jit(fn, name, options=None):
    """``jax.jit(fn)`` whose trace and lowering are cached on disk across processes (module docstring).

    ``fn`` takes pytrees of arrays (e.g. a model's ``Params``; static fields become part of the key) and
    returns arrays in dicts, tuples or lists. ``name`` and ``options`` (any value with a stable
    ``repr``) must identify ``fn`` together with bkdm's source: a function that captures values from
    outside the bkdm package (user code, data read at run time) must put them, or a digest of them,
    into ``options``. Functions that ``jax.export`` cannot serialise (host callbacks) fall back to
    ``jax.jit``; so does everything when the cache is off."""
    return CachedFunction(fn, name, options)


# ---------------------------------------------------------------------------------------- exported calls
def batched_call(exported):
    """A function of unbatched arguments that calls ``exported`` — a ``jax.export.Exported`` of a
    function vmapped over a symbolic leading dimension — and that works under ``jax.vmap`` (any
    nesting: the batch axes are flattened into the exported one). ``Exported.call`` has no batching
    rule of its own; this gives it one (``jax.custom_batching.custom_vmap``)."""
    def broadcast(args, in_batched, axis_size):
        return [x if b else jnp.broadcast_to(x, (axis_size, *jnp.shape(x))) for x, b in zip(args, in_batched,
                                                                                              strict=True)]

    @jax.custom_batching.custom_vmap
    def many(*args):  # every argument with the leading batch axis
        return exported.call(*args)

    @many.def_vmap
    def _many_rule(axis_size, in_batched, *args):
        args = broadcast(args, in_batched, axis_size)
        a, n = args[0].shape[:2]
        out = many(*(x.reshape(a * n, *x.shape[2:]) for x in args))
        out = jax.tree_util.tree_map(lambda o: o.reshape(a, n, *o.shape[1:]), out)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    @jax.custom_batching.custom_vmap
    def one(*args):
        return jax.tree_util.tree_map(lambda o: o[0], many(*(x[None] for x in args)))

    @one.def_vmap
    def _one_rule(axis_size, in_batched, *args):
        out = many(*broadcast(args, in_batched, axis_size))
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return one
