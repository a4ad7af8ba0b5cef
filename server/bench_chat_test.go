package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage/boltdb"
)

// chatShape is the chat benchmarks' load: 100 pairs with 8 messages in
// flight each (saturation), or GISBI_BENCH_PAIRS and GISBI_BENCH_WINDOW
// (e.g. 10 and 1: a light load, to see a delivery's own latency).
func chatShape() (pairs, window int) {
	pairs, window = 100, 8
	if n, err := strconv.Atoi(os.Getenv("GISBI_BENCH_PAIRS")); err == nil && n > 0 {
		pairs = n
	}
	if n, err := strconv.Atoi(os.Getenv("GISBI_BENCH_WINDOW")); err == nil && n > 0 {
		window = n
	}
	return pairs, window
}

// BenchmarkChat100Pairs: 100 connected pairs on loopback, every sender
// streaming messages with up to 8 in flight; each message is stored durably
// (group commit) before its ack and delivery. Reports durable messages per
// second and send→deliver latency measured at the recipient.
func BenchmarkChat100Pairs(b *testing.B) {
	srv := servertest.Start(b, func(c *config.Config) { c.WSRate, c.WSBurst = 1e6, 1e6; c.WSSendQueue = 4096 })
	pairs, _ := chatShape()
	var ps []chatPair
	for i := 0; i < pairs; i++ {
		x, y := connected(b, srv, fmt.Sprint("ba-", i), fmt.Sprint("bb-", i))
		ps = append(ps, chatPair{from: x, to: y.ID, rx: y.ws})
	}
	before := writerStats(srv)
	delivered := runChat(b, ps, func(f *servertest.Frame) (string, bool) {
		if f.Type != "chat.message.created" {
			return "", false
		}
		// Only the field measured: decoding the whole payload into a map
		// took about 5% of the run's CPU, on the cores the server uses.
		var p struct {
			Content string `json:"content"`
		}
		_ = json.Unmarshal(f.Payload, &p)
		return p.Content, true
	})
	reportWriter(b, before, writerStats(srv), delivered)
	// How the store behaved: mean wait of an append (queueing, commit and
	// fsync) and messages per append call.
	if mfs, err := srv.Metrics.Registry.Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() != "gisbi_store_commit_seconds" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "op" && l.GetValue() == "messages.append" {
						h := m.GetHistogram()
						if h.GetSampleCount() > 0 {
							b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1000, "commit-ms")
							b.ReportMetric(float64(delivered)/float64(h.GetSampleCount()), "msgs/append")
						}
					}
				}
			}
		}
	}
}

// BenchmarkChatCrossDialect is BenchmarkChat100Pairs with every recipient
// on a legacy `/socket` socket: the sender writes chat.message.created on
// /ws and the recipient reads messages-received. Reports the same figures,
// so the two benchmarks side by side show what the second dialect costs a
// delivery.
func BenchmarkChatCrossDialect(b *testing.B) {
	srv := servertest.Start(b, func(c *config.Config) { c.WSRate, c.WSBurst = 1e6, 1e6; c.WSSendQueue = 4096 })
	pairs, _ := chatShape()
	var ps []chatPair
	for i := 0; i < pairs; i++ {
		x, y := connected(b, srv, fmt.Sprint("xa-", i), fmt.Sprint("xb-", i))
		// Only the legacy socket of the recipient: its /ws one leaves.
		y.ws.Close()
		ps = append(ps, chatPair{from: x, to: y.ID, rx: y.DialLegacy()})
	}
	before := writerStats(srv)
	delivered := runChat(b, ps, func(f *servertest.Frame) (string, bool) {
		if f.Type != "messages-received" {
			return "", false
		}
		var d struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		}
		_ = json.Unmarshal(f.Payload, &d)
		return d.Message.Content, true
	})
	reportWriter(b, before, writerStats(srv), delivered)
}

// writerStats reads the store's group-commit counters (zero for a store
// that keeps none).
func writerStats(srv *servertest.Server) boltdb.WriterStats {
	if s, ok := srv.Store.(*boltdb.Store); ok {
		return s.WriterStats()
	}
	return boltdb.WriterStats{}
}

// reportWriter reports how the run's writes grouped: messages per commit
// (every commit counts, the run's other writes included) and pages written
// per message, which is what each fsync waits for.
func reportWriter(b *testing.B, before, after boltdb.WriterStats, delivered int64) {
	if commits := after.Commits - before.Commits; commits > 0 && delivered > 0 {
		b.ReportMetric(float64(delivered)/float64(commits), "msgs/commit")
		b.ReportMetric(float64(after.PagesWritten-before.PagesWritten)/float64(delivered), "pages/msg")
	}
}

// chatPair is one sender, on /ws, and the socket its recipient reads.
type chatPair struct {
	from member
	to   string
	rx   *servertest.WS
}

// runChat streams b.N messages over the pairs, window in flight per
// sender, and reports throughput and send→deliver latency; received
// reads a message's content (its send time) from a recipient's frame. It
// returns how many messages were delivered.
func runChat(b *testing.B, ps []chatPair, received func(*servertest.Frame) (string, bool)) int64 {
	_, window := chatShape()
	var mu sync.Mutex
	var lats []time.Duration
	var delivered, refused atomic.Int64
	per := b.N/len(ps) + 1
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(2)
		go func(p chatPair) { // receiver: measure send→deliver
			defer wg.Done()
			local := make([]time.Duration, 0, per)
			for n := 0; n < per; {
				f := p.rx.TryNext(30 * time.Second)
				if f == nil {
					break
				}
				content, ok := received(f)
				if !ok {
					continue
				}
				sent, _ := strconv.ParseInt(content, 10, 64)
				local = append(local, time.Since(time.Unix(0, sent)))
				n++
				delivered.Add(1)
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}(p)
		go func(p chatPair) { // sender: keep `window` messages in flight
			defer wg.Done()
			// The set-up's frames left a write deadline on the socket
			// (servertest's Send): a long run must not inherit it.
			_ = p.from.ws.Conn.SetWriteDeadline(time.Time{})
			sem := make(chan struct{}, window)
			done := make(chan struct{})
			go func() {
				acks := 0
				defer func() {
					if acks < per {
						b.Errorf("acks stopped after %d of %d", acks, per)
					}
				}()
				for acks < per {
					f := p.from.ws.TryNext(30 * time.Second)
					if f == nil {
						break
					}
					if f.RequestID != "" && (f.Type == "chat.message.created" || f.Type == "error") {
						// A refused message frees its slot too, so the
						// benchmark reports instead of hanging.
						if f.Type == "error" {
							refused.Add(1)
						}
						acks++
						<-sem
					}
				}
				close(done)
			}()
		send:
			for i := 0; i < per; i++ {
				select {
				case sem <- struct{}{}:
				case <-done: // the acks stopped: reported above
					break send
				}
				if err := p.from.ws.Conn.WriteJSON(map[string]any{"type": "chat.message.created", "requestId": "m",
					"payload": map[string]any{"recipientId": p.to, "content": strconv.FormatInt(time.Now().UnixNano(), 10)}}); err != nil {
					b.Errorf("send: %v", err)
					break
				}
			}
			<-done
		}(p)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) > 0 {
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
	}
	b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "msgs/s")
	if n := refused.Load(); n > 0 {
		b.Errorf("%d messages refused", n)
	}
	return delivered.Load()
}
