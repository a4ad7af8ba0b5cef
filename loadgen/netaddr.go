package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// autoLoopbackAddrs is how many loopback source addresses "auto" uses: each
// has its own ~28k ephemeral ports towards the server, and its own share of
// the server's per-IP REST limit, so 32 give ample room for 10,000+ users.
const autoLoopbackAddrs = 32

// localAddrSpec is the parsed --local-addrs: auto, none, or explicit IPs.
type localAddrSpec struct {
	auto bool
	ips  []net.IP
}

// parseLocalAddrs reads "auto", "none" (or ""), a comma-separated list of
// IPs, or an IPv4 range "127.0.0.2-127.0.0.40".
func parseLocalAddrs(s string) (localAddrSpec, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "auto":
		return localAddrSpec{auto: true}, nil
	case "", "none":
		return localAddrSpec{}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok && !strings.Contains(s, ",") {
		a, b := net.ParseIP(strings.TrimSpace(lo)).To4(), net.ParseIP(strings.TrimSpace(hi)).To4()
		if a == nil || b == nil {
			return localAddrSpec{}, fmt.Errorf("range %q: want two IPv4 addresses", s)
		}
		x, y := binary.BigEndian.Uint32(a), binary.BigEndian.Uint32(b)
		if y < x || y-x >= 65536 {
			return localAddrSpec{}, fmt.Errorf("range %q: empty or larger than 65536 addresses", s)
		}
		var ips []net.IP
		for v := x; ; v++ {
			ip := make(net.IP, 4)
			binary.BigEndian.PutUint32(ip, v)
			ips = append(ips, ip)
			if v == y {
				break
			}
		}
		return localAddrSpec{ips: ips}, nil
	}
	var ips []net.IP
	for _, p := range strings.Split(s, ",") {
		ip := net.ParseIP(strings.TrimSpace(p))
		if ip == nil {
			return localAddrSpec{}, fmt.Errorf("%q is not an IP address", p)
		}
		ips = append(ips, ip)
	}
	return localAddrSpec{ips: ips}, nil
}

// resolveSources picks the source IPs for a server URL. "auto" spreads over
// 127.0.0.2… when the server is on IPv4 loopback and the OS routes all of
// 127/8 to lo (Linux); elsewhere it lets the OS choose. It also returns the
// address to dial, since a source of 127.0.0.x cannot reach [::1].
func resolveSources(server string, spec localAddrSpec) (ips []net.IP, dialHost string, err error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, "", fmt.Errorf("server url: %w", err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	dialHost = net.JoinHostPort(host, port)
	if !spec.auto {
		return spec.ips, dialHost, nil
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() || runtime.GOOS != "linux" {
		return nil, dialHost, nil
	}
	for i := 0; i < autoLoopbackAddrs; i++ {
		ips = append(ips, net.IPv4(127, 0, 0, byte(2+i)).To4())
	}
	return ips, net.JoinHostPort(ip.String(), port), nil
}

// source is one local address: its dialer, its REST client and the pacing
// of its unauthenticated REST calls, which the server limits per client IP.
type source struct {
	node    *node  // the server this source talks to
	ip      net.IP // nil: the OS chooses
	dialer  *net.Dialer
	http    *http.Client
	limiter *rate.Limiter
	dial    string // host:port to dial instead of the URL's host
}

// newSource paces unauthenticated REST calls to n at 90% of perSecond.
func newSource(n *node, ip net.IP, dialHost string, perSecond float64, conns int) *source {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	s := &source{node: n, ip: ip, dialer: d, dial: dialHost,
		// No burst: even pacing never trips the server's sliding window,
		// whatever the window's phase.
		limiter: rate.NewLimiter(rate.Limit(0.9*perSecond), 1),
	}
	tr := &http.Transport{
		Proxy:               nil, // a load test talks to the server, not to a proxy
		DialContext:         s.dialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	s.http = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return s
}

// dialContext dials the server from this source. The address is always the
// server's, resolved once, so every source reaches the same listener.
func (s *source) dialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	return s.dialer.DialContext(ctx, network, s.dial)
}

func (s *source) String() string {
	if s.ip == nil {
		return "default"
	}
	return s.ip.String()
}
