package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// countingConn counts the writes made on a connection: each is one
// write(2) while the socket buffer has room.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// NetConn lets the transport reach the TCP connection (tcpOf), as it
// does through TLS.
func (c countingConn) NetConn() net.Conn { return c.Conn }

type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

// socketPair upgrades a real loopback connection the way the server does
// (fasthttp, its upgrader, the hijacked connection kept) and returns both
// ends and the count of the server side's writes.
func socketPair(tb testing.TB) (srv, cli *fws.Conn, writes *atomic.Int64) {
	tb.Helper()
	return socketPairWith(tb, fws.DefaultDialer)
}

// socketPairWith is socketPair with the client dialling through d.
func socketPairWith(tb testing.TB, d *fws.Dialer) (srv, cli *fws.Conn, writes *atomic.Int64) {
	tb.Helper()
	writes = new(atomic.Int64)
	conns := make(chan *fws.Conn, 1)
	up := &fws.FastHTTPUpgrader{CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
	s := &fasthttp.Server{
		ReduceMemoryUsage: true,
		KeepHijackedConns: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			_ = up.Upgrade(ctx, func(c *fws.Conn) { conns <- c })
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = s.Serve(countingListener{ln, writes}) }()
	cli, _, err = d.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		tb.Fatal(err)
	}
	srv = <-conns
	writes.Store(0) // the handshake's response
	tb.Cleanup(func() {
		_ = cli.Close()
		_ = srv.NetConn().Close()
		_ = s.Shutdown()
	})
	return srv, cli, writes
}

// frame i of the ordering test: its index, then filler up to size bytes.
func testFrame(i, size int) []byte {
	b := []byte(strconv.Itoa(i) + ":")
	for len(b) < size {
		b = append(b, byte('a'+(i+len(b))%26))
	}
	return b[:max(size, len(b))]
}

func TestTransportWritesEveryFrameIntactAndInOrder(t *testing.T) {
	// Lengths at each edge of the header's length encodings (7-bit,
	// 16-bit, 64-bit), a frame larger than one write, and runs of small
	// frames between them that get batched.
	edges := []int{0, 1, 124, 125, 126, 127, 4096, 65535, 65536, 65537, maxWrite - 4, maxWrite + 1, 300 << 10}
	var sizes []int
	for _, e := range edges {
		for i := 0; i < 50; i++ {
			sizes = append(sizes, 20+i*7)
		}
		sizes = append(sizes, e, e)
	}
	srv, cli, writes := socketPair(t)
	tr := newTransport(srv, len(sizes)+1, 1<<30)

	got := make(chan error, 1)
	go func() {
		for i, n := range sizes {
			typ, data, err := cli.ReadMessage()
			if err != nil {
				got <- fmt.Errorf("frame %d: %w", i, err)
				return
			}
			if typ != fws.TextMessage || !bytes.Equal(data, testFrame(i, n)) {
				got <- fmt.Errorf("frame %d: type %d, %d bytes %.20q, want %d bytes %.20q", i, typ, len(data), data, n, testFrame(i, n))
				return
			}
		}
		got <- nil
	}()
	for i, n := range sizes {
		if !tr.Send("t", testFrame(i, n)) {
			t.Fatalf("frame %d refused", i)
		}
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("frames did not all arrive")
	}
	tr.shutdown()
	if w := writes.Load(); w >= int64(len(sizes)) {
		t.Errorf("%d writes for %d frames: not batched", w, len(sizes))
	}
}

func TestTransportPingsAndCloseComeAfterQueuedFrames(t *testing.T) {
	srv, cli, _ := socketPair(t)
	tr := newTransport(srv, 16, 1<<30)
	pings := make(chan struct{}, 1)
	cli.SetPingHandler(func(string) error { pings <- struct{}{}; return nil })
	r := newRegistry(time.Hour) // ticked by hand below
	if !r.add(tr) {
		t.Fatal("registry refused")
	}
	for i := 0; i < pingSlots; i++ {
		due, _ := r.tick(nil)
		for _, d := range due {
			d.ping()
		}
	}
	tr.Send("t", []byte("last"))
	tr.Close(4000, "bye")
	// Read on: the ping handler runs inside ReadMessage.
	_, data, err := cli.ReadMessage()
	if err != nil || string(data) != "last" {
		t.Fatalf("read %q, %v", data, err)
	}
	_, _, err = cli.ReadMessage()
	if ce, ok := err.(*fws.CloseError); !ok || ce.Code != 4000 || ce.Text != "bye" {
		t.Fatalf("after the frames: %v, want close 4000", err)
	}
	select {
	case <-pings:
	default:
		t.Fatal("a whole turn of the wheel sent no ping")
	}
	r.remove(tr)
	if r.Len() != 0 {
		t.Fatalf("registry holds %d sockets", r.Len())
	}
	tr.shutdown()
}

