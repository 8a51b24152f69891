"""Rewrite references to the project's internal notes into references to the shipped documentation.

    python tools/replace_spec_refs.py            # rewrite in place, print a summary
    python tools/replace_spec_refs.py --check    # report what would change, exit 1 if anything would

Old forms (the physics specification, the Belle II data notes, the numerics notes and the shared/
folder, none of which ships with bkdm) and what they become:

    SPEC §2.6                  → docs/physics/alp.md §2.6      (chapters 1–8 keep their numbers)
    SPEC §7 item 10            → docs/validation.md §7.10
    SPEC §8 item 6             → docs/physics/conventions.md §8.6
    SPEC §5.2, §8 item 9       → docs/physics/resonant-alp.md §5.2, docs/physics/conventions.md §8.9
    SPEC (22)                  → [C] (22)
    NOTES §4.1 item 2          → docs/physics/belle2-likelihood.md §9.7   (see NOTES_SECTIONS)
    NUMERICS.md "Throughput"   → docs/physics/numerics.md §10.8
    shared/data/...            → docs/data.md
    shared/papers/...          → the arXiv number
    derivations/x.py           → a description of the independent calculation

Files: bkdm/ (.py, .md), tests/ (.py, .toml), benchmarks/ (.py, .md), notebooks/ (.py and the cells
of the paired .ipynb), bkdm/fits/*.toml and README.md. Idempotent: a second run changes nothing. Lines of
Python files that a rewrite makes longer than 110 characters are re-wrapped (comments, docstrings, a
trailing comment moved above its code line), so ruff stays clean; anything the script cannot handle
is left for ``tests/test_no_external_refs.py`` to report.
"""

import argparse
import io
import json
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINE = 110

CHAPTER_PAGES = {
    1: "docs/physics/constants.md",
    2: "docs/physics/alp.md",
    3: "docs/physics/alp-freeze-in.md",
    4: "docs/physics/dark-photon.md",
    5: "docs/physics/resonant-alp.md",
    6: "docs/physics/b-to-k-nunu.md",
    7: "docs/validation.md",
    8: "docs/physics/conventions.md",
}
BELLE2_PAGE = "docs/physics/belle2-likelihood.md"
# Belle II data notes: section (and item) → docs/physics/belle2-likelihood.md section
NOTES_SECTIONS = {"3.1": "9.2", "3.2": "9.3", "3.3": "9.4", "3.4": "9.5", "4.1": "9.6", "4.2": "9.9",
                  "6": "9.10", "7": "9.11"}
NOTES_ITEMS = {("4.1", "1"): "9.6", ("4.1", "2"): "9.7", ("4.1", "3"): "9.8", ("4.1", "4"): "9.6"}
NOTES_APPENDIX_A = "9.7"
NUMERICS_PAGE = "docs/physics/numerics.md"
NUMERICS_SECTIONS = {"Variables": "10.1", "Solver": "10.2", "Derivatives": "10.7", "Throughput": "10.8",
                     "Resonant thermal average": "10.5", "Bessel functions": "10.6"}

