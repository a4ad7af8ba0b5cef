package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

var errNotConnected = errors.New("socket not connected")

// probeKey files a legacy socket's probe among its pending requests, so
// the sweeper times it out and a drop fails it as it does a request.
// requestIds are base 36 and never take this key.
const probeKey = "(probe)"

// pendingReq is a request waiting for its answer.
type pendingReq struct {
	typ   string
	final string // the answer type that completes it; "" = the first frame echoing the requestId
	sent  time.Time
	done  func(f *inFrame) // runs on the reader goroutine; nil = nobody waits
}

// client is one simulated phone: a user, its socket and what it is doing.
type client struct {
	r      *runner
	idx    int
	handle string
	home   int                    // home node, see servers.go
	rank   int                    // among the home node's users: picks sources and failover order
	src    atomic.Pointer[source] // the node and source of its REST calls and socket; moves on failover

	credMu  sync.Mutex
	creds   Credentials
	credsAt time.Time              // when creds were issued, in real time
	userID  atomic.Pointer[string] // from the login answer or the bootstrap; readers run on other goroutines

	wmu        sync.Mutex // guards ws and serialises writes
	ws         *websocket.Conn
	readerDone chan struct{}

	pmu  sync.Mutex
	pend map[string]*pendingReq
	seq  uint64

	connected atomic.Bool
	stopping  atomic.Bool // closing on purpose: a read error is not a drop
	gaveUp    atomic.Bool // reconnecting failed for good

	// Behaviour.
	pair        *pair // nil for users who only walk
	side        int   // 0 = the pair's sender, 1 = its receiver
	walk        *walker
	dLat, dLng  float64 // fixed offset from the walker, so pair members are close but apart
	wake        chan struct{}
	refetching  atomic.Bool
	nextRefetch time.Time // owned by the behaviour loop
}

// id is the user id, "" before the login answer or the first bootstrap
// named it (a legacy socket of a tokens-file user never learns it).
func (c *client) id() string {
	if p := c.userID.Load(); p != nil {
		return *p
	}
	return ""
}

func (c *client) access() string {
	c.credMu.Lock()
	defer c.credMu.Unlock()
	return c.creds.AccessToken
}

// source is where the user's REST calls and socket go now.
func (c *client) source() *source { return c.src.Load() }

// useNode points the user at node k, from the source its rank picks there.
func (c *client) useNode(k int) *node {
	n := c.r.nodes[k]
	c.src.Store(n.sources[c.rank%len(n.sources)])
	return n
}

// dial opens the socket of the run's dialect. The server authenticates at
// the upgrade.
func (c *client) dial(ctx context.Context) error {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.access())
	label := "GET " + c.r.wsPath + " (upgrade)"
	c.r.stats.Sent(label)
	start := time.Now()
	src := c.source()
	ws, res, err := c.r.dialer(src).DialContext(ctx, src.node.wsURL, h)
	if err != nil {
		code := codeTransport
		if res != nil {
			re := &restError{Status: res.StatusCode}
			if res.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
				var e struct {
					Code string `json:"code"`
				}
				if json.Unmarshal(b, &e) == nil {
					re.Code = e.Code
				}
			}
			code = restCode(re)
			err = fmt.Errorf("%w (%w)", err, re)
		}
		if ctx.Err() == nil {
			c.r.stats.Answered(label, time.Since(start), code)
		}
		return fmt.Errorf("dial %s: %w", c.handle, err)
	}
	c.r.stats.Received(label)
	c.r.stats.Answered(label, time.Since(start), "")
	done := make(chan struct{})
	c.wmu.Lock()
	c.ws, c.readerDone = ws, done
	c.wmu.Unlock()
	go c.readLoop(ws, done)
	return nil
}

