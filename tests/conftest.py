import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import bkdm  # noqa: E402,F401  (enables float64)


@pytest.fixture(scope="session")
def shared_dir():
    """Path of ../shared next to the checkout, if present (derivation scripts); tests that need
    it skip otherwise — everything the package needs is inside bkdm/data."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(os.path.dirname(here), "shared")
    if not os.path.isdir(path):
        pytest.skip("../shared not available")
    return path
