package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

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
		ps = append(ps, chatPair{from: benchSocket(b, srv, x, "/ws"), to: y.ID, rx: benchSocket(b, srv, y, "/ws")})
	}
	before := writerStats(srv)
	delivered := runChat(b, ps, func(f []byte) (string, bool) {
		if !bytes.HasPrefix(f, []byte(`{"type":"chat.message.created",`)) {
			return "", false
		}
		return field(f, `"content":"`), true
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
		ps = append(ps, chatPair{from: benchSocket(b, srv, x, "/ws"), to: y.ID, rx: benchSocket(b, srv, y, "/socket")})
	}
	before := writerStats(srv)
	delivered := runChat(b, ps, func(f []byte) (string, bool) {
		if !bytes.HasPrefix(f, []byte(`{"event":"messages-received",`)) {
			return "", false
		}
		return field(f, `"content":"`), true
	})
	reportWriter(b, before, writerStats(srv), delivered)
}

// benchSocket replaces the set-up's socket of m with one the benchmark
// reads itself. servertest's sockets decode every frame they receive into a
// Frame, and the benchmark's clients share the server's two cores: that
// decoding took an eighth of the run's CPU. The benchmark only reads a
// frame's type, request id and content, which the server writes in a fixed
// envelope (protocol.EncodeRawFrame, EncodeLegacyRawFrame), so it finds
// them with byte comparisons. The new socket is in session (/ws) or
// attached to its user (/socket) when benchSocket returns.
func benchSocket(b *testing.B, srv *servertest.Server, m member, path string) *websocket.Conn {
	b.Helper()
	m.ws.Close() // its user's frames now reach only the new socket
	h := http.Header{}
	h.Set("Authorization", "Bearer "+m.AccessToken)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+path, h)
	if err != nil {
		b.Fatalf("dial %s as %s: %v", path, m.ID, err)
	}
	b.Cleanup(func() { _ = c.Close() })
	var hello, until string
	if path == "/ws" {
		hello, until = `{"type":"session.start","payload":{},"requestId":"start-1"}`, `{"type":"session.bootstrap",`
	} else {
		// An unknown event is answered validation-failed once the socket
		// is attached (servertest's Ready).
		hello, until = `{"event":"bench-ready-probe","data":null}`, `{"event":"validation-failed",`
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
		b.Fatalf("%s: %v", path, err)
	}
	for {
		f := readFrame(c)
		if f == nil {
			b.Fatalf("%s as %s: no %s", path, m.ID, until)
		}
		if bytes.HasPrefix(f, []byte(until)) {
			return c
		}
	}
}

// readFrame is the next frame of c, nil once c fails or is idle for 30s.
func readFrame(c *websocket.Conn) []byte {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, f, err := c.ReadMessage()
	if err != nil {
		return nil
	}
	return f
}

// field is the string value after key (which ends with its opening quote)
// in f, up to the next quote: only for values with nothing to escape.
func field(f []byte, key string) string {
	i := bytes.Index(f, []byte(key))
	if i < 0 {
		return ""
	}
	v := f[i+len(key):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return string(v[:j])
	}
	return ""
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
	from, rx *websocket.Conn
	to       string
}

// benchRequestID marks the benchmark's messages, so that their acks are
// told from every other frame by the envelope's last field.
const benchRequestID = "bench-msg"

// runChat streams b.N messages over the pairs, window in flight per
// sender, and reports throughput and send→deliver latency; received
// reads a message's content (its send time) from a recipient's frame. It
// returns how many messages were delivered.
func runChat(b *testing.B, ps []chatPair, received func([]byte) (string, bool)) int64 {
	_, window := chatShape()
	var mu sync.Mutex
	var lats []time.Duration
	var delivered, refused atomic.Int64
	per := b.N/len(ps) + 1
	ackSuffix := []byte(`,"requestId":"` + benchRequestID + `"}`)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(2)
		go func(p chatPair) { // receiver: measure send→deliver
			defer wg.Done()
			local := make([]time.Duration, 0, per)
			for n := 0; n < per; {
				f := readFrame(p.rx)
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
					f := readFrame(p.from)
					if f == nil {
						break
					}
					if !bytes.HasSuffix(f, ackSuffix) {
						continue
					}
					// A refused message frees its slot too, so the
					// benchmark reports instead of hanging.
					if bytes.HasPrefix(f, []byte(`{"type":"error",`)) {
						refused.Add(1)
					} else if !bytes.HasPrefix(f, []byte(`{"type":"chat.message.created",`)) {
						continue
					}
					acks++
					<-sem
				}
				close(done)
			}()
			prefix := []byte(`{"type":"chat.message.created","requestId":"` + benchRequestID + `","payload":{"recipientId":"` + p.to + `","content":"`)
			frame := make([]byte, 0, len(prefix)+32)
		send:
			for i := 0; i < per; i++ {
				select {
				case sem <- struct{}{}:
				case <-done: // the acks stopped: reported above
					break send
				}
				frame = append(strconv.AppendInt(append(frame[:0], prefix...), time.Now().UnixNano(), 10), `"}}`...)
				if err := p.from.WriteMessage(websocket.TextMessage, frame); err != nil {
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
