"""Execute the reproduction notebooks and write their paired, executed ``.ipynb`` files.

Each notebook is a jupytext percent-format script ``notebooks/<name>.py`` (runnable with plain
``python``); this runner converts it to ``<name>.ipynb``, executes it with nbclient in a fresh kernel
and saves the notebook with its outputs and figures.

    pip install -e ".[notebooks]"
    python notebooks/run.py                # all notebooks, full resolution (the slow job)
    python notebooks/run.py --fast         # coarse grids (BKDM_NOTEBOOK_FAST=1), as in CI
    python notebooks/run.py d_fig1_branching c_fig1_alp_rates_yields   # a selection

The CI subset (``tests/test_notebooks.py``) runs the fast versions as plain scripts, so the default
test suite needs no Jupyter installation.
"""

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def notebook_scripts(names=None):
    """The notebook scripts in this folder (all, or the given stems), sorted by name."""
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run.py")
    if not names:
        return scripts
    by_stem = {p.stem: p for p in scripts}
    unknown = [n for n in names if n not in by_stem]
    if unknown:
        raise SystemExit(f"unknown notebook(s) {unknown}; available: {sorted(by_stem)}")
    return [by_stem[n] for n in names]


def execute(script, fast, timeout):
    """Convert ``script`` to a notebook, execute it in a fresh kernel, save ``<stem>.ipynb``."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(script)
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    os.environ["BKDM_NOTEBOOK_FAST"] = "1" if fast else "0"
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(HERE.parent)}})
    client.execute()
    nbformat.write(nb, script.with_suffix(".ipynb"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook stems (default: all)")
    parser.add_argument("--fast", action="store_true", help="coarse grids (BKDM_NOTEBOOK_FAST=1)")
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    failed = []
    for script in notebook_scripts(args.names):
        start = time.perf_counter()
        try:
            execute(script, args.fast, args.timeout)
            status = "ok"
        except Exception as err:  # report every notebook, then fail
            failed.append(script.stem)
            status = f"FAILED: {type(err).__name__}: {str(err).splitlines()[-1] if str(err) else ''}"
        print(f"{script.stem:32s} {time.perf_counter() - start:7.1f} s  {status}", flush=True)
    if failed:
        sys.exit(f"notebooks failed: {failed}")


if __name__ == "__main__":
    main()
