package loadgen

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// runner holds one run's shared state.
type runner struct {
	cfg      Config
	stats    *Stats
	clock    *serverClock
	wsPath   string    // /ws or /socket, by dialect
	nodes    []*node   // one per server URL, in the order given
	sources  []*source // every node's
	dialers  map[*source]*websocket.Dialer
	clients  []*client
	pairs    []*pair
	epoch    time.Time
	progress io.Writer
	phase    atomic.Value // string

	runCtx    context.Context // ends when the sockets are being closed
	cancelRun context.CancelFunc

	server   *serverSampler
	warnings []string
	radar    radarState // the radar scenario
	tokens   bool       // users come from a tokens file

	legacyExpiry sync.Once // checkLegacyExpiry has warned

	loggedIn, loginFailed, connected, connectFailed atomic.Int64
	formed, formFailed, active, neverActive         atomic.Int64
}

// Run executes the scenario and returns its summary. progress receives a
// line per second (nil: none). An error means the run could not be set up
// (bad configuration, unreadable tokens file); a server that fails the
// scenario gives a Summary with Pass false and the reasons in Failures.
// Cancelling ctx ends the traffic phase early; the run still stops cleanly
// and reports.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r, err := newRunner(cfg, progress)
	if err != nil {
		return nil, err
	}
	return r.run(ctx), nil
}

func newRunner(cfg Config, progress io.Writer) (*runner, error) {
	if progress == nil {
		progress = io.Discard
	}
	r := &runner{cfg: cfg, stats: NewStats(), clock: &serverClock{speed: cfg.ClockSpeed}, progress: progress, dialers: map[*source]*websocket.Dialer{}}
	r.wsPath = "/ws"
	if r.legacy() {
		r.wsPath = "/socket"
	}
	r.phase.Store("prepare")
	r.runCtx, r.cancelRun = context.WithCancel(context.Background())

	spec, err := parseLocalAddrs(cfg.LocalAddrs)
	if err != nil {
		return nil, fmt.Errorf("local-addrs: %w", err)
	}
	conns := max(cfg.LoginConcurrency, cfg.ConnectConcurrency)
	for i, url := range cfg.Servers {
		n := newNode(i, url, r.wsPath)
		ips, dialHost, err := resolveSources(url, spec)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			n.sources = []*source{newSource(n, nil, dialHost, cfg.EffectiveHTTPRate(), conns)}
		}
		for _, ip := range ips {
			n.sources = append(n.sources, newSource(n, ip, dialHost, cfg.EffectiveHTTPRate(), max(conns/len(ips), 4)))
		}
		r.nodes = append(r.nodes, n)
		r.sources = append(r.sources, n.sources...)
	}
	// One write buffer pool for all sockets: idle sockets hold none.
	pool := &sync.Pool{}
	for _, s := range r.sources {
		r.dialers[s] = &websocket.Dialer{
			NetDialContext:   s.dialContext,
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
			WriteBufferPool:  pool,
		}
	}

	var creds []Credentials
	if cfg.TokensFile != "" {
		if creds, err = ReadTokensFile(cfg.TokensFile); err != nil {
			return nil, err
		}
		if len(creds) < cfg.Users {
			return nil, fmt.Errorf("tokens file has %d tokens for %d users", len(creds), cfg.Users)
		}
		r.tokens = true
	}
	prefix := cfg.HandlePrefix
	if prefix == "" {
		// Fresh users per run: old pairs would answer already_connected.
		prefix = "lg" + strconv.FormatInt(time.Now().Unix(), 36) + "-"
	}
	r.clients = make([]*client, cfg.Users)
	for i := range r.clients {
		c := &client{r: r, idx: i, handle: prefix + strconv.Itoa(i), wake: make(chan struct{}, 1)}
		c.home, c.rank = homeOf(i, len(r.nodes))
		r.nodes[c.home].home++
		c.useNode(c.home)
		if creds != nil {
			c.creds, c.credsAt = creds[i], time.Now()
		}
		r.clients[i] = c
	}
	for i := 0; i < cfg.Pairs; i++ {
		a, b := r.clients[2*i], r.clients[2*i+1]
		w := newWalker(cfg.Box, cfg.WalkSpeed, uint64(2*i))
		p := newPair(i, a, b, w)
		a.pair, a.side, a.walk = p, 0, w
		b.pair, b.side, b.walk = p, 1, w
		a.dLat, a.dLng = pairOffset(i, 0, w.lat)
		b.dLat, b.dLng = pairOffset(i, 1, w.lat)
		r.pairs = append(r.pairs, p)
	}
	for _, c := range r.clients[2*cfg.Pairs:] {
		c.walk = newWalker(cfg.Box, cfg.WalkSpeed, uint64(c.idx))
	}
	if len(cfg.ServerPIDs) > 0 {
		r.server = &serverSampler{pids: cfg.ServerPIDs}
	}
	return r, nil
}

