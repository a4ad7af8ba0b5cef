package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/actors/proximity"
	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/actors/reminders"
	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/httpapi"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/push"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
)

// DBFile is the database file inside the data directory.
const DBFile = "gisbi.db"

// Server is one running engine node: store, actor cluster, reminders and the
// HTTP/WebSocket API.
type Server struct {
	Config    *config.Config
	Logger    *slog.Logger
	Clock     clock.Clock
	Store     storage.Store
	Node      *cluster.Node
	Metrics   *metrics.Metrics
	API       *httpapi.API
	Reminders *reminders.Service
	Push      *push.Dispatcher // nil when no push provider is configured

	ln        net.Listener
	serveErr  chan error
	proximity *proximity.Grains
}

// New assembles a server from a validated config. Nothing listens yet.
func New(cfg *config.Config, logger *slog.Logger) (s *Server, err error) {
	s = &Server{Config: cfg, Logger: logger, Metrics: metrics.New(), serveErr: make(chan error, 1)}
	s.Clock = clock.NewReal(cfg.ClockSpeed)
	now := s.Clock.Now

	key, err := auth.LoadOrCreateKey(cfg.JWTKeyPath())
	if err != nil {
		return nil, fmt.Errorf("server: signing key: %w", err)
	}
	store, err := boltdb.Open(filepath.Join(cfg.DataDir, DBFile), boltdb.Options{OnCommit: s.Metrics.ObserveCommit, MaxBatchDelay: time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	s.Store = store
	defer func() {
		if err != nil {
			_ = store.Close()
		}
	}()

	issuer := auth.NewIssuer(key, cfg.JWTIssuer, cfg.AccessTTL, cfg.RefreshTTL, now)
	deps := httpapi.Deps{Config: cfg, Store: store, Clock: s.Clock, Issuer: issuer, Metrics: s.Metrics, Logger: logger}
	if len(cfg.GoogleClientIDs) > 0 {
		deps.Google = auth.NewGoogleVerifier(cfg.GoogleClientIDs, cfg.GoogleJWKSURL, auth.WithClock(now), auth.WithMinRefetchInterval(cfg.JWKSRefetch))
	}
	if len(cfg.AppleClientIDs) > 0 {
		deps.Apple = auth.NewAppleVerifier(cfg.AppleClientIDs, cfg.AppleJWKSURL, auth.WithClock(now), auth.WithMinRefetchInterval(cfg.JWKSRefetch))
	}
	if cfg.FirebaseCredentialsFile != "" {
		if deps.Firebase, err = auth.LoadFirebaseMinter(cfg.FirebaseCredentialsFile, now); err != nil {
			return nil, fmt.Errorf("server: %s: %w", "GISBI_FIREBASE_CREDENTIALS_FILE", err)
		}
	}

	// Grains set reminders from the start; the service fires them only
	// once started, after the node that hosts the grains exists.
	s.Reminders = reminders.New(store.Reminders(), s.Clock, logger)

	grid := radar.NewGrid(cfg.RadarRadiusM)
	dir, watchers := radar.NewDirectory(), radar.NewWatchers()
	online := user.NewOnline()
	senders, err := push.SendersFromConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: push: %w", err)
	}
	if len(senders) > 0 {
		opts := push.OptionsFromConfig(cfg, logger)
		opts.OnResult = func(kind, outcome string) { s.Metrics.Pushes.WithLabelValues(kind, outcome).Inc() }
		s.Push = push.NewDispatcher(store.Devices(), senders, opts)
	}
	pairDeps := pair.Deps{
		Store: store, Clock: s.Clock, Reminders: s.Reminders, Metrics: s.Metrics, Logger: logger,
		RequestTTL: cfg.RequestTTL, Online: online.Is,
		Notify: func(userID, kind, title, body string, data map[string]string) {
			s.Push.Notify(userID, push.Notification{Kind: kind, Title: title, Body: body, Data: data})
		},
	}
	s.proximity = proximity.NewGrains()
	proxCfg := proximity.Config{
		TokenTTL: cfg.BLETokenTTL, RotateBefore: cfg.BLETokenRotateBefore, HeartbeatTimeout: cfg.HeartbeatTimeout,
		Grace: cfg.ProximityGrace, Milestones: cfg.MilestonesMinutes, RSSIMin: cfg.RSSIMin, RSSIMax: cfg.RSSIMax,
		MaxDistanceM: cfg.ProximityMaxDistanceM, DayLocation: time.UTC,
	}
	pairDeps.Milestones = cfg.MilestonesMinutes
	kinds := []*pcluster.Kind{
		user.NewKind(user.Deps{
			Store: store, Clock: s.Clock, Reminders: s.Reminders, Metrics: s.Metrics, Logger: logger,
			MaxSessions: cfg.MaxSocketsPerUser,
			Grid:        grid, Dir: dir, Watchers: watchers, RadarLimit: cfg.RadarLimit, PresenceTTL: cfg.PresenceTTL,
			RadarInterval: cfg.RadarInterval, ReconnectGrace: cfg.ReconnectGrace, Online: online,
		}),
		pair.NewKind(pairDeps),
		proximity.NewKind(proximity.Deps{
			Store: store, Clock: s.Clock, Config: proxCfg, SnapshotEvery: cfg.ProximitySnapshot,
			UpdateEvery: cfg.ProximityUpdateInterval, Online: online.Is, Grains: s.proximity, Metrics: s.Metrics, Logger: logger,
		}),
		radar.NewCellKind(radar.CellDeps{Dir: dir, Clock: s.Clock, Metrics: s.Metrics, Logger: logger, PresenceTTL: cfg.PresenceTTL, Watchers: watchers}),
	}
	node, err := cluster.Start(cluster.Options{Kinds: kinds, Logger: logger})
	if err != nil {
		return nil, err
	}
	s.Node = node
	deps.Node = node
	proxViews := &proximity.Views{Store: store, Clock: s.Clock, Config: proxCfg, Logger: logger}
	pairDeps.Progress = proxViews.Progress

	handlers := map[string]session.Handler{}
	for _, hs := range []map[string]session.Handler{user.Handlers(), pair.Handlers(pairDeps), pair.ChatHandlers(pairDeps), proximity.Handlers()} {
		for typ, h := range hs {
			handlers[typ] = h
		}
	}
	deps.Sessions = &session.Deps{
		Node: node, Clock: s.Clock, Metrics: s.Metrics, Logger: logger, Verifier: issuer,
		Handlers: handlers, Bootstrap: []session.BootstrapSource{user.Bootstrap, pair.Bootstrap(pairDeps), proxViews.Bootstrap()},
		Replay:      pair.Replay(pairDeps),
		CallTimeout: 5 * time.Second,
	}
	deps.Pairs = pairDeps
	s.API = httpapi.New(deps)
	return s, nil
}

// Start listens on the configured address and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.Config.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s (GISBI_ADDR): %w", s.Config.Addr, err)
	}
	s.ln = ln
	s.Reminders.Start(s.fireReminder)
	go func() { s.serveErr <- s.API.App.Listener(ln) }()
	s.API.SetReady(true)
	s.Logger.Info("gisbi serving", "addr", ln.Addr().String(), "dev", s.Config.Dev, "clockSpeed", s.Config.ClockSpeed)
	return nil
}

