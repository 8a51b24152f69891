"""The README's "Python quick start": at most 15 lines, the same block as in docs/getting-started.md,
and it runs (slow suite: it compiles a relic solve and runs the quick best fit, minutes).

Reference for the run: the shipped fit's own documented outcome (README "Timing": the quick fit of
alp-freeze-in converges with a Belle II Δχ² > 0 against the SM, Ωh² = 0.120 at the best fit).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def quick_start(path):
    """The first ```python block after the heading "## Python quick start" of ``path``."""
    text = path.read_text()
    section = text[text.index("## Python quick start"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quick_start_is_short_and_the_same_in_the_docs():
    code = quick_start(ROOT / "README.md")
    assert len(code.strip().splitlines()) <= 15
    assert code == quick_start(ROOT / "docs" / "getting-started.md")
    compile(code, "README.md quick start", "exec")
    import bkdm

    for name in re.findall(r"bkdm\.(\w+)\(", code):
        assert name in bkdm.__all__ and callable(getattr(bkdm, name)), name


@pytest.mark.slow
def test_quick_start_runs(capsys):
    namespace = {}
    exec(compile(quick_start(ROOT / "README.md"), "README.md quick start", "exec"), namespace)
    best = namespace["best"]
    assert best.converged and best.delta_chi2_sm > 0.0
    assert best.observables["omega_h2"] == pytest.approx(0.120, rel=0.02)  # Planck σ ≈ 1.3 %
    assert "best fit of alp-freeze-in" in capsys.readouterr().out
