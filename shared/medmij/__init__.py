"""The MedMij protocol core: lists, scopes, headers, PKI and TLS, catalogue. No web framework, no I/O except where a module says so."""
