"""Bad input, one case per class of issue 21: every one must end in a one-line error that names the
parameter (or the file / option), and at the command line in exit code 2 — never a traceback, a
numpy broadcasting message or a plausible number.

Reference: the input contract of README "Command line" and bkdm/models/base.py ("Validity"): eager
ValueError naming the parameter, its unit and allowed range; CLI errors one line on stderr, exit 2.
The traced (jit/vmap) side of the same conditions — NaN plus ``STATUS_INVALID_INPUT`` — is checked
here for the particle layer and, with the relic solves, in tests/test_properties.py.
"""

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bkdm import cli
from bkdm.cosmo import solver as slv
from bkdm.inference import fitspec
from bkdm.inference import scan as scan_module
from bkdm.models import alp, dark_photon, resonant_alp

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ALP_FIT = ROOT / "bkdm" / "fits" / "alp_freeze_in.toml"

ALP = dict(m_a=2.1, f_a=1.5e8, m_chi=1e-3, c_chi=1.0, c_sb_v=1.0)
DP = dict(m_x=2.1, epsilon=1e-3, delta=5e-3, alpha_x=2.33e-3, m_psi=0.3, m_hp=0.05)
RA = dict(m_a=2.0, m_chi=0.954, g_agg=1e-4, g_aww=1e-4, g_achichi=3.7e-5)


def one_line(message):
    return "\n" not in str(message).strip() and "Traceback" not in str(message)


