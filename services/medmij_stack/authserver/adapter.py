"""The thin Starlette adapter between HTTP and the framework-free OAuth layer.

authlib has no Starlette integration and its server is synchronous (STYLE.md), so this
module reads a request (async), turns it into an :class:`~authserver.oauth.requests.
Incoming` snapshot for authlib, and renders an :class:`~authserver.oauth.server.
OAuthResponse`. Back-channel bodies are read here under the rules of RFC 6749 3.2 and
4.1.3: ``application/x-www-form-urlencoded`` only (MEDMIJ.md 1.5: GIDS sent JSON; that is
refused), parameters in the body and not in the query string (Zorgdoc put them there),
UTF-8, no parameter twice, and a bounded size.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from medmij_stack.runtime.asgi_tls import admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_body

from .errors import FORM_ENCODING_REQUIRED, QUERY_PARAMETERS_REFUSED, InvalidRequest
from .oauth.requests import Incoming
from .oauth.server import OAuthResponse

__all__ = [
    "back_channel_request",
    "bounded_body",
    "front_channel_request",
    "render",
]

MAX_BODY_BYTES = 16 * 1024  # an OAuth request body is a few hundred bytes
_MAX_FIELDS = 50


def render(response: OAuthResponse) -> Response:
    headers = {k: v for k, v in response.headers if k.lower() != "content-type"}
    if isinstance(response.body, dict):
        return JSONResponse(response.body, status_code=response.status, headers=headers)
    return Response(response.body, status_code=response.status, headers=headers)


async def bounded_body(request: Request) -> bytes:
    """The request body, refused (413) beyond MAX_BODY_BYTES whether or not it was declared.

    Raises InvalidRequest: a back-channel request refused before OAuth looks at it.
    """
    try:
        return await read_body(request, max_bytes=MAX_BODY_BYTES)
    except UnreadableRequest as unreadable:
        description = f"Invalid request: {unreadable.description}."
        raise InvalidRequest(description, status=unreadable.status) from None


async def back_channel_request(request: Request) -> Incoming:
    """A POST to the token, revocation or introspection endpoint, read strictly."""
    if request.url.query:
        raise InvalidRequest(QUERY_PARAMETERS_REFUSED)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequest(FORM_ENCODING_REQUIRED)
    body = await bounded_body(request)
    try:
        params = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=_MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("Invalid request: the body is not UTF-8 form data.") from None
    incoming = Incoming(
        method=request.method,
        uri=str(request.url),
        headers=dict(request.headers),
        params=params,
        peer=admitted_hostnames(request.scope),
    )
    repeated = incoming.repeated()
    if repeated is not None:
        raise InvalidRequest(f"Invalid request: parameter {repeated} is repeated.")
    return incoming


def front_channel_request(request: Request) -> Incoming:
    """A GET to the authorization endpoint: its parameters are in the query string."""
    return Incoming(
        method=request.method,
        uri=str(request.url),
        headers=dict(request.headers),
        params=request.query_params.multi_items(),
    )
