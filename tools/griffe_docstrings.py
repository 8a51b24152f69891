"""Griffe extension for the API reference: render bkdm's plain-text docstrings safely as Markdown.

bkdm's docstrings are plain text with a little reStructuredText (``code``, :func:`name`, ``::``
literal blocks, underlined section titles) and many characters that Markdown would misread:
``[C] (8)`` or ``[1 + …] [GeV]`` as reference links, ``g_*(T) … g_*s`` as emphasis, ``<name>`` as
HTML. This extension rewrites each docstring before mkdocstrings renders it (docs build only; the
package is untouched): RST code and roles become Markdown code spans, brackets, asterisks and
angle brackets outside code are escaped, underlined titles become bold lines, indented blocks
(formulas) are kept verbatim as code blocks, and citations of these pages ("docs/physics/alp.md
§2.6") become links to the cited section.
"""

import re

import griffe

_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|obj|exc):`~?([^`]+)`")
_RST_CODE = re.compile(r"``(.+?)``")
_CODE_SPAN = re.compile(r"(`[^`]*`)")
_UNDERLINE = re.compile(r"^\s*(-{3,}|={3,})\s*$")
# 'docs/physics/alp.md §2.6' (and a following '§2.7' of the same citation) → cross-reference to the
# heading with id 'sec-2-6' (mkdocs-autorefs; an unknown section fails the strict build)
_CITATION = re.compile(r"(?P<path>docs/[\w/-]+\.md )?§(?P<sec>\d+(?:\.\d+)?)(?P<range>[–-]\d+(?:\.\d+)?)?")


def _escape_text(text):
    """Escape Markdown specials outside code spans (list bullets at the start are kept)."""
    parts = _CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):  # even indices: outside code spans
        s = parts[i].replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        s = re.sub(r"<(?=[A-Za-z/!])", "&lt;", s)
        if i == 0:
            m = re.match(r"^(\s*[*-] )", s)
            head, tail = (m.group(1), s[m.end():]) if m else ("", s)
        else:
            head, tail = "", s
        parts[i] = _link_citations(head + tail.replace("*", "\\*"))
    return "".join(parts)


def _link_citations(text):
    """Turn 'docs/x.md §a.b' (and further '§c.d' after it on the line) into cross-references."""
    out, pos, cited = [], 0, False
    for m in _CITATION.finditer(text):
        if m.group("path"):
            cited = True
        elif not cited:
            continue  # a bare '§' with no page cited before it on the line: left as text
        out.append(text[pos:m.start()])
        anchor = "sec-" + m.group("sec").replace(".", "-")
        out.append(f"[{m.group(0)}][{anchor}]")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def markdown_safe(doc):
    """The docstring ``doc`` (cleaned, no common indentation) as safe Markdown."""
    lines = doc.splitlines()
    out = []
    in_block = False
    fenced = False
    for k, line in enumerate(lines):
        if line.strip().startswith("```"):
            fenced = not fenced
            out.append(line)
            continue
        if fenced:
            out.append(line)
            continue
        indented = line.startswith("    ") and line.strip()
        previous_blank = k == 0 or not lines[k - 1].strip() or (out and out[-1].rstrip().endswith(":"))
        if indented and (in_block or previous_blank):
            if not in_block and out and out[-1].strip():
                out.append("")  # Markdown needs a blank line before an indented code block
            in_block = True
            out.append(line)
            continue
        if in_block and not line.strip():
            out.append(line)
            continue
        in_block = False
        if _UNDERLINE.match(line) and out and out[-1].strip():
            out[-1] = f"**{out[-1].strip()}**"
            continue
        text = _ROLE.sub(r"`\1`", line)
        text = _RST_CODE.sub(r"`\1`", text)
        if text.rstrip().endswith("::"):
            text = text.rstrip()[:-1]
        out.append(_escape_text(text))
    return "\n".join(out)


class MarkdownSafeDocstrings(griffe.Extension):
    """Rewrite every docstring with :func:`markdown_safe` once it is loaded."""

    def on_instance(self, *, node, obj, agent, **kwargs):
        del node, agent, kwargs
        if obj.docstring is not None and not getattr(obj.docstring, "_bkdm_markdown", False):
            obj.docstring.value = markdown_safe(obj.docstring.value)
            obj.docstring._bkdm_markdown = True
