package proximity

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/gisbi/engine/protocol"
)

// IssueToken returns user's current token, issuing one when there is none
// or it is due for rotation (the replaced one stays valid as the previous
// token until its own expiry).
func (s *State) IssueToken(user string, now time.Time) (protocol.ProximityToken, *protocol.Error) {
	if err := s.guard(user); err != nil {
		return protocol.ProximityToken{}, err
	}
	me, _ := s.side(user)
	if me.token == "" || !now.Before(me.tokenExp.Add(-s.cfg.RotateBefore)) {
		s.rotate(me, now)
	}
	return protocol.ProximityToken{Token: me.token, ExpiresAt: protocol.FormatTime(me.tokenExp), ConnectionID: s.ConnectionID}, nil
}

// DueRotations returns the participants whose live token is within
// RotateBefore of its expiry, so the grain can Rotate them. An already
// expired token is not rotated: its owner is gone, and the next IssueToken
// (bootstrap or REST) gives it a fresh one.
func (s *State) DueRotations(now time.Time) []string {
	if s.closed {
		return nil
	}
	var out []string
	for i := range s.p {
		p := &s.p[i]
		if p.token != "" && now.Before(p.tokenExp) && !now.Before(p.tokenExp.Add(-s.cfg.RotateBefore)) {
			out = append(out, p.user)
		}
	}
	return out
}

// Rotate issues user a new token now and returns the proximity.token.rotate
// for its owner. The replaced token stays valid until its own expiry so scans
// in flight still verify.
func (s *State) Rotate(user string, now time.Time) []Event {
	if s.guard(user) != nil {
		return nil
	}
	me, _ := s.side(user)
	s.rotate(me, now)
	return []Event{{Type: protocol.TypeProximityRotate, To: []string{user},
		Payload: protocol.ProximityRotate{ConnectionID: s.ConnectionID, Token: me.token, ExpiresAt: protocol.FormatTime(me.tokenExp)}}}
}

func (s *State) rotate(p *participant, now time.Time) {
	if p.token != "" && now.Before(p.tokenExp) {
		p.prev, p.prevExp = p.token, p.tokenExp
	} else {
		p.prev, p.prevExp = "", time.Time{}
	}
	p.token, p.tokenExp = s.newToken(now), now.Add(s.cfg.TokenTTL)
}

// newToken draws a token unique among the live tokens of this connection
// (a partner must never be able to pass its own token off as the other's).
// A generator that keeps colliding or returns malformed tokens is replaced
// by crypto/rand after a few tries rather than looping forever.
func (s *State) newToken(now time.Time) string {
	for i := 0; ; i++ {
		var t string
		if s.gen != nil && i < 8 {
			t = s.gen()
		} else {
			t = randomToken()
		}
		if wellFormed(t) && !s.live(t, now) {
			return t
		}
	}
}

func (s *State) live(t string, now time.Time) bool {
	for i := range s.p {
		p := &s.p[i]
		if (t == p.token && now.Before(p.tokenExp)) || (t == p.prev && now.Before(p.prevExp)) {
			return true
		}
	}
	return false
}

func wellFormed(t string) bool {
	if len(t) != 8 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func randomToken() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// validFor reports whether t is p's current or previous unexpired token.
// Expiry is exclusive: a token lives [issued, issued+TTL).
func (p *participant) validFor(t string, now time.Time) bool {
	if t == "" {
		return false
	}
	return (t == p.token && now.Before(p.tokenExp)) || (t == p.prev && now.Before(p.prevExp))
}
