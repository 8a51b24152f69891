"""Provenance of results: a content hash of the fully resolved fit and the bkdm version.

Every result file (``bestfit.json``, ``profiles.json``, ``posterior.nc`` attributes, a scan's
``manifest.json``) records :func:`record` of the fit that produced it::

    {"fit_hash": "<sha256 hex>", "bkdm_version": "0.1.0", "fit": {<resolved fit>}}

The resolved fit (:func:`resolved_fit`) is everything that defines the statistical model, with every
default filled in: the model name; each free parameter's prior (kind, range, mean, sigma); every
fixed value (numbers as floats, ties and model options as strings); the likelihood terms and their
options (Belle II channels/line shape/width, Planck theory uncertainty, the flavour limits, the
relic-solve options); and the sha256 of every data file the likelihood reads (``bkdm/data``: the
Belle II workspace and number densities, the form-factor fit). ``fit_hash`` is the sha256 of its
canonical JSON (sorted keys). Deliberately *not* in the hash: the fit's name and description, prior
``init`` values and the [bestfit]/[sampler]/[scan]/[quick] settings (they change how a result is
computed, not which model it belongs to; a scan's own settings are compared by the scan).

Reusing a result for another fit is refused: :func:`check` raises a one-line ``ValueError`` naming
every field that differs, e.g. ``fixed.m_psi: 0.3 → 0.6``, or the bkdm version; ``bkdm scan
--restart`` starts afresh instead. Results written before provenance was recorded count as
different (``fit_hash: absent``).
"""

import functools
import hashlib
import json
import math
from importlib import resources

DATA_SUFFIXES = (".json", ".csv", ".yaml")


def _number_or_text(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return float(value)


def _options(options):
    if options is None:
        return None
    return {str(k): (_options(v) if isinstance(v, dict) else _number_or_text(v)) for k, v in options.items()}


@functools.lru_cache(maxsize=1)
def data_hashes():
    """{path under bkdm/data: sha256 hex} of every data file bkdm reads (json, csv, yaml)."""
    root = resources.files("bkdm.data")
    out = {}

    def walk(node, prefix):
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, name + "/")
            elif child.name.endswith(DATA_SUFFIXES):
                out[name] = hashlib.sha256(child.read_bytes()).hexdigest()

    walk(root, "")
    return out


def resolved_fit(spec):
    """The statistical model of a :class:`~bkdm.inference.fitspec.FitSpec` as a JSON-ready dict
    (module docstring)."""
    lk = spec.likelihood
    free = {}
    for name, prior in spec.free.items():
        free[name] = {"prior": prior.kind,
                      "range": None if prior.low is None else [float(prior.low), float(prior.high)],
                      "mean": _number_or_text(prior.mean), "sigma": _number_or_text(prior.sigma)}
    return {
        "model": spec.model_name,
        "free": free,
        "fixed": {str(k): _number_or_text(v) for k, v in sorted(spec.fixed.items())},
        "likelihood": {"belle2": _options(lk["belle2"]), "planck": _options(lk["planck"]),
                       "constraints": sorted(lk["constraints"]), "relic": _options(lk["relic"])},
        "data": dict(data_hashes()),
    }


def _canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def fit_hash(spec):
    """sha256 hex digest of the canonical JSON of :func:`resolved_fit` (module docstring)."""
    return hashlib.sha256(_canonical(resolved_fit(spec)).encode()).hexdigest()


def bkdm_version():
    import bkdm

    return bkdm.__version__


def record(spec):
    """{"fit_hash", "bkdm_version", "fit"}: what every result file stores (module docstring)."""
    fit = resolved_fit(spec)
    return {"fit_hash": hashlib.sha256(_canonical(fit).encode()).hexdigest(),
            "bkdm_version": bkdm_version(), "fit": fit}


def _show(value):
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return _canonical(value) if len(_canonical(value)) <= 60 else "{…}"
    return str(value)


def differences(old, new, prefix=""):
    """Dotted names of the fields that differ between two resolved fits (or any nested dicts), each as
    ``"name: old → new"``; ``absent`` for a missing key. Empty if they are equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            name = f"{prefix}{key}"
            if key not in old:
                out.append(f"{name}: absent → {_show(new[key])}")
            elif key not in new:
                out.append(f"{name}: {_show(old[key])} → absent")
            else:
                out.extend(differences(old[key], new[key], name + "."))
        return out
    if _canonical(old) == _canonical(new):
        return []
    return [f"{prefix.rstrip('.') or 'value'}: {_show(old)} → {_show(new)}"]


def mismatch(recorded, spec):
    """Why a result with provenance ``recorded`` (a :func:`record` dict, or None for a file without
    one) does not belong to ``spec`` under this bkdm version: a list of differences, empty if it
    does."""
    current = record(spec)
    if not recorded or "fit_hash" not in recorded:
        return ["fit_hash: absent (written before provenance was recorded)"]
    out = []
    if recorded["fit_hash"] != current["fit_hash"]:
        out = differences(recorded.get("fit", {}), current["fit"]) or [
            f"fit_hash: {recorded['fit_hash'][:12]}… → {current['fit_hash'][:12]}…"]
    if recorded.get("bkdm_version") != current["bkdm_version"]:
        out.append(f"bkdm_version: {recorded.get('bkdm_version')} → {current['bkdm_version']}")
    return out


def check(recorded, spec, what, advice="use --restart (or another --out folder) to start afresh"):
    """Raise a one-line ``ValueError`` if ``recorded`` provenance does not belong to ``spec``:
    ``"<what> was made with a different fit (fixed.m_psi: 0.3 → 0.6); <advice>"``."""
    changed = mismatch(recorded, spec)
    if changed:
        raise ValueError(f"{what} was made with a different fit ({'; '.join(changed)}); {advice}")
