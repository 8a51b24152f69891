"""The package, tests, benchmarks, notebooks, fit files, README and docs cite only what ships with bkdm.

References are the shipped documentation (``docs/…md §x.y``) or the primary sources (``[C] (12)``,
arXiv numbers), never the project's internal notes, which users do not have. Checked here:

* no reference to the internal notes remains (the forms that ``tools/replace_spec_refs.py``
  rewrites: ``SPEC``, ``NOTES``, ``NUMERICS``, ``shared/…``, ``derivations/…``), and the sweep script
  finds nothing left to rewrite;
* every cited ``docs/<page>.md §x.y`` exists: the page is in ``docs/`` and has a heading numbered
  x.y (ranges ``§5.4–5.6`` and lists ``§8.6, §8.8`` are checked entry by entry);
* the numbered physics pages carry the chapter numbers the sweep maps to (chapter 2 of the old
  specification is ``docs/physics/alp.md`` with headings 2.x, and so on);
* the sweep's rewriting on examples of every old form, and that it is idempotent.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_spec = importlib.util.spec_from_file_location("replace_spec_refs", ROOT / "tools" / "replace_spec_refs.py")
sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep)

FORBIDDEN = {
    "SPEC": re.compile(r"(?<![A-Za-z])SPEC(?![a-z])"),
    "NOTES": re.compile(r"(?<![A-Za-z])NOTES(?![a-z])"),
    "NUMERICS": re.compile(r"NUMERICS"),
    "shared/": re.compile(r"(?<![\w-])shared/|\.\./shared\b"),
    "derivations/": re.compile(r"derivations/"),
}
CITATION = re.compile(
    r"docs/(?P<page>[\w/-]+\.md)(?P<sections>(?:\s*§\s*\d[\d.]*(?:\s*[–-]\s*\d[\d.]*)?"
    r"(?:\s*(?:,|/|and)\s*§\s*\d[\d.]*(?:\s*[–-]\s*\d[\d.]*)?)*)?)")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\b", re.MULTILINE)


def scanned_files():
    """Everything users get: the sweep's targets plus the documentation pages."""
    files = sweep.target_files(ROOT) + sorted(DOCS.rglob("*.md"))
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def _text(path):
    """File text; for a notebook the cell sources and text outputs only (not image data)."""
    raw = path.read_text()
    if path.suffix != ".ipynb":
        return raw
    parts = []
    for cell in json.loads(raw).get("cells", []):
        parts.append("".join(cell.get("source", [])))
        parts += ["".join(o.get("text", [])) for o in cell.get("outputs", [])]
    return "\n".join(parts)


def _sections(page):
    return set(HEADING.findall((DOCS / page).read_text()))


def test_scanned_files_exist():
    files = scanned_files()
    assert len(files) > 50
    for must in ("bkdm/models/alp.py", "README.md", "bkdm/fits/alp_freeze_in.toml", "docs/physics/alp.md",
                 "notebooks/d_fig1_branching.ipynb", "tests/test_alp.py"):
        assert ROOT / must in files, must


@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_no_reference_to_internal_notes(name):
    hits = []
    for path in scanned_files():
        for n, line in enumerate(_text(path).split("\n"), 1):
            if FORBIDDEN[name].search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not hits, (f"{len(hits)} reference(s) to '{name}' (run `python tools/replace_spec_refs.py`, "
                      "then fix what it leaves by hand):\n" + "\n".join(hits[:30]))


def test_sweep_finds_nothing_left_to_rewrite():
    left = [str(p.relative_to(ROOT)) for p in sweep.target_files(ROOT) if sweep.rewrite_file(p) is not None]
    assert not left, f"`python tools/replace_spec_refs.py` would still rewrite: {left}"


def test_every_cited_docs_section_exists():
    missing = []
    for path in scanned_files():
        for m in CITATION.finditer(_text(path)):
            page = m.group("page")
            where = f"{path.relative_to(ROOT)}: {m.group(0).strip()}"
            if not (DOCS / page).is_file():
                missing.append(f"{where} (no page docs/{page})")
                continue
            have = _sections(page)
            for number in re.findall(r"\d[\d.]*", m.group("sections") or ""):
                if number.rstrip(".") not in have:
                    missing.append(f"{where} (no heading {number.rstrip('.')} in docs/{page})")
    assert not missing, "\n".join(sorted(set(missing))[:40])


