package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/gofiber/fiber/v2/middleware/pprof"
	"github.com/oklog/ulid/v2"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/apiref"
	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/console"
	"github.com/gisbi/engine/demo"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/moderation"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Deps are what the HTTP layer adapts to the outside world.
type Deps struct {
	Config   *config.Config
	Store    storage.Store
	Node     *cluster.Node
	Clock    clock.Clock
	Issuer   *auth.Issuer
	Google   *auth.IDTokenVerifier // nil: provider off
	Apple    *auth.IDTokenVerifier // nil: provider off
	Firebase *auth.FirebaseMinter  // nil: firebaseToken is null
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Sessions *session.Deps
	// Pairs lets the chat routes read conversations as the socket does.
	Pairs pair.Deps
	// Rewards serves the operator's brands and campaigns.
	Rewards rewards.Admin
	// Moderation serves the report queue, user search and the audit log.
	Moderation *moderation.Service
}

// API is the fiber app plus the live sockets it must close on shutdown.
type API struct {
	App     *fiber.App
	Sockets *Registry
	d       Deps
	ready   atomic.Bool
	debug   bool // the logger takes debug records: one line per request
	guesses *guesses
	// adminFails locks out addresses that keep presenting wrong operator tokens.
	adminFails *adminFailures
}

const (
	requestIDKey = "requestId"
	userIDKey    = "userId"
	claimsKey    = "claims"
)

// New builds the app with every route.
func New(d Deps) *API {
	a := &API{d: d, Sockets: newRegistry(d.Config.WSPingInterval), debug: d.Logger.Enabled(context.Background(), slog.LevelDebug), guesses: newGuesses(d.Config.SponsorCodeMissesPerHour), adminFails: newAdminFailures()}
	app := fiber.New(fiber.Config{
		AppName:               "gisbi",
		BodyLimit:             d.Config.MaxBodyBytes,
		ErrorHandler:          errorHandler(d.Metrics, d.Logger),
		DisableStartupMessage: true,
		// Values from the context must be safe to keep: handlers pass them
		// to grains, which outlive the request whose buffer fasthttp reuses.
		Immutable:    true,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  2 * time.Minute,
		// fasthttp then returns a connection's 4 KB read buffer to its pool
		// whenever nothing is buffered, so an upgraded socket does not keep
		// it for life (it reads through its own, smaller one). REST pays a
		// pool round trip per request for it.
		ReduceMemoryUsage: true,
	})
	// The socket handler closes its connections itself, so it can let
	// go of fasthttp's request context as soon as the upgrade is done.
	app.Server().KeepHijackedConns = true
	a.App = app
	app.Use(a.requestID)

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(protocol.StatusOK) })
	app.Get("/readyz", a.readyz)
	app.Get("/metrics", adaptor.HTTPHandler(d.Metrics.Handler()))

	app.Get("/ws", a.wsHandshake, a.wsHandler(protocol.DialectWS))
	app.Get("/socket", a.wsHandshake, a.wsHandler(protocol.DialectLegacy))

	limited := app.Group("", a.rateLimit())
	limited.Post("/auth/social-login", a.socialLogin)
	limited.Post("/auth/refresh", a.refresh)
	limited.Post("/auth/logout", a.logout)
	limited.Post("/auth/delete-account", a.requireAuth, a.deleteAccount)
	limited.Post("/devices/register", a.requireAuth, a.registerDevice)
	limited.Patch("/users/profile", a.requireAuth, a.patchProfile)
	limited.Get("/users/me", a.requireAuth, a.me)
	limited.Get("/conversations", a.requireAuth, a.listConversations)
	limited.Get("/conversations/:userId/messages", a.requireAuth, a.conversationMessages)
	limited.Get("/chats", a.requireAuth, a.listChats)
	limited.Get("/chats/:chat/messages", a.requireAuth, a.chatMessages)
	limited.Post("/chats/:chat/messages", a.requireAuth, a.postChatMessage)
	limited.Get("/connections", a.requireAuth, a.listConnections)
	limited.Post("/connections/:userId", a.requireAuth, a.createConnection)
	limited.Post("/connections/:userId/accept", a.requireAuth, a.acceptConnection)
	limited.Delete("/connections/:userId", a.requireAuth, a.deleteConnection)
	limited.Post("/connections/:connectionId/proximity/token", a.requireAuth, a.proximityToken)
	limited.Get("/connections/:connectionId/proximity/summary", a.requireAuth, a.proximitySummary)
	limited.Get("/score", a.requireAuth, a.getScore)
	limited.Post("/score/actions/:type", a.requireAuth, a.completeScoreAction)

	sponsor := limited.Group("/sponsor", a.requireSponsor)
	sponsor.Get("/redemptions/:code", a.lookupRedemption)
	sponsor.Post("/redemptions/:code/redeem", a.redeemRedemption)

	if d.Config.AdminToken != "" {
		admin := app.Group("/admin", a.requireAdmin)
		admin.Get("/users", a.searchUsers)
		admin.Get("/users/:userId", a.adminUser)
		admin.Post("/users/:userId/terminate", a.terminateUser)
		admin.Get("/reports", a.adminReports)
		admin.Patch("/reports/:reportId", a.patchReport)
		admin.Get("/audit", a.auditLog)
		admin.Get("/backup", a.adminBackup)
		admin.Post("/brands", a.createBrand)
		admin.Post("/campaigns", a.createCampaign)
		admin.Get("/campaigns", a.listCampaigns)
		admin.Get("/campaigns/:campaignId", a.getCampaign)
		admin.Patch("/campaigns/:campaignId", a.patchCampaign)
		// Go's profiler, for operators chasing a slow or fat node:
		// /admin/debug/pprof/ (heap, profile?seconds=30, goroutine…).
		admin.Use(pprof.New(pprof.Config{Prefix: "/admin"}))
	}
	console.Register(app, d.Config.AdminToken != "")
	apiref.Register(app)
	if d.Config.Dev {
		// The demo signs in with the dev provider, which only dev mode has.
		demo.Register(app)
	}
	// Last: a request no route took. A path that exists under other
	// methods answers 405 with Allow, as HTTP clients expect.
	routes := newRouteTable(app.GetRoutes(true))
	app.Use(func(c *fiber.Ctx) error {
		if allow := routes.allowed(c.Path()); len(allow) > 0 {
			c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
			return fiber.NewError(fiber.StatusMethodNotAllowed)
		}
		return fiber.ErrNotFound
	})
	return a
}

