package loadgen

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// poke wakes the client's behaviour loop, e.g. when heartbeats switch on.
func (c *client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// schedule is one periodic action of a phone.
type schedule struct {
	every time.Duration // real; 0 = off
	next  time.Time     // zero until first armed
	late  time.Duration // how late the last run fired
}

// due arms s on first use (first run after phase) and reports whether it
// should run now; after running, the next run is one interval after now, so
// a late tick never causes a burst.
func (s *schedule) due(now time.Time, phase time.Duration) bool {
	if s.every <= 0 {
		return false
	}
	if s.next.IsZero() {
		s.next = now.Add(phase)
	}
	if now.Before(s.next) {
		return false
	}
	s.late = now.Sub(s.next)
	s.next = now.Add(s.every)
	return true
}

// spread returns a phase in [0, d) that is evenly spread over the clients
// (the golden-ratio sequence), so thousands of phones connected within a
// second or two do not all tick in the same instant.
func (c *client) spread(d time.Duration) time.Duration {
	u := math.Mod(float64(c.idx)*0.6180339887498949, 1)
	return time.Duration(u * float64(d))
}

func earliest(now time.Time, ss ...*schedule) time.Duration {
	wait := time.Hour
	for _, s := range ss {
		if s.every > 0 && !s.next.IsZero() {
			wait = min(wait, s.next.Sub(now))
		}
	}
	return max(wait, 0)
}

// live is the phone's behaviour once connected: it walks (location
// updates), and once paired heartbeats and chats, until ctx ends.
func (c *client) live(ctx context.Context) {
	cfg := &c.r.cfg
	loc := schedule{every: cfg.RealDuration(cfg.LocationEvery)}
	locSpread := false
	hb := schedule{}
	chat := schedule{}
	if c.pair != nil && cfg.ChatRate > 0 {
		chat.every = time.Duration(float64(time.Second) * float64(2*cfg.Pairs) / cfg.ChatRate)
	}
	// Refresh between half and 70% of the token's life, counted from its
	// issue and spread so that users who logged in together do not all
	// refresh in the same second.
	refresh := schedule{}
	refreshPhase := time.Duration(0)
	if c.hasRefresh() {
		if life, ok := tokenLifetime(c.access(), cfg.ClockSpeed); ok && life < 10*time.Hour {
			c.credMu.Lock()
			issued := c.credsAt
			c.credMu.Unlock()
			refresh.every = life / 2
			refreshPhase = max(life/2+c.spread(life/5)-time.Since(issued), 0)
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		if c.connected.Load() {
			// The first location goes at once, as a phone's would; the
			// next one a spread fraction of the interval later.
			if loc.due(now, 0) {
				c.r.stats.Latency(typeLag, loc.late)
				c.sendLocation(now)
				if !locSpread {
					loc.next, locSpread = now.Add(c.spread(loc.every)+loc.every/2), true
				}
			}
			if c.pair != nil && c.pair.hbOn[c.side].Load() {
				hb.every = cfg.RealDuration(cfg.Heartbeat)
				if hb.due(now, hb.every) {
					c.r.stats.Latency(typeLag, hb.late)
					c.heartbeat()
					c.checkOwnToken(now)
				}
			}
			if c.pair != nil && c.pair.formed.Load() && chat.due(now, c.spread(chat.every)) {
				c.r.stats.Latency(typeLag, chat.late)
				c.sendChat(now)
			}
		}
		if refresh.due(now, refreshPhase) {
			go func() {
				ctx, cancel := context.WithTimeout(c.r.runCtx, cfg.RequestTimeout)
				defer cancel()
				_ = c.refreshToken(ctx, true)
			}()
		}
		timer.Reset(earliest(now, &loc, &hb, &chat, &refresh))
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

func (c *client) sendLocation(now time.Time) {
	lat, lng, heading := c.walk.at(c.r.sim(now))
	_ = c.request(typeLocationUpdate, locationPayload{
		Lat: lat + c.dLat, Lng: lng + c.dLng, AccuracyMeters: 5, Heading: heading, Speed: c.r.cfg.WalkSpeed,
	}, typeRadarNearby, nil)
}

// chatPrefix marks generator messages; the send time in it gives the
// delivery latency at the recipient (same machine, same clock).
const chatPrefix = "lg "

func (c *client) sendChat(now time.Time) {
	partner := c.pair.side(1 - c.side)
	_ = c.request(typeChatMessage, chatPayload{
		RecipientID: partner.id(),
		Content:     chatPrefix + strconv.FormatInt(now.UnixNano(), 10) + " hello from " + c.handle,
	}, typeChatMessage, nil)
}

func onChatEvent(c *client, f *inFrame) {
	var ev chatEvent
	if json.Unmarshal(f.Payload, &ev) != nil || ev.SenderID == c.id() || !strings.HasPrefix(ev.Content, chatPrefix) {
		return
	}
	ts, _, _ := strings.Cut(ev.Content[len(chatPrefix):], " ")
	if n, err := strconv.ParseInt(ts, 10, 64); err == nil {
		c.r.stats.Latency(typeDelivered, f.recvAt.Sub(time.Unix(0, n)))
		c.r.stats.Add(ctrChatDelivered, 1)
	}
}

func (c *client) hasRefresh() bool {
	c.credMu.Lock()
	defer c.credMu.Unlock()
	return c.creds.RefreshToken != ""
}

// refreshToken rotates the access token over REST and, when asked, hands
// it to the live socket (session.refresh) so the server does not close it.
func (c *client) refreshToken(ctx context.Context, toSocket bool) error {
	c.credMu.Lock()
	rt := c.creds.RefreshToken
	c.credMu.Unlock()
	if rt == "" {
		return nil
	}
	var ans Credentials // the login and refresh answers carry both tokens
	if err := c.r.rest(ctx, c.source(), "POST /auth/refresh", http.MethodPost, "/auth/refresh", "", map[string]string{"refreshToken": rt}, &ans); err != nil {
		return err
	}
	c.credMu.Lock()
	c.creds, c.credsAt = ans, time.Now()
	c.credMu.Unlock()
	c.r.stats.Add(ctrRefreshes, 1)
	if toSocket && c.connected.Load() {
		_, err := c.call(ctx, typeSessionRefresh, refreshPayload{AccessToken: ans.AccessToken}, typeSessionRefresh)
		return err
	}
	return nil
}

// onEvent handles a frame that answers no request of ours.
func (r *runner) onEvent(c *client, f *inFrame) {
	switch f.Type {
	case typeRequestSend, typeRequestAccept:
		onPairingEvent(c, f)
	case typeProxRotate, typeProxConfirmed, typeProxMilestone:
		onProximityEvent(c, f)
	case typeChatMessage:
		onChatEvent(c, f)
	case typeRadarNearby:
		r.stats.Add(ctrRadarPushes, 1) // a watcher's push: counted, its payload already dropped
	case typeError:
		r.stats.Error("error (event)", f.errorCode())
	}
}
