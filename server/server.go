package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync/atomic"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/actors/proximity"
	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/actors/reminders"
	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/actors/score"
	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/httpapi"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/moderation"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/push"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
	"github.com/gisbi/engine/storage/postgres"
	"github.com/gisbi/engine/tlscert"
)

// DBFile is the database file inside the data directory.
const DBFile = "gisbi.db"

// certCheckInterval is how often the TLS files are looked at for a
// renewal: a stat of two files, cheap, and soon enough for a certificate
// replaced days before it expires.
const certCheckInterval = 5 * time.Second

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
	// Certs is the certificate served over TLS; nil when the server speaks
	// plain HTTP. Its Reload is what SIGHUP calls.
	Certs *tlscert.Holder

	stopCertWatch func()

	ln        net.Listener
	serveErr  chan error
	proximity *proximity.Grains
	scores    score.Rules
	sessions  *session.Deps
	// stopping is set when Shutdown begins: sessions answer the frames
	// they have not started `unavailable` from then on.
	stopping atomic.Bool
}

// New assembles a server from a validated config. Nothing listens yet.
// Each part is built complete, with every dependency it keeps, before it
// is handed to the next; the grains' kinds come last but for the HTTP app,
// which needs the node they run on.
func New(cfg *config.Config, logger *slog.Logger) (s *Server, err error) {
	s = &Server{Config: cfg, Logger: logger, Metrics: metrics.New(), serveErr: make(chan error, 1)}
	s.Clock = clock.NewReal(cfg.ClockSpeed)
	if start := cfg.ClockStartTime(); !start.IsZero() {
		s.Clock = clock.NewRealAt(start, cfg.ClockSpeed)
	}
	if s.scores, err = scoreRules(cfg); err != nil {
		return nil, err
	}
	if cfg.TLSCertFile != "" {
		// Read again here, like the catalog, in case the files changed
		// since the config was validated; before the store opens, so a bad
		// pair fails start-up without touching the data.
		if s.Certs, err = tlscert.New(cfg.TLSCertFile, cfg.TLSKeyFile, logger); err != nil {
			return nil, fmt.Errorf("server: GISBI_TLS_CERT_FILE/GISBI_TLS_KEY_FILE: %w", err)
		}
	}

	store, err := OpenStore(context.Background(), cfg, s.Metrics.ObserveCommit)
	if err != nil {
		return nil, err
	}
	s.Store = store
	defer func() {
		if err != nil {
			_ = store.Close()
		}
	}()
	logins, err := newLogins(cfg, s.Clock.Now)
	if err != nil {
		return nil, err
	}
	if s.Push, err = newPush(cfg, store, s.Metrics, logger); err != nil {
		return nil, err
	}
	// Grains set reminders from the start; the service fires them only
	// once started, after the node that hosts the grains exists.
	s.Reminders = reminders.New(store.Reminders(), s.Clock, logger)
	s.proximity = proximity.NewGrains()

	f := s.features(logins.issuer)
	if s.Node, err = cluster.Start(cluster.Options{
		Kinds: f.kinds, Logger: logger, Membership: f.members,
		Provider: cfg.ClusterProvider, EtcdEndpoints: cfg.EtcdEndpoints, Name: cfg.ClusterName,
		Bind: cfg.ClusterBind, Advertise: cfg.ClusterAdvertise,
	}); err != nil {
		return nil, err
	}
	// Node-wide actors, under fixed names the other members address.
	if _, err = radar.StartMirror(s.Node.System, f.radarMirror); err != nil {
		s.Node.Stop()
		return nil, fmt.Errorf("server: radar mirror: %w", err)
	}
	go s.forwardLost()
	s.Metrics.ClusterMembers.Set(float64(len(s.Node.Membership.Peers()) + 1))
	s.Node.Membership.Subscribe(func(t cluster.Topology) { s.Metrics.ClusterMembers.Set(float64(len(t.Peers) + 1)) })
	// Which users have a socket open, as the other members' User grains count them.
	if _, err = f.online.StartMirror(s.Node.System, s.Node.Membership); err != nil {
		s.Node.Stop()
		return nil, err
	}
	s.sessions = f.sessions(s.Node)
	s.sessions.ShuttingDown = s.stopping.Load
	s.API = httpapi.New(httpapi.Deps{
		Config: cfg, Store: store, Node: s.Node, Clock: s.Clock, Metrics: s.Metrics, Logger: logger,
		Issuer: logins.issuer, Google: logins.google, Apple: logins.apple, Firebase: logins.firebase,
		Sessions: s.sessions, Pairs: f.pairs,
		Rewards:    rewards.Admin{Store: store, Clock: s.Clock, Milestones: cfg.MilestonesMinutes},
		Moderation: &moderation.Service{Store: store, Now: s.Clock.Now},
	})
	return s, nil
}

