// One bounded autocannon run for benchmarks/fhir_limit.py: reads its settings as JSON on
// standard input, prints the result as one JSON line.
//
// Settings: url (https://127.0.0.1:PORT/path), servername (SNI and Host), headers,
// connections, seconds, cert/key/ca (PEM file paths: the PGO's client certificate and the
// dev CA). Every request gets a fresh MedMij-Request-ID, as a PGO sends it. Latency is
// taken from each 2xx answer in milliseconds as a float (autocannon's own histogram keeps
// whole milliseconds only), p50 and p99 over the whole run.
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
const latencies = []
const instance = autocannon({
  url: settings.url,
  servername: settings.servername,
  connections: settings.connections,
  duration: settings.seconds,
  pipelining: 1,
  timeout: 10,
  headers: settings.headers,
  tlsOptions: {
    cert: fs.readFileSync(settings.cert),
    key: fs.readFileSync(settings.key),
    ca: fs.readFileSync(settings.ca)
  },
  requests: [{
    method: 'GET',
    path: new URL(settings.url).pathname + new URL(settings.url).search,
    setupRequest: (request) => {
      request.headers = { ...request.headers, 'MedMij-Request-ID': crypto.randomUUID() }
      return request
    }
  }]
}, (error, result) => {
  if (error) {
    process.stderr.write(`${error.stack || error}\n`)
    process.exit(1)
  }
  latencies.sort((a, b) => a - b)
  process.stdout.write(JSON.stringify({
    seconds: result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bytes: result.throughput.total,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99)
  }) + '\n')
})
instance.on('response', (client, statusCode, bytes, responseTime) => {
  if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
})
