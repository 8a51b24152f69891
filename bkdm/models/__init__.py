"""Model registry. See :mod:`bkdm.models.base` for the interface every model module follows."""

import importlib

_MODULES = {
    "alp": "bkdm.models.alp",
    "dark-photon": "bkdm.models.dark_photon",
    "resonant-alp": "bkdm.models.resonant_alp",
}

MODEL_NAMES = tuple(_MODULES)


def get_model(name):
    """The model module registered as ``name`` (``alp``, ``dark-photon`` or ``resonant-alp``)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in _MODULES:
        raise ValueError(f"model = {name!r} is not allowed: choose one of {list(MODEL_NAMES)}")
    return importlib.import_module(_MODULES[key])
