package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/eventstream"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdBaseKey roots every key GISBI writes in etcd.
const etcdBaseKey = "/gisbi"

// Timeouts of the calls this package makes to etcd. The provider's own
// calls have none (context.TODO), which is why etcd is asked first with a
// deadline, and why start-up as a whole has one.
const (
	etcdDialTimeout  = 5 * time.Second
	etcdReachTimeout = 5 * time.Second
	etcdLeaveTimeout = 2 * time.Second
)

// etcdProvider wraps protoactor's etcd provider. It creates the provider,
// and its own client, inside StartMember: the cluster calls that after
// remote.Start, which replaces gRPC's global logger, and a gRPC client
// started before would race with it.
//
// The provider's Shutdown is never called: it writes a flag its goroutines
// read unsynchronised. Leaving is deleting this member's key, which is what
// that Shutdown does too; peers see the delete at once.
type etcdProvider struct {
	name   string // cluster name
	config clientv3.Config

	// Set in StartMember, read after it returned.
	entered bool  // the remote is up, so a failed start must stop it
	err     error // why StartMember failed, unwrapped by the panic
	client  *clientv3.Client
	key     string // this member's key
}

func newEtcdProvider(name string, endpoints []string) *etcdProvider {
	return &etcdProvider{name: name, config: clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: etcdDialTimeout,
		// The client logs retries as JSON on stderr; what matters reaches
		// the operator as a start-up error or a lost membership.
		Logger: zap.NewNop(),
	}}
}

// baseKey is the provider's base key. The provider keys members as
// base/name/name@id and watches the prefix base/name with no trailing
// slash, so with a bare base the cluster "gisbi" would also see
// "gisbi2"'s members; a base that ends in the name keeps clusters apart.
func (p *etcdProvider) baseKey() string { return etcdBaseKey + "/" + p.name }

func (p *etcdProvider) StartMember(c *pcluster.Cluster) error {
	p.entered = true
	p.err = p.start(c)
	return p.err
}

func (p *etcdProvider) start(c *pcluster.Cluster) error {
	endpoints := strings.Join(p.config.Endpoints, ",")
	client, err := clientv3.New(p.config)
	if err != nil {
		return fmt.Errorf("etcd client for %s: %w", endpoints, err)
	}
	p.client = client
	ctx, cancel := context.WithTimeout(context.Background(), etcdReachTimeout)
	defer cancel()
	if _, err := client.Get(ctx, p.baseKey()+"/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("etcd at %s did not answer within %s (is it running and reachable? GISBI_ETCD_ENDPOINTS): %w", endpoints, etcdReachTimeout, err)
	}
	lib, err := etcd.NewWithConfig(p.baseKey(), p.config)
	if err != nil {
		return fmt.Errorf("etcd provider for %s: %w", endpoints, err)
	}
	name := c.Config.Name
	p.key = p.baseKey() + "/" + name + "/" + name + "@" + c.ActorSystem.ID
	if err := lib.StartMember(c); err != nil {
		return fmt.Errorf("join cluster %q on etcd at %s: %w", name, endpoints, err)
	}
	return nil
}

func (p *etcdProvider) StartClient(*pcluster.Cluster) error {
	return errors.New("cluster: the etcd provider runs members only")
}

// Shutdown does nothing: see leave.
func (p *etcdProvider) Shutdown(bool) error { return nil }

// leave deletes this member's key, so peers drop it at once rather than
// when its lease lapses, and closes the client.
func (p *etcdProvider) leave() error {
	if p.client == nil {
		return nil
	}
	defer p.client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), etcdLeaveTimeout)
	defer cancel()
	if _, err := p.client.Delete(ctx, p.key); err != nil {
		return fmt.Errorf("cluster: leave etcd (peers drop this member when its lease lapses): %w", err)
	}
	return nil
}

// probe reads this member's key.
func (p *etcdProvider) probe(ctx context.Context) probeResult {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	res, err := p.client.Get(ctx, p.key)
	if err != nil {
		return probeResult{}
	}
	if len(res.Kvs) == 0 {
		return probeResult{reached: true}
	}
	return probeResult{reached: true, present: true, createRev: res.Kvs[0].CreateRevision}
}

// guard runs a watchdog over a started member and reports the first loss
// on lost.
type guard struct {
	mu   sync.Mutex
	w    *watchdog
	lost chan<- error
	done bool // reported or stopped: nothing more is sent

	es     *eventstream.EventStream
	sub    *eventstream.Subscription
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startGuard(c *pcluster.Cluster, p *etcdProvider, lost chan<- error) *guard {
	self := hostPort(c.ActorSystem.Address())
	g := &guard{w: newWatchdog(self, LeaseTTL, time.Now()), lost: lost, es: c.ActorSystem.EventStream}
	g.sub = g.es.Subscribe(func(ev any) {
		if t, ok := ev.(*pcluster.ClusterTopology); ok {
			g.feed(func(w *watchdog) error { return w.topology(addresses(t.Members)) })
		}
	})
	// The provider published its first topology during start-up, before
	// the subscription.
	members := c.MemberList.Members().Members()
	g.feed(func(w *watchdog) error { return w.topology(addresses(members)) })

	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.wg.Add(2)
	go g.every(ctx, watchdogTick, func() {
		now := time.Now()
		g.feed(func(w *watchdog) error { return w.tick(now) })
	})
	go g.every(ctx, probeInterval, func() {
		r := p.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		g.feed(func(w *watchdog) error { return w.probe(now, r) })
	})
	return g
}

func (g *guard) every(ctx context.Context, d time.Duration, fn func()) {
	defer g.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// feed applies one observation; the first loss is reported, once.
func (g *guard) feed(observe func(*watchdog) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	if err := observe(g.w); err != nil {
		g.done = true
		g.lost <- err // buffered for one
	}
}

// stop ends the watchdog; nothing is reported after it returns.
func (g *guard) stop() {
	g.es.Unsubscribe(g.sub)
	g.cancel()
	g.wg.Wait()
	g.mu.Lock()
	g.done = true
	g.mu.Unlock()
}

// addresses are the members' addresses in hostPort form.
func addresses(ms []*pcluster.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
	}
	return out
}

// hostPort normalises an address as addresses writes members' (the library
// joins host and port without brackets).
func hostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(host, port)
}