// scoreRules are the daily score's rules: the configured catalog, read
// again here in case it changed since the config was validated, in the
// day zone.
func scoreRules(cfg *config.Config) (score.Rules, error) {
	c, err := cfg.ScoreCatalog()
	if err != nil {
		return score.Rules{}, fmt.Errorf("server: %s: %w", "GISBI_SCORE_CATALOG_FILE", err)
	}
	cat, err := score.NewCatalog(c)
	if err != nil {
		return score.Rules{}, fmt.Errorf("server: %s: %w", "GISBI_SCORE_CATALOG_FILE", err)
	}
	return score.Rules{Catalog: cat, Loc: cfg.DayLocation()}, nil
}

// logins are the token issuer and the identity providers a config turns on.
type logins struct {
	issuer        *auth.Issuer
	google, apple *auth.IDTokenVerifier
	firebase      *auth.FirebaseMinter
}

func newLogins(cfg *config.Config, now func() time.Time) (*logins, error) {
	key, err := auth.LoadOrCreateKey(cfg.JWTKeyPath())
	if err != nil {
		return nil, fmt.Errorf("server: signing key: %w", err)
	}
	l := &logins{issuer: auth.NewIssuer(key, cfg.JWTIssuer, cfg.AccessTTL, cfg.RefreshTTL, now)}
	if len(cfg.GoogleClientIDs) > 0 {
		l.google = auth.NewGoogleVerifier(cfg.GoogleClientIDs, cfg.GoogleJWKSURL, auth.WithClock(now), auth.WithMinRefetchInterval(cfg.JWKSRefetch))
	}
	if len(cfg.AppleClientIDs) > 0 {
		l.apple = auth.NewAppleVerifier(cfg.AppleClientIDs, cfg.AppleJWKSURL, auth.WithClock(now), auth.WithMinRefetchInterval(cfg.JWKSRefetch))
	}
	if cfg.FirebaseCredentialsFile != "" {
		if l.firebase, err = auth.LoadFirebaseMinter(cfg.FirebaseCredentialsFile, now); err != nil {
			return nil, fmt.Errorf("server: %s: %w", "GISBI_FIREBASE_CREDENTIALS_FILE", err)
		}
	}
	return l, nil
}

// newPush is the push dispatcher, or nil when no provider is configured.
func newPush(cfg *config.Config, store storage.Store, m *metrics.Metrics, logger *slog.Logger) (*push.Dispatcher, error) {
	senders, err := push.SendersFromConfig(cfg)
	if err != nil || len(senders) == 0 {
		if err != nil {
			err = fmt.Errorf("server: push: %w", err)
		}
		return nil, err
	}
	opts := push.OptionsFromConfig(cfg, logger)
	opts.OnResult = func(kind, outcome string) { m.Pushes.WithLabelValues(kind, outcome).Inc() }
	return push.NewDispatcher(store.Devices(), senders, opts), nil
}

// features are the grain kinds and what the sessions need of each feature,
// built from the server's shared parts.
type features struct {
	kinds    []*pcluster.Kind
	pairs    pair.Deps
	gifts    rewards.Deps
	views    *proximity.Views
	verifier session.TokenVerifier
	clock    clock.Clock
	metrics  *metrics.Metrics
	logger   *slog.Logger
	pacer    *radar.Pacer
	// members is the node's view of the cluster, bound by cluster.Start.
	members     *cluster.Membership
	radarMirror radar.MirrorDeps
	online      *user.Online
	// presenceTTL: how long a session keeps the last location for a new
	// activation of its User grain.
	presenceTTL time.Duration
}

