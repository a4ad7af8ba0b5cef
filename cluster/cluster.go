package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
)

// Grain kinds.
const (
	KindUser      = "User"
	KindCell      = "Cell"
	KindPair      = "Pair"
	KindProximity = "Proximity"
	KindRewards   = "Rewards"
	KindScore     = "Score"
)

// ErrUnavailable is returned when a grain could not be reached in time.
var ErrUnavailable = errors.New("cluster: grain unavailable")

// Providers: how members find each other.
const (
	// ProviderLocal is the in-memory provider: a cluster of this one member.
	ProviderLocal = "local"
	// ProviderEtcd registers the member in etcd under the cluster name;
	// every member registered there is in the cluster.
	ProviderEtcd = "etcd"
)

// startTimeout bounds a member's start-up: the etcd provider's own calls
// have no deadline, and a start-up that hangs is worse than one that fails.
const startTimeout = 15 * time.Second

// Options configure a member.
type Options struct {
	// Name of the cluster; members with the same name form one cluster.
	Name string
	// Provider is ProviderLocal (the default) or ProviderEtcd.
	Provider string
	// EtcdEndpoints are etcd's client addresses (host:port), for ProviderEtcd.
	EtcdEndpoints []string
	// Bind is host:port of the member's remote (gRPC) endpoint; port 0 picks
	// a free one. Empty means 127.0.0.1:0, which exposes nothing.
	Bind string
	// Advertise is the host:port other members dial; empty means the
	// address Bind actually listens on.
	Advertise string
	// Kinds the member hosts.
	Kinds []*pcluster.Kind
	// RequestTimeout bounds every grain call.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// Membership, when set, is bound to the cluster once it started.
	Membership *Membership
}

// Node is one running member: its actor system and its cluster.
type Node struct {
	System     *actor.ActorSystem
	Cluster    *pcluster.Cluster
	Membership *Membership
	timeout    time.Duration

	etcd  *etcdProvider // nil with the local provider
	guard *guard        // watches the etcd membership
	lost  chan error
	stop  sync.Once
}

// Start starts a member. With the in-memory provider it is a cluster of one,
// which takes about a second (the provider's first TTL report). With etcd
// it fails within seconds, with an error naming etcd, when etcd does not
// answer.
func Start(opts Options) (*Node, error) {
	if opts.Name == "" {
		opts.Name = "gisbi"
	}
	if opts.Bind == "" {
		opts.Bind = "127.0.0.1:0"
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	host, portText, err := net.SplitHostPort(opts.Bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: bind address %q: %w", opts.Bind, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("cluster: bind address %q: port: %w", opts.Bind, err)
	}
	var provider pcluster.ClusterProvider
	var ep *etcdProvider
	switch opts.Provider {
	case "", ProviderLocal:
		provider = test.NewTestProvider(test.NewInMemAgent())
	case ProviderEtcd:
		if len(opts.EtcdEndpoints) == 0 {
			return nil, errors.New("cluster: the etcd provider needs etcd endpoints")
		}
		ep = newEtcdProvider(opts.Name, opts.EtcdEndpoints)
		provider = ep
	default:
		return nil, fmt.Errorf("cluster: unknown provider %q (want %s or %s)", opts.Provider, ProviderLocal, ProviderEtcd)
	}
	var remoteOpts []remote.ConfigOption
	if opts.Advertise != "" {
		remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(opts.Advertise))
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
		// The library logs every topology step at info; only its warnings matter to an operator.
		return slog.New(levelFloor{Handler: logger.Handler(), min: slog.LevelWarn}).With("lib", "protoactor")
	}))
	cfg := pcluster.Configure(opts.Name,
		provider,
		disthash.New(),
		remote.Configure(host, port, remoteOpts...),
		pcluster.WithKinds(opts.Kinds...),
		pcluster.WithRequestTimeout(opts.RequestTimeout),
	)
	c := pcluster.New(system, cfg)
	if err := startMember(c, ep); err != nil {
		return nil, err
	}
	if err := startPIDWatcher(c); err != nil {
		c.Shutdown(false)
		return nil, fmt.Errorf("cluster: pid watcher: %w", err)
	}
	if opts.Membership == nil {
		opts.Membership = NewMembership()
	}
	opts.Membership.bind(c)
	memberships.Store(c, opts.Membership)
	opts.Membership.Subscribe(func(t Topology) {
		for _, addr := range t.Left {
			// The remote otherwise learns that a member is gone only when
			// its endpoint gives up reconnecting (five tries, two seconds
			// apart), and only then tells the actors watching PIDs there:
			// sessions whose User grain lived on the member, User grains
			// whose sessions did, the PID cache. Terminating the endpoint
			// tells them when the cluster does. Published from a goroutine:
			// this runs inside the event stream's own publish.
			go system.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: addr})
		}
	})
	n := &Node{System: system, Cluster: c, Membership: opts.Membership, timeout: opts.RequestTimeout, etcd: ep, lost: make(chan error, 1)}
	if ep != nil {
		n.guard = startGuard(c, ep, n.lost)
	}
	return n, nil
}

