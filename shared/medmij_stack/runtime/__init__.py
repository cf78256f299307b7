"""The runtime every service shares: the I/O around the pure protocol core.

Each piece exists once, here, and every service (and the PGO) uses it:

* `backchannel` — calls between nodes: the node's mutual-TLS clients from its settings
  (`node_client`, `node_async_client`), a JSON or form POST to a peer with the Whitelist
  checked first and one exception tree for every way there is no usable answer (`post`,
  `post_async`, `CallFailed`), and the bounded reading of a peer's request body
  (`read_body`, `read_json_object`).
* `oauth_errors` — the OAuth error answer (RFC 6749 5.2) as an HTTP response; its body is
  `medmij_stack.protocol.oauth_errors.OAuthError`.
* `asgi_tls` — TLS server glue for uvicorn and the Whitelist gate (`ClientCertificateGate`),
  with `admitted_hostnames`, the one reading of whom the gate let in.
* `database` — the engine, and Alembic migration under a lock.
* `net` — the mutual-TLS HTTP clients with Private-root trust and the world's host map;
  `tls` — TLS contexts and the Whitelist check on a certificate.
* `lists`, `node` — list fetching and a node's list subscription; `config` — node settings;
  `devpki` — the dev PKI on disk; `threaded_server` — background servers.

The protocol core (`medmij_stack.protocol`) imports nothing from here.
"""