func (r *runner) dialer(s *source) *websocket.Dialer { return r.dialers[s] }

// sourceAddrs counts the distinct source addresses over all nodes ("default"
// when the OS chooses).
func (r *runner) sourceAddrs() int {
	seen := map[string]bool{}
	for _, s := range r.sources {
		seen[s.String()] = true
	}
	return len(seen)
}

// legacy reports whether the run speaks the legacy `/socket` dialect.
func (r *runner) legacy() bool { return r.cfg.Dialect == DialectSocket }

// sleep waits d unless the run is being torn down.
func (r *runner) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.runCtx.Done():
		return false
	}
}

// forEach runs f(i) for i in [0, n) with at most conc at once, stopping
// early (without starting more) once ctx ends.
func forEach(ctx context.Context, n, conc int, f func(i int)) {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

func (r *runner) run(ctx context.Context) *Summary {
	cfg := &r.cfg
	start := time.Now()
	r.epoch = start
	self0 := selfSample()
	sum := &Summary{StartedAt: start.UTC(), Scenario: ScenarioInfo{
		Servers: cfg.Servers, Dialect: cfg.Dialect, Scenario: cfg.Scenario, Users: cfg.Users, Pairs: cfg.Pairs, BLE: cfg.BLE && cfg.Pairs > 0, ClockSpeed: cfg.ClockSpeed,
		HeartbeatSeconds: cfg.Heartbeat.Seconds(), LocationEverySeconds: cfg.LocationEvery.Seconds(),
		ChatRate: cfg.ChatRate, DurationSeconds: cfg.Duration.Seconds(), SourceAddrs: r.sourceAddrs(), Logins: "dev",
	}}
	if r.tokens {
		sum.Scenario.Logins = "tokens file"
	}
	r.server.sample("start")

	stopBackground := r.background()
	defer stopBackground()

	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancelSetup()
	liveCtx, stopLive := context.WithCancel(context.Background())
	var liveWG sync.WaitGroup

	r.login(setupCtx)
	r.server.sample("loggedIn")
	r.connect(setupCtx, liveCtx, &liveWG)
	if r.server != nil && cfg.Settle > 0 {
		r.setPhase("settle")
		select {
		case <-time.After(cfg.Settle):
		case <-setupCtx.Done():
		}
	}
	r.server.sample("connected")
	if r.isRadar() {
		// After the idle sample, so per-session memory stays the idle figure.
		r.radarLoad(setupCtx)
	}
	r.formPairs(setupCtx)
	setupErr := setupCtx.Err()
	if setupErr != nil && ctx.Err() == nil {
		r.warn(fmt.Sprintf("set-up did not finish within --setup-timeout %v", cfg.SetupTimeout))
	}
	sum.SetupSeconds = time.Since(start).Seconds()

	// Traffic phase.
	r.setPhase("run")
	c0 := r.stats.Counts()
	srv0 := r.server.sample("")
	switch {
	case ctx.Err() != nil:
	case r.isRadar():
		r.radarQueries(ctx)
		if ctx.Err() != nil {
			r.warn("interrupted: the query phase ended early")
		}
	default:
		t := time.NewTimer(cfg.Duration)
		select {
		case <-t.C:
		case <-ctx.Done():
			r.warn("interrupted: the traffic phase ended early")
		}
		t.Stop()
	}
	c1 := r.stats.Counts()
	srv1 := r.server.sample("end")
	sum.SteadySeconds = c1.At.Sub(c0.At).Seconds()

	// Stop: no more heartbeats, then end the BLE runs and read the summaries.
	r.setPhase("stop")
	stopLive()
	liveWG.Wait()
	var results []PairResult
	if cfg.BLE && cfg.Pairs > 0 {
		results = r.finishProximity()
	}
	atEnd := r.connectedPerNode()
	for _, n := range atEnd {
		sum.Sessions.ConnectedAtEnd += n
	}
	r.setPhase("close")
	r.cancelRun()
	forEach(context.Background(), len(r.clients), 256, func(i int) { r.clients[i].close() })
	for _, src := range r.sources {
		src.http.CloseIdleConnections()
	}

	// Report.
	snap := r.stats.snapshot()
	sum.Ops = buildOps(snap, c0, c1)
	sum.Errors, sum.Closes, sum.Counters = snap.errors, snap.closes, snap.counters
	sum.Unexpected = unexpected(snap.errors, cfg.AllowErrors)
	sum.Sessions.Users = cfg.Users
	sum.Sessions.LoggedIn, sum.Sessions.LoginFailed = int(r.loggedIn.Load()), int(r.loginFailed.Load())
	sum.Sessions.Connected, sum.Sessions.ConnectFailed = int(r.connected.Load()), int(r.connectFailed.Load())
	for _, n := range snap.closes {
		sum.Sessions.Dropped += n
	}
	sum.Sessions.Reconnects = snap.counters[ctrReconnects]
	if o := snap.ops[labelReconnect]; o != nil {
		sum.Sessions.ReconnectLatency = latencyOf(&o.hist)
	}
	sum.Nodes = r.nodeSummaries(atEnd)
	for _, c := range r.clients {
		if c.gaveUp.Load() {
			sum.Sessions.GaveUp++
		}
	}
	sum.Pairs = PairSummary{Target: cfg.Pairs, Formed: int(r.formed.Load()), FormFailed: int(r.formFailed.Load()),
		Active: int(r.active.Load()), NeverActive: int(r.neverActive.Load())}
	if cfg.BLE && cfg.Pairs > 0 {
		sum.Proximity = buildProximity(results, cfg.Tolerance())
	}
	if r.isRadar() {
		sum.Radar = r.radarSummary()
		r.radarWarnings(sum.Radar)
	}
	sum.Clock = ClockSummary{Speed: cfg.ClockSpeed, ObservedSpeed: r.clock.observedSpeed()}
	self1 := selfSample()
	elapsed := time.Since(start).Seconds()
	sum.Generator = ProcCost{RSSBytes: self1.RSSBytes, PeakRSSBytes: self1.PeakRSS, CPUSeconds: self1.CPUSeconds - self0.CPUSeconds,
		AvgCores: (self1.CPUSeconds - self0.CPUSeconds) / elapsed, Goroutines: runtime.NumGoroutine()}
	sum.Server = r.server.cost(srv0, srv1, sum.Sessions.Connected)
	if err := r.server.problem(); err != nil {
		r.warn(fmt.Sprintf("server sampling: %v", err))
	}
	sum.Warnings = r.warnings
	sum.Failures = Evaluate(sum, cfg)
	sum.Pass = len(sum.Failures) == 0
	if sum.Warnings == nil {
		sum.Warnings = []string{}
	}
	if sum.Failures == nil {
		sum.Failures = []string{}
	}
	return sum
}

func (r *runner) setPhase(p string) { r.phase.Store(p) }

func (r *runner) warn(msg string) { r.warnings = append(r.warnings, msg) }

func (r *runner) countConnected() int {
	n := 0
	for _, c := range r.clients {
		if c.connected.Load() {
			n++
		}
	}
	return n
}

// background runs the request-timeout sweeper, the server sampler and the
// progress line until the returned stop is called.
func (r *runner) background() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				for _, c := range r.clients {
					c.expire(now, r.cfg.RequestTimeout)
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		r.progressLoop(ctx)
	}()
	return func() { cancel(); wg.Wait() }
}