# One-off rewrites (exact text → replacement), applied before the generic rules. Each target text
# disappears once replaced, so the list is harmless on a second run.
LITERAL = [
    # package docstring, README
    ("Physics lives in SPEC.md (shared/physics);\nevery formula cites its section and the source paper's "
     "equation.",
     "The physics is documented in docs/ (MkDocs):\nevery formula cites its section there and the source "
     "paper's equation."),
    ("the section of the project's physics specification\n  (\"SPEC §…\"), which also records",
     "the section of the documentation in `docs/`\n  (e.g. `docs/physics/alp.md §2.6`), which also records"),
    ("Where SPEC and [C] are silent", "Where the papers are silent"),
    # constants
    ('Values marked "(M)" in SPEC.md are', 'Values marked "(M)" in docs/physics/constants.md §1 are'),
    # data README
    ("Files are byte-for-byte copies of the\nproject's curated inputs in `shared/data/` (which records how "
     "each was obtained and checked);\nsha256 sums below let anyone verify them.",
     "Files are byte-for-byte copies of public\nsources, checked on arrival (how: docs/data.md §13);\n"
     "sha256 sums below let anyone verify them."),
    ("the forms below are SPEC §4's reconstructions", "the forms below are the reconstructions of\n"
     "docs/physics/dark-photon.md §4"),
    # numerics notes and data notes with a precise section
    ("(measured, see shared/physics/NUMERICS.md and", "(measured, see docs/physics/numerics.md §10.2 and"),
    ("(round-off floor, NUMERICS.md)", "(round-off floor, docs/physics/numerics.md §10.2)"),
    ("Numerics (shared/physics/NUMERICS.md;", "Numerics (docs/physics/numerics.md §10.1, §10.3;"),
    ("(NUMERICS.md: tabulating", "(docs/physics/numerics.md §10.4: tabulating"),
    ("(SPEC §6; data\nnotes shared/data/belle2/NOTES.md §4.1)",
     "(docs/physics/b-to-k-nunu.md §6;\ndocs/physics/belle2-likelihood.md §9.6–9.8)"),
    ("a derivation-script\nnumber", "an independently derived\nnumber"),
    ("SPEC §6 (Buras et al. 1409.4557, normalisation derived in SPEC §6):",
     "docs/physics/b-to-k-nunu.md §6.1 (Buras et al. 1409.4557; normalisation derived there):"),
    # form factors
    ("(shared/data/formfactors/README.md §1)", "(docs/data.md §13.2)"),
    ("(formfactors README §1)", "(docs/data.md §13.2)"),
    ("# README §2.1: f+(0) = 0.33196", "# GRvDV 2023 at q² = 0 (docs/data.md §13.2): f+(0) = 0.33196"),
    # statements about the notes themselves
    ("(NOTES §4.2 calls code1/code0 the pyhf defaults; that is not what pyhf 0.7.6 uses.)",
     "(Codes 1/0, the defaults of pyhf's modifier classes, are not what its model uses: "
     "docs/physics/belle2-likelihood.md §9.9.)"),
    ("the template to 5e-8, NOTES;", "the template to 5e-8, docs/physics/belle2-likelihood.md §9.5;"),
    ("the published/NOTES μ̂ (4.61 combined, 5.42 ITA, 2.18 HTA)",
     "the published μ̂ (4.61 combined, 5.42 ITA, 2.18 HTA; docs/physics/belle2-likelihood.md §9.1)"),
    ("the published/NOTES μ̂", "the published μ̂ (docs/physics/belle2-likelihood.md §9.1)"),
    ("NOTES.md preamble / README", "docs/physics/belle2-likelihood.md §9.1"),
    ("NOTES README:", "docs/physics/belle2-likelihood.md §9.1:"),
    ('(SPEC §3.2 leaves the scale open: "α_s(μ ≃ 2πT) or α_s(T)")',
     "([C] does not say which scale it uses; docs/physics/alp-freeze-in.md §3.2)"),
    ("pieces of the SPEC form cancel", "pieces of the form of docs/physics/resonant-alp.md §5.5 cancel"),
    ("SPEC's 6/x is right for", "The 6/x of docs/physics/dark-photon.md §4.5 is right for"),
    ("so g/(2c_W) = m_Z/v. SPEC (39)'s\n  ν formula", "so g/(2c_W) = m_Z/v. The\n  ν width of [C] (39),"),
    ("(sympy trace, ``derivations/annih2.py``)",
     "(sympy trace, checked against explicit Dirac matrices; docs/physics/dark-photon.md §4.5)"),
    # tests
    ("compared with SPEC values (§2.7 illustrative ALP point)",
     "compared with the documented values (the illustrative ALP point of docs/physics/alp.md §2.7)"),
    ("published/SPEC numbers", "published and documented numbers"),
    ("# SPEC quotes 3 significant figures:", "# The reference numbers have 3 significant figures:"),
    ("(the SPEC numbers are printed with", "(the reference numbers are printed with"),
    ("(SPEC §7 item 15; see report: SPEC's \"0.5 % at\n        # x = 10\" is a quadrature artefact of "
     "nwa_check.py, an independent quad gives −7e-8)",
     "(docs/validation.md §7.15; an early \"0.5 % at\n        # x = 10\" was a quadrature artefact of "
     "that check, an independent quad gives −7e-8)"),
    ("# SPEC (22) as printed,", "# [C] (22) as written in docs/physics/alp-freeze-in.md §3.2,"),
    ("# SPEC (23) as printed,", "# [C] (23) as written in docs/physics/alp-freeze-in.md §3.2,"),
    ("# SPEC (39): 3 ε_Z²", "# [C] (39), docs/physics/dark-photon.md §4.3: 3 ε_Z²"),
    ("# SPEC §6 inputs of the quoted BR_SD",
     "# docs/physics/b-to-k-nunu.md §6.2: inputs of the quoted BR_SD"),
    ("(derived by shared/physics/derivations with plain numpy)", "(derived independently with plain numpy)"),
    ("(derived independently from the same file by\nshared/physics/derivations/calc_numbers.py)",
     "(derived independently from the same file\nwith plain numpy)"),
    ("# derivations/sv2check.py direct 3-D nquad", "# an independent direct 3-D nquad"),
    ("# derivations/sv2check.py:", "# an independent scipy calculation:"),
    ("nquad as in derivations/sv2check.py", "nquad"),
    ("with the resonant ALP model of derivations/nwa_check.py", "with the resonant ALP model"),
    ("# NUMERICS.md: check step counts.", "# docs/physics/numerics.md §10.2: check step counts."),
    # notebooks
    ("| 1 MeV (SPEC point) and", "| 1 MeV (§2.7 point) and"),
    ("(SPEC point)", "(the illustrative point of docs/physics/alp.md §2.7)"),
    ("SPEC §3.7's analytic estimate", "the analytic estimate of docs/physics/alp-freeze-in.md §3.7"),
    ("   SPEC §7   ", "   reference "),
    ("At the SPEC point bkdm gives", "At the illustrative point bkdm gives"),
    ("# SPEC quotes 2–3 significant figures:", "# The reference numbers have 2–3 significant figures:"),
    ("vs SPEC {ref}", "vs reference {ref}"),
    ("differs from SPEC's 4.7e-5", "differs from the reference 4.7e-5"),
    ('label="SPEC §7 item 4"', 'label="reference values (docs §7.4)"'),
    ("(SPEC §2.4 orientation)", "(orientation, docs §2.4)"),
    ('{ratio_kstar_k:.4f}   (SPEC §7: 1.54; [C] (47))")',
     '{ratio_kstar_k:.4f}"\n      "   (docs/validation.md §7.18: 1.54; [C] (47))")'),
    ("(SPEC §7: 1.54; [C] (47))", "(docs/validation.md §7.18: 1.54; [C] (47))"),
    ("| SPEC §7: 1.54 (asserted) |", "| docs/validation.md §7.18: 1.54 (asserted) |"),
]
# identifiers in the tests named after the specification
IDENTIFIERS = [(r"\bSPEC6\b", "SM_REF"), (r"\bSPEC_G\b", "G_STAR_REF"), (r"\bB1_SPEC\b", "B1_REF")]

