"""The board's page: one HTML document with its CSS, script and uPlot (vendored, MIT, in
``board_static/``) inlined, so it needs no other route and no network."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

STATIC = files("socialpulse.agents") / "board_static"


@cache
def render_page() -> str:
    """The board page (read once): it polls ``api/board`` next to its own URL."""
    html = (STATIC / "board.html").read_text(encoding="utf-8")
    for marker, name in (
        ("/*UPLOT_CSS*/", "uPlot.min.css"),
        ("/*BOARD_CSS*/", "board.css"),
        ("/*UPLOT_JS*/", "uPlot.iife.min.js"),
        ("/*BOARD_JS*/", "board.js"),
    ):
        text = (STATIC / name).read_text(encoding="utf-8").replace("</script", "<\\/script")
        html = html.replace(marker, text, 1)
    return html
