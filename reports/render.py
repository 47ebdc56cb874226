"""Render a :class:`~reports.grid.Grid` to LaTeX (booktabs), HTML or Markdown through the
Jinja templates in ``reports/templates/``.

Each output format is a :class:`Format` record (file suffix, template, escaping, how bold
and ``mean +- std (n)`` are written); adding a format is adding a record and a template.
LaTeX templates use ``<< >>`` / ``<% %>`` delimiters so that braces stay plain LaTeX.

Every piece of text goes through the one sanitiser (:func:`bench.core.display_text.clean`:
control and bidi characters dropped, whitespace collapsed, so a name with a newline cannot
break a Markdown or LaTeX row) before its format's escaping; in the HTML templates every
``{{ }}`` value is sanitised (Jinja's ``finalize``) and then escaped, and links are
relative URLs (the ``url`` filter, :mod:`reports.links`).
"""
from __future__ import annotations

import html as _html
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from bench.core.display_text import clean

from .grid import Cell, Grid, HeaderCell
from .links import url_path

TEMPLATES = Path(__file__).with_name("templates")
RENDER_LIMIT = 4000     # characters of one text (a note); names are capped when read

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "†": r"\textdagger{}",
}


def escape_latex(text: object) -> str:
    """Escape LaTeX's special characters in plain text (``CIS\\C`` -> ``CIS\\textbackslash{}C``).

    '+' and '-' need no escaping in text mode and are kept; the text is sanitised first.
    """
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in clean(text, RENDER_LIMIT))


def escape_markdown(text: object) -> str:
    """Escape the characters that would break a Markdown pipe table or turn into markup
    (the text sanitised first: no newline can end a row)."""
    out = []
    for ch in clean(text, RENDER_LIMIT):
        out.append("\\" + ch if ch in "\\|*_`[]<>" else ch)
    return "".join(out)


def escape_html(text: object) -> str:
    """HTML-escape sanitised text (quotes included)."""
    return _html.escape(clean(text, RENDER_LIMIT), quote=True)


def _finalize(value):
    """Every ``{{ }}`` value of an HTML template: text sanitised, markup and numbers kept."""
    return clean(value, RENDER_LIMIT) if isinstance(value, str) and not isinstance(value, Markup) else value


@dataclass(frozen=True)
class Format:
    """How one output format writes a table."""

    name: str
    suffix: str
    template: str
    escape: Callable[[object], str]
    bold: str          # %-template around a cell's content
    pm: str            # separator between mean and std
    count: str         # %-template for the number of seeds/splits
    latex_delims: bool = False
    autoescape: bool = False
    ci: str = ""       # %-template (lo, hi) for a cell's bootstrap interval; '' = not shown
    flag: str = "%s"   # %-template around a cell's footnote mark (a partial average's †)


FORMATS: dict[str, Format] = {
    "latex": Format("latex", ".tex", "table.tex.j2", escape_latex, r"\textbf{%s}",
                    r" $\pm$ ", r" {\scriptsize(n=%d)}", latex_delims=True,
                    flag=r"\textsuperscript{%s}"),
    "html": Format("html", ".html", "table.html.j2", escape_html, "<b>%s</b>",
                   " &plusmn; ", " <small>(n=%d)</small>", autoescape=True, flag="<sup>%s</sup>",
                   ci='<br><small class="ci" title="bootstrap 95%% interval over test images">'
                      '[%s, %s]</small>'),
    "markdown": Format("markdown", ".md", "table.md.j2", escape_markdown, "**%s**",
                       " ± ", " (n=%d)"),
}


def format_cell(cell: Cell, fmt: Format) -> str:
    """A body cell's text in ``fmt``: the value, or ``mean +- std (n=k)`` for several runs,
    in bold where the cell is bold; the ``missing`` mark when there is no value; a text
    cell's text. Formats with a ``ci`` template add the cell's bootstrap interval if any."""
    if cell.text is not None:
        return fmt.escape(cell.text)
    if cell.value is None or (isinstance(cell.value, float) and math.isnan(cell.value)):
        return fmt.escape(cell.missing)
    text = f"{cell.value:.{cell.digits}f}"
    if cell.n > 1 and not math.isnan(cell.std):
        text += f"{fmt.pm}{cell.std:.{cell.digits}f}{fmt.count % cell.n}"
    text = fmt.bold % text if cell.bold else text
    if cell.flag:
        text += fmt.flag % fmt.escape(cell.flag)
    if fmt.ci and cell.ci is not None:
        text += fmt.ci % (f"{cell.ci.lo:.{cell.digits}f}", f"{cell.ci.hi:.{cell.digits}f}")
    return text


