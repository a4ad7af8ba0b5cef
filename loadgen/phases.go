package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// The phases of a run, in order: login, connect, pair (with the BLE start
// handshake), then after the traffic phase the end of the BLE runs.

// loginAnswer is what the generator reads of a login's answer: both
// tokens, and the user's id, which a legacy socket has no bootstrap to
// learn from.
type loginAnswer struct {
	Credentials
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

// login gets every user an access token: dev login with bounded
// concurrency, paced per source address under the server's per-IP limit.
func (r *runner) login(ctx context.Context) {
	r.setPhase("login")
	if r.tokens {
		r.loggedIn.Store(int64(len(r.clients)))
		r.checkTokenLifetimes()
		return
	}
	forEach(ctx, len(r.clients), r.cfg.LoginConcurrency, func(i int) {
		c := r.clients[i]
		var ans loginAnswer
		var err error
		// Retries go to the next node, as a balancer would route them, so a
		// node that is down at the start only costs its users a retry.
		for attempt := 0; attempt < max(3, len(r.nodes)); attempt++ {
			c.useNode(failoverTarget(c.home, c.rank, len(r.nodes), attempt))
			err = r.rest(ctx, c.source(), "POST /auth/social-login", http.MethodPost, "/auth/social-login", "",
				map[string]string{"provider": "dev", "idToken": c.handle}, &ans)
			var re *restError
			if err == nil || ctx.Err() != nil || (errors.As(err, &re) && re.Status != http.StatusTooManyRequests && re.Status < 500) {
				break
			}
			time.Sleep(jitter(time.Second, i+attempt))
		}
		if err != nil || ans.AccessToken == "" {
			r.loginFailed.Add(1)
			return
		}
		c.credMu.Lock()
		c.creds, c.credsAt = ans.Credentials, time.Now()
		c.credMu.Unlock()
		if ans.User.ID != "" {
			c.userID.Store(&ans.User.ID)
		}
		r.loggedIn.Add(1)
	})
	r.loginFailed.Add(int64(len(r.clients)) - r.loggedIn.Load() - r.loginFailed.Load()) // not tried: set-up timed out
}

// checkTokenLifetimes warns when given tokens that cannot be refreshed
// expire before the run ends. Only at clock speed 1: a fast server clock is
// unknown until the first answer.
func (r *runner) checkTokenLifetimes() {
	if r.cfg.ClockSpeed != 1 {
		return
	}
	for _, c := range r.clients {
		if c.hasRefresh() {
			continue
		}
		_, exp, ok := jwtTimes(c.access())
		if !ok {
			continue
		}
		switch left := time.Until(exp); {
		case left <= 0:
			r.warn(fmt.Sprintf("the access token of user %d has expired", c.idx))
			return
		case left < r.cfg.SetupTimeout+r.cfg.Duration:
			r.warn(fmt.Sprintf("the access token of user %d expires in %v and has no refresh token: the server closes its socket with 4001 then", c.idx, left.Round(time.Second)))
			return
		}
	}
}

// connect dials every logged-in user and starts its session; each phone
// starts its behaviour as soon as it is bootstrapped.
func (r *runner) connect(ctx, live context.Context, wg *sync.WaitGroup) {
	r.setPhase("connect")
	forEach(ctx, len(r.clients), r.cfg.ConnectConcurrency, func(i int) {
		c := r.clients[i]
		if c.access() == "" {
			return
		}
		if err := r.connectOne(ctx, c); err != nil {
			r.connectFailed.Add(1)
			return
		}
		r.connected.Add(1)
		if r.legacy() {
			r.checkLegacyExpiry(c)
		}
		if r.cfg.LocationEvery > 0 || c.pair != nil || r.needsRefresh(c) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.live(live)
			}()
		}
	})
	r.connectFailed.Add(r.loggedIn.Load() - r.connected.Load() - r.connectFailed.Load())
}

// needsRefresh reports whether c's access token may run out (in server
// time) before the run ends, so its phone must refresh it.
func (r *runner) needsRefresh(c *client) bool {
	if !c.hasRefresh() || r.legacy() {
		// A legacy socket cannot be handed a new token: see
		// checkLegacyExpiry.
		return false
	}
	life, ok := tokenLifetime(c.access(), r.cfg.ClockSpeed)
	return ok && life*7/10 < r.cfg.Duration+time.Since(r.epoch)+time.Minute // see live: refreshes start by 70% of the life
}

