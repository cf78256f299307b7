// The certified peer for benchmarks/token_peer.py: node oidc-provider (major version 9) with
// its in-memory adapter (below), serving its token endpoint over HTTPS with mutual TLS.
//
// Reads its settings as JSON on standard input: cert/key (the server's PEM files), ca (the
// dev CA that signed the client's certificate), client_id (also the DNS SAN the client
// certificate must carry, as tls_client_auth_san_dns), redirect_uri, codes (how many
// authorization codes to issue), refresh_every (every n-th code carries offline_access,
// so that exchange also issues a refresh token).
//
// The client authenticates with tls_client_auth (RFC 8705 2.1: the certificate must be
// verified by the TLS layer against the CA and carry the registered SAN) and its access
// tokens are certificate-bound (RFC 8705 3, cnf x5t#S256), as at our token endpoint.
//
// Codes are issued through oidc-provider's own models (Grant, AuthorizationCode: the objects
// its authorization endpoint saves after login and consent), not through its interaction
// screens: the benchmark measures the token endpoint. No openid scope, so no ID token is
// signed (our server issues none either). Prints one JSON line {port, codes} once it
// listens; serves until it is killed.
'use strict'

const fs = require('node:fs')
const https = require('node:https')
const crypto = require('node:crypto')

// oidc-provider's own development adapter is an LRU of 1000 entries: a benchmark's codes
// would fall out of it before they are used. This one is the same kind of store (a Map in
// the process, nothing on disk) without the bound, expired entries left in place.
const stores = new Map()
class MemoryAdapter {
  constructor (model) {
    this.model = model
    if (!stores.has(model)) stores.set(model, new Map())
    this.store = stores.get(model)
  }

  async upsert (id, payload, expiresIn) {
    this.store.set(id, { ...payload })
    if (payload.grantId) {
      const key = `grant:${payload.grantId}`
      const grants = stores.get('_grants') || new Map()
      stores.set('_grants', grants)
      if (!grants.has(key)) grants.set(key, [])
      grants.get(key).push([this.model, id])
    }
  }

  async find (id) { return this.store.get(id) }
  async findByUserCode (userCode) { return undefined }
  async findByUid (uid) { return undefined }
  async consume (id) {
    const stored = this.store.get(id)
    if (stored) stored.consumed = Math.floor(Date.now() / 1000)
  }

  async destroy (id) { this.store.delete(id) }
  async revokeByGrantId (grantId) {
    const grants = stores.get('_grants')
    for (const [model, id] of (grants && grants.get(`grant:${grantId}`)) || []) {
      stores.get(model).delete(id)
    }
  }
}

async function main () {
  const { default: Provider } = await import('oidc-provider')
  const settings = JSON.parse(fs.readFileSync(0, 'utf8'))
  const host = '127.0.0.1'
  const server = https.createServer({
    cert: fs.readFileSync(settings.cert),
    key: fs.readFileSync(settings.key),
    ca: fs.readFileSync(settings.ca),
    requestCert: true,
    rejectUnauthorized: false, // decided per request: certificateAuthorized below
    keepAliveTimeout: 5000
  })
  server.listen(0, host)
  await new Promise((resolve) => server.once('listening', resolve))
  const port = server.address().port

  const scope = 'ziekenhuisdemo'
  const provider = new Provider(`https://${host}:${port}`, {
    adapter: MemoryAdapter,
    clients: [{
      client_id: settings.client_id,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_san_dns: settings.client_id,
      tls_client_certificate_bound_access_tokens: true,
      redirect_uris: [settings.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code']
    }],
    clientAuthMethods: ['tls_client_auth'],
    scopes: ['openid', 'offline_access', scope],
    ttl: { AuthorizationCode: 3600, AccessToken: 900, Grant: 3600, RefreshToken: 86400 },
    features: {
      devInteractions: { enabled: false },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        certificateBoundAccessTokens: true,
        getCertificate (ctx) {
          const peer = ctx.socket.getPeerCertificate(false)
          if (!peer || !peer.raw) return undefined
          return new crypto.X509Certificate(peer.raw).toString()
        },
        certificateAuthorized (ctx) {
          return ctx.socket.authorized === true
        },
        certificateSubjectMatches (ctx, property, expected) {
          if (property !== 'tls_client_auth_san_dns') return false
          const names = (ctx.socket.getPeerCertificate(false).subjectaltname || '').split(', ')
          return names.includes(`DNS:${expected}`)
        }
      }
    },
    issueRefreshToken (ctx, client, code) {
      return code.scopes.has('offline_access')
    }
  })
  provider.proxy = false
  server.on('request', provider.callback())

  const client = await provider.Client.find(settings.client_id)
  const codes = []
  for (let index = 0; index < settings.codes; index += 1) {
    const accountId = crypto.randomUUID()
    const offline = settings.refresh_every > 0 && index % settings.refresh_every === 0
    const scopes = offline ? `${scope} offline_access` : scope
    const grant = new provider.Grant({ accountId, clientId: settings.client_id })
    grant.addOIDCScope(scopes)
    const grantId = await grant.save()
    const code = new provider.AuthorizationCode({
      accountId,
      grantId,
      client,
      redirectUri: settings.redirect_uri,
      scope: scopes,
      authTime: Math.floor(Date.now() / 1000)
    })
    codes.push(await code.save())
  }
  process.stdout.write(JSON.stringify({ port, codes }) + '\n')
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error} ${error.error_description || ''}\n`)
  process.exit(1)
})
