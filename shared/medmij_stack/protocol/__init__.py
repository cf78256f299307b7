"""The MedMij protocol core: lists, scopes, headers, the gegevensdienst catalogue, certificate
issuing, the ketenlog model and the DVA's internal contract, as pure data and functions.

No I/O here: no web framework, no HTTP client, no database, no server. The linter enforces it
(banned imports in `ruff.toml` beside this file); the I/O lives in `medmij_stack.runtime`.
"""
