package httpapi

import (
	"encoding/json"
	"net"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/protocol"
)

// wsHandler runs one socket: a reader goroutine reads, a session actor
// handles, and a writer goroutine that exists only while frames are queued
// writes, so an idle socket costs one goroutine. Both dialects (`/ws`,
// the legacy `/socket`) are this same socket; only the session's codec
// differs.
//
// It drives fasthttp/websocket's upgrader itself rather than through
// gofiber/contrib/websocket, which copies every request header, query
// argument, cookie and local into maps that live as long as the socket
// (about 1 KB per session) for an API this handler never calls.
func (a *API) wsHandler(dialect string) fiber.Handler {
	up := &fws.FastHTTPUpgrader{
		// Each socket keeps its read buffer for life. Client frames are
		// mostly a few hundred bytes; a longer one costs a read or two
		// more, and reads past the buffer go straight into the message.
		ReadBufferSize:  512,
		WriteBufferSize: 1024,
		// A shared pool keeps write buffers off idle sockets.
		WriteBufferPool: &sync.Pool{},
		// wsHandshake already checked the Origin against the allow-list.
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
		// Must stay off: the transport writes uncompressed text frames to
		// the connection itself (ws_frame.go).
		EnableCompression: false,
		// A handshake the library refuses (no key, a version other than
		// 13) is the client's mistake: answer it with the JSON error body
		// every other refusal uses.
		Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
			writeUpgradeRefusal(ctx, status, reason)
		},
	}
	return func(c *fiber.Ctx) error {
		claims, _ := c.Locals(claimsKey).(*auth.Claims)
		if claims == nil {
			return fiber.ErrUpgradeRequired
		}
		// Only these two outlive the handshake, not the whole claims.
		userID, exp := claims.UserID, claims.ExpiresAt
		_ = up.Upgrade(c.Context(), func(conn *fws.Conn) {
			// fasthttp keeps the upgrade request's context (about 1.5 KB)
			// and its headers (2 KB with a bearer token) until this
			// handler returns. Returning at once hands them back to its
			// pools for the next request, and the socket lives on in its
			// own goroutine; the server keeps hijacked connections open
			// (KeepHijackedConns), so closing is ours.
			if detachable(conn.NetConn()) {
				go a.runSocket(conn, userID, exp, dialect)
				return
			}
			a.runSocket(conn, userID, exp, dialect)
		})
		// On err the upgrader has already answered (Error above); handing
		// err on would overwrite that answer with a 500.
		return nil
	}
}

// writeUpgradeRefusal answers a refused handshake in the REST error shape.
func writeUpgradeRefusal(ctx *fasthttp.RequestCtx, status int, reason error) {
	code := protocol.CodeInvalidPayload
	if status >= 500 {
		code = protocol.CodeInternal
	}
	body, _ := json.Marshal(protocol.RESTError{Detail: reason.Error(), Code: code})
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType(fiber.MIMEApplicationJSON)
	ctx.SetBody(body)
}

func (a *API) runSocket(conn *fws.Conn, userID string, tokenExp time.Time, dialect string) {
	defer func() { _ = conn.NetConn().Close() }()
	defer func() {
		if r := recover(); r != nil {
			a.d.Logger.Error("socket: panic", "user", userID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	a.serveSocket(conn, userID, tokenExp, dialect)
}

// detachable reports whether a hijacked connection may outlive its hijack
// handler: only when fasthttp hands it the bare connection to read from.
// A client that sent bytes behind its upgrade request (which RFC 6455
// forbids before the 101) gets fasthttp's pooled read buffer instead, and
// fasthttp puts that buffer back in its pool when the handler returns, so
// such a socket must be served before returning. fasthttp does not export
// which reader it chose; anything unexpected here means "not detachable",
// which is always safe.
func detachable(nc net.Conn) bool {
	u, ok := nc.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return false
	}
	raw := reflect.ValueOf(u.UnsafeConn())
	v := reflect.ValueOf(nc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct || raw.Kind() != reflect.Pointer {
		return false
	}
	r := v.Elem().FieldByName("r")
	if !r.IsValid() || r.Kind() != reflect.Interface || r.IsNil() {
		return false
	}
	r = r.Elem()
	return r.Kind() == reflect.Pointer && r.Type() == raw.Type() && r.Pointer() == raw.Pointer()
}
