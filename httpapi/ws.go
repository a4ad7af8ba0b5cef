package httpapi

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/oklog/ulid/v2"
	"golang.org/x/time/rate"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/protocol"
)

// wsHandshake authenticates the upgrade: a bearer header, or ?access_token=
// for browsers that cannot set headers. It also enforces the Origin
// allow-list for browsers; native apps send no Origin and pass.
func (a *API) wsHandshake(c *fiber.Ctx) error {
	if !fws.FastHTTPIsWebSocketUpgrade(c.Context()) {
		return c.Status(fiber.StatusUpgradeRequired).JSON(protocol.RESTError{Detail: "websocket upgrade required", Code: protocol.CodeInvalidPayload})
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !a.originAllowed(origin) {
		return protocol.Errorf(protocol.CodeForbidden, protocol.DomainSession, "origin not allowed")
	}
	tok := bearer(c)
	if tok == "" {
		tok = c.Query("access_token")
	}
	if tok == "" {
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "missing access token")
	}
	claims, err := a.d.Issuer.VerifyAccess(tok)
	if err != nil {
		return err
	}
	c.Locals(claimsKey, claims)
	return c.Next()
}

func (a *API) originAllowed(origin string) bool {
	if a.d.Config.Dev {
		return true
	}
	for _, o := range a.d.Config.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (a *API) serveSocket(conn *fws.Conn, claims *auth.Claims, dialect string) {
	cfg := a.d.Config
	t := newTransport(conn, cfg.WSSendQueue)
	id := ulid.Make().String()
	if !a.Sockets.add(id, t) {
		// Shutting down: refuse politely so the client reconnects elsewhere.
		t.Close(protocol.CloseGoingAway, "server shutting down")
		t.drainUntilClosed()
		t.shutdown()
		return
	}
	defer a.Sockets.remove(id)
	a.d.Metrics.SocketsOpen.Inc()
	defer a.d.Metrics.SocketsOpen.Dec()

	conn.SetReadLimit(int64(cfg.MaxFrameBytes))
	props := session.Props(a.d.Sessions, session.Params{
		SessionID: id, UserID: claims.UserID, Dialect: dialect, TokenExp: claims.ExpiresAt, Transport: t,
	})
	sys := a.d.Node.System
	pid := sys.Root.Spawn(props)
	defer sys.Root.Stop(pid)

	pingEvery := cfg.WSPingInterval
	deadline := func() { _ = conn.SetReadDeadline(time.Now().Add(pingEvery*2 + 10*time.Second)) }
	deadline()
	conn.SetPongHandler(func(string) error { deadline(); return nil })
	var pinger atomic.Pointer[time.Timer]
	pinger.Store(time.AfterFunc(pingEvery, func() {
		if t.ping() {
			pinger.Load().Reset(pingEvery)
		}
	}))
	defer func() { pinger.Load().Stop() }()

	limiter := rate.NewLimiter(rate.Limit(cfg.WSRate), cfg.WSBurst)
	strikes := 0
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			// The library already sent close 1009 to the client.
			if errors.Is(err, fws.ErrReadLimit) {
				a.d.Metrics.Disconnects.WithLabelValues("1009").Inc()
				a.d.Metrics.Errors.WithLabelValues(string(protocol.CodePayloadTooLarge)).Inc()
			}
			break
		}
		deadline()
		// The session actor decodes: this goroutine lives as long as the
		// socket, and decoding here would grow its stack for good.
		cmd := &session.Command{Raw: data, Received: time.Now()}
		if !limiter.Allow() {
			cmd.Err = protocol.Errorf(protocol.CodeRateLimited, protocol.DomainSession, "too many frames, slow down")
			strikes++
			// A client that keeps flooding after being told is closed:
			// answering each frame would cost more than serving it.
			if strikes > 4*cfg.WSBurst {
				a.d.Metrics.Disconnects.WithLabelValues("4029").Inc()
				t.Close(protocol.CloseAbuse, "rate limit exceeded")
				t.drainUntilClosed()
				break
			}
		} else {
			strikes = 0
		}
		sys.Root.Send(pid, cmd)
	}
	t.shutdown()
}

// transport is the session's view of a socket: a bounded queue drained by a
// writer goroutine that only runs while there is something to write. Every
// write (frames, pings, the close frame) happens on that goroutine, and the
// handler waits for it before returning, because the library recycles the
// connection object as soon as the handler returns.
type transport struct {
	conn *fws.Conn
	max  int

	mu          sync.Mutex
	queue       [][]byte
	writing     bool
	pingDue     bool
	closing     bool
	closed      bool
	closeCode   int
	closeReason string
	done        chan struct{} // closed once the close frame is written
	writer      sync.WaitGroup
	stopped     atomic.Bool // set by shutdown; the writer checks it between frames
}

