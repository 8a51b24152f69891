"""Model registry. See :mod:`bkdm.models.base` for the interface every model follows.

A model is found by its name (``NAME``; ``_`` and ``-`` are equivalent, case is ignored) among

1. the built-in models ``alp``, ``dark-photon``, ``resonant-alp`` (imported on first use);
2. models registered in this process with :func:`register_model`;
3. modules named in the environment variable ``BKDM_MODELS`` (comma-separated module names or
   paths of ``.py`` files, e.g. ``BKDM_MODELS=mypkg.toy_model,./my_model.py``), imported and
   registered the first time the registry is consulted;
4. the Python entry-point group ``bkdm.models`` of installed packages (``[project.entry-points."bkdm.models"]
   toy = "mypkg.toy_model"`` in their pyproject.toml), read on first consultation and each
   imported when its name is first asked for.

A model missing part of the interface is refused when it is registered (or, for an entry point,
loaded), with the missing names (``docs/add-a-model.md``).
"""

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from bkdm.models import base

MODELS_ENV = "BKDM_MODELS"
ENTRY_POINT_GROUP = "bkdm.models"

_BUILTIN = {
    "alp": "bkdm.models.alp",
    "dark-photon": "bkdm.models.dark_photon",
    "resonant-alp": "bkdm.models.resonant_alp",
}
BUILTIN_NAMES = tuple(_BUILTIN)

_registered = {}  # key → registered model object
_entry_points = {}  # key → importlib.metadata.EntryPoint, loaded on first get_model
_discovered = False


def _key(name):
    return str(name).strip().lower().replace("_", "-")


def _import(target):
    """A module from a dotted name, ``module:attribute``, or the path of a ``.py`` file."""
    target = str(target).strip()
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"model plugin {target!r}: no such file")
        name = f"bkdm_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"model plugin {target!r} cannot be imported: {exc}") from exc
    return getattr(module, attribute) if attribute else module


def register_model(model, replace=False):
    """Register a model (a module or any object with the interface of :mod:`bkdm.models.base`;
    a string is imported first: module name, ``module:attribute`` or a ``.py`` path) under its
    ``NAME``; returns it. Afterwards :func:`get_model`, fit files (``model = "<NAME>"``),
    :func:`bkdm.benchmark` and the command line know it.

    Raises ValueError naming the missing interface names, or if ``NAME`` is already taken by a
    different model and ``replace`` is false (built-in names can never be replaced).
    """
    if isinstance(model, (str, os.PathLike)):
        model = _import(model)
    missing = base.missing_names(model)
    label = getattr(model, "NAME", getattr(model, "__name__", repr(model)))
    if missing:
        raise ValueError(f"model {label!r} cannot be registered: it lacks {missing} (the interface "
                         "of bkdm.models.base; see docs/add-a-model.md)")
    key = _key(model.NAME)
    if key in _BUILTIN:
        if sys.modules.get(_BUILTIN[key]) is model:
            return model
        raise ValueError(f"model name {model.NAME!r} is a built-in model's: choose another NAME")
    if key in _registered and _registered[key] is not model and not replace:
        raise ValueError(f"model name {model.NAME!r} is already registered (pass replace=True to replace it)")
    _registered[key] = model
    return model


def _discover():
    """Models of ``BKDM_MODELS`` and of the ``bkdm.models`` entry points (once per process)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        key = _key(entry.name)
        if key not in _BUILTIN and key not in _registered:
            _entry_points[key] = entry
    for target in os.environ.get(MODELS_ENV, "").split(","):
        if target.strip():
            register_model(target, replace=True)


def model_names():
    """Names of every available model: built-in, registered, ``BKDM_MODELS`` and entry points."""
    _discover()
    names = list(BUILTIN_NAMES)
    names += [m.NAME for m in _registered.values()]
    names += [_key(e.name) for k, e in _entry_points.items() if k not in _registered]
    return tuple(names)


def get_model(name):
    """The model registered as ``name`` (``alp``, ``dark-photon``, ``resonant-alp`` or a user model;
    :func:`model_names` lists them). ValueError listing the valid names for an unknown one."""
    key = _key(name)
    if key in _BUILTIN:
        return importlib.import_module(_BUILTIN[key])
    _discover()
    if key in _registered:
        return _registered[key]
    if key in _entry_points:
        entry = _entry_points.pop(key)
        try:
            model = entry.load()
        except ImportError as exc:
            raise ValueError(f"model {name!r} (entry point {entry.value!r}) cannot be imported: "
                             f"{exc}") from exc
        if _key(getattr(model, "NAME", key)) != key:
            raise ValueError(f"entry point {entry.name!r} = {entry.value!r} of group {ENTRY_POINT_GROUP!r} "
                             f"loads a model with NAME = {model.NAME!r}: the two must agree")
        return register_model(model)
    raise ValueError(f"model = {name!r} is not allowed: choose one of {list(model_names())}")


def __getattr__(name):
    if name == "MODEL_NAMES":  # the registry's current names (kept for code that reads the constant)
        return model_names()
    raise AttributeError(f"module 'bkdm.models' has no attribute {name!r}")


__all__ = ["get_model", "register_model", "model_names", "BUILTIN_NAMES", "MODELS_ENV", "ENTRY_POINT_GROUP"]
