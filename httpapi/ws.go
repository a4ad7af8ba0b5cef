package httpapi

import (
	"errors"
	"strings"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/oklog/ulid/v2"

	"github.com/gisbi/engine/actors/session"
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
	// A deleted, terminated or unknown account is refused before the
	// upgrade, so a client learns it from the status it already handles
	// for REST rather than from a socket that opens only to close.
	c.Locals(userIDKey, claims.UserID)
	if err := a.liveUser(c); err != nil {
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

// serveSocket reads the socket until it ends. This goroutine is most of
// what an idle socket costs (its stack), so it does as little as it can:
// the session actor decodes and serves, the transport's writer writes, and
// the registry's one ticker pings.
func (a *API) serveSocket(conn *fws.Conn, userID string, tokenExp time.Time, dialect string) {
	cfg := a.d.Config
	t := newTransport(conn, cfg.WSSendQueue, cfg.WSSendQueueBytes)
	if !a.Sockets.add(t) {
		// Shutting down: refuse politely so the client reconnects elsewhere.
		t.Close(protocol.CloseGoingAway, "server shutting down")
		t.drainUntilClosed()
		t.shutdown()
		return
	}
	defer a.Sockets.remove(t)
	a.d.Metrics.SocketsOpen.Inc()
	defer a.d.Metrics.SocketsOpen.Dec()

	conn.SetReadLimit(int64(cfg.MaxFrameBytes))
	sys := a.d.Node.System
	pid := session.Spawn(sys.Root, a.d.Sessions, session.Params{
		SessionID: ulid.Make().String(), UserID: userID, Dialect: dialect, TokenExp: tokenExp, Transport: t,
	})
	defer sys.Root.Stop(pid)
	t.bind(sys.Root, pid)

	// The registry pings every WSPingInterval; a client that neither sends
	// nor answers for two of them is gone.
	readWait := cfg.WSPingInterval*2 + 10*time.Second
	_ = t.extendRead(readWait)
	conn.SetPongHandler(func(string) error { return t.extendRead(readWait) })

	limit := newBucket(cfg.WSRate, cfg.WSBurst, time.Now())
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
		now := time.Now()
		_ = t.extendRead(readWait)
		if t.draining.Load() {
			// Shutting down: read on for the client's close reply, serve
			// nothing more (transport.forward).
			continue
		}
		// The session actor decodes: this goroutine lives as long as the
		// socket, and decoding here would grow its stack for good.
		cmd := &session.Command{Raw: data, Received: now}
		if !limit.allow(now) {
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
		t.forward(sys.Root, cmd)
	}
	t.shutdown()
}