func newTransport(conn *fws.Conn, max int) *transport {
	return &transport{conn: conn, max: max, done: make(chan struct{})}
}

// startWriter runs the writer if it is not running; t.mu must be held.
func (t *transport) startWriter() {
	if !t.writing {
		t.writing = true
		t.writer.Add(1)
		go t.flush()
	}
}

// Send implements session.Transport.
func (t *transport) Send(_ string, frame []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.closed {
		return true // dropped: the socket is going away anyway
	}
	if len(t.queue) >= t.max {
		return false
	}
	t.queue = append(t.queue, frame)
	t.startWriter()
	return true
}

// Close implements session.Transport: queued frames go first, then the close frame.
func (t *transport) Close(code int, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.closed {
		return
	}
	t.closing, t.closeCode, t.closeReason = true, code, reason
	t.startWriter()
}

// ping asks the writer for a ping; it reports false once the socket is closing.
func (t *transport) ping() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.closed {
		return false
	}
	t.pingDue = true
	t.startWriter()
	return true
}

const writeWait = 10 * time.Second

func (t *transport) flush() {
	defer t.writer.Done()
	for {
		t.mu.Lock()
		if t.closed {
			t.writing = false
			t.mu.Unlock()
			return
		}
		batch, ping := t.queue, t.pingDue
		t.queue, t.pingDue = nil, false
		if len(batch) == 0 && !ping {
			if t.closing {
				code, reason := t.closeCode, t.closeReason
				t.closed = true
				t.mu.Unlock()
				_ = t.conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
				// Let the reader see the client's close reply, or give up shortly.
				_ = t.conn.NetConn().SetReadDeadline(time.Now().Add(2 * time.Second))
				close(t.done)
				t.mu.Lock()
			}
			t.writing = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		if ping {
			if err := t.conn.WriteControl(fws.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				t.fail()
				return
			}
		}
		for _, f := range batch {
			if t.stopped.Load() {
				t.fail()
				return
			}
			_ = t.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := t.conn.WriteMessage(fws.TextMessage, f); err != nil {
				t.fail()
				return
			}
		}
	}
}

// fail ends a writer whose socket broke, and unblocks the reader so the
// handler tears the socket down.
func (t *transport) fail() {
	t.mu.Lock()
	t.closed, t.queue, t.writing = true, nil, false
	t.mu.Unlock()
	_ = t.conn.NetConn().SetReadDeadline(time.Now())
}

// drainUntilClosed waits for the close frame to be written and for the
// client's reply (or the read deadline) before the handler returns.
func (t *transport) drainUntilClosed() {
	select {
	case <-t.done:
	case <-time.After(3 * time.Second):
	}
	for {
		if _, _, err := t.conn.ReadMessage(); err != nil {
			return
		}
	}
}

// shutdown stops further writes once the reader has ended and waits for the
// writer, so nothing touches the connection after the handler returns.
func (t *transport) shutdown() {
	t.stopped.Store(true)
	t.mu.Lock()
	t.closing, t.closed = true, true
	t.queue = nil
	t.mu.Unlock()
	// A writer blocked on a dead peer gives up now instead of at its deadline.
	_ = t.conn.NetConn().SetWriteDeadline(time.Now())
	t.writer.Wait()
}

// Registry tracks live sockets so shutdown can close them all with 1001.
type Registry struct {
	mu       sync.Mutex
	sockets  map[string]*transport
	stopping bool
	wg       sync.WaitGroup
}

func newRegistry() *Registry { return &Registry{sockets: map[string]*transport{}} }

func (r *Registry) add(id string, t *transport) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return false
	}
	r.sockets[id] = t
	r.wg.Add(1)
	return true
}

func (r *Registry) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sockets[id]; ok {
		delete(r.sockets, id)
		r.wg.Done()
	}
}

// Len is the number of open sockets.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sockets)
}

// CloseAll refuses new sockets, closes the open ones with code and waits
// until their handlers have returned or timeout passes.
func (r *Registry) CloseAll(code int, reason string, timeout time.Duration) {
	r.mu.Lock()
	r.stopping = true
	for _, t := range r.sockets {
		t.Close(code, reason)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