func (s *Server) features(verifier session.TokenVerifier) *features {
	cfg, store := s.Config, s.Store
	grid := radar.NewGrid(cfg.RadarRadiusM)
	dir, watchers := radar.NewDirectory(), radar.NewWatchers()
	members := cluster.NewMembership()
	pacer := radar.NewPacer(cfg.RadarInterval)
	s.Metrics.WatchRadarInterval(pacer.Interval)
	online := user.NewOnline()
	proxCfg := proximity.Config{
		TokenTTL: cfg.BLETokenTTL, RotateBefore: cfg.BLETokenRotateBefore, HeartbeatTimeout: cfg.HeartbeatTimeout,
		Grace: cfg.ProximityGrace, Milestones: cfg.MilestonesMinutes, RSSIMin: cfg.RSSIMin, RSSIMax: cfg.RSSIMax,
		MaxDistanceM: cfg.ProximityMaxDistanceM, DayLocation: cfg.DayLocation(),
	}
	// Progress views read the store only, so they exist before any grain.
	views := &proximity.Views{Store: store, Clock: s.Clock, Config: proxCfg, Logger: s.Logger}
	triggers := &rewards.Triggers{Reminders: s.Reminders}
	pairs := pair.Deps{
		Store: store, Clock: s.Clock, Reminders: s.Reminders, Metrics: s.Metrics, Logger: s.Logger,
		RequestTTL: cfg.RequestTTL, Online: online.Is, Progress: views.Progress, Milestones: cfg.MilestonesMinutes,
		Rewards: triggers, Score: true,
	}
	gifts := rewards.Deps{
		Store: store, Clock: s.Clock, Reminders: s.Reminders, Metrics: s.Metrics, Logger: s.Logger,
		DayLocation: cfg.DayLocation(), Facts: views.Facts, Online: online.Is,
	}
	if s.Push != nil {
		pairs.Notify = func(userID, kind, title, body string, data map[string]string) {
			s.Push.Notify(userID, push.Notification{Kind: kind, Title: title, Body: body, Data: data})
		}
		gifts.Notify = pairs.Notify
	}
	return &features{
		kinds: []*pcluster.Kind{
			user.NewKind(user.Deps{
				Store: store, Clock: s.Clock, Reminders: s.Reminders, Metrics: s.Metrics, Logger: s.Logger,
				MaxSessions: cfg.MaxSocketsPerUser,
				Grid:        grid, Dir: dir, Watchers: watchers, RadarLimit: cfg.RadarLimit, PresenceTTL: cfg.PresenceTTL,
				RadarInterval: cfg.RadarInterval, Pacer: pacer, ReconnectGrace: cfg.ReconnectGrace, Online: online,
			}),
			pair.NewKind(pairs),
			proximity.NewKind(proximity.Deps{
				Store: store, Clock: s.Clock, Config: proxCfg, SnapshotEvery: cfg.ProximitySnapshot,
				UpdateEvery: cfg.ProximityUpdateInterval, Online: online.Is, Grains: s.proximity, Metrics: s.Metrics, Logger: s.Logger,
				Milestone: triggers.Milestone,
			}),
			rewards.NewKind(gifts),
			score.NewKind(score.Deps{Store: store, Clock: s.Clock, Reminders: s.Reminders, Metrics: s.Metrics, Logger: s.Logger, Rules: s.scores}),
			radar.NewCellKind(radar.CellDeps{Dir: dir, Clock: s.Clock, Metrics: s.Metrics, Logger: s.Logger, PresenceTTL: cfg.PresenceTTL, Watchers: watchers, Membership: members}),
		},
		pairs: pairs, gifts: gifts, views: views, verifier: verifier, clock: s.Clock, metrics: s.Metrics, logger: s.Logger, pacer: pacer,
		members: members,
		radarMirror: radar.MirrorDeps{
			Dir: dir, Watchers: watchers, Membership: members, Clock: s.Clock, Metrics: s.Metrics, Logger: s.Logger, PresenceTTL: cfg.PresenceTTL,
		},
		online: online, presenceTTL: cfg.PresenceTTL,
	}
}

// sessions are the socket sessions' dependencies: every feature's frame
// handlers, and the bootstrap sources in the order they depend on each
// other (proximity picks among the connections the pair source listed,
// and refuses to run before it).
func (f *features) sessions(node *cluster.Node) *session.Deps {
	handlers := map[string]session.Handler{}
	for _, hs := range []map[string]session.Handler{user.Handlers(), pair.Handlers(f.pairs), pair.ChatHandlers(f.pairs), proximity.Handlers(), rewards.Handlers(f.gifts)} {
		for typ, h := range hs {
			handlers[typ] = h
		}
	}
	return &session.Deps{
		Node: node, Clock: f.clock, Metrics: f.metrics, Logger: f.logger, Verifier: f.verifier,
		Handlers:  handlers,
		Legacy:    pair.LegacyHandlers(f.pairs),
		Bootstrap: []session.BootstrapSource{user.Bootstrap, pair.Bootstrap(f.pairs), f.views.Bootstrap(), rewards.Bootstrap(f.gifts)},
		Replay:    pair.Replay(f.pairs),
		Served:    f.pacer.Observe,
		// The longest a frame's grain call may take; also the age past
		// which a queued frame is shed unserved.
		CallTimeout: 5 * time.Second,
		KeepFor:     f.presenceTTL,
	}
}