// request sends a frame with a fresh requestId; done (if any) gets the
// answer, an error frame, or a synthetic error (timeout, disconnected).
func (c *client) request(typ string, payload any, final string, done func(*inFrame)) error {
	c.pmu.Lock()
	c.seq++
	id := strconv.FormatUint(c.seq, 36)
	if c.pend == nil {
		c.pend = map[string]*pendingReq{}
	}
	c.pend[id] = &pendingReq{typ: typ, final: final, sent: time.Now(), done: done}
	c.pmu.Unlock()
	b, err := json.Marshal(outFrame{Type: typ, Payload: payload, RequestID: id})
	if err == nil {
		err = c.write(b)
	}
	if err != nil {
		c.pmu.Lock()
		delete(c.pend, id)
		c.pmu.Unlock()
		return fmt.Errorf("%s: %w", typ, err)
	}
	c.r.stats.Sent(typ)
	return nil
}

// call sends a request and waits for its answer.
func (c *client) call(ctx context.Context, typ string, payload any, final string) (*inFrame, error) {
	ch := make(chan *inFrame, 1)
	if err := c.request(typ, payload, final, func(f *inFrame) { ch <- f }); err != nil {
		return nil, err
	}
	select {
	case f := <-ch:
		if f.Type == typeError {
			return f, fmt.Errorf("%s: %s", typ, f.errorCode())
		}
		return f, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", typ, ctx.Err())
	}
}

