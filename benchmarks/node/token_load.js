// One bounded token-exchange run for benchmarks/token_peer.py, the same client for both
// servers it compares: reads its settings as JSON on standard input, prints the result as
// one JSON line.
//
// Settings: url (https://127.0.0.1:PORT/path), servername (SNI), headers (Host and the
// like), form (the fields every request sends), codes (one authorization code per request,
// each used once, in order), connections (concurrency: keep-alive connections, one request
// in flight on each), cert/key/ca (PEM paths: the client's certificate and key, and the CA
// the server's certificate chains to). Every request gets a fresh MedMij-Request-ID and
// X-Correlation-ID, as a PGO sends them. Latency: each answer's, in milliseconds as a
// float (autocannon's own histogram keeps whole milliseconds only).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const autocannon = require('autocannon')

function percentile (sorted, fraction) {
  if (sorted.length === 0) return null
  const index = Math.min(sorted.length - 1, Math.max(0, Math.round(fraction * (sorted.length - 1))))
  return sorted[index]
}

const settings = JSON.parse(fs.readFileSync(0, 'utf8'))
const codes = settings.codes.slice()
const latencies = []
const statuses = {}
// The run's time: from the first request built to the last answer, so that starting node,
// loading autocannon and opening the connections count for neither side.
let firstSent = null
let lastDone = null
const instance = autocannon({
  url: settings.url,
  servername: settings.servername,
  connections: settings.connections,
  amount: codes.length,
  pipelining: 1,
  timeout: 10,
  headers: settings.headers,
  tlsOptions: {
    cert: fs.readFileSync(settings.cert),
    key: fs.readFileSync(settings.key),
    ca: fs.readFileSync(settings.ca)
  },
  requests: [{
    method: 'POST',
    path: new URL(settings.url).pathname,
    setupRequest: (request) => {
      // A request beyond the codes would present an empty one: answered 400, counted.
      const code = codes.shift() || ''
      if (firstSent === null) firstSent = process.hrtime.bigint()
      request.headers = {
        ...request.headers,
        'content-type': 'application/x-www-form-urlencoded',
        'MedMij-Request-ID': crypto.randomUUID(),
        'X-Correlation-ID': crypto.randomUUID()
      }
      request.body = new URLSearchParams({ ...settings.form, code }).toString()
      return request
    }
  }]
}, (error, result) => {
  if (error) {
    process.stderr.write(`${error.stack || error}\n`)
    process.exit(1)
  }
  const seconds = Number(lastDone - firstSent) / 1e9
  latencies.sort((a, b) => a - b)
  process.stdout.write(JSON.stringify({
    seconds,
    requests: result.requests.total,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    latencies
  }) + '\n')
})
instance.on('response', (client, statusCode, bytes, responseTime) => {
  lastDone = process.hrtime.bigint()
  statuses[statusCode] = (statuses[statusCode] || 0) + 1
  latencies.push(responseTime)
})