// SetReady flips readiness, e.g. off while shutting down.
func (a *API) SetReady(v bool) { a.ready.Store(v) }

func (a *API) readyz(c *fiber.Ctx) error {
	if !a.ready.Load() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(protocol.Status{Status: "not ready"})
	}
	if err := a.d.Store.Ping(c.UserContext()); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(protocol.Status{Status: "store unavailable"})
	}
	return c.JSON(protocol.Status{Status: "ready"})
}

func (a *API) requestID(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get("X-Request-Id")
	if !protocol.ValidID(id) {
		id = ulid.Make().String()
	}
	c.Locals(requestIDKey, id)
	c.Set("X-Request-Id", id)
	err := c.Next()
	route := "unmatched"
	if r := c.Route(); r != nil && r.Path != "/" {
		route = r.Path
	}
	status := c.Response().StatusCode()
	if err != nil {
		if pe := toProtocolError(err); pe != nil {
			status = protocol.HTTPStatus(pe.Code)
		}
	}
	a.d.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	if a.debug {
		// The query string is left out: it may carry tokens.
		a.d.Logger.Debug("rest: request", "method", c.Method(), "path", c.Path(), "route", route,
			"status", status, "requestId", id, "duration", time.Since(start))
	}
	return err
}

// rateLimit allows http_rate requests per second with bursts of http_burst,
// per user when a bearer token names one, else per client address.
func (a *API) rateLimit() fiber.Handler {
	cfg := a.d.Config
	window := time.Duration(math.Ceil(float64(cfg.HTTPBurst)/cfg.HTTPRate*1000)) * time.Millisecond
	if window < time.Second {
		window = time.Second
	}
	return limiter.New(limiter.Config{
		Max:               cfg.HTTPBurst,
		Expiration:        window,
		LimiterMiddleware: limiter.SlidingWindow{},
		KeyGenerator: func(c *fiber.Ctx) string {
			if tok := bearer(c); tok != "" {
				if claims, err := a.d.Issuer.VerifyAccess(tok); err == nil {
					// requireAuth reuses the verified claims.
					c.Locals(claimsKey, claims)
					return "u:" + claims.UserID
				}
			}
			return "ip:" + c.IP()
		},
		LimitReached: func(c *fiber.Ctx) error {
			return protocol.Errorf(protocol.CodeRateLimited, "", "too many requests, slow down")
		},
	})
}

func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireAuth admits requests with a valid access token of ours.
func (a *API) requireAuth(c *fiber.Ctx) error {
	claims, _ := c.Locals(claimsKey).(*auth.Claims)
	if claims == nil {
		tok := bearer(c)
		if tok == "" {
			return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "missing bearer token")
		}
		var err error
		if claims, err = a.d.Issuer.VerifyAccess(tok); err != nil {
			return err
		}
		c.Locals(claimsKey, claims)
	}
	c.Locals(userIDKey, claims.UserID)
	return c.Next()
}

// requireAdmin admits the operator token only: user access tokens are not
// operator tokens, the comparison takes the same time whatever matches,
// and an address that keeps failing is locked out for a while.
func (a *API) requireAdmin(c *fiber.Ctx) error {
	if a.adminFails.lockedOut(c.IP()) {
		return protocol.Errorf(protocol.CodeRateLimited, protocol.DomainAuth, "too many wrong operator tokens from this address; wait and retry")
	}
	tok := bearer(c)
	if subtle.ConstantTimeCompare([]byte(tok), []byte(a.d.Config.AdminToken)) != 1 {
		a.adminFails.failed(c.IP())
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "operator token required")
	}
	return c.Next()
}

func userID(c *fiber.Ctx) string {
	s, _ := c.Locals(userIDKey).(string)
	return s
}

// decodeBody parses a JSON object body into v.
func decodeBody(c *fiber.Ctx, domain string, v any) error {
	body := c.Body()
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := protocol.DecodePayload(body, domain, v); err != nil {
		return err
	}
	return nil
}
