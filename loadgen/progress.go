package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serverSampler reads the server's /proc entry; a nil sampler does nothing,
// so callers need not check whether --server-pid was given.
type serverSampler struct {
	pids []int

	mu      sync.Mutex
	phases  map[string]*ProcSample
	peak    int64
	last    *ProcSample
	lastErr error
}

// sample reads the server now and files it under phase ("" = unnamed).
func (s *serverSampler) sample(phase string) *ProcSample {
	if s == nil {
		return nil
	}
	ps, err := sampleProcs(s.pids)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err
		return nil
	}
	s.peak = max(s.peak, ps.RSSBytes, ps.PeakRSS)
	s.last = &ps
	if phase != "" {
		if s.phases == nil {
			s.phases = map[string]*ProcSample{}
		}
		s.phases[phase] = &ps
	}
	return &ps
}

// cost summarises the samples; srv0 and srv1 bound the traffic phase.
func (s *serverSampler) cost(srv0, srv1 *ProcSample, sessions int) *ServerCost {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &ServerCost{PeakRSS: s.peak, Start: s.phases["start"], LoggedIn: s.phases["loggedIn"], Connected: s.phases["connected"], End: s.phases["end"]}
	c.PID, c.PIDs = s.pids[0], s.pids
	if c.Connected != nil && sessions > 0 {
		if c.LoggedIn != nil {
			c.PerSessionBytes = float64(c.Connected.RSSBytes-c.LoggedIn.RSSBytes) / float64(sessions)
			c.PerSessionAnonBytes = float64(c.Connected.AnonBytes-c.LoggedIn.AnonBytes) / float64(sessions)
		}
		if c.Start != nil {
			c.PerSessionBytesFromStart = float64(c.Connected.RSSBytes-c.Start.RSSBytes) / float64(sessions)
		}
	}
	if srv0 != nil && srv1 != nil {
		c.CPUSecondsSteady = srv1.CPUSeconds - srv0.CPUSeconds
		if d := srv1.At.Sub(srv0.At).Seconds(); d > 0 {
			c.AvgCoresSteady = c.CPUSecondsSteady / d
		}
	}
	if c.Start != nil && s.last != nil {
		c.CPUSecondsRun = s.last.CPUSeconds - c.Start.CPUSeconds
	}
	return c
}

// problem is the last read error, if reading ever failed.
func (s *serverSampler) problem() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// progressLoop prints one line per second: phase, sessions, pairs, frame
// rates, errors, a few p99s, and both processes' memory and CPU.
func (r *runner) progressLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	prev := r.stats.Counts()
	prevSelf := selfSample()
	var prevSrv *ProcSample
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := r.stats.Counts()
		self := selfSample()
		srv := r.server.sample("")
		secs := cur.At.Sub(prev.At).Seconds()
		var b strings.Builder
		fmt.Fprintf(&b, "[%4.0fs %-7s] sessions %d/%d", time.Since(start).Seconds(), r.phase.Load(), r.countConnected(), len(r.clients))
		if len(r.nodes) > 1 {
			// Per node, in --server order: a failover shows as one
			// column falling to 0 and the others rising.
			per := r.connectedPerNode()
			parts := make([]string, len(per))
			for i, n := range per {
				parts[i] = strconv.Itoa(n)
			}
			fmt.Fprintf(&b, " (%s)", strings.Join(parts, "/"))
		}
		if len(r.pairs) > 0 {
			fmt.Fprintf(&b, " pairs %d/%d", r.formed.Load(), len(r.pairs))
			if r.cfg.BLE {
				fmt.Fprintf(&b, " active %d", r.active.Load())
			}
		}
		if r.isRadar() {
			fmt.Fprintf(&b, " radar live %d answered %d", r.radar.loaded.Load(), r.radar.answered.Load())
		}
		fmt.Fprintf(&b, " | out %.0f/s in %.0f/s | errors %d", float64(cur.SentTotal-prev.SentTotal)/secs, float64(cur.RecvTotal-prev.RecvTotal)/secs, cur.Errors)
		if n := r.stats.Counter(ctrReconnects); n > 0 {
			fmt.Fprintf(&b, " reconnects %d", n)
		}
		var p99s []string
		for _, x := range []struct{ label, typ string }{{"loc", typeLocationUpdate}, {"hb", typeProxHeartbeat}, {"chat", typeChatMessage}, {"start", typeSessionStart}, {"probe", labelProbe}, {"timer lag", typeLag}} {
			if d, ok := r.stats.Quantile(x.typ, 0.99); ok {
				p99s = append(p99s, fmt.Sprintf("%s %s", x.label, fmtDur(d)))
			}
		}
		if len(p99s) > 0 {
			fmt.Fprintf(&b, " | p99 %s", strings.Join(p99s, " "))
		}
		fmt.Fprintf(&b, " | gen %s %.0f%%", fmtBytes(self.RSSBytes), 100*(self.CPUSeconds-prevSelf.CPUSeconds)/secs)
		if srv != nil {
			fmt.Fprintf(&b, " | server %s", fmtBytes(srv.RSSBytes))
			if prevSrv != nil {
				fmt.Fprintf(&b, " %.0f%%", 100*(srv.CPUSeconds-prevSrv.CPUSeconds)/srv.At.Sub(prevSrv.At).Seconds())
			}
			prevSrv = srv
		}
		fmt.Fprintln(r.progress, b.String())
		prev, prevSelf = cur, self
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.0fKiB", float64(n)/(1<<10))
}
