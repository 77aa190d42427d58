// Command herald-franz drives franz-go (kgo and kadm) for Herald's integration tests
// (tests/integration/test_franz_go.py). Each run does one thing and prints one JSON object on
// stdout; errors go to stderr with exit status 1. Every call is bounded by -timeout.
//
// Records written by `produce` are deterministic: record i has key "k-i" (nil when i%10 == 9),
// value "fz-i-<codec>-" followed by i%40 copies of "xyz", headers [idx=i, codec=<codec>],
// partition i%partitions and timestamp baseTS+i.
//
//	produce ADDR TOPIC CODEC COUNT PARTITIONS
//	consume ADDR TOPIC PARTITIONS COUNT
//	group ADDR GROUP TOPIC PARTITIONS MEMBERS COUNT FIRST   (waits for a full assignment, then
//	      produces COUNT records numbered from FIRST, consumes them, commits and leaves)
//	admin ADDR OP ARGS...
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const baseTS = 1_700_000_000_000

var timeout = flag.Duration("timeout", 60*time.Second, "overall deadline")

type obj = map[string]any

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail("not a number: %q", s)
	}
	return n
}

func codecOf(name string) kgo.CompressionCodec {
	switch name {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	fail("unknown codec %q", name)
	return kgo.NoCompression()
}

func record(topic, codec string, i, partitions int) *kgo.Record {
	r := &kgo.Record{
		Topic:     topic,
		Partition: int32(i % partitions),
		Timestamp: time.UnixMilli(baseTS + int64(i)),
		Value:     []byte(fmt.Sprintf("fz-%d-%s-%s", i, codec, strings.Repeat("xyz", i%40))),
		Headers: []kgo.RecordHeader{
			{Key: "idx", Value: []byte(strconv.Itoa(i))},
			{Key: "codec", Value: []byte(codec)},
		},
	}
	if i%10 != 9 {
		r.Key = []byte(fmt.Sprintf("k-%d", i))
	}
	return r
}

func recordJSON(r *kgo.Record) obj {
	hs := [][]string{}
	for _, h := range r.Headers {
		hs = append(hs, []string{h.Key, string(h.Value)})
	}
	var key any
	if r.Key != nil {
		key = string(r.Key)
	}
	return obj{"p": r.Partition, "o": r.Offset, "k": key, "v": string(r.Value),
		"ts": r.Timestamp.UnixMilli(), "h": hs}
}

// produce writes count records with the idempotent producer (franz-go's default, acks=all).
func produce(ctx context.Context, addr, topic, codec string, count, partitions, first int) []any {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(codecOf(codec)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(20*time.Millisecond),
		kgo.ClientID("franz-producer"))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	rs := make([]*kgo.Record, 0, count)
	for i := first; i < first+count; i++ {
		rs = append(rs, record(topic, codec, i, partitions))
	}
	res := cl.ProduceSync(ctx, rs...)
	if err := res.FirstErr(); err != nil {
		fail("produce: %v", err)
	}
	// Results come in completion order; the records themselves carry their offsets.
	out := []any{}
	for _, r := range rs {
		out = append(out, []int64{int64(r.Partition), r.Offset})
	}
	return out
}

func consume(ctx context.Context, addr, topic string, partitions, count int) []any {
	ps := map[int32]kgo.Offset{}
	for p := 0; p < partitions; p++ {
		ps[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: ps}),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	out := []any{}
	for len(out) < count {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("consumed %d of %d records in time", len(out), count)
		}
		fs.EachError(func(t string, p int32, err error) { fail("fetch %s/%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, recordJSON(r)) })
	}
	return out
}

// member is one consumer of a group; its assignment is tracked from the rebalance callbacks.
type member struct {
	cl       *kgo.Client
	mu       sync.Mutex
	assigned map[int32]bool
	records  []any
}

func (m *member) partitions() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []int{}
	for p := range m.assigned {
		out = append(out, int(p))
	}
	sort.Ints(out)
	return out
}

func group(ctx context.Context, addr, groupID, topic string, partitions, members, count, first int) obj {
	ms := []*member{}
	for i := 0; i < members; i++ {
		m := &member{assigned: map[int32]bool{}}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(groupID),
			kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(), kgo.ClientID(fmt.Sprintf("franz-%d", i)),
			kgo.FetchMaxWait(100*time.Millisecond), kgo.SessionTimeout(10*time.Second),
			kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				m.mu.Lock()
				for _, p := range a[topic] {
					m.assigned[p] = true
				}
				m.mu.Unlock()
			}),
			kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, r map[string][]int32) {
				m.mu.Lock()
				for _, p := range r[topic] {
					delete(m.assigned, p)
				}
				m.mu.Unlock()
				if err := c.CommitUncommittedOffsets(ctx); err != nil {
					fmt.Fprintf(os.Stderr, "commit on revoke: %v\n", err)
				}
			}))
		if err != nil {
			fail("client: %v", err)
		}
		m.cl = cl
		ms = append(ms, m)
	}
	total := func() int {
		n := 0
		for _, m := range ms {
			n += len(m.records)
		}
		return n
	}
	poll := func() {
		for _, m := range ms {
			pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			fs := m.cl.PollFetches(pctx)
			cancel()
			fs.EachError(func(t string, p int32, err error) {
				if err != context.DeadlineExceeded && err != context.Canceled {
					fmt.Fprintf(os.Stderr, "fetch %s/%d: %v\n", t, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { m.records = append(m.records, recordJSON(r)) })
		}
	}
	// Every member owns at least one partition and together they own all of them.
	for {
		poll()
		seen, full := map[int]bool{}, true
		for _, m := range ms {
			ps := m.partitions()
			full = full && len(ps) > 0
			for _, p := range ps {
				seen[p] = true
			}
		}
		if full && len(seen) == partitions {
			break
		}
		if ctx.Err() != nil {
			fail("no full assignment in time")
		}
	}
	assignments := []any{}
	for _, m := range ms {
		assignments = append(assignments, m.partitions())
	}
	produced := produce(ctx, addr, topic, "none", count, partitions, first)
	for total() < count && ctx.Err() == nil {
		poll()
	}
	records := []any{}
	for _, m := range ms {
		if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
			fail("commit: %v", err)
		}
		records = append(records, m.records)
	}
	for _, m := range ms {
		m.cl.LeaveGroup()
		m.cl.Close()
	}
	return obj{"assignments": assignments, "produced": produced, "records": records}
}

func admin(ctx context.Context, addr, op string, a []string) obj {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	out := obj{}
	switch op {
	case "create-topic": // name partitions [k=v ...]
		cfg := map[string]*string{}
		for _, kv := range a[2:] {
			k, v, _ := strings.Cut(kv, "=")
			cfg[k] = &v
		}
		r, err := adm.CreateTopic(ctx, int32(atoi(a[1])), 1, cfg, a[0])
		if err == nil {
			err = r.Err
		}
		out["error"] = errString(err)
	case "delete-topic":
		r, err := adm.DeleteTopics(ctx, a[0])
		if err == nil {
			err = r.Error()
		}
		out["error"] = errString(err)
	case "list-topics":
		td, err := adm.ListTopics(ctx)
		if err != nil {
			fail("list topics: %v", err)
		}
		ts := obj{}
		for _, t := range td.Sorted() {
			ts[t.Topic] = len(t.Partitions)
		}
		out["topics"] = ts
	case "describe-configs":
		rc, err := adm.DescribeTopicConfigs(ctx, a[0])
		if err != nil {
			fail("describe configs: %v", err)
		}
		r, err := rc.On(a[0], nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			fail("describe configs: %v", err)
		}
		cs := obj{}
		for _, c := range r.Configs {
			cs[c.Key] = []any{c.MaybeValue(), c.Source.String()}
		}
		out["configs"] = cs
	case "alter-configs": // topic op... (k=v SET, -k DELETE, +k=v APPEND, ~k=v SUBTRACT)
		var acs []kadm.AlterConfig
		for _, s := range a[1:] {
			op := kadm.SetConfig
			switch s[0] {
			case '-':
				acs = append(acs, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: s[1:]})
				continue
			case '+':
				op, s = kadm.AppendConfig, s[1:]
			case '~':
				op, s = kadm.SubtractConfig, s[1:]
			}
			k, v, _ := strings.Cut(s, "=")
			acs = append(acs, kadm.AlterConfig{Op: op, Name: k, Value: kadm.StringPtr(v)})
		}
		rs, err := adm.AlterTopicConfigs(ctx, acs, a[0])
		if err == nil && len(rs) == 1 {
			err = rs[0].Err
		}
		out["error"] = errString(err)
	case "delete-records": // topic partition offset
		var os kadm.Offsets
		os.AddOffset(a[0], int32(atoi(a[1])), int64(atoi(a[2])), -1)
		rs, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			fail("delete records: %v", err)
		}
		r, _ := rs.Lookup(a[0], int32(atoi(a[1])))
		out["error"] = errString(r.Err)
		out["low"] = r.LowWatermark
	case "update-partitions":
		r, err := adm.UpdatePartitions(ctx, atoi(a[1]), a[0])
		if err == nil {
			err = r.Error()
		}
		out["error"] = errString(err)
	case "list-offsets": // topic start|end|max|<millis>
		var lo kadm.ListedOffsets
		switch a[1] {
		case "start":
			lo, err = adm.ListStartOffsets(ctx, a[0])
		case "end":
			lo, err = adm.ListEndOffsets(ctx, a[0])
		case "max":
			lo, err = adm.ListMaxTimestampOffsets(ctx, a[0])
		default:
			ms, _ := strconv.ParseInt(a[1], 10, 64)
			lo, err = adm.ListOffsetsAfterMilli(ctx, ms, a[0])
		}
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			fail("list offsets: %v", err)
		}
		offs := obj{}
		lo.Each(func(o kadm.ListedOffset) {
			offs[strconv.Itoa(int(o.Partition))] = []int64{o.Offset, o.Timestamp, int64(o.LeaderEpoch)}
		})
		out["offsets"] = offs
	case "list-groups":
		lg, err := adm.ListGroups(ctx)
		if err != nil {
			fail("list groups: %v", err)
		}
		gs := obj{}
		for _, g := range lg.Sorted() {
			gs[g.Group] = []string{g.State, g.ProtocolType, g.GroupType}
		}
		out["groups"] = gs
	case "describe-group":
		dg, err := adm.DescribeGroups(ctx, a[0])
		if err != nil {
			fail("describe groups: %v", err)
		}
		d := dg[a[0]]
		members := []any{}
		for _, m := range d.Members {
			ps := []int{}
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range c.Topics {
					for _, p := range t.Partitions {
						ps = append(ps, int(p))
					}
				}
			}
			sort.Ints(ps)
			members = append(members, obj{"client": m.ClientID, "partitions": ps})
		}
		out["group"] = obj{"state": d.State, "protocolType": d.ProtocolType,
			"protocol": d.Protocol, "members": members, "error": errString(d.Err)}
	case "fetch-offsets":
		or, err := adm.FetchOffsets(ctx, a[0])
		if err == nil {
			err = or.Error()
		}
		if err != nil {
			fail("fetch offsets: %v", err)
		}
		offs := obj{}
		or.Each(func(o kadm.OffsetResponse) {
			offs[fmt.Sprintf("%s:%d", o.Topic, o.Partition)] = o.At
		})
		out["offsets"] = offs
	case "delete-group":
		r, err := adm.DeleteGroups(ctx, a[0])
		if err == nil {
			err = r.Error()
		}
		out["error"] = errString(err)
	default:
		fail("unknown admin op %q", op)
	}
	return out
}

func errString(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func main() {
	flag.Parse()
	a := flag.Args()
	if len(a) < 2 {
		fail("usage: herald-franz [-timeout D] produce|consume|group|admin ADDR ...")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var out any
	switch a[0] {
	case "produce":
		out = obj{"offsets": produce(ctx, a[1], a[2], a[3], atoi(a[4]), atoi(a[5]), 0)}
	case "consume":
		out = obj{"records": consume(ctx, a[1], a[2], atoi(a[3]), atoi(a[4]))}
	case "group":
		out = group(ctx, a[1], a[2], a[3], atoi(a[4]), atoi(a[5]), atoi(a[6]), atoi(a[7]))
	case "admin":
		out = admin(ctx, a[1], a[2], a[3:])
	default:
		fail("unknown command %q", a[0])
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("encode: %v", err)
	}
}
