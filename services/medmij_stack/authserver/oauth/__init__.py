"""The OAuth 2.0 protocol of the DVA authorisation server, on authlib's grant machinery.

Framework-free: the Starlette glue lives with the channels, :mod:`authserver.authorize`
and :mod:`authserver.consent` (front) and :mod:`authserver.backchannel`. Modules are named
after what they hold: :mod:`.requests` (authlib's view of a request), :mod:`.clients`
(the OCL as OAuth clients), :mod:`.scopes` (the MedMij scope against ZAL and OCL),
:mod:`.grant_types` (authorization code, refresh token, PKCE), :mod:`.endpoints` (RFC 7009
revocation, RFC 7662 introspection), :mod:`.metadata` (RFC 8414) and :mod:`.server`.
"""