func TestRegistryPingsEachSocketOncePerTurn(t *testing.T) {
	r := newRegistry(time.Hour)
	var ts []*transport
	for i := 0; i < 40; i++ {
		tr := &transport{}
		r.mu.Lock()
		r.cur = i % pingSlots // sockets that joined at different times
		r.mu.Unlock()
		r.add(tr)
		ts = append(ts, tr)
	}
	for _, tr := range ts[:10] { // some leave, from anywhere in their slots
		r.remove(tr)
	}
	r.remove(ts[0]) // twice: ignored
	seen := map[*transport]int{}
	for i := 0; i < pingSlots; i++ {
		due, more := r.tick(nil)
		if !more {
			t.Fatal("ticker stopped with sockets left")
		}
		for _, tr := range due {
			seen[tr]++
		}
	}
	if len(seen) != 30 {
		t.Fatalf("%d sockets pinged, want 30", len(seen))
	}
	for _, tr := range ts[10:] {
		if seen[tr] != 1 {
			t.Fatalf("a socket was pinged %d times in a turn", seen[tr])
		}
	}
	for _, tr := range ts[10:] {
		r.remove(tr)
	}
	_, more := r.tick(nil)
	r.mu.Lock()
	ticking := r.ticking
	r.mu.Unlock()
	if more || ticking {
		t.Fatal("an empty registry keeps ticking")
	}
}

func TestTransportQueueIsBoundedInFramesAndBytes(t *testing.T) {
	tests := []struct {
		name   string
		queued []int // sizes already queued
		size   int
		want   bool
	}{
		{"empty queue takes a frame over the byte bound", nil, 5000, true},
		{"fits the bytes", []int{600}, 400, true},
		{"over the bytes", []int{600}, 401, false},
		{"over the frames", []int{1, 1, 1, 1}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A writer marked running and never started: the queue only fills.
			tr := &transport{max: 4, maxBytes: 1000, writing: true}
			for _, n := range tt.queued {
				if !tr.Send("t", make([]byte, n)) {
					t.Fatalf("set-up frame of %d bytes refused", n)
				}
			}
			if got := tr.Send("t", make([]byte, tt.size)); got != tt.want {
				t.Fatalf("Send(%d bytes) = %v, want %v", tt.size, got, tt.want)
			}
		})
	}
}

// A slow consumer's close is a cut: with the client reading nothing and
// the writer stuck on a full socket, the socket still ends at once (well
// inside the writer's own deadline), by a reset since the client has not
// taken what was sent, and the kernel held a capped buffer for it.
func TestTransportCutEndsASocketWhoseClientStoppedReading(t *testing.T) {
	// A client with a small receive buffer, so the server's fills soon.
	d := &fws.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		return nd.Dial(network, addr)
	}}
	srv, cli, _ := socketPairWith(t, d)
	tr := newTransport(srv, 64, 1<<30)
	if tr.tcp == nil {
		t.Fatal("the transport did not find the TCP connection")
	}
	ended := make(chan struct{})
	go func() { // the handler's reader
		defer close(ended)
		for {
			if _, _, err := srv.ReadMessage(); err != nil {
				break
			}
		}
		tr.shutdown()
		_ = srv.NetConn().Close()
	}()
	// Fill the queue and the kernel's buffer behind it: the writer is
	// then stuck in a write the client never makes room for.
	frame := bytes.Repeat([]byte("x"), 8<<10)
	held := 0
	for deadline := time.Now().Add(10 * time.Second); held < 64<<10; {
		if time.Now().After(deadline) {
			t.Fatalf("the kernel never filled up: it holds %d bytes", held)
		}
		if !tr.Send("t", frame) {
			time.Sleep(time.Millisecond)
		}
		held, _ = unsentBytes(tr.tcp)
	}
	for range 100 { // let it take all it will
		time.Sleep(time.Millisecond)
		n, _ := unsentBytes(tr.tcp)
		held = max(held, n)
	}
	if held > 256<<10 {
		t.Fatalf("the kernel holds %d bytes for the socket; want its buffer capped", held)
	}
	tr.Close(4008, "outbound queue full")
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatalf("the socket is still up 5 s after the cut (the writer's own deadline is %v)", writeWait)
	}
	// The client gets what reached it, then the reset.
	_ = cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil {
		_, _, err = cli.ReadMessage()
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the client read %v; want a reset", err)
	}
}

// BenchmarkSocketWrites compares one WriteMessage per frame (the library's
// way: one write(2) each) with the transport's batched writes, for 200-byte
// frames sent in bursts whose frames the client reads before the next
// burst (burst=all: as fast as the writer takes them). Reported: frames/s
// and writes (syscalls) per frame.
func BenchmarkSocketWrites(b *testing.B) {
	frame := bytes.Repeat([]byte("x"), 200)
	for _, burst := range []int{1, 8, 64, 0} {
		for _, way := range []string{"WriteMessage", "transport"} {
			name := fmt.Sprintf("%s/burst=%d", way, burst)
			if burst == 0 {
				name = way + "/burst=all"
			}
			b.Run(name, func(b *testing.B) {
				srv, cli, writes := socketPair(b)
				tr := newTransport(srv, 256, 1<<30)
				send := func() {
					if way == "WriteMessage" {
						if err := srv.WriteMessage(fws.TextMessage, frame); err != nil {
							b.Fatal(err)
						}
						return
					}
					for !tr.Send("t", frame) { // queue full: the writer is behind
						runtime.Gosched()
					}
				}
				read := make(chan struct{}, 1)
				go func() {
					for i := 1; i <= b.N; i++ {
						if _, _, err := cli.ReadMessage(); err != nil {
							b.Error(err)
							return
						}
						if (burst > 0 && i%burst == 0) || i == b.N {
							read <- struct{}{}
						}
					}
				}()
				b.ResetTimer()
				start := time.Now()
				for i := 1; i <= b.N; i++ {
					send()
					if burst > 0 && i%burst == 0 && i < b.N {
						<-read
					}
				}
				<-read
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
				b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/frame")
				tr.shutdown()
			})
		}
	}
}