def test_physics_pages_keep_their_chapter_numbers():
    pages = {**sweep.CHAPTER_PAGES, 9: sweep.BELLE2_PAGE, 10: sweep.NUMERICS_PAGE}
    for chapter, page in pages.items():
        numbers = _sections(page.removeprefix("docs/"))
        assert str(chapter) in numbers, f"{page}: no heading '{chapter}'"
        stray = [x for x in numbers if x.split(".")[0] != str(chapter)]
        assert not stray, f"{page}: headings {stray} do not belong to chapter {chapter}"
    # every section the data-notes mapping points to exists
    belle2 = _sections("physics/belle2-likelihood.md")
    targets = {*sweep.NOTES_SECTIONS.values(), *sweep.NOTES_ITEMS.values(), sweep.NOTES_APPENDIX_A}
    assert targets <= belle2, targets - belle2
    assert set(sweep.NUMERICS_SECTIONS.values()) <= _sections("physics/numerics.md")


@pytest.mark.parametrize("old, new", [
    ("(SPEC §2.6, [C] (12))", "(docs/physics/alp.md §2.6, [C] (12))"),
    ("SPEC §7 item 10", "docs/validation.md §7.10"),
    ("(SPEC §5.2, §8 item 9)", "(docs/physics/resonant-alp.md §5.2, docs/physics/conventions.md §8.9)"),
    ("SPEC §8 items 6, 8", "docs/physics/conventions.md §8.6, §8.8"),
    ("SPEC §5.4–5.6", "docs/physics/resonant-alp.md §5.4–5.6"),
    ("(SPEC §1.3/§3.7, [C] (30))",
     "(docs/physics/constants.md §1.3, docs/physics/alp-freeze-in.md §3.7, [C] (30))"),
    ("SPEC.md §1", "docs/physics/constants.md §1"),
    ("(SPEC §4.1 (34))", "(docs/physics/dark-photon.md §4.1, [C] (34))"),
    ("SPEC (23) is", "[C] (23) is"),
    ("NOTES §4.1 item 2", "docs/physics/belle2-likelihood.md §9.7"),
    ("(shared/data/belle2/NOTES.md §4.1, §4.2;", "(docs/physics/belle2-likelihood.md §9.6, §9.9;"),
    ("NOTES §3.1/Appendix A", "docs/physics/belle2-likelihood.md §9.2/§9.7"),
    ('NUMERICS.md "Throughput"', "docs/physics/numerics.md §10.8"),
    ("see shared/physics/NUMERICS.md", "see docs/physics/numerics.md"),
    ("(derivations/bench.py)", "(an independent numpy/scipy calculation)"),
    ("shared/papers/ding-et-al-2504.00383-redacted.txt", "arXiv:2504.00383"),
    ("shared/data/formfactors/README.md", "docs/data.md"),
])
def test_rewrite_examples_and_idempotence(old, new):
    assert sweep.rewrite_text(old) == new
    assert sweep.rewrite_text(new) == new


def test_wrapping_keeps_python_lines_short():
    source = ('def f():\n    """Γ(a → χχ̄) = m_a m_χ² c_χ² /(8π f_a²) √(1 − 4m_χ²/m_a²) [GeV], Dirac χ '
              '(SPEC §2.6, [C] (12))."""\n    return 1  # a trailing comment that cites SPEC §3.2 of the '
              'reconstructed cross sections\n')
    new = sweep.rewrite_text(source)
    wrapped = sweep.wrap_python(new, sweep._changed_lines(source, new))
    compile(wrapped, "<test>", "exec")
    assert max(len(line) for line in wrapped.split("\n")) <= sweep.MAX_LINE
    assert "docs/physics/alp.md §2.6" in wrapped and "docs/physics/alp-freeze-in.md §3.2" in wrapped
