// kafkajs consumer group against herald: two members of one group (JoinGroup v5 with
// MEMBER_ID_REQUIRED, SyncGroup v3, Heartbeat v3, OffsetCommit v5, OffsetFetch v4) share a topic
// until N records were consumed in total, then both disconnect (LeaveGroup).
// usage: node group.js HOST:PORT TOPIC GROUP N   -> prints one JSON line
'use strict'
const { Kafka, logLevel } = require('kafkajs')

async function main () {
  const [addr, topic, group, nText] = process.argv.slice(2)
  const n = parseInt(nText, 10)
  const kafka = new Kafka({
    clientId: 'herald-it-kafkajs',
    brokers: [addr],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 5, initialRetryTime: 200 }
  })
  const seen = []
  const counts = [0, 0]
  const members = [0, 1].map(() => kafka.consumer({
    groupId: group,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10000,
    maxWaitTimeInMs: 100
  }))
  // Records are produced only once both members hold partitions, so that both get some.
  const assigned = [0, 0]
  const bothAssigned = new Promise(resolve => {
    const deadline = setTimeout(resolve, 30000)
    members.forEach((c, i) => c.on(c.events.GROUP_JOIN, e => {
      const a = e.payload.memberAssignment[topic] || []
      assigned[i] = a.length
      if (assigned[0] > 0 && assigned[1] > 0) { clearTimeout(deadline); resolve() }
    }))
  })
  let done
  const finished = new Promise(resolve => { done = resolve })
  for (let i = 0; i < 2; i++) {
    const c = members[i]
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
  }
  for (let i = 0; i < 2; i++) {
    const c = members[i]
    await c.run({
      eachMessage: async ({ message }) => {
        counts[i]++
        seen.push(message.value.toString())
        if (seen.length >= n) done()
      }
    })
  }
  await bothAssigned
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = 0; i < n; i++) messages.push({ value: String(i), partition: i % 4 })
  await producer.send({ topic, messages })
  await producer.disconnect()
  const timer = setTimeout(done, 60000)
  await finished
  clearTimeout(timer)
  await Promise.all(members.map(c => c.disconnect()))
  console.log(JSON.stringify({ total: seen.length, distinct: new Set(seen).size, members: counts }))
}

main().catch(e => { console.error(e); process.exit(1) })