// Start listens on the configured address and serves in the background:
// HTTPS and WSS when a certificate is configured, else HTTP and WS, on the
// same routes either way.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.Config.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s (GISBI_ADDR): %w", s.Config.Addr, err)
	}
	s.ln = ln
	attrs := []any{"addr", ln.Addr().String(), "tls", s.Certs != nil, "dev", s.Config.Dev, "clockSpeed", s.Config.ClockSpeed,
		"cluster", s.Config.ClusterProvider, "clusterAddr", s.Node.System.Address()}
	if s.Certs != nil {
		// Each handshake asks the holder for the certificate, so a reload
		// reaches new connections without touching open ones.
		ln = tls.NewListener(ln, s.Certs.TLSConfig())
		s.stopCertWatch = s.Certs.Watch(certCheckInterval)
		attrs = append(attrs, "certNotAfter", s.Certs.Leaf().NotAfter)
	}
	s.Reminders.Start(s.fireReminder)
	go func() { s.serveErr <- s.API.App.Listener(ln) }()
	s.API.SetReady(true)
	s.Logger.Info("gisbi serving", attrs...)
	return nil
}

// fireReminder wakes the grain that owns a due reminder and waits for it
// to handle it (the reminders service is not an actor).
//
// Reminders fire at least once: a fire that failed or timed out, or whose
// node died, fires again once its claim lapses, maybe on another node, and
// a call that timed out may still have been handled. Each grain's handler
// is idempotent on (reminder, DueAt) because it decides from its state and
// the time, never from the fire itself:
//   - User "vibe": ExpireVibe clears a vibe only while it is expired; a
//     renewed vibe re-arms the reminder instead.
//   - Pair "expire": State.Expire marks missed only a pending request past
//     its expiry; none is left the second time.
//   - Score "reset": the day rolls over only when it is past (Rules.Current).
//   - Rewards "grant:…": the store grants one gift per pair per campaign
//     (ErrConflict the second time); "close:…" cancels live gifts only;
//     "expire:…" and "code:…" act only on a gift still due (Expire,
//     ExpireCode).
//
// A grain that finds its state stale answers `unavailable` without doing
// anything; the reminder stays and fires again at a fresh activation.
func (s *Server) fireReminder(ctx context.Context, r storage.Reminder) error {
	rep, err := cluster.Call[*grainpb.Ack](ctx, s.Node, r.Kind, r.Identity, &grainpb.ReminderFired{
		Name: r.Name, Payload: r.Payload, DueUnixMs: r.DueAt.UnixMilli(),
	})
	if err != nil {
		return err
	}
	return rep.Failure.Err()
}

// FrameTypes lists every client frame type a socket of dialect
// (protocol.DialectWS or protocol.DialectLegacy) is served, sorted, from
// the sessions' own dispatch table.
func (s *Server) FrameTypes(dialect string) []string { return s.sessions.FrameTypes(dialect) }

// Addr is the address actually listened on (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Errors reports a serve loop that ended on its own, or a lost cluster
// membership (an error matching cluster.ErrMembershipLost).
func (s *Server) Errors() <-chan error { return s.serveErr }

// forwardLost ends the server when its node loses its cluster membership:
// the node cannot rejoin, so the process must exit for its supervisor to
// start a fresh one. Lost is closed when the node stops.
func (s *Server) forwardLost() {
	if err, ok := <-s.Node.Lost(); ok {
		select {
		case s.serveErr <- err:
		default: // the serve loop already ended: that is reported instead
		}
	}
}

// Shutdown stops taking work, drains the sockets and closes them with
// 1001, drains HTTP, stops the actors and closes the store. Every
// acknowledged write was committed before its acknowledgement, so closing
// loses nothing; and the sockets are drained in an order that acknowledges
// every write committed for them: they stop forwarding frames first,
// frames not yet started are answered `unavailable`, and each socket closes
// once its session has answered every command it started
// (httpapi.Registry.CloseAll).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	s.API.SetReady(false)
	if s.stopCertWatch != nil {
		s.stopCertWatch()
	}
	timeout := s.Config.ShutdownTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if cut, unsent := s.API.Sockets.CloseAll(s.Node.System.Root, protocol.CloseGoingAway, "server shutting down", timeout/2); cut > 0 {
		s.Metrics.ShutdownUnanswered.WithLabelValues("send").Add(float64(unsent))
		s.Logger.Warn("shutdown: sockets still draining at the timeout were cut", "sockets", cut, "framesUnsent", unsent)
	}
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

// OpenStore opens the store the config names: the embedded bbolt file in
// the data directory, or the PostgreSQL database of the store URL, migrated
// to this binary's schema. onCommit may be nil.
func OpenStore(ctx context.Context, cfg *config.Config, onCommit func(string, time.Duration)) (storage.Store, error) {
	if cfg.PostgresStore() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := postgres.Open(ctx, cfg.Store, postgres.Options{OnCommit: onCommit})
		if err != nil {
			return nil, fmt.Errorf("server: open store (GISBI_STORE): %w", err)
		}
		return st, nil
	}
	st, err := boltdb.Open(filepath.Join(cfg.DataDir, DBFile), boltdb.Options{OnCommit: onCommit})
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	return st, nil
}
