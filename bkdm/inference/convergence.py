"""Convergence targets of a posterior and a plain-language verdict (NUTS and SMC).

Targets (Vehtari, Gelman, Simpson, Carpenter, Bürkner 2021, arXiv:1903.08008, Sec. 4: R̂ < 1.01 and
an effective sample size of at least 400 for reliable R̂ and quantiles — 100 per chain for 4 chains):

    R̂ ≤ 1.01,  bulk ESS ≥ 400 and tail ESS ≥ 400  for every physics parameter,
    divergent transitions < 1 % of the draws (NUTS).

:func:`assess` returns the verdict, one warning per missed target and, for each, the fit-file setting
to change with a value estimated from the run (ESS grows ∝ draws; R̂ − 1 falls ∝ 1/draws).
:func:`check_settings` rejects settings that cannot reach the targets before anything runs.
"""

import math

R_HAT_MAX = 1.01
ESS_MIN = 400
DIVERGENT_FRACTION_MAX = 0.01
MAX_CHAINS = 64  # vectorized chains advance in lock step and hold one relic batch each: memory and the
# longest tree set the cost; more chains than this is a configuration error, not a convergence aid
MAX_TARGET_ACCEPT = 0.99


def check_settings(chains, draws, where="sampler"):
    """ValueError naming the key if ``chains`` × ``draws`` cannot reach the ESS target (ESS ≤ the
    number of draws for all but antithetic chains) or ``chains`` exceeds :data:`MAX_CHAINS`."""
    if chains > MAX_CHAINS:
        raise ValueError(f"{where}.chains = {chains}: at most {MAX_CHAINS} chains are allowed (vectorized "
                         "chains run in lock step; use more draws instead)")
    if chains * draws < ESS_MIN:
        need = math.ceil(ESS_MIN / chains)
        raise ValueError(f"{where}.draws = {draws}: {chains} chains × {draws} draws = {chains * draws} < "
                         f"{ESS_MIN}, the effective-sample-size target; set {where}.draws ≥ {need}")


MIN_PARTICLES = 32  # per run: fewer leave the tempering schedule and the mass matrix to a handful of points


def check_smc_settings(particles, runs, target_ess, mcmc_steps, leapfrog_steps, where="smc"):
    """ValueError naming the key for SMC settings that cannot work (see :func:`check_settings`)."""
    for key, value in (("particles", particles), ("runs", runs), ("mcmc_steps", mcmc_steps),
                       ("leapfrog_steps", leapfrog_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}.{key} must be a positive integer, got {value!r}")
    if runs < 2:
        raise ValueError(f"{where}.runs = {runs}: at least 2 independent runs are needed for the uncertainty "
                         "of ln Z and for R̂")
    if runs > MAX_CHAINS:
        raise ValueError(f"{where}.runs = {runs}: at most {MAX_CHAINS} runs are allowed")
    if particles < MIN_PARTICLES:
        raise ValueError(f"{where}.particles = {particles}: at least {MIN_PARTICLES} per run are needed")
    if particles * runs < ESS_MIN:
        raise ValueError(f"{where}.particles = {particles}: {runs} runs × {particles} particles = "
                         f"{particles * runs} < {ESS_MIN}, the effective-sample-size target; set "
                         f"{where}.particles ≥ {math.ceil(ESS_MIN / runs)}")
    if isinstance(target_ess, bool) or not isinstance(target_ess, (int, float)) or not 0 < target_ess < 1:
        raise ValueError(f"{where}.target_ess = {target_ess!r}: must lie in (0, 1)")


def _round_up(x, step=500):
    return int(step * math.ceil(x / step))


def assess(summary, names, draws, method="nuts", settings=None):
    """Verdict of a posterior summary: ``summary[name]`` has r_hat, ess_bulk, ess_tail (None = not
    computable); ``summary`` may have ``n_divergences`` (NUTS), ``relic_failures``; ``draws`` per chain.
    Returns {"converged": bool, "verdict": str, "warnings": [...], "suggestions": [...]}."""
    settings = settings or {}
    warnings, suggestions = [], []
    growth = 1.0  # factor by which the draws would have to grow
    for name in names:
        s = summary[name]
        r_hat, bulk, tail = s.get("r_hat"), s.get("ess_bulk"), s.get("ess_tail")
        if r_hat is None or r_hat > R_HAT_MAX:
            warnings.append(f"{name}: R̂ = {'n/a' if r_hat is None else f'{r_hat:.3f}'} > {R_HAT_MAX}: "
                            "the chains disagree")
            growth = max(growth, 4.0 if r_hat is None else (r_hat - 1.0) / (R_HAT_MAX - 1.0))
        low = [f"{k} ESS = {'n/a' if v is None else round(v)}" for k, v in (("bulk", bulk), ("tail", tail))
               if v is None or v < ESS_MIN]
        if low:
            warnings.append(f"{name}: {', '.join(low)} < {ESS_MIN}: means and intervals are noisy")
            worst = min((v for v in (bulk, tail) if v), default=None)
            growth = max(growth, 4.0 if not worst else ESS_MIN / worst)
    n_total = draws * int(settings.get("chains", 1))
    divergences = summary.get("n_divergences") or 0
    if divergences and divergences >= DIVERGENT_FRACTION_MAX * n_total:
        warnings.append(f"{divergences} divergent transitions ({100 * divergences / n_total:.1f} % of the "
                        f"draws, target < {100 * DIVERGENT_FRACTION_MAX:.0f} %): the sampler may miss "
                        "the regions where they occur (sample_stats.diverging)")
        accept = float(settings.get("target_accept", 0.8))
        if accept < 0.95:
            suggestions.append(f"raise sampler.target_accept to {0.9 if accept < 0.9 else 0.95} (now "
                               f"{accept:g}): smaller steps through the curved regions")
        else:
            suggestions.append("divergences persist at target_accept ≥ 0.95: use --method smc")
    if growth > 1.0:
        if method == "smc":
            particles = int(settings.get("particles", 0))
            suggestions.append(f"set smc.particles = {_round_up(1.3 * growth * particles, 64)} (now "
                               f"{particles}) or smc.mcmc_steps higher: more, better-mixed particles")
        else:
            suggestions.append(f"set sampler.draws = {_round_up(1.3 * growth * draws)} (now {draws}): "
                               "ESS grows in proportion to the draws")
            if growth > 5.0:
                suggestions.append("the chains mix slowly (a multimodal posterior?): --method smc samples "
                                   "across modes by tempering")
    if summary.get("relic_failures"):
        warnings.append(f"{summary['relic_failures']} failed relic solves (zero likelihood there)")
    converged = not any(w for w in warnings if "failed relic solves" not in w)
    if converged:
        share = (f", divergences {100 * divergences / n_total:.2f} % < {100 * DIVERGENT_FRACTION_MAX:.0f} %"
                 if method == "nuts" else "")
        verdict = (f"converged: R̂ ≤ {R_HAT_MAX}, bulk and tail ESS ≥ {ESS_MIN} for {', '.join(names)}"
                   f"{share}: the posterior can be used")
    else:
        verdict = ("NOT converged: do not quote this posterior yet — " + "; ".join(suggestions)
                   if suggestions else "NOT converged")
    return {"converged": converged, "verdict": verdict, "warnings": warnings, "suggestions": suggestions}