// checkLegacyExpiry warns, once per run, when the access token of a
// legacy socket just connected runs out before the run can end. The legacy
// dialect has no session.refresh: the server closes such a socket with
// 4001 and the generator reconnects it with a refreshed token, as a phone
// would, but the close counts as a drop. The run's end is at least the
// settle wait and the traffic phase away, with a minute of slack for the
// connects still to come.
func (r *runner) checkLegacyExpiry(c *client) {
	life, ok := tokenLifetime(c.access(), r.cfg.ClockSpeed)
	if !ok {
		return
	}
	c.credMu.Lock()
	left := life - time.Since(c.credsAt)
	c.credMu.Unlock()
	if left >= r.cfg.Settle+r.cfg.Duration+time.Minute {
		return
	}
	// Once: connects run concurrently and r.warn is not safe for that.
	r.legacyExpiry.Do(func() {
		r.warn(fmt.Sprintf("the access token of user %d expires in %v (real time), before the run ends, and the legacy dialect has no session.refresh: "+
			"the server closes its socket with 4001 then, which counts as a drop; raise GISBI_ACCESS_TTL or shorten --duration", c.idx, left.Round(time.Second)))
	})
}

func (r *runner) connectOne(ctx context.Context, c *client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*r.cfg.RequestTimeout)
	defer cancel()
	// Home first; a node that does not answer at all (down, not started
	// yet) passes the user on to the next, as a balancer would.
	var err error
	for attempt := range len(r.nodes) {
		c.useNode(failoverTarget(c.home, c.rank, len(r.nodes), attempt))
		if err = c.dial(ctx); err == nil || ctx.Err() != nil || answered(err) {
			break
		}
	}
	var re *restError
	if errors.As(err, &re) && re.Status == http.StatusUnauthorized && c.hasRefresh() {
		// Logged in too long ago for a fast clock: refresh, as a phone would.
		if rerr := c.refreshToken(ctx, false); rerr == nil {
			err = c.dial(ctx)
		}
	}
	if err != nil {
		return err
	}
	if err := c.start(ctx); err != nil {
		return err
	}
	c.connected.Store(true)
	c.source().node.connected.Add(1)
	return nil
}

// answered reports whether a failed dial got an HTTP answer: the node is
// up and said no, so another node would say the same.
func answered(err error) bool {
	var re *restError
	return errors.As(err, &re)
}

// formPairs forms every pair whose two users are connected, then runs its
// BLE start handshake.
func (r *runner) formPairs(ctx context.Context) {
	if len(r.pairs) == 0 {
		return
	}
	r.setPhase("pair")
	forEach(ctx, len(r.pairs), r.cfg.ConnectConcurrency, func(i int) {
		p := r.pairs[i]
		if !p.a.connected.Load() || !p.b.connected.Load() {
			r.formFailed.Add(1)
			return
		}
		if err := r.formPair(ctx, p); err != nil {
			r.formFailed.Add(1)
			return
		}
		r.formed.Add(1)
		if !r.cfg.BLE {
			return
		}
		if err := r.startProximity(ctx, p); err != nil {
			p.mu.Lock()
			p.activeErr = err.Error()
			p.mu.Unlock()
			r.neverActive.Add(1)
			return
		}
		r.active.Add(1)
	})
	r.formFailed.Add(int64(len(r.pairs)) - r.formed.Load() - r.formFailed.Load())
}

// finishProximity ends every active run from both sides, then reads the
// server's summary of each.
func (r *runner) finishProximity() []PairResult {
	var act []*pair
	for _, p := range r.pairs {
		p.mu.Lock()
		if p.active {
			act = append(act, p)
		}
		p.mu.Unlock()
	}
	// Each call gives up after the request timeout (the sweeper), so a
	// phase takes at most a timeout per round of calls in flight.
	rounds := time.Duration(2 + (len(act)+r.cfg.ConnectConcurrency-1)/r.cfg.ConnectConcurrency)
	ctx, cancel := context.WithTimeout(context.Background(), rounds*2*r.cfg.RequestTimeout)
	defer cancel()
	forEach(ctx, len(act), r.cfg.ConnectConcurrency, func(i int) { r.endProximity(ctx, act[i]) })
	ctx, cancel = context.WithTimeout(context.Background(), rounds*r.cfg.RequestTimeout)
	defer cancel()
	// Let the last pushes land before reading; the runs are paused, so the
	// totals no longer move.
	time.Sleep(100 * time.Millisecond)
	results := make([]PairResult, len(act))
	for i, p := range act {
		results[i] = PairResult{Pair: p.idx, ConnectionID: p.conn(), SummaryError: "not read: the stop phase timed out"}
	}
	forEach(ctx, len(act), r.cfg.ConnectConcurrency, func(i int) { results[i] = r.pairResult(ctx, act[i]) })
	return results
}
