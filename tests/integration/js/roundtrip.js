// kafkajs against herald: create a 2-partition topic, produce N records with an idempotent,
// gzip-compressing producer (4 sends, N/8 records per partition per send), read the offsets and
// fetch everything back. herald has no consumer groups yet, so reading uses kafkajs's own
// cluster/broker layer (Fetch v11 and its decoder) instead of kafka.consumer().
// usage: node roundtrip.js HOST:PORT TOPIC N   -> prints one JSON line
'use strict'
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const BASE_TS = 1700000000000

async function main () {
  const [addr, topic, nText] = process.argv.slice(2)
  const n = parseInt(nText, 10)
  const half = n / 2
  const perSend = half / 4
  const kafka = new Kafka({
    clientId: 'herald-it-kafkajs',
    brokers: [addr],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 3, initialRetryTime: 200 }
  })

  const admin = kafka.admin()
  await admin.connect()
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: 2, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: 10000
  })
  // kafkajs's defaults: replicationFactor -1 ("broker default") even on CreateTopics v3, which
  // Kafka brokers accept. Reported separately so the round trip below still runs.
  let defaultCreate
  try {
    defaultCreate = { created: await admin.createTopics({ topics: [{ topic: `${topic}-defaults` }], waitForLeaders: true, timeout: 10000 }) }
  } catch (e) {
    defaultCreate = { error: String(e && e.message), details: JSON.stringify((e && e.errors) || []) }
  }

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const produced = []
  for (let k = 0; k < 4; k++) {
    const messages = []
    for (let p = 0; p < 2; p++) {
      for (let j = k * perSend; j < (k + 1) * perSend; j++) {
        const i = p * half + j
        messages.push({
          partition: p,
          key: Buffer.from(`k${i}`),
          value: Buffer.concat([Buffer.from([0]), Buffer.from(`value ${i}`), Buffer.from([255])]),
          headers: { idx: Buffer.from(`${i}`) },
          timestamp: String(BASE_TS + i)
        })
      }
    }
    const md = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages })
    produced.push(...md)
  }
  await producer.disconnect()

  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()

  // Low-level fetch through kafkajs's cluster object.
  const sym = Object.getOwnPropertySymbols(kafka).find(s => s.description === 'private:Kafka:createCluster')
  const cluster = kafka[sym]({ isolationLevel: 1 })
  await cluster.connect()
  await cluster.addTargetTopic(topic)
  await cluster.refreshMetadata()
  const records = []
  const next = { 0: 0, 1: 0 }
  const deadline = Date.now() + 20000
  while ((next[0] < half || next[1] < half) && Date.now() < deadline) {
    const leaders = cluster.findLeaderForPartitions(topic, [0, 1])
    for (const nodeId of Object.keys(leaders)) {
      const broker = await cluster.findBroker({ nodeId })
      const resp = await broker.fetch({
        replicaId: -1,
        isolationLevel: 1,
        maxWaitTime: 200,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{
          topic,
          partitions: leaders[nodeId].map(p => ({ partition: p, fetchOffset: String(next[p]), maxBytes: 1 << 20 }))
        }]
      })
      for (const t of resp.responses) {
        for (const part of t.partitions) {
          if (part.errorCode !== 0) throw new Error(`fetch error ${part.errorCode} on ${part.partition}`)
          for (const m of part.messages) {
            if (Number(m.offset) < next[part.partition]) continue
            const headers = {}
            for (const [hk, hv] of Object.entries(m.headers || {})) headers[hk] = Buffer.from(hv).toString('hex')
            records.push({
              partition: part.partition,
              offset: m.offset,
              key: m.key === null ? null : m.key.toString('hex'),
              value: m.value === null ? null : m.value.toString('hex'),
              headers,
              timestamp: m.timestamp
            })
            next[part.partition] = Number(m.offset) + 1
          }
        }
      }
    }
  }
  await cluster.disconnect()
  process.stdout.write(JSON.stringify({ created, defaultCreate, produced, offsets, records }) + '\n')
}

const timer = setTimeout(() => { console.error('timed out'); process.exit(3) }, 90000)
main().then(() => { clearTimeout(timer) }, e => { console.error(e && e.stack ? e.stack : e); process.exit(1) })
