"""The runtime every service shares: the I/O around the pure protocol core.

TLS server glue for uvicorn (`asgi_tls`), background servers (`threaded_server`), the
mutual-TLS HTTP clients (`net`), list fetching and the node's list subscription (`lists`,
`node`), TLS contexts (`tls`), the dev PKI on disk (`devpki`) and node settings (`config`).
The protocol core (`medmij_stack.protocol`) imports nothing from here.
"""
