"""The shipped fits travel with the install: they are package data of the wheel, and after installing
it a fit is found by name from a directory without the checkout.

Reference: the files in bkdm/fits/ themselves (every one must be declared package data and be in the
wheel) and the CLI's `bkdm fits` listing run from the installed copy.
"""

import fnmatch
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FITS = sorted(p.name for p in (ROOT / "bkdm" / "fits").glob("*.toml"))


def test_fit_files_are_declared_package_data():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["bkdm"]
    assert FITS and all(any(fnmatch.fnmatch(f"fits/{name}", p) for p in patterns) for name in FITS)


@pytest.mark.slow
def test_wheel_ships_the_fits_and_loads_them_by_name(tmp_path):
    """pip wheel (build isolation: setuptools from the index) → pip install --target → from an empty
    directory, `python -m bkdm.cli fits` lists the three fits and fitspec.load(name) reads them."""
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path / "wheel")], check=True)
    wheel = next((tmp_path / "wheel").glob("bkdm-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        assert {f"bkdm/fits/{name}" for name in FITS} <= set(z.namelist())
    subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(tmp_path / "site"), str(wheel)],
                   check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-m", "bkdm.cli", "fits"], cwd=elsewhere, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert all(name in out for name in ("alp-freeze-in", "dark-photon", "resonant-alp"))
    assert str(tmp_path / "site") in out  # the installed copy, not the checkout
    code = "from bkdm.inference import fitspec; print(fitspec.load('alp-freeze-in').source)"
    source = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, check=True,
                            capture_output=True, text=True).stdout.strip()
    assert source.startswith(str(tmp_path / "site"))