func (c *client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws == nil {
		return errNotConnected
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// frameBufs holds read buffers. A radar answer is ~16 KB: reading each into
// a fresh slice (ReadMessage) would churn the heap at thousands of answers
// a second, and an idle socket should not keep a buffer of its own, so a
// reader borrows one per frame.
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf: a buffer grown by a rare huge frame is dropped, not kept.
const maxPooledBuf = 256 << 10

func (c *client) readLoop(ws *websocket.Conn, done chan struct{}) {
	defer close(done)
	for {
		_, rd, err := ws.NextReader()
		if err == nil {
			buf := frameBufs.Get().(*bytes.Buffer)
			buf.Reset()
			if _, err = buf.ReadFrom(rd); err == nil {
				c.handleFrame(buf.Bytes())
			}
			if buf.Cap() <= maxPooledBuf {
				frameBufs.Put(buf)
			}
		}
		if err != nil {
			c.dropped(ws, err)
			return
		}
	}
}

// handleFrame reads one frame from a borrowed buffer: nothing it hands on
// may point into data.
func (c *client) handleFrame(data []byte) {
	f := &inFrame{recvAt: time.Now()}
	if c.r.legacy() {
		c.readLegacy(data, f) // decodeLegacyFrame copies the data it keeps
		return
	}
	if decodeFrame(data, f) != nil {
		c.r.stats.Received("(invalid JSON)")
		c.r.stats.Error("(invalid JSON)", "invalid_json_from_server")
		return
	}
	if f.Type == typeRadarNearby {
		// Nobody reads a radar payload, only its count (f.nearby): not
		// copying 16 KB per answer is the point of the skim.
		f.Payload = nil
	} else if f.Payload != nil {
		f.Payload = bytes.Clone(f.Payload)
	}
	c.r.stats.Received(f.Type)
	if f.RequestID != "" {
		// Events carry no requestId: this answers a request of ours,
		// possibly one already given up as a timeout.
		if !c.answer(f) {
			c.r.stats.Add(ctrLateAnswers, 1)
		}
		return
	}
	c.r.onEvent(c, f)
}

// readLegacy handles one frame of a legacy socket, counted by event name.
// Nothing the generator sends on /socket succeeds silently: the probe's
// answer is its only expected frame, and any other error event is an error.
func (c *client) readLegacy(data []byte, f *inFrame) {
	if decodeLegacyFrame(data, f) != nil {
		c.r.stats.Received("(invalid legacy frame)")
		c.r.stats.Error("(invalid legacy frame)", "invalid_legacy_frame_from_server")
		return
	}
	c.r.stats.Received(f.Type)
	if !legacyErrorEvents[f.Type] {
		return // user-online and the like: counted, nothing to do in an idle run
	}
	switch {
	case c.answerProbe(f):
	case f.Type == eventNotFound:
		// The probe's answer after the probe was given up as a timeout:
		// nothing else the generator sends is answered not-found.
		c.r.stats.Add(ctrLateAnswers, 1)
	default:
		c.r.stats.Error("error (event)", f.Type)
	}
}

// probe makes a freshly dialled legacy socket prove it is attached: it
// sends probeFrame and waits for its answer, not-found, like call waits
// for a /ws answer. The sweeper gives up on it after the request timeout.
func (c *client) probe(ctx context.Context) error {
	ch := make(chan *inFrame, 1)
	c.pmu.Lock()
	if c.pend == nil {
		c.pend = map[string]*pendingReq{}
	}
	c.pend[probeKey] = &pendingReq{typ: labelProbe, sent: time.Now(), done: func(f *inFrame) { ch <- f }}
	c.pmu.Unlock()
	if err := c.write(probeFrame); err != nil {
		c.pmu.Lock()
		delete(c.pend, probeKey)
		c.pmu.Unlock()
		return fmt.Errorf("%s: %w", labelProbe, err)
	}
	c.r.stats.Sent(labelProbe)
	select {
	case f := <-ch:
		switch f.Type {
		case eventNotFound:
			return nil
		case typeError: // timeout or disconnected, from the generator
			return fmt.Errorf("%s: %s", labelProbe, f.errorCode())
		}
		return fmt.Errorf("%s: answered %s", labelProbe, f.Type)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", labelProbe, ctx.Err())
	}
}

// answerProbe completes the pending probe with f, an error event, and
// reports false when no probe is pending. Legacy frames carry no
// requestId, but a socket has one probe at most and the probe is the only
// frame it sends, so the first error event answers it: not-found as
// expected, anything else (verification-required for a user with no name
// yet) as that error.
func (c *client) answerProbe(f *inFrame) bool {
	c.pmu.Lock()
	p := c.pend[probeKey]
	delete(c.pend, probeKey)
	c.pmu.Unlock()
	if p == nil {
		return false
	}
	code := ""
	if f.Type != eventNotFound {
		code = f.Type
	}
	c.r.stats.Answered(p.typ, f.recvAt.Sub(p.sent), code)
	if p.done != nil {
		p.done(f)
	}
	return true
}

// start makes a dialled socket a live session: on /ws session.start
// answered by session.bootstrap, which names the user; on /socket, which
// has no start, the probe.
func (c *client) start(ctx context.Context) error {
	if c.r.legacy() {
		return c.probe(ctx)
	}
	f, err := c.call(ctx, typeSessionStart, struct{}{}, typeSessionBootstrap)
	if err != nil {
		return err
	}
	var b bootstrapPayload
	if err := json.Unmarshal(f.Payload, &b); err != nil || b.CurrentUser.ID == "" {
		return fmt.Errorf("bootstrap of %s has no currentUser.id", c.handle)
	}
	c.userID.Store(&b.CurrentUser.ID)
	return nil
}

// answer completes the pending request f answers. It reports false when
// no request is pending under f's requestId (it timed out or was failed).
func (c *client) answer(f *inFrame) bool {
	c.pmu.Lock()
	p := c.pend[f.RequestID]
	if p == nil {
		c.pmu.Unlock()
		return false
	}
	final := f.Type == typeError || p.final == "" || f.Type == p.final
	if final {
		delete(c.pend, f.RequestID)
	}
	c.pmu.Unlock()
	if !final {
		return true
	}
	code := ""
	if f.Type == typeError {
		code = f.errorCode()
	}
	c.r.stats.Answered(p.typ, f.recvAt.Sub(p.sent), code)
	c.r.clock.observe(p.sent, f.recvAt, f.Timestamp)
	if c.r.cfg.ClockSpeed == 1 {
		if ts, err := time.Parse(time.RFC3339Nano, f.Timestamp); err == nil {
			c.r.stats.ReturnLeg(p.typ, f.recvAt.Sub(ts))
		}
	}
	if p.done != nil {
		p.done(f)
	}
	return true
}

// expire fails the requests older than the timeout.
func (c *client) expire(now time.Time, timeout time.Duration) {
	var late []*pendingReq
	c.pmu.Lock()
	for id, p := range c.pend {
		if now.Sub(p.sent) > timeout {
			late = append(late, p)
			delete(c.pend, id)
		}
	}
	c.pmu.Unlock()
	for _, p := range late {
		c.r.stats.Answered(p.typ, 0, codeTimeout)
		if p.done != nil {
			p.done(syntheticError(codeTimeout))
		}
	}
}

// failPending answers every pending request with code.
func (c *client) failPending(code string, count bool) {
	c.pmu.Lock()
	pend := c.pend
	c.pend = nil
	c.pmu.Unlock()
	for _, p := range pend {
		if count {
			c.r.stats.Answered(p.typ, 0, code)
		}
		if p.done != nil {
			p.done(syntheticError(code))
		}
	}
}

// dropped handles the end of a socket's reader: nothing when we closed it,
// else the drop is counted and the phone reconnects, as a phone would.
func (c *client) dropped(ws *websocket.Conn, err error) {
	at := time.Now()
	c.wmu.Lock()
	if c.ws == ws {
		c.ws = nil
	}
	c.wmu.Unlock()
	_ = ws.Close()
	c.connected.Store(false)
	if c.stopping.Load() {
		c.failPending(codeDisconnected, false)
		return
	}
	code := "read_error"
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		code = strconv.Itoa(ce.Code)
	}
	c.r.stats.Closed(code)
	c.source().node.dropped.Add(1)
	c.failPending(codeDisconnected, true)
	if c.pair != nil {
		c.pair.setUncertain()
	}
	switch code {
	case "4003", "4009":
		// Deleted account, or a newer socket of the same user took over:
		// a phone would not reconnect this one.
		c.gaveUp.Store(true)
		return
	}
	go c.reconnect(at)
}

// reconnect dials again with backoff until it works, the run stops, or a
// few attempts failed; a refused token is refreshed first. Attempts go to
// the home node first, then to the others (failoverTarget), so a dead
// node's users come back on the live ones. The time from the drop to the
// re-established session is the failover time the summary reports.
func (c *client) reconnect(droppedAt time.Time) {
	backoff := 100 * time.Millisecond
	for attempt := 0; attempt < max(10, len(c.r.nodes)); attempt++ {
		if !c.r.sleep(jitter(backoff, c.idx+attempt)) {
			return
		}
		backoff = min(2*backoff, 5*time.Second)
		n := c.useNode(failoverTarget(c.home, c.rank, len(c.r.nodes), attempt))
		ctx, cancel := context.WithTimeout(c.r.runCtx, c.r.cfg.RequestTimeout)
		err := c.dial(ctx)
		var re *restError
		if errors.As(err, &re) && re.Status == http.StatusUnauthorized {
			_ = c.refreshToken(ctx, false)
		}
		if err == nil {
			err = c.start(ctx)
			if err == nil {
				cancel()
				c.connected.Store(true)
				c.r.stats.Add(ctrReconnects, 1)
				c.r.stats.Latency(labelReconnect, time.Since(droppedAt))
				n.reconnects.Add(1)
				return
			}
		}
		cancel()
		if c.r.runCtx.Err() != nil {
			return
		}
		n.reconnectFailures.Add(1)
	}
	c.gaveUp.Store(true)
}

// close says goodbye with 1000 and waits briefly for the server's reply.
func (c *client) close() {
	c.stopping.Store(true)
	c.wmu.Lock()
	ws, done := c.ws, c.readerDone
	c.wmu.Unlock()
	if ws == nil {
		return
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "load test done"), time.Now().Add(2*time.Second))
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	_ = ws.Close()
}

// jitter spreads d by ±25%, deterministically per seed, so reconnecting
// phones do not come back in lockstep.
func jitter(d time.Duration, seed int) time.Duration {
	f := 0.75 + 0.5*float64((seed*7919)%1000)/1000
	return time.Duration(float64(d) * f)
}
