"""The MedMij protocol core: lists, scopes, headers, PKI and TLS, the catalogue.

No web framework here, and no I/O except where a module says so.
"""
