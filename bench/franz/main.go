// Command franz_bench is bench/run.sh's Kafka-protocol producer on franz-go, the client that
// puts many partitions into one Produce request (as Apache Kafka's Java client does), where
// herald_bench's librdkafka sends one partition per request. It prints one JSON result line with
// the fields of bench/common/bench_common.c's bench_result_print(), so bench/report.py reads it
// like any other driver's.
//
//	franz_bench --mode produce --addr HOST:PORT --size S --records N --partitions T
//	            --producers P --inflight K [--requests R] [--linger-ms L] [--system NAME]
//	            [--topic NAME]
//
// P producers (one client, hence one connection, each) send N records of S random bytes
// round-robin over T partitions of a topic created first (record k of the run goes to partition
// k mod T), acks=all, idempotence off, no compression, at most K unacknowledged records and R
// Produce requests (default 5) in flight per producer: the same limits as herald_bench's
// librdkafka (max.in.flight.requests.per.connection=5) and Kafka's Java client (its default).
// franz-go itself allows 5 requests in flight only with idempotence on, and 1 with it off, so the
// limit is set here. Everything else is franz-go's default (linger 0, 1 MiB batches), as an
// application would run it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "franz_bench: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	mode := flag.String("mode", "produce", "only produce")
	addr := flag.String("addr", "127.0.0.1:9092", "bootstrap HOST:PORT")
	system := flag.String("system", "herald", "name recorded in the result")
	topic := flag.String("topic", "", "topic (default: a new unique name)")
	size := flag.Int("size", 1024, "value bytes per record")
	records := flag.Int64("records", 100000, "records over all producers")
	partitions := flag.Int("partitions", 1, "partitions of the topic")
	producers := flag.Int("producers", 1, "producer clients")
	inflight := flag.Int("inflight", 1000, "unacknowledged records per producer")
	lingerMs := flag.Float64("linger-ms", 0, "producer linger")
	requests := flag.Int("requests", 5, "Produce requests in flight per connection")
	timeout := flag.Duration("timeout", 15*time.Minute, "overall deadline")
	flag.Parse()
	if *mode != "produce" {
		fail("mode %q: only produce is implemented", *mode)
	}
	if *size < 0 || *size > 1<<20 || *records < 1 || *partitions < 1 || *partitions > 100000 ||
		*producers < 1 || *producers > 1024 || *inflight < 1 || *requests < 1 {
		fail("an option is out of range")
	}
	if *topic == "" {
		*topic = fmt.Sprintf("bench-franz-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	admin, err := kgo.NewClient(kgo.SeedBrokers(*addr))
	if err != nil {
		fail("client: %v", err)
	}
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, int32(*partitions), 1, nil, *topic); err != nil {
		fmt.Fprintf(os.Stderr, "franz_bench: CreateTopics: %v (relying on auto-create)\n", err)
	}
	got := 0
	for ctx.Err() == nil {
		td, err := adm.ListTopics(ctx, *topic)
		if err == nil && td.Has(*topic) && td[*topic].Err == nil {
			got = len(td[*topic].Partitions)
			if got >= *partitions {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	admin.Close()
	if got < 1 {
		fail("topic %s did not appear", *topic)
	}

	payload := make([]byte, *size)
	if _, err := rand.Read(payload); err != nil {
		fail("random: %v", err)
	}
	clients := make([]*kgo.Client, *producers)
	for i := range clients {
		c, err := kgo.NewClient(kgo.SeedBrokers(*addr),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.ProducerLinger(time.Duration(*lingerMs*float64(time.Millisecond))),
			kgo.MaxBufferedRecords(*inflight+16),
			kgo.MaxProduceRequestsInflightPerBroker(*requests),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProduceRequestTimeout(2*time.Minute), kgo.RecordDeliveryTimeout(2*time.Minute))
		if err != nil {
			fail("client: %v", err)
		}
		// Metadata before the clock starts, as herald_bench warms librdkafka's.
		if err := c.Ping(ctx); err != nil {
			fail("ping: %v", err)
		}
		c.ForceMetadataRefresh()
		clients[i] = c
	}
	time.Sleep(200 * time.Millisecond)

	var acked, failed, ackedBytes atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *producers; i++ {
		n := *records / int64(*producers)
		if int64(i) < *records%int64(*producers) {
			n++
		}
		wg.Add(1)
		go func(idx int, n int64, c *kgo.Client) {
			defer wg.Done()
			slots := make(chan struct{}, *inflight)
			var pending sync.WaitGroup
			for j := int64(0); j < n; j++ {
				k := j*int64(*producers) + int64(idx)
				slots <- struct{}{}
				pending.Add(1)
				r := &kgo.Record{Topic: *topic, Partition: int32(k % int64(got)), Value: payload}
				c.Produce(ctx, r, func(r *kgo.Record, err error) {
					if err != nil {
						if failed.Add(1) == 1 {
							firstErr.Store(err.Error())
						}
					} else {
						acked.Add(1)
						ackedBytes.Add(int64(len(r.Value)))
					}
					<-slots
					pending.Done()
				})
			}
			pending.Wait()
		}(i, n, clients[i])
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	for _, c := range clients {
		c.Close()
	}
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "franz_bench: %d failed, first: %s\n", failed.Load(), e)
	}
	res := map[string]any{
		"system": *system, "mode": "produce", "size": *size, "partitions": got,
		"producers": *producers, "consumers": 0, "inflight": *inflight, "rate": 0,
		"records": acked.Load(), "deliveries": 0, "bytes": ackedBytes.Load(), "secs": secs,
		"records_per_s": float64(acked.Load()) / secs,
		"mb_per_s":      float64(ackedBytes.Load()) / 1e6 / secs,
		"errors":        failed.Load(), "samples": 0, "p50_ms": 0, "p99_ms": 0, "p999_ms": 0,
		"max_ms": 0, "note": "franz-go", "quantiles_ms": []any{},
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