_SEC = r"\d+(?:\.\d+)?"
_ITEMS = r"\d+(?:\s*(?:,|and)\s*\d+)*"
_REF = rf"§\s?(?P<sec>{_SEC})(?:\s+items?\s+(?P<items>{_ITEMS}))?(?:\s*[–-]\s*(?P<end>{_SEC}))?"
_ONE_REF = re.compile(_REF)
_CHAIN = rf"{_REF.replace('?P<sec>', '?:').replace('?P<items>', '?:').replace('?P<end>', '?:')}"
_SEPARATOR = r"\s*(?:,|/|;|and)\s*"
SPEC_RE = re.compile(
    rf"SPEC(?:\.md)?(?P<ws>\s+)(?P<chain>{_CHAIN}(?:{_SEPARATOR}{_CHAIN})*)(?P<eq> \(\d+\))?")
SPEC_EQ_RE = re.compile(r"SPEC \((\d+)\)")
NOTES_RE = re.compile(
    rf"(?:shared/data/belle2/)?NOTES(?:\.md)?(?P<ws>\s+)(?P<chain>(?:{_CHAIN}|App(?:endix|\.) A)"
    rf"(?:{_SEPARATOR}(?:{_CHAIN}|App(?:endix|\.) A))*)")
NOTES_APPENDIX_RE = re.compile(r"NOTES(?:\.md)? App(?:endix|\.) A")
NUMERICS_RE = re.compile(r"(?:shared/physics/)?NUMERICS\.md(?:(?P<ws>\s+)\"(?P<name>[^\"]+)\")?")
DERIVATIONS_RE = re.compile(r"(?:shared/physics/)?derivations/\w+\.py")
SHARED_RULES = [
    (re.compile(r"shared/papers/calibbi[\w./-]*"), "arXiv:2502.04900"),
    (re.compile(r"shared/papers/ding[\w./-]*"), "arXiv:2504.00383"),
    (re.compile(r"shared/papers/?"), "the papers (arXiv:2502.04900, arXiv:2504.00383)"),
    (re.compile(r"shared/data/belle2/README\.md"), f"{BELLE2_PAGE} §9.1"),
    (re.compile(r"shared/data/[\w./-]*"), "docs/data.md"),
    (re.compile(r"shared/physics/SPEC\.md"), "docs/physics"),
    (re.compile(r"shared/physics/?"), "docs/physics"),
]


