"""The PGO's pages as HTML: Jinja2 templates, and the headers every page gets.

Server-rendered HTML that works without JavaScript, in Dutch (``lang="nl"``), written to
WCAG 2.1 AA: one ``h1`` per page and headings in order, a label for every field, errors
tied to their field (``aria-describedby``) and announced (``role="alert"``), a skip
link, landmarks, visible focus, and colours with at least 4.5:1 contrast.

Every page is sent with ``Cache-Control: no-store`` (pages carry CSRF tokens and health
data), may not be framed, loads nothing but its own stylesheet, and sends no Referer
(so the redirect URI with its ``code`` and ``state`` never leaks to another site).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from .fhir_display import dutch_moment

__all__ = ["SECURITY_HEADERS", "STATIC_DIR", "STYLESHEET", "Pages"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
STYLESHEET = "/static/pgo.css"
_TEMPLATES = Path(__file__).resolve().parent / "templates"

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class Pages:
    def __init__(self, pgo_naam: str) -> None:
        self._env = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["moment"] = dutch_moment
        self._common = {"pgo_naam": pgo_naam, "stylesheet": STYLESHEET}

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = self._env.get_template(template).render(**self._common, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
