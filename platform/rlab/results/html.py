"""HTML of report tables with thousands of cells, built in Python with the standard library's escape: a
`{% url %}` or a few template tags per cell cost more than everything else on the page. URLs are reversed
once per URL name, then filled in."""

from collections.abc import Iterable
from functools import cache
from html import escape
from typing import Protocol

from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe

_SENTINEL = "987654321987"  # an id no table shows; it stands for the id in the reversed URL


@cache
def _pattern(name: str) -> str:
    """The URL of `name` for the sentinel id; "" where the name does not resolve (then nothing links)."""
    try:
        return reverse(name, args=[int(_SENTINEL)])
    except NoReverseMatch:
        return ""


def object_url(name: str, pk: int) -> str:
    """reverse(name, args=[pk]) for a URL with one integer argument, or "" if `name` has no URL."""
    pattern = _pattern(name)
    return pattern.replace(_SENTINEL, str(pk)) if pattern else ""


class ScoreCell(Protocol):
    text: str
    spread_text: str
    delta_text: str
    size_text: str
    setup_note: str
    noise: bool
    css: str
    title: str


def score_cells(cells: Iterable[tuple[ScoreCell, str]]) -> SafeString:
    """`<td>`s of (cell, url) pairs: the score and its ± (interval or seeds), its n (problems × samples;
    "≠" where its column's most common setup is another), its delta below it (marked "n.s." where the
    paired test cannot tell it from noise), the numbers in the tooltip, a link where the url is not
    empty. A cell's text, spread, delta and css are numbers and class names the report formats
    itself; the url and the tooltip are escaped."""
    parts = []
    for cell, url in cells:
        inner = cell.text
        if spread := cell.spread_text:
            inner += f'<span class="pm">{spread}</span>'
        if size := cell.size_text:
            marker = ' <abbr class="setup-flag" title="another setup than most of this column">≠</abbr>'
            inner += f'<span class="n">{size}{marker if cell.setup_note else ""}</span>'
        if delta := cell.delta_text:
            marker = ' <abbr class="ns">n.s.</abbr>' if cell.noise else ""
            inner += f'<span class="delta">{delta}{marker}</span>'
        if url:
            inner = f'<a href="{escape(url)}">{inner}</a>'
        title = f' title="{escape(tooltip)}"' if (tooltip := cell.title) else ""
        parts.append(f'<td class="num {cell.css}"{title}>{inner}</td>')
    return mark_safe("".join(parts))  # the url and tooltip are escaped; the rest is the report's own format
