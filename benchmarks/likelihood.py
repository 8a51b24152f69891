"""Likelihood benchmark: Belle II −2 ln L value+gradient (bkdm, JAX) vs pyhf's NumPy backend, and the
joint likelihood of the ALP default fit.

* **Belle II** (:class:`bkdm.likelihoods.belle2.Belle2Likelihood`, combined ITA + HTA, 232 nuisance
  parameters + the new-physics signal of the ALP point below): construction time (pyhf set-up and
  one trace), compile time, then the median time of the jitted −2 ln L value and of value+gradient
  w.r.t. all nuisances and the 100 B_NP bins. Reference: pyhf 0.7.6 with its NumPy backend
  evaluating ``model.logpdf`` (value only, no gradient) at the same parameters, backend selected
  once outside the timing. Ratio = t(pyhf NumPy value)/t(bkdm value+grad).
* **Joint likelihood** (:class:`bkdm.inference.joint.JointLikelihood`) of the ALP default fit: free
  m_a [GeV], f_a [GeV], m_χ [GeV]; fixed c_q = c_sb^V = c_χ = 1; Belle II + Planck terms. Read from
  a ``bkdm/fits/*.toml`` with exactly this content if one exists, otherwise declared inline
  (:data:`ALP_DEFAULT_FIT`). Timed at θ = (2.1, 1.5e8, 1e-3) with the nuisances at their initial
  values: −2 ln L value, and value + gradient w.r.t. (θ, ν) — the relic term's gradient comes from
  the forward-mode Jacobian of the Ωh² solve inside the joint's custom VJP. Ratio = value+grad /
  value.

Run ``python benchmarks/likelihood.py [--quick] [--fit my_fit.toml]``.
"""

import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import jax
import jax.numpy as jnp
import numpy as np
import pyhf

from bkdm import flavour
from bkdm.inference import fitspec
from bkdm.inference.joint import JointLikelihood
from bkdm.likelihoods.belle2 import Belle2Likelihood
from bkdm.models import alp

TITLE = "Likelihoods: Belle II and the joint fit likelihood"
ROOT = common.HERE.parent
THETA = (2.1, 1.5e8, 1e-3)  # m_a, f_a, m_chi [GeV]
FREE = ("m_a", "f_a", "m_chi")
ALP_DEFAULT_FIT = {
    "fit": {"name": "alp-default (benchmark)", "model": "alp",
            "description": "ALP freeze-in: free m_a, f_a, m_chi; c_q = c_sb_v = c_chi = 1"},
    "free": {
        "m_a": {"prior": "uniform", "range": [1.0, 4.3], "init": THETA[0]},
        "f_a": {"prior": "log-uniform", "range": [1e7, 1e10], "init": THETA[1]},
        "m_chi": {"prior": "log-uniform", "range": [1e-4, 1e-2], "init": THETA[2]},
    },
    "fixed": {"c_q": 1.0, "c_sb_v": 1.0, "c_chi": 1.0},
    "likelihood": {"belle2": {"channels": "combined"}, "planck": True},
}


def _is_default_alp_fit(data):
    fixed = data.get("fixed", {})
    return (data.get("fit", {}).get("model") == "alp" and set(data.get("free", {})) == set(FREE)
            and all(fixed.get(k) == 1.0 for k in ("c_q", "c_sb_v", "c_chi"))
            and set(fixed) <= {"c_q", "c_sb_v", "c_chi", "c_sb_a", "detector_length"})


