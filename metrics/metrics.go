package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the engine's collectors in their own registry, so two servers
// in one test process do not collide on the global one.
type Metrics struct {
	Registry         *prometheus.Registry
	SocketsOpen      prometheus.Gauge
	FramesIn         *prometheus.CounterVec
	FramesOut        *prometheus.CounterVec
	Errors           *prometheus.CounterVec
	GrainActivations *prometheus.CounterVec
	StoreCommit      *prometheus.HistogramVec
	Disconnects      *prometheus.CounterVec
	HTTPRequests     *prometheus.CounterVec
	// RadarNotifications counts watcher wake-ups sent by cells: it grows with
	// the users watching near a change, which is how radar fan-out is checked.
	RadarNotifications prometheus.Counter
	RadarPushes        prometheus.Counter
	// Pushes counts push-notification outcomes by kind (message, request,
	// accepted, ring) and outcome (sent, unregistered, failed, dropped…).
	Pushes *prometheus.CounterVec
	// ProximityScans counts proximity starts and heartbeats by op and result
	// (ok or the error code), so spoofing attempts show up as a rate.
	ProximityScans *prometheus.CounterVec
	// ProximityMilestones counts milestones reached (each fires once per pair).
	ProximityMilestones prometheus.Counter
	// Shed counts client frames answered `unavailable` unserved because they
	// waited in a session's mailbox longer than the call timeout (overload).
	Shed prometheus.Counter
	// ShutdownUnanswered counts what a shutdown cut off at its timeout, by
	// stage: "call", a grain call a client frame made that had not answered
	// (it may have committed a write whose acknowledgement never left), and
	// "send", frames queued to a socket that were never written. A graceful
	// shutdown within its timeout leaves both at zero.
	ShutdownUnanswered *prometheus.CounterVec
	// Reward lifecycle steps, by campaign id (operators create campaigns,
	// so the label stays small).
	RewardGrants        *prometheus.CounterVec
	RewardClaims        *prometheus.CounterVec
	RewardRedemptions   *prometheus.CounterVec
	RewardExpiries      *prometheus.CounterVec
	RewardCancellations *prometheus.CounterVec
	// RewardCodeMisses counts sponsor lookups of codes that do not exist
	// for the brand asking, by brand: a rising rate is someone guessing.
	RewardCodeMisses *prometheus.CounterVec
	// StaleWrites counts grain writes the store refused as stale
	// (storage.ErrStale), by grain kind: each is an activation that found
	// another one had written its state since it loaded it, and stopped.
	// Any rate at all means two activations of one grain overlapped.
	StaleWrites *prometheus.CounterVec
	// ClusterMembers is the number of live members this node sees, itself
	// included: 1 on a cluster of one. A node that disagrees with its
	// peers is partitioned or about to leave.
	ClusterMembers prometheus.Gauge
}

// New registers every collector.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		SocketsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gisbi_sockets_open", Help: "WebSocket sessions currently open.",
		}),
		FramesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gisbi_frames_in_total", Help: "Client frames received, by frame type (unknown types share one label).",
		}, []string{"type"}),
		FramesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gisbi_frames_out_total", Help: "Server frames queued to sockets, by frame type.",
		}, []string{"type"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gisbi_errors_total", Help: "Errors answered to clients, by code, over sockets and REST.",
		}, []string{"code"}),
		GrainActivations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gisbi_grain_activations_total", Help: "Grain activations, by kind.",
		}, []string{"kind"}),
		StoreCommit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gisbi_store_commit_seconds",
			Help:    "Latency of store write transactions (group commit included), by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"op"}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gisbi_disconnects_total", Help: "Sockets closed by the server, by close code.",
		}, []string{"code"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gisbi_http_requests_total", Help: "REST requests, by route and status.",
		}, []string{"route", "status"}),
		RadarNotifications: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gisbi_radar_notifications_total", Help: "Watcher wake-ups sent by radar cells after a member changed.",
		}),
		RadarPushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gisbi_radar_pushes_total", Help: "radar.nearby.updated frames pushed because someone else moved, appeared, hid or left.",
		}),
	}
	m.Pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gisbi_push_notifications_total", Help: "Push notifications by kind and outcome.",
	}, []string{"kind", "outcome"})
	m.ProximityScans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gisbi_proximity_scans_total", Help: "proximity.session.start and proximity.heartbeat handled, by op and result (ok or error code).",
	}, []string{"op", "result"})
	m.ProximityMilestones = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gisbi_proximity_milestones_total", Help: "Together-time milestones reached.",
	})
	m.Shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gisbi_frames_shed_total", Help: "Client frames answered unavailable without being served, because they waited too long (overload).",
	})
	m.ShutdownUnanswered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gisbi_shutdown_unanswered_total", Help: "What the shutdown timeout cut off, by stage: call (a client command's grain call unanswered, maybe committed unacknowledged) and send (queued frames never written).",
	}, []string{"stage"})
	m.Registry.MustRegister(m.ShutdownUnanswered)
	reward := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"campaign"})
	}
	m.RewardGrants = reward("gisbi_reward_grants_total", "Sponsored gifts granted, by campaign.")
	m.RewardClaims = reward("gisbi_reward_claims_total", "Sponsored gifts claimed (verified with a code), by campaign.")
	m.RewardRedemptions = reward("gisbi_reward_redemptions_total", "Sponsored gifts redeemed at a venue, by campaign.")
	m.RewardExpiries = reward("gisbi_reward_expiries_total", "Sponsored gifts that expired unredeemed, by campaign.")
	m.RewardCancellations = reward("gisbi_reward_cancellations_total", "Sponsored gifts cancelled (connection closed, block, deleted account), by campaign.")
	m.RewardCodeMisses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gisbi_reward_code_misses_total", Help: "Sponsor lookups of redemption codes unknown to the asking brand, by brand.",
	}, []string{"brand"})
	m.StaleWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gisbi_stale_writes_total", Help: "Grain writes refused because another activation of the grain had written since (the grain stopped), by grain kind.",
	}, []string{"grain"})
	m.Registry.MustRegister(m.StaleWrites)
	m.ClusterMembers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gisbi_cluster_members", Help: "Live cluster members this node sees, itself included.",
	})
	m.ClusterMembers.Set(1)
	m.Registry.MustRegister(m.ClusterMembers)
	m.Registry.MustRegister(m.RewardGrants, m.RewardClaims, m.RewardRedemptions, m.RewardExpiries, m.RewardCancellations, m.RewardCodeMisses)
	m.Registry.MustRegister(m.Shed, m.ProximityScans, m.ProximityMilestones, m.RadarNotifications, m.RadarPushes, m.Pushes, m.SocketsOpen, m.FramesIn, m.FramesOut, m.Errors, m.GrainActivations,
		m.StoreCommit, m.Disconnects, m.HTTPRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveCommit records one store commit; it matches the store's OnCommit hook.
func (m *Metrics) ObserveCommit(op string, d time.Duration) {
	m.StoreCommit.WithLabelValues(op).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// WatchRadarInterval exports the radar push interval in force, which the
// node stretches while it is behind (radar.Pacer).
func (m *Metrics) WatchRadarInterval(interval func() time.Duration) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gisbi_radar_push_interval_seconds", Help: "Least time between two pushed radar updates to one user now: radar_interval, stretched while the node is behind.",
	}, func() float64 { return interval().Seconds() }))
}