# ------------------------------------------------------------------------------------- Python API
# (id, callable, words the message must contain)
API_CASES = [
    # 3. BR(B⁺ → K⁺X) > 1: outside the model's validity, the coupling is named
    ("alp BR>1", lambda: alp.Params(**{**ALP, "f_a": 1e5}), ["c_sb_v", "BR(B⁺ → K⁺a)"]),
    ("alp BR(K*)>1", lambda: alp.Params(**{**ALP, "c_sb_a": 1e3, "f_a": 1e6}), ["c_sb_a", "BR(B⁺ → K*⁺a)"]),
    ("resonant BR>1", lambda: resonant_alp.Params(**{**RA, "g_aww": 0.05}), ["g_aww", "GeV^-1", "BR"]),
    ("dark-photon BR>1", lambda: dark_photon.Params(**{**DP, "delta": 1e4}), ["delta", "BR(B⁺ → K⁺X)"]),
    # 4. the mass orderings and signs the models need
    ("negative mass", lambda: alp.Params(**{**ALP, "m_a": -2.1}), ["m_a", "GeV", "0 < m_a"]),
    ("alp m_chi > m_a/2", lambda: alp.Params(**{**ALP, "m_chi": 1.2}), ["m_chi", "m_a/2"]),
    ("dark-photon m_psi > m_x/2", lambda: dark_photon.Params(**{**DP, "m_psi": 1.2, "m_hp": 0.5}),
     ["m_psi", "m_x/2"]),
    ("nan", lambda: resonant_alp.Params(**{**RA, "m_chi": float("nan")}), ["m_chi"]),
    ("inf", lambda: alp.Params(**{**ALP, "f_a": float("inf")}), ["f_a", "inf"]),
    # 5. types and names
    ("string mass", lambda: alp.Params(**{**ALP, "m_a": "2.1"}), ["m_a", "'2.1'", "real number"]),
    ("bool mass", lambda: dark_photon.Params(**{**DP, "m_x": True}), ["m_x", "True", "real number"]),
    ("one bad element", lambda: alp.Params(**{**ALP, "m_chi": jnp.array([1e-3, 2.0, 1e-2])}),
     ["m_chi", "1 of 3", "2 at index (1,)"]),
    ("typo", lambda: alp.Params(**{**ALP, "fa": 1e8}), ["'fa'", "valid names", "f_a", "m_chi"]),
    ("missing", lambda: dark_photon.Params(m_x=2.1), ["missing", "epsilon", "m_hp"]),
    ("replace typo", lambda: alp.Params(**ALP).replace(m_chi_=1.0), ["'m_chi_'", "valid names"]),
    ("negative rtol", lambda: slv.SolverSettings(rtol=-1e-8), ["rtol", "0 < rtol"]),
    ("zero atol", lambda: slv.SolverSettings(atol=0.0), ["atol"]),
    ("max_steps", lambda: slv.SolverSettings(max_steps=0), ["max_steps", "positive integer"]),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input_is_a_one_line_value_error(case):
    _, build, words = case
    with pytest.raises(ValueError) as err:
        build()
    message = str(err.value)
    assert one_line(message), message
    for word in words:
        assert word in message, (word, message)


def test_unknown_name_is_also_a_type_error():
    """Python raises TypeError for an unknown keyword: callers catching that keep working."""
    with pytest.raises(TypeError, match="valid names"):
        resonant_alp.Params(**{**RA, "g_agamma": 1.0})


def test_print_shows_values():
    text = repr(alp.Params(**ALP))
    assert "m_a=2.1" in text and "f_a=1.5e+08" in text and "f64[]" not in text
    batched = repr(dark_photon.Params(**{**DP, "m_x": np.array([2.1, 3.0])}))
    assert "m_x=[2.1 3. ]" in batched


# ------------------------------------------------------------------------------------- traced inputs
def test_traced_invalid_inputs_give_nan_not_a_neighbouring_value():
    """Issue 21 item 4: under jit a negative mass gave the value of the positive one, and BR > 1 came
    back unflagged. Now NaN (particle layer, which has no status) and STATUS_INVALID_INPUT."""
    def particle(m_a, f_a, m_chi):
        p = alp.Params(**{**ALP, "m_a": m_a, "f_a": f_a, "m_chi": m_chi})
        return alp.br_b_to_k_invisible(p), alp.total_width(p), alp.validity_status(p)

    f = jax.jit(jax.vmap(particle))
    m_a = jnp.array([2.1, -2.1, 2.1, 2.1])
    f_a = jnp.array([1.5e8, 1.5e8, 1e5, 1.5e8])  # third: BR(B → K a) ≈ 3e6 × the benchmark's 1e-5
    m_chi = jnp.array([1e-3, 1e-3, 1e-3, 1.2])  # fourth: m_chi > m_a/2
    br, width, status = (np.asarray(v) for v in f(m_a, f_a, m_chi))
    assert np.isfinite(br[0]) and np.isfinite(width[0]) and status[0] == 0
    assert np.all(np.isnan(br[1:])) and np.all(np.isnan(width[1:]))
    assert np.all(status[1:] == slv.STATUS_INVALID_INPUT)
    # the gradient at the valid point is untouched by the masking
    g = jax.grad(lambda m: particle(m, 1.5e8, 1e-3)[0])(2.1)
    assert np.isfinite(float(g)) and float(g) != 0.0


def test_invalid_input_status_has_a_message():
    assert "invalid input" in slv.result_message(slv.STATUS_INVALID_INPUT)
    with pytest.raises(slv.SolverError, match="invalid input"):
        slv.checked(jnp.array([1.0, jnp.nan]), jnp.array([0, slv.STATUS_INVALID_INPUT]), "test")


# ------------------------------------------------------------------------------------- fit files
def test_prior_box_reaching_a_forbidden_ordering_is_refused_at_load():
    with pytest.raises(fitspec.FitFileError) as err:
        fitspec.load(FIXTURES / "prior_box_forbidden.toml")
    message = str(err.value)
    assert one_line(message)
    for word in ("prior_box_forbidden.toml", "m_psi < m_x/2", "m_x", "m_psi", "m_x = 0.1"):
        assert word in message, (word, message)


def test_prior_box_reaching_br_above_one_is_refused(tmp_path):
    text = (FIXTURES / "prior_box_forbidden.toml").read_text()
    text = text.replace("range = [0.1, 4.6]", "range = [1.0, 4.6]").replace("delta = 5e-3", "delta = 1e4")
    free_delta = "[free.delta]\nprior = \"log-uniform\"\nrange = [1e-3, 1e3]\ninit = 1e-2\n\n"
    text = text.replace("[free.m_x]", free_delta + "[free.m_x]")
    path = tmp_path / "br.toml"
    path.write_text(text.replace("delta = 1e4\n", ""))
    with pytest.raises(fitspec.FitFileError, match=r"BR\(B⁺ → K⁺X\).*delta"):
        fitspec.load(path)


def test_unknown_relic_option_is_refused_at_load():
    with pytest.raises(fitspec.FitFileError, match=r"likelihood\.relic: unknown options \['method'\].*t_start"
                       ):
        fitspec.load(FIXTURES / "unknown_relic_option.toml")


def test_binary_fit_file_names_the_file(tmp_path):
    path = tmp_path / "fit.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    with pytest.raises(fitspec.FitFileError) as err:
        fitspec.load(path)
    assert str(path) in str(err.value) and "UTF-8" in str(err.value) and one_line(err.value)


# ------------------------------------------------------------------------------------- command line
def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    _, err = capsys.readouterr()
    return code, err


def _readonly(monkeypatch, folder):
    """Emulate a read-only folder (the tests may run as root, who can write anywhere)."""
    folder = Path(folder).resolve()
    real = os.access
    monkeypatch.setattr(cli.os, "access", lambda p, mode: False if Path(p).resolve() == folder
                        else real(p, mode))


def _files(t):
    """A plain file, a binary 'fit file' and a read-only folder's path inside ``t``."""
    (t / "a_file").write_text("not a folder")
    (t / "binary.toml").write_bytes(b"\x00\xff\xfe\x80 binary")
    return t / "a_file", t / "binary.toml", t / "readonly"


# (id, argv(a_file, binary, readonly), words the error must contain, emulate the read-only folder)
CLI_CASES = [
    ("negative mass", lambda f, b, r: ["info", "--model", "alp", "--set", "m_a=-2.1"], ["m_a"], False),
    ("BR>1", lambda f, b, r: ["info", "--model", "alp", "--set", "f_a=1e5"], ["c_sb_v", "BR"], False),
    ("resonant BR>1", lambda f, b, r: ["info", "--model", "resonant-alp", "--set", "g_agg=0.05"], ["g_aww"],
     False),
    ("ordering", lambda f, b, r: ["relic", "--model", "dark-photon", "--set", "m_psi=1.2", "--set",
                                  "m_hp=0.5"], ["m_psi"], False),
    ("prior box", lambda f, b, r: ["fit", FIXTURES / "prior_box_forbidden.toml"], ["m_psi < m_x/2", "m_x"],
     False),
    ("relic option", lambda f, b, r: ["fit", FIXTURES / "unknown_relic_option.toml"],
     ["likelihood.relic", "method"], False),
    ("binary fit file", lambda f, b, r: ["fit", b], ["binary.toml", "UTF-8"], False),
    ("binary fit file, nuts", lambda f, b, r: ["fit", b, "--method", "nuts"], ["binary.toml"], False),
    ("fit --out a file", lambda f, b, r: ["fit", ALP_FIT, "--out", f], ["a_file", "existing file"], False),
    ("scan --out a file", lambda f, b, r: ["scan", ALP_FIT, "--out", f], ["a_file", "existing file"], False),
    ("fit --out inside a file", lambda f, b, r: ["fit", ALP_FIT, "--out", f / "sub"], ["cannot create"],
     False),
    ("fit read-only", lambda f, b, r: ["fit", ALP_FIT, "--out", r], ["readonly", "not writable"], True),
    ("scan read-only", lambda f, b, r: ["scan", ALP_FIT, "--out", r], ["readonly", "not writable"], True),
    ("relic --plot read-only", lambda f, b, r: ["relic", "--model", "alp", "--plot", r / "y"],
     ["--plot", "not writable"], True),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_exit_2_one_line(case, tmp_path, capsys, monkeypatch):
    _, argv, words, readonly = case
    a_file, binary, ro = _files(tmp_path)
    if readonly:
        ro.mkdir()
        _readonly(monkeypatch, ro)
    code, err = run(argv(a_file, binary, ro), capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


def test_cli_write_failure_late_is_one_line(monkeypatch, capsys):
    """An OSError that gets past the early checks (disk full, a folder made read-only meanwhile) is one
    line and exit 2 as well."""
    def failing(args):
        raise PermissionError(13, "Permission denied", "results/x/bestfit.json")

    monkeypatch.setattr(cli, "cmd_info", failing)
    code, err = run(["info", "--model", "alp"], capsys)
    assert code == 2 and "Permission denied" in err and "bestfit.json" in err and one_line(err)


# ------------------------------------------------------------------------------------- scans
def test_scan_leaves_no_temporary_chunk_file(tmp_path, monkeypatch):
    """Interrupted while writing (Ctrl-C → KeyboardInterrupt): the temporary file is removed; one left
    by a killed process (SIGKILL: no clean-up possible) is removed by the next scan in that folder."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(scan_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scan_module._write_chunk(tmp_path, 0, {"index": np.arange(3)})
    assert not list(tmp_path.iterdir())
    stale = tmp_path / ".chunk_00003.12345.tmp.npz"
    stale.write_bytes(b"partial")
    scan_module._remove_stale_temporaries(tmp_path)
    assert not stale.exists()