def default_alp_fit_file(path=None):
    """Path of the ALP default fit: ``path`` if given, else the first ``bkdm/fits/*.toml`` declaring it,
    else None (use :data:`ALP_DEFAULT_FIT`). Reads TOML only: no JAX computation (NUTS needs that)."""
    if path is not None:
        return Path(path)
    for candidate in sorted((ROOT / "bkdm" / "fits").glob("*.toml")):
        try:
            data = tomllib.loads(candidate.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if _is_default_alp_fit(data):
            return candidate
    return None


def default_alp_spec(path=None):
    """The ALP default fit (see :func:`default_alp_fit_file`): (FitSpec, where it came from)."""
    found = default_alp_fit_file(path)
    if found is None:
        return fitspec.parse(ALP_DEFAULT_FIT, source="benchmarks/likelihood.py:ALP_DEFAULT_FIT"), "inline"
    shown = found.resolve().relative_to(ROOT) if found.resolve().is_relative_to(ROOT) else found
    return fitspec.load(found), str(shown)


def _theta_in_spec_order(spec):
    values = dict(zip(FREE, THETA, strict=True))
    return jnp.asarray([values[n] for n in spec.free_names])


def bench_belle2(repeat):
    t0 = time.perf_counter()
    lk = Belle2Likelihood("combined")
    t_build = time.perf_counter() - t0
    p = alp.Params.universal(m_a=THETA[0], f_a=THETA[1], c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=THETA[2])
    b_np = jnp.asarray(flavour.np_bin_branching_fractions(alp, p))
    nu = jnp.asarray(lk.init)
    value_fn, vinfo = common.compile_timed(lk._twice_nll, nu, b_np)  # = lk.twice_nll
    value_t, value = common.time_call(value_fn, nu, b_np, repeat=repeat)
    grad_fn, ginfo = common.compile_timed(jax.value_and_grad(lk._twice_nll, argnums=(0, 1)), nu, b_np)
    grad_t, (value_g, grads) = common.time_call(grad_fn, nu, b_np, repeat=repeat)  # = lk.value_and_grad

    pars = np.asarray(lk.full_parameters(nu, b_np))
    data = np.asarray(lk.data)
    previous = pyhf.get_backend()
    pyhf.set_backend("numpy", precision="64b")
    try:
        numpy_t, logpdf = common.time_call(lambda: lk.model.logpdf(pars, data), repeat=repeat)
    finally:
        pyhf.set_backend(*previous)
    numpy_value = float(-2.0 * logpdf[0])
    return {
        "n_nuisance": int(nu.shape[0]), "n_np_bins": int(b_np.shape[0]), "n_bins": int(data.shape[0]),
        "construction_s": t_build, "compile_value": vinfo, "compile_value_and_grad": ginfo,
        "value": value_t, "value_and_grad": grad_t, "pyhf_numpy_value": numpy_t,
        "twice_nll": float(value), "twice_nll_pyhf_numpy": numpy_value,
        "agreement": abs(float(value_g) - numpy_value),
        "grad_finite": bool(all(np.all(np.isfinite(np.asarray(g))) for g in grads)),
        "ratio_numpy_value_over_value_and_grad": numpy_t.median / grad_t.median,
        "grad_over_value": grad_t.median / value_t.median,
    }


def bench_joint(repeat, fit_path=None):
    spec, source = default_alp_spec(fit_path)
    t0 = time.perf_counter()
    joint = JointLikelihood(spec)
    t_build = time.perf_counter() - t0
    theta = _theta_in_spec_order(spec)
    nu = jnp.asarray(joint.nuisance_init)
    value_fn, vinfo = common.compile_timed(joint.twice_nll, theta, nu)
    value_t, value = common.time_call(value_fn, theta, nu, repeat=repeat, max_seconds=30.0)
    grad_fn, ginfo = common.compile_timed(jax.value_and_grad(joint.twice_nll, argnums=(0, 1)), theta, nu)
    grad_t, (_, (g_theta, g_nu)) = common.time_call(grad_fn, theta, nu, repeat=repeat, max_seconds=30.0)
    terms = {k: float(v) for k, v in jax.jit(joint.terms)(theta, nu).items()}
    return {
        "fit": spec.name, "source": source, "free": list(spec.free_names),
        "theta": [float(t) for t in theta], "n_nuisance": int(nu.shape[0]), "construction_s": t_build,
        "compile_value": vinfo, "compile_value_and_grad": ginfo, "value": value_t, "value_and_grad": grad_t,
        "twice_nll": float(value), "terms": terms,
        "grad_theta": [float(x) for x in np.asarray(g_theta)],
        "grad_finite": bool(np.all(np.isfinite(np.asarray(g_theta))) & np.all(np.isfinite(np.asarray(g_nu)))),
        "grad_over_value": grad_t.median / value_t.median,
        "relic_failures": joint.relic_failures,
    }


def format_results(results):
    b = results["belle2"]
    text = common.markdown_table(
        ["Belle II −2 ln L", "bkdm JAX value", "bkdm JAX value+grad", "pyhf NumPy value (reference)",
         "ratio numpy/value+grad", "construction", "compile value+grad", "|Δ(−2lnL)| vs pyhf"],
        [[f"{b['n_bins']} bins, {b['n_nuisance']} nuisances + {b['n_np_bins']} B_NP bins", str(b["value"]),
          str(b["value_and_grad"]), str(b["pyhf_numpy_value"]),
          common.fmt_ratio(b["ratio_numpy_value_over_value_and_grad"]), common.fmt_time(b["construction_s"]),
          common.fmt_time(common.total_compile(b["compile_value_and_grad"])), f"{b['agreement']:.1e}"]])
    j = results.get("joint")
    if j is not None:
        text += "\n\n" + common.markdown_table(
            ["joint −2 ln L (ALP default fit)", "value", "value+grad", "value+grad / value",
             "compile value", "compile value+grad", "terms"],
            [[f"{j['fit']} [{j['source']}], free {', '.join(j['free'])}, {j['n_nuisance']} nuisances",
              str(j["value"]), str(j["value_and_grad"]), f"{j['grad_over_value']:.2f}",
              common.fmt_time(common.total_compile(j["compile_value"])),
              common.fmt_time(common.total_compile(j["compile_value_and_grad"])),
              ", ".join(f"{k} {v:.4g}" for k, v in j["terms"].items())]])
    return text + ("\n\nvalue+grad: −2 ln L and its gradient w.r.t. every free argument (Belle II: 232 "
                   "nuisances + 100 B_NP bins; joint: θ and the free nuisances), jitted, median of repeats. "
                   "pyhf NumPy: model.logpdf value only (no gradient available), backend set once.")


def run(quick=False, repeat=None, fit_path=None, joint=True):
    """Run the likelihood benchmark; returns the JSON-able record."""
    repeat = repeat or (10 if quick else 100)
    env = common.environment()
    print("[likelihood] Belle II ...", flush=True)
    results = {"belle2": bench_belle2(repeat)}
    if joint:
        print("[likelihood] joint (ALP default fit) ...", flush=True)
        results["joint"] = bench_joint(max(3, repeat // 5), fit_path)
    record = {"benchmark": "likelihood", "environment": env, "quick": quick, "results": results}
    record["text"] = format_results(results)
    common.report(TITLE, env, record["text"])
    return record


def main(argv=None):
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--fit", type=Path, default=None, help="fit file of the joint likelihood (see the doc)")
    p.add_argument("--no-joint", action="store_true", help="only the Belle II likelihood")
    args = p.parse_args(argv)
    record = run(args.quick, args.repeat, args.fit, not args.no_joint)
    if args.json:
        common.save_json(args.json, record)


if __name__ == "__main__":
    main()