def _chapter(sec):
    return int(sec.split(".")[0])


def _render_chain(chain, page_of, first_page=None):
    """Rewrite a chain of '§x.y' references; page_of(sec, item) → (page, section)."""
    out, last_page, pos = [], first_page, 0
    for m in re.finditer(rf"(?P<ref>{_CHAIN}|App(?:endix|\.) A)", chain):
        sep = chain[pos:m.start()]
        pos = m.end()
        text = m.group("ref")
        if text.startswith("App"):
            refs = [page_of("appendix", None)]
            end = None
        else:
            r = _ONE_REF.fullmatch(text)
            sec, items, end = r.group("sec"), r.group("items"), r.group("end")
            item_list = re.findall(r"\d+", items) if items else [None]
            refs = [page_of(sec, item) for item in item_list]
        pieces = []
        for page, section in refs:
            prefix = "" if page == last_page else f"{page} "
            pieces.append(f"{prefix}§{section}")
            last_page = page
        if out and pieces == [out[-1].split(", ")[-1].strip(" /;")] and sep.strip() in (",", "/"):
            continue  # the same section twice in a row ('§4.1 item 2, Appendix A' → §9.7 once)
        rendered = ", ".join(pieces)
        if end is not None:
            rendered += f"–{end}"
        if out and sep.strip() == "/" and not pieces[0].startswith("§"):
            sep = ", "
        out.append(sep + rendered)
    return "".join(out) + chain[pos:]


def _spec_page(sec, item):
    chapter = _chapter(sec)
    page = CHAPTER_PAGES[chapter]
    if item is not None:
        return page, f"{chapter}.{item}" if "." not in sec else f"{sec} (item {item})"
    return page, sec


def _notes_page(sec, item):
    if sec == "appendix":
        return BELLE2_PAGE, NOTES_APPENDIX_A
    if item is not None and (sec, item) in NOTES_ITEMS:
        return BELLE2_PAGE, NOTES_ITEMS[(sec, item)]
    return BELLE2_PAGE, NOTES_SECTIONS.get(sec, "9")


def _with_ws(ws, text):
    """Keep a line break that separated 'SPEC' from '§' (the text moves to the next line)."""
    return text if "\n" not in ws else "\n" + ws.split("\n")[-1] + text


def rewrite_text(text):
    """All rewrites on a string (idempotent)."""
    for old, new in LITERAL:
        text = text.replace(old, new)
    for pattern, new in IDENTIFIERS:
        text = re.sub(pattern, new, text)
    text = NOTES_APPENDIX_RE.sub(f"{BELLE2_PAGE} §{NOTES_APPENDIX_A}", text)

    def spec(m):
        chain = m.group("chain")
        first = _ONE_REF.match(chain)
        page, _ = _spec_page(first.group("sec"), None)
        text = page + " " + _render_chain(chain, _spec_page, first_page=page)
        if m.group("eq"):  # 'SPEC §4.1 (34)': the number is [C]'s equation
            text += ", [C]" + m.group("eq") if _chapter(first.group("sec")) in (2, 3, 4) else m.group("eq")
        return _with_ws(m.group("ws"), text)

    def notes(m):
        return _with_ws(m.group("ws"), BELLE2_PAGE + " " + _render_chain(m.group("chain"), _notes_page,
                                                                         first_page=BELLE2_PAGE))

    def numerics(m):
        name = m.group("name")
        if name in NUMERICS_SECTIONS:
            return f"{NUMERICS_PAGE} §{NUMERICS_SECTIONS[name]}"
        return NUMERICS_PAGE + (f'{m.group("ws")}"{name}"' if name else "")

    text = SPEC_RE.sub(spec, text)
    text = SPEC_EQ_RE.sub(r"[C] (\1)", text)
    text = NOTES_RE.sub(notes, text)
    text = NUMERICS_RE.sub(numerics, text)
    text = DERIVATIONS_RE.sub("an independent numpy/scipy calculation", text)
    for pattern, new in SHARED_RULES:
        text = pattern.sub(new, text)
    return text


