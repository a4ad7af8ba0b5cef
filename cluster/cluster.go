package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Options configure a member.
type Options struct {
	// Name of the cluster; members with the same name form one cluster.
	Name string
	// Host and Port of the member's remote endpoint. Port 0 picks a free one;
	// a single in-process member binds 127.0.0.1 so nothing is exposed.
	Host string
	Port int
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
}

// Start starts a member. With the in-memory provider it is a cluster of one,
// which takes about a second (the provider's first TTL report).
func Start(opts Options) (*Node, error) {
	if opts.Name == "" {
		opts.Name = "gisbi"
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
		// The library logs every topology step at info; only its warnings matter to an operator.
		return slog.New(levelFloor{Handler: logger.Handler(), min: slog.LevelWarn}).With("lib", "protoactor")
	}))
	cfg := pcluster.Configure(opts.Name,
		test.NewTestProvider(test.NewInMemAgent()),
		disthash.New(),
		remote.Configure(opts.Host, opts.Port),
		pcluster.WithKinds(opts.Kinds...),
		pcluster.WithRequestTimeout(opts.RequestTimeout),
	)
	c := pcluster.New(system, cfg)
	if err := startMember(c); err != nil {
		return nil, err
	}
	if opts.Membership == nil {
		opts.Membership = NewMembership()
	}
	opts.Membership.bind(c)
	return &Node{System: system, Cluster: c, Membership: opts.Membership, timeout: opts.RequestTimeout}, nil
}

// startMember turns the library's panics on start-up failures (port in use)
// into an error.
func startMember(c *pcluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cluster: start member: %v", r)
		}
	}()
	c.StartMember()
	return nil
}

// Stop leaves the cluster. Not graceful: the library's graceful path sleeps
// two seconds for ownership hand-over that a single member does not need.
func (n *Node) Stop() {
	n.Cluster.Shutdown(false)
}

// Send delivers msg to a grain without waiting. It activates the grain if needed.
func (n *Node) Send(kind, identity string, msg proto.Message) {
	pid := n.Cluster.Get(identity, kind)
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
		pid := n.Cluster.Get(identity, kind)
		if pid == nil {
			return zero, fmt.Errorf("%w: %s/%s: no member hosts the kind", ErrUnavailable, kind, identity)
		}
		res, err := n.System.Root.RequestFuture(pid, req, timeout).Result()
		if errors.Is(err, actor.ErrDeadLetter) || errors.Is(err, remote.ErrDeadLetter) {
			n.Cluster.PidCache.Remove(identity, kind)
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
	if pid := pcluster.GetCluster(ctx.ActorSystem()).Get(identity, kind); pid != nil {
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
