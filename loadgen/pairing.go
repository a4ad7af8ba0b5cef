package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// pair is two users who connect, walk together, run BLE proximity and chat.
// a sends the connection request, b accepts it.
type pair struct {
	idx   int
	a, b  *client
	walk  *walker
	reqCh chan string // the request id pushed to b
	accCh chan string // the connection id pushed to a on acceptance

	connID atomic.Pointer[string] // set once formed
	formed atomic.Bool            // chat may start
	hbOn   [2]atomic.Bool

	mu        sync.Mutex
	tokens    [2]bleToken // what each side advertises over "BLE"
	track     [2]sideTrack
	active    bool
	actAt     float64 // server-clock Unix seconds
	uncertain bool    // a scan's fate is unknown (no answer, socket dropped)
	activeErr string  // why it never became active
}

type bleToken struct {
	token string
	exp   time.Time // server clock
}

func newPair(idx int, a, b *client, w *walker) *pair {
	p := &pair{idx: idx, a: a, b: b, walk: w, reqCh: make(chan string, 1), accCh: make(chan string, 1)}
	p.track[0], p.track[1] = newSideTrack(), newSideTrack()
	return p
}

func (p *pair) side(i int) *client {
	if i == 0 {
		return p.a
	}
	return p.b
}

// conn is the connection id, "" until the pair is formed.
func (p *pair) conn() string {
	if id := p.connID.Load(); id != nil {
		return *id
	}
	return ""
}

func (p *pair) setUncertain() {
	p.mu.Lock()
	p.uncertain = true
	p.mu.Unlock()
}

// formPair runs the real request/accept flow: a requests, b learns the
// request id from its push and accepts, and both end up with the
// connection id (b from the answer, a from its push).
func (r *runner) formPair(ctx context.Context, p *pair) error {
	wait := r.cfg.RequestTimeout
	if _, err := p.a.call(ctx, typeRequestSend, userIDPayload{UserID: p.b.id()}, typeRequestSend); err != nil {
		return fmt.Errorf("pair %d: %w", p.idx, err)
	}
	var reqID string
	select {
	case reqID = <-p.reqCh:
	case <-time.After(wait):
		return fmt.Errorf("pair %d: the receiver got no connection.request.send push within %v", p.idx, wait)
	case <-ctx.Done():
		return ctx.Err()
	}
	f, err := p.b.call(ctx, typeRequestAccept, requestIDPayload{RequestID: reqID}, typeRequestAccept)
	if err != nil {
		return fmt.Errorf("pair %d: %w", p.idx, err)
	}
	var ap acceptPayload
	if err := json.Unmarshal(f.Payload, &ap); err != nil || ap.Connection.ConnectionID == "" {
		return fmt.Errorf("pair %d: the accept answer has no connection.connectionId", p.idx)
	}
	select {
	case id := <-p.accCh:
		if id != ap.Connection.ConnectionID {
			return fmt.Errorf("pair %d: the sender's push names connection %s, the answer %s", p.idx, id, ap.Connection.ConnectionID)
		}
	case <-time.After(wait):
		return fmt.Errorf("pair %d: the sender got no connection.request.accept push within %v", p.idx, wait)
	case <-ctx.Done():
		return ctx.Err()
	}
	p.connID.Store(&ap.Connection.ConnectionID)
	p.formed.Store(true)
	p.a.poke() // chat starts now
	p.b.poke()
	return nil
}

// onPairingEvent routes the pushes of the request/accept flow to the pair
// waiting for them.
func onPairingEvent(c *client, f *inFrame) {
	p := c.pair
	if p == nil {
		return
	}
	switch {
	case f.Type == typeRequestSend && c.side == 1:
		var rp requestPayload
		if json.Unmarshal(f.Payload, &rp) == nil && rp.Request.FromUserID == p.a.id() && rp.Request.RequestID != "" {
			offer(p.reqCh, rp.Request.RequestID)
		}
	case f.Type == typeRequestAccept && c.side == 0:
		var ap acceptPayload
		if json.Unmarshal(f.Payload, &ap) == nil && ap.Connection.ConnectionID != "" {
			offer(p.accCh, ap.Connection.ConnectionID)
		}
	}
}

func offer(ch chan string, v string) {
	select {
	case ch <- v:
	default:
	}
}

var errNotActive = errors.New("the start handshake did not make the run active")