# ----------------------------------------------------------------------------- line wrapping (Python)
_STRUCTURE = re.compile(r"^(?:[*\-|#>=•]|\d+[.)]\s|$)")


def _split_point(line, limit):
    """Index of the space at or before ``limit`` where a line breaks best: after punctuation (',', ';',
    ')', ':') if there is one in the last 30 columns, else the last allowed space. Never before '§'
    (keeps 'docs/x.md §y' together), between '[C]'/'[D]' and its '(eq)', or before a lone symbol.
    None if there is none."""
    indent = len(line) - len(line.lstrip())
    allowed = []
    for i in range(min(limit, len(line) - 1), indent + 1, -1):
        if line[i] != " " or line[i - 1] == " ":
            continue
        nxt = line[i + 1:i + 2]
        if nxt in ("§", "#", "") or (nxt == "(" and line[i - 1] == "]"):
            continue
        allowed.append(i)
    if not allowed:
        return None
    allowed = [i for i in allowed if len(line) - i > 15] or allowed  # no short orphan like '= 1)'
    for i in allowed:
        if i >= limit - 30 and line[i - 1] in ",;:)":
            return i
    return allowed[0]


def _string_lines(source):
    """Line numbers (1-based) inside a triple-quoted string, the lines where such a string ends, and
    the column of the comment on each line that has one."""
    inside, closing, comments = set(), set(), {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING:
                body = tok.string.lstrip("rbuRBUfF")
                if body[:3] in ('"""', "'''"):
                    inside.update(range(tok.start[0], tok.end[0] + 1))
                    closing.add(tok.end[0])
            elif tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return inside, closing, comments


def _shorten_rule(line):
    """A '# --- title ---' section rule: drop dashes from its longest run of dashes (keep 3)."""
    runs = list(re.finditer(r"-{4,}", line))
    if not runs or not line.lstrip().startswith("#"):
        return None
    run = max(runs, key=lambda m: len(m.group(0)))
    keep = max(3, len(run.group(0)) - (len(line) - MAX_LINE))
    return line[:run.start()] + "-" * keep + line[run.end():]


def _reflow(lines, n, cut, prefix, cont_indent, can_merge):
    """Break line n (1-based) at ``cut``: the overflow goes to the start of the next line when that
    line continues the same paragraph (``can_merge``), otherwise onto a new line. Returns the numbers
    of the lines that changed."""
    line = lines[n - 1]
    head, tail = line[:cut].rstrip(), line[cut + 1:].lstrip()
    if can_merge:
        nxt = lines[n]
        body = nxt[len(cont_indent) + len(prefix):]
        lines[n - 1:n + 1] = [head, f"{cont_indent}{prefix}{tail} {body}"]
        return {n, n + 1}, 0
    lines[n - 1:n] = [head, f"{cont_indent}{prefix}{tail}"]
    return {n, n + 1}, 1


def wrap_python(source, changed):
    """Re-wrap the lines with numbers in ``changed`` (1-based) that exceed MAX_LINE: comments and
    docstrings are reflowed into the following line of the same paragraph (or a new line), a trailing
    comment moves above its code line, '# --- rules ---' lose dashes. Code lines are left alone."""
    changed = set(changed)
    for _ in range(100000):
        lines = source.split("\n")
        todo = [n for n in sorted(changed) if n <= len(lines) and len(lines[n - 1]) > MAX_LINE]
        if not todo:
            break
        inside, closing, comments = _string_lines(source)
        n = todo[0]
        line = lines[n - 1]
        indent = line[: len(line) - len(line.lstrip())]
        stripped = line.lstrip()
        touched, shift = {n}, 0
        if stripped.startswith("#") and n not in inside:
            rule = _shorten_rule(line)
            cut = _split_point(line, MAX_LINE)
            if rule is not None and rule != line and len(rule) <= MAX_LINE:
                lines[n - 1] = rule
            elif cut is None:
                changed.discard(n)
                continue
            else:
                prefix = re.match(r"\s*#\s*", line).group(0)
                marker = re.match(r"(?:[*\-•]|\d+[.)]) ", line[len(prefix):])
                cont = prefix + " " * (len(marker.group(0)) if marker else 0)
                nxt = lines[n] if n < len(lines) else ""
                nxt_prefix = re.match(r"\s*#\s*", nxt)
                body = nxt[nxt_prefix.end():] if nxt_prefix else ""
                if line[len(prefix):].startswith("|"):  # a Markdown table row cannot be wrapped
                    changed.discard(n)
                    continue
                merge = (nxt_prefix is not None and nxt_prefix.group(0) == cont and body.strip() != ""
                         and not _STRUCTURE.match(body) and n + 1 not in inside)
                touched, shift = _reflow(lines, n, cut, "", cont, merge)
        elif n in comments and n not in inside and len(line[: comments[n]].rstrip()) <= MAX_LINE:
            code = line[: comments[n]].rstrip()
            lines[n - 1:n] = [f"{indent}# {line[comments[n] + 1:].lstrip()}", code]
            touched, shift = {n, n + 1}, 1
        elif n in inside:
            cut = _split_point(line, MAX_LINE)
            if cut is None:
                changed.discard(n)
                continue
            bullet = re.match(r"[*\-•] ", stripped.lstrip('"').lstrip())
            opening = stripped.startswith(('"""', "'''", 'r"""'))
            cont_indent = indent + ("  " if bullet and not opening else "")
            nxt = lines[n] if n < len(lines) else ""
            nxt_indent = nxt[: len(nxt) - len(nxt.lstrip())]
            merge = (n not in closing and n + 1 in inside and nxt.strip() != ""
                     and nxt_indent == cont_indent and not _STRUCTURE.match(nxt.lstrip())
                     and not nxt.lstrip().startswith(('"""', "'''")))
            touched, shift = _reflow(lines, n, cut, "", cont_indent, merge)
        else:
            changed.discard(n)  # code: left for the reference test to report
            continue
        changed = {m + shift if m > n else m for m in changed} | {m for m in touched}
        source = "\n".join(lines)
    return source


def _strip_trailing(text, changed):
    lines = text.split("\n")
    for n in changed:
        if n <= len(lines):
            lines[n - 1] = lines[n - 1].rstrip()
    return "\n".join(lines)


def _changed_lines(old, new):
    """1-based numbers of lines of ``new`` that are not lines of ``old`` at the same place (diff)."""
    import difflib

    changed = set()
    matcher = difflib.SequenceMatcher(a=old.split("\n"), b=new.split("\n"), autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changed.update(range(j1 + 1, j2 + 1))
    return changed


def rewrite_file(path):
    """New content of ``path`` (str), or None if nothing changes."""
    old = path.read_text()
    if path.suffix == ".ipynb":
        nb = json.loads(old)
        for cell in nb.get("cells", []):
            if cell.get("source"):
                before = "".join(cell["source"])
                after = rewrite_text(before)
                if cell.get("cell_type") == "code" and after != before:
                    after = wrap_python(after, _changed_lines(before, after))
                cell["source"] = _cell_lines(after)
            for output in cell.get("outputs", []):
                if "text" in output:
                    output["text"] = _cell_lines(rewrite_text("".join(output["text"])))
        new = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        return None if new == old or json.loads(new) == json.loads(old) else new
    new = rewrite_text(old)
    if new == old:
        return None
    changed = _changed_lines(old, new)
    new = _strip_trailing(new, changed)
    if path.suffix == ".py":
        new = wrap_python(new, _changed_lines(old, new))
    return new


def _cell_lines(text):
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def target_files(root=ROOT):
    """The files the sweep covers."""
    files = []
    for folder, patterns in (("bkdm", ("*.py", "*.md", "*.toml")), ("tests", ("*.py", "*.toml")),
                             ("benchmarks", ("*.py", "*.md"))):
        for pattern in patterns:
            files += sorted((root / folder).rglob(pattern))
    files += sorted((root / "notebooks").glob("*.py")) + sorted((root / "notebooks").glob("*.ipynb"))
    files.append(root / "README.md")
    skip = {root / "tests" / "test_no_external_refs.py"}
    return [f for f in files if f.is_file() and f not in skip and "__pycache__" not in f.parts]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a file would change")
    args = parser.parse_args(argv)
    changed = []
    for path in target_files():
        new = rewrite_file(path)
        if new is None:
            continue
        changed.append(path)
        if not args.check:
            path.write_text(new)
    for path in changed:
        print(("would rewrite " if args.check else "rewrote ") + str(path.relative_to(ROOT)))
    print(f"{len(changed)} file(s) {'to rewrite' if args.check else 'rewritten'}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
