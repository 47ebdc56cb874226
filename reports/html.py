"""The ``index.html`` report page: every rendered table inline (with links to its LaTeX,
HTML and Markdown files) and every figure embedded, all by relative links."""
from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from .figures import FigureGroup
from .grid import Grid
from .render import environment, render_table


@dataclass
class TableEntry:
    """One table on the index page: its grid and its files as (name, relative href)."""

    grid: Grid
    files: list[tuple[str, str]] = field(default_factory=list)

    @property
    def fragment(self) -> Markup:
        """The table as an HTML fragment (already escaped)."""
        return Markup(render_table(self.grid, "html", standalone=False))


def render_index(tables: list[TableEntry], figures: list[FigureGroup] | None = None,
                 title: str = "Causal-IQA benchmark report", summary: str = "") -> str:
    """The index page's HTML."""
    return environment("html").get_template("index.html.j2").render(
        tables=tables, figures=figures or [], title=title, summary=summary)