def latex_header_row(row: list[HeaderCell]) -> str:
    """One LaTeX header line: cells joined by '&', spanning cells as \\multicolumn."""
    parts = [escape_latex(h.text) if h.span == 1
             else rf"\multicolumn{{{h.span}}}{{c}}{{{escape_latex(h.text)}}}" for h in row]
    return " & ".join(parts) + r" \\"


def latex_cmidrules(row: list[HeaderCell]) -> str:
    """The ``\\cmidrule(lr){a-b}`` rules under the header cells that ask for one."""
    rules, col = [], 1
    for h in row:
        if h.rule:
            rules.append(rf"\cmidrule(lr){{{col}-{col + h.span - 1}}}")
        col += h.span
    return "".join(rules)


def flat_header(grid: Grid) -> list[str]:
    """One label per column, the header levels joined ('CID2013 PLCC'), for Markdown."""
    levels = []
    for hrow in grid.header:
        expanded = []
        for h in hrow:
            expanded += [h.text] * h.span
        levels.append(expanded)
    return [" ".join(dict.fromkeys(t for t in col if t)) for col in zip(*levels)]


def column_spec(grid: Grid) -> str:
    """The tabular column spec: 'l' per stub column, 'c' per value column, a vertical rule
    between column groups (measured | published)."""
    if not grid.groups:
        return "l" * grid.n_stubs + "c" * (grid.n_columns - grid.n_stubs)
    return "l" * grid.n_stubs + "|".join("c" * n for _, n in grid.groups if n)


def latex_group_row(grid: Grid) -> str:
    """The header line naming the column groups (empty stub cells, one \\multicolumn per
    group) and the \\cmidrule under each; '' for a grid with one group."""
    if not grid.groups:
        return ""
    cells, rules, col = [""] * grid.n_stubs, [], grid.n_stubs + 1
    for label, n in grid.groups:
        if n:
            cells.append(rf"\multicolumn{{{n}}}{{c}}{{{escape_latex(label)}}}")
            rules.append(rf"\cmidrule(lr){{{col}-{col + n - 1}}}")
            col += n
    return " & ".join(cells) + r" \\" + "\n" + "".join(rules)


_LATEX_DELIMITERS = {
    "block_start_string": "<%", "block_end_string": "%>",
    "variable_start_string": "<<", "variable_end_string": ">>",
    "comment_start_string": "<#", "comment_end_string": "#>",
}


@cache
def environment(name: str) -> jinja2.Environment:
    """The Jinja environment of format ``name``, with its filters."""
    fmt = FORMATS[name]
    delims = _LATEX_DELIMITERS if fmt.latex_delims else {}
    extra = {"finalize": _finalize} if fmt.autoescape else {}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=fmt.autoescape, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             **delims, **extra)
    safe = Markup if fmt.autoescape else str
    env.filters.update(
        esc=lambda t: safe(fmt.escape(t)),
        cell=lambda c: safe(format_cell(c, fmt)),
        header_row=latex_header_row, cmidrules=latex_cmidrules, url=url_path)
    env.globals.update(flat_header=flat_header, column_spec=column_spec,
                       group_row=latex_group_row)
    return env


def render_table(grid: Grid, fmt: str, standalone: bool = True) -> str:
    """Render ``grid`` in format ``fmt`` ('latex', 'html', 'markdown').

    For HTML, ``standalone=False`` gives the fragment (for embedding in the index page).
    """
    spec = FORMATS[fmt]
    template = spec.template if standalone else spec.template.replace(".", "_fragment.", 1)
    return environment(fmt).get_template(template).render(grid=grid)


def render_latex_document(table_files: list[str]) -> str:
    """A compilable LaTeX document that ``\\input``s the rendered table files."""
    return environment("latex").get_template("report.tex.j2").render(files=table_files)