// startMember starts c within startTimeout, turning the library's panics on
// start-up failures (port in use, etcd refused) into an error. A start
// that hangs leaves its goroutine behind: the process is about to exit.
func startMember(c *pcluster.Cluster, ep *etcdProvider) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("cluster: start member: %v", r)
			}
		}()
		c.StartMember()
		done <- nil
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(startTimeout):
		return fmt.Errorf("cluster: start member: not started within %s (etcd stalled?)", startTimeout)
	}
	if err == nil || ep == nil {
		return err
	}
	if ep.err != nil {
		err = fmt.Errorf("cluster: %w", ep.err)
	}
	if ep.entered {
		// The remote is listening: free its port for whoever comes next.
		func() {
			defer func() { _ = recover() }()
			c.Shutdown(false)
		}()
		if ep.client != nil {
			_ = ep.client.Close()
		}
	}
	return err
}

// Lost reports, once, that this member lost its cluster membership (an
// error matching ErrMembershipLost); the process should then exit for its
// supervisor to restart it. Only the etcd provider can lose it. The channel
// is closed by Stop.
func (n *Node) Lost() <-chan error { return n.lost }

// Stop leaves the cluster. Not graceful: the library's graceful path sleeps
// two seconds for ownership hand-over, which the store's fencing makes
// unnecessary. With etcd, this member's key is deleted first, so peers see
// it leave at once rather than when its lease lapses.
func (n *Node) Stop() {
	n.stop.Do(func() {
		if n.guard != nil {
			n.guard.stop()
		}
		if n.etcd != nil {
			if err := n.etcd.leave(); err != nil {
				n.System.Logger().Warn(err.Error())
			}
		}
		n.Cluster.Shutdown(false)
		memberships.Delete(n.Cluster)
		close(n.lost)
	})
}

// Send delivers msg to a grain without waiting. It activates the grain if needed.
func (n *Node) Send(kind, identity string, msg proto.Message) {
	pid := lookup(n.Cluster, kind, identity)
	if pid == nil {
		return
	}
	n.System.Root.Send(pid, msg)
}

// Call sends req to a grain and waits for its reply of type R. It is for
// callers outside the actors (HTTP handlers, the reminders service): actor
// code never waits on a grain (actors/nonblocking_test.go enforces it).
// A call that times out is NOT retried: grain commands are not all
// idempotent. A call that hit a passivating grain (dead letter) was never
// processed and is retried at once on a fresh activation.
func Call[R proto.Message](ctx context.Context, n *Node, kind, identity string, req proto.Message) (R, error) {
	var zero R
	timeout := n.timeout
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < timeout {
			timeout = d
		}
	}
	if timeout <= 0 {
		return zero, fmt.Errorf("%w: %s/%s: %w", ErrUnavailable, kind, identity, context.DeadlineExceeded)
	}
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			// The placement hears of a stopped activation after its
			// watchers do: give it a moment before asking again.
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		pid := lookup(n.Cluster, kind, identity)
		if pid == nil {
			return zero, fmt.Errorf("%w: %s/%s: no member hosts the kind", ErrUnavailable, kind, identity)
		}
		res, err := n.System.Root.RequestFuture(pid, req, timeout).Result()
		if isDeadLetter(err) {
			evict(n.Cluster, kind, identity, pid)
			continue
		}
		if err != nil {
			return zero, fmt.Errorf("%w: %s/%s: %w", ErrUnavailable, kind, identity, err)
		}
		r, ok := res.(R)
		if !ok {
			return zero, fmt.Errorf("cluster: %s/%s answered %T, want %T", kind, identity, res, zero)
		}
		return r, nil
	}
	return zero, fmt.Errorf("%w: %s/%s: no activation after retries", ErrUnavailable, kind, identity)
}

// SendIn delivers msg to a grain from inside an actor without waiting.
func SendIn(ctx actor.Context, kind, identity string, msg proto.Message) {
	if pid := lookup(pcluster.GetCluster(ctx.ActorSystem()), kind, identity); pid != nil {
		ctx.Send(pid, msg)
	}
}

// levelFloor drops records below min.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{Handler: h.Handler.WithGroup(name), min: h.min}
}
