"""The Stelselnode app: serves the four lists, the XSDs that validate them, and health.

The lists are public coordination data, and a developer should be able to open them in
a browser, so this node asks for no client certificate; receivers still check the
server's certificate against the dev root. Authenticity comes from that TLS server
authentication, as in the Afsprakenstelsel (no signature on the lists).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.lists import ListKind, MedMijList, schema_documents

from .publisher import Published, publish
from .settings import StelselnodeSettings

__all__ = ["create_app"]

_templates = Environment(
    loader=PackageLoader("medmij_stack.stelselnode", "templates"), autoescape=select_autoescape()
)
_XML = "application/xml; charset=utf-8"


def create_app(
    settings: StelselnodeSettings,
    desired: Mapping[ListKind, MedMijList],
    *,
    clock: Clock = system_clock,
) -> FastAPI:
    """The app that publishes `desired` (Volgnummers persist under settings.data_dir).

    ``clock`` gives the Tijdstempel of a new publication: the virtual clock in a simulation
    world (medmij_stack.runtime.clock), which the receiving nodes judge it by too."""
    published: dict[ListKind, Published] = publish(
        desired, settings.state_file, development=settings.development, now=clock()
    )
    by_filename = {p.kind.filename: p for p in published.values()}
    schemas = schema_documents(development=settings.development)

    app = FastAPI(title="MedMij Stelselnode", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    def health() -> dict[str, object]:
        return {
            "status": "ok",
            "service": "stelselnode",
            "node": settings.hostname,
            "lists": {p.kind.name.lower(): p.volgnummer for p in published.values()},
        }

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        page = _templates.get_template("index.html").render(
            hostname=settings.hostname,
            development=settings.development,
            zal_dev_schema=schema_name_for(ListKind.ZAL, development=True),
            lists=[
                {
                    "filename": p.kind.filename,
                    "volgnummer": p.volgnummer,
                    "tijdstempel": p.tijdstempel.isoformat(),
                    "schema": schema_name_for(p.kind, development=settings.development),
                }
                for p in published.values()
            ],
        )
        return HTMLResponse(page)

    def schema_name_for(kind: ListKind, *, development: bool) -> str:
        """The schema a receiver validates `kind` with (the ZAL: release3)."""
        for name, document in schemas.items():
            current_release = kind is not ListKind.ZAL or document.zal_release == 3
            if document.kind is kind and document.development == development and current_release:
                return name
        raise LookupError(kind)

    @app.get("/xsd/{name}")
    def xsd(name: str) -> Response:
        document = schemas.get(name)
        if document is None:
            raise HTTPException(404, f"no schema {name}; known: {', '.join(sorted(schemas))}")
        return Response(document.content, media_type=_XML)

    @app.get("/{filename}")
    def lijst(filename: str, request: Request) -> Response:
        item = by_filename.get(filename)
        if item is None:
            raise HTTPException(404, f"no list {filename}")
        etag = f'"{item.digest[:32]}-{item.volgnummer}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(
            item.document, media_type=_XML, headers={"ETag": etag, "Cache-Control": "no-cache"}
        )

    return app
