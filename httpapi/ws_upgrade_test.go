package httpapi

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// detachable reads fasthttp internals; this pins what it must conclude
// against the fasthttp in go.mod, so an upgrade that changes them fails
// here rather than silently keeping every socket's request context.
func TestDetachableFollowsFasthttpsReader(t *testing.T) {
	const upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	// A masked text frame "hi", sent before the 101 by a client that does not wait.
	const early = "\x81\x82\x00\x00\x00\x00hi"
	for _, tc := range []struct {
		name       string
		reduce     bool
		extra      string
		detachable bool
	}{
		{"bare connection", true, "", true},
		{"bytes behind the upgrade request", true, early, false},
		{"read buffer kept by the server", false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan bool, 1)
			up := &fws.FastHTTPUpgrader{CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
			srv := &fasthttp.Server{
				ReduceMemoryUsage: tc.reduce,
				KeepHijackedConns: true,
				Handler: func(ctx *fasthttp.RequestCtx) {
					_ = up.Upgrade(ctx, func(c *fws.Conn) {
						got <- detachable(c.NetConn())
						_ = c.NetConn().Close()
					})
				},
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(ln) }()
			defer func() { _ = srv.Shutdown() }()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(upgrade + tc.extra)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			select {
			case d := <-got:
				if d != tc.detachable {
					t.Fatalf("detachable = %v, want %v", d, tc.detachable)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("hijack handler not called")
			}
		})
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if detachable(a) {
		t.Fatal("a connection fasthttp did not hijack must not be detachable")
	}
}