// fireReminder wakes the grain that owns a due reminder and waits for it
// to handle it (the reminders service is not an actor).
func (s *Server) fireReminder(ctx context.Context, r storage.Reminder) error {
	rep, err := cluster.Call[*grainpb.Ack](ctx, s.Node, r.Kind, r.Identity, &grainpb.ReminderFired{
		Name: r.Name, Payload: r.Payload, DueUnixMs: r.DueAt.UnixMilli(),
	})
	if err != nil {
		return err
	}
	return rep.Failure.Err()
}

// Addr is the address actually listened on (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Errors reports a serve loop that ended on its own.
func (s *Server) Errors() <-chan error { return s.serveErr }

// Shutdown stops taking work, closes sockets with 1001, drains HTTP, stops
// the actors and closes the store. Every acknowledged write was committed
// before its acknowledgement, so closing loses nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.API.SetReady(false)
	timeout := s.Config.ShutdownTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	s.API.Sockets.CloseAll(protocol.CloseGoingAway, "server shutting down", timeout/2)
	var errs []error
	if s.ln != nil {
		if err := s.API.App.ShutdownWithTimeout(timeout / 2); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	s.Reminders.Stop()
	// Runs in flight write their last together-time while the store is open.
	s.proximity.Stop(s.Node.System, timeout/4)
	s.Node.Stop()
	if err := s.Push.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("push: %w", err))
	}
	if err := s.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: %w", err))
	}
	return errors.Join(errs...)
}
