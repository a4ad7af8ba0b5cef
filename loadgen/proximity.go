package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// mid is the midpoint of a request and its answer: the best guess of when
// the server handled it, without its word for it.
func mid(sent, recv time.Time) time.Time { return sent.Add(recv.Sub(sent) / 2) }

// sim is server-clock seconds since the run's epoch at real time t; the
// walkers move by it.
func (r *runner) sim(t time.Time) float64 {
	return t.Sub(r.epoch).Seconds() * r.cfg.ClockSpeed
}

// handledAt is when the server handled a request, in server-clock Unix
// seconds: the answer's timestamp, which the server stamps right after the
// Proximity grain answered. Round trips under load are long against a fast
// clock (at ×60, 100 ms is 6 s), so the stamp is far more precise than the
// midpoint, which remains the fallback.
func (r *runner) handledAt(sent time.Time, f *inFrame) float64 {
	if t, err := time.Parse(time.RFC3339Nano, f.Timestamp); err == nil {
		return unixSeconds(t)
	}
	if t, ok := r.clock.at(mid(sent, f.recvAt)); ok {
		return unixSeconds(t)
	}
	return unixSeconds(mid(sent, f.recvAt)) // speed 1 and no stamp at all
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func rssi(idx int) int { return -60 - idx%15 }

// fetchToken asks the server for side's own BLE token and advertises it.
func (r *runner) fetchToken(ctx context.Context, p *pair, side int) error {
	c := p.side(side)
	var tp tokenPayload
	path := "/connections/" + p.conn() + "/proximity/token"
	if err := r.rest(ctx, c.source(), "POST /connections/:id/proximity/token", http.MethodPost, path, c.access(), nil, &tp); err != nil {
		return err
	}
	if tp.Token == "" {
		return fmt.Errorf("pair %d: token answer without a token", p.idx)
	}
	p.setToken(side, tp.Token, tp.ExpiresAt)
	return nil
}

// setToken advertises side's token, unless it already advertises a newer
// one: a rotation push and a REST answer can cross, and the phone keeps the
// token that lives longest.
func (p *pair) setToken(side int, token string, exp time.Time) {
	p.mu.Lock()
	if cur := p.tokens[side]; cur.token == "" || exp.After(cur.exp) {
		p.tokens[side] = bleToken{token: token, exp: exp}
	}
	p.mu.Unlock()
}

// partnerToken is what side's phone scans: the partner's advertised token.
func (p *pair) partnerToken(side int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokens[1-side].token
}

func (p *pair) ownToken(side int) bleToken {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokens[side]
}

// scanned records a scan by side that the server accepted at server time
// t; timeout is the server's heartbeat timeout in seconds.
func (p *pair) scanned(side int, t, timeout float64) {
	p.mu.Lock()
	p.track[side].scan(t, timeout)
	p.mu.Unlock()
}

// startProximity runs the two-sided start handshake: each side fetches its
// token, a scans b's token, then b scans a's; the second ack (and
// partner.confirmed) makes the run active. Each side heartbeats from its own
// start on, as a phone that keeps seeing the other would.
func (r *runner) startProximity(ctx context.Context, p *pair) error {
	for side := range 2 {
		if err := r.fetchToken(ctx, p, side); err != nil {
			return fmt.Errorf("pair %d: %w", p.idx, err)
		}
	}
	for side := range 2 {
		c := p.side(side)
		sent := time.Now()
		f, err := c.call(ctx, typeProxStart, scanPayload{ConnectionID: p.conn(), Token: p.partnerToken(side), RSSI: rssi(c.idx)}, typeProxStart)
		if err != nil {
			return fmt.Errorf("pair %d side %d: %w", p.idx, side, err)
		}
		var ack startAck
		if err := json.Unmarshal(f.Payload, &ack); err != nil {
			return fmt.Errorf("pair %d: start ack: %w", p.idx, err)
		}
		t := r.handledAt(sent, f)
		p.mu.Lock()
		p.track[side].scan(t, r.cfg.HeartbeatTimeout.Seconds())
		if ack.SessionActive && !p.active {
			p.active, p.actAt = true, t
		}
		p.mu.Unlock()
		p.hbOn[side].Store(true)
		c.poke()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active {
		return fmt.Errorf("pair %d: %w", p.idx, errNotActive)
	}
	return nil
}

// heartbeat sends one heartbeat with the partner's current token and, when
// the server accepts it, records the scan.
func (c *client) heartbeat() {
	p := c.pair
	sent := time.Now()
	err := c.request(typeProxHeartbeat, scanPayload{ConnectionID: p.conn(), Token: p.partnerToken(c.side), RSSI: rssi(c.idx)}, typeProxHeartbeat,
		func(f *inFrame) {
			if f.Type != typeError {
				p.scanned(c.side, c.r.handledAt(sent, f), c.r.cfg.HeartbeatTimeout.Seconds())
				return
			}
			if code := f.errorCode(); code == codeTimeout || code == codeDisconnected {
				p.setUncertain()
			}
		})
	if err != nil && c.connected.Load() {
		p.setUncertain()
	}
}

// checkOwnToken re-fetches side's token when it is about to expire and no
// rotation came, as a phone that stops advertising a dead token would.
func (c *client) checkOwnToken(now time.Time) {
	p := c.pair
	tok := p.ownToken(c.side)
	srv, ok := c.r.clock.at(now)
	if !ok || tok.token == "" || tok.exp.Sub(srv) > c.r.cfg.RotateBefore/2 {
		return
	}
	// One re-fetch per rotation period at most: against a slow server a
	// phone that keeps asking only adds to the queue.
	if now.Before(c.nextRefetch) || !c.refetching.CompareAndSwap(false, true) {
		return
	}
	c.nextRefetch = now.Add(c.r.cfg.RealDuration(c.r.cfg.RotateBefore))
	go func() {
		defer c.refetching.Store(false)
		ctx, cancel := context.WithTimeout(c.r.runCtx, c.r.cfg.RequestTimeout)
		defer cancel()
		if c.r.fetchToken(ctx, p, c.side) == nil {
			c.r.stats.Add(ctrTokenRefetches, 1)
		}
	}()
}

// onProximityEvent handles the proximity pushes: a rotation is advertised
// at once (the partner scans it from then on), the rest is counted.
func onProximityEvent(c *client, f *inFrame) {
	switch f.Type {
	case typeProxRotate:
		var tp tokenPayload
		if json.Unmarshal(f.Payload, &tp) == nil && c.pair != nil && tp.ConnectionID == c.pair.conn() && tp.Token != "" {
			c.pair.setToken(c.side, tp.Token, tp.ExpiresAt)
			c.r.stats.Add(ctrRotations, 1)
		}
	case typeProxConfirmed:
		c.r.stats.Add(ctrConfirmed, 1)
	case typeProxMilestone:
		c.r.stats.Add(ctrMilestones, 1)
	}
}

// endProximity stops the run from both sides with proximity.session.end;
// the first end pauses it, which is where the expectation stops counting.
func (r *runner) endProximity(ctx context.Context, p *pair) {
	for side := range 2 {
		c := p.side(side)
		sent := time.Now()
		f, err := c.call(ctx, typeProxEnd, connectionIDPayload{ConnectionID: p.conn()}, "")
		p.mu.Lock()
		if err != nil {
			p.uncertain = true
		} else {
			t := r.handledAt(sent, f)
			p.track[side].end = min(p.track[side].end, t)
		}
		p.mu.Unlock()
	}
}

// PairResult is one pair's together-time, in server-clock seconds.
type PairResult struct {
	Pair            int     `json:"pair"`
	ConnectionID    string  `json:"connectionId"`
	ExpectedSeconds float64 `json:"expectedSeconds"`
	ReportedSeconds int     `json:"reportedSeconds"`
	ErrorSeconds    float64 `json:"errorSeconds"` // reported − expected
	Uncertain       bool    `json:"uncertain,omitempty"`
	SummaryError    string  `json:"summaryError,omitempty"`
}

// pairResult reads the server's summary and sets it against the expectation.
func (r *runner) pairResult(ctx context.Context, p *pair) PairResult {
	p.mu.Lock()
	exp := expectedTogether(p.actAt, &p.track[0], &p.track[1], r.cfg.HeartbeatTimeout.Seconds(), r.cfg.ProximityGrace.Seconds())
	res := PairResult{Pair: p.idx, ConnectionID: p.conn(), ExpectedSeconds: exp, Uncertain: p.uncertain}
	p.mu.Unlock()
	var sp summaryPayload
	path := "/connections/" + p.conn() + "/proximity/summary"
	if err := r.rest(ctx, p.a.source(), "GET /connections/:id/proximity/summary", http.MethodGet, path, p.a.access(), nil, &sp); err != nil {
		res.SummaryError = err.Error()
		return res
	}
	res.ReportedSeconds = sp.AccumulatedSeconds
	res.ErrorSeconds = float64(sp.AccumulatedSeconds) - exp
	return res
}
