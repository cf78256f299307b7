"""The DVA screens as HTML: Jinja2 templates, and the headers every page gets.

The screens are the ones RFC0070 mandates (landingspagina, annuleringspagina,
toestemmingsverklaring, technische storing) plus the error page for a request that
cannot be answered by redirect, the DigiD simulator and the "expired" page. They are
plain HTML forms that work without JavaScript, in Dutch at B1 level, with stable field
names (DESIGN.md 6). Texts follow the Afsprakenstelsel where it gives them (MEDMIJ.md 1.3).

Every page is sent with ``Cache-Control: no-store`` (pages carry CSRF tokens and personal
data), may not be framed (the consent must not be clickjacked), loads nothing but its own
stylesheet, and sends no Referer (the authorization request's URL holds the ``state``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from . import paths

__all__ = ["STATIC_DIR", "Pages"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
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
    def __init__(self, dva_naam: str) -> None:
        self._env = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        self._common = {"dva_naam": dva_naam, "stylesheet": paths.STYLESHEET}

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = self._env.get_template(template).render(**self._common, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
