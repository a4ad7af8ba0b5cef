package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// BenchmarkSessionStartBootstrap measures session.start → session.bootstrap
// over a real socket on loopback, client and server in one process: for a
// new user, and for the target's user with 100 active connections and
// 1,000 messages (10 per conversation).
func BenchmarkSessionStartBootstrap(b *testing.B) {
	b.Run("empty", func(b *testing.B) { benchBootstrap(b, 0, 0) })
	b.Run("100-connections-1000-messages", func(b *testing.B) { benchBootstrap(b, 100, 10) })
}

func benchBootstrap(b *testing.B, conns, perConv int) {
	srv := servertest.Start(b, func(c *config.Config) { c.WSRate, c.WSBurst = 1e6, 1e6 })
	u := srv.Login("bench")
	u.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "benchmarking #go", "bio": "b"})
	ctx := context.Background()
	for i := 0; i < conns; i++ {
		other := srv.Login(fmt.Sprint("friend-", i))
		id := storage.PairID(u.ID, other.ID)
		at := time.Now().Add(-time.Hour)
		p := &storage.Pair{ID: id, UserA: min(u.ID, other.ID), UserB: max(u.ID, other.ID), Connections: []storage.Connection{{
			ID: fmt.Sprint("conn_bootbench", i), SenderID: other.ID, ReceiverID: u.ID, Status: "accepted", CreatedAt: at, AcceptedAt: at,
		}}}
		if err := srv.Store.Pairs().Save(ctx, p); err != nil {
			b.Fatal(err)
		}
		var ms []*storage.Message
		for j := 1; j <= perConv; j++ {
			from, to := u.ID, other.ID
			if j%2 == 0 {
				from, to = to, from
			}
			ms = append(ms, &storage.Message{ID: fmt.Sprintf("msg_bootbench%03d_%03d", i, j), PairID: id, Seq: uint64(j),
				SenderID: from, RecipientID: to, Content: "see you at the lounge at eight?", CreatedAt: at.Add(time.Duration(j) * time.Second)})
		}
		if len(ms) > 0 {
			if err := srv.Store.Messages().AppendBatch(ctx, ms); err != nil {
				b.Fatal(err)
			}
		}
	}
	// A bare client that only checks each frame's type, like the load
	// generator: decoding a 300 KB payload in the same process would bill
	// the client's JSON work to the server's latency.
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws",
		http.Header{"Authorization": {"Bearer " + u.AccessToken}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	start := []byte(`{"type":"session.start","payload":{}}`)
	expect := func(typ string) {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			// The 100 connections' proximity tokens rotate on their own
			// clock; a long run sees those pushes between bootstraps.
			if bytes.HasPrefix(data, []byte(`{"type":"proximity.token.rotate"`)) {
				continue
			}
			if !bytes.HasPrefix(data, []byte(`{"type":"`+typ+`"`)) {
				b.Fatalf("want %s, got %.200s", typ, data)
			}
			return
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := conn.WriteMessage(websocket.TextMessage, start); err != nil {
			b.Fatal(err)
		}
		expect("session.connected")
		expect("session.bootstrap")
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkProfilePatch measures PATCH /users/profile end to end: HTTP,
// grain, durable store write (group commit) and the fan-out to a socket.
func BenchmarkProfilePatch(b *testing.B) {
	srv := servertest.Start(b)
	u := srv.Login("patcher")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if res := u.Do(http.MethodPatch, "/users/profile", map[string]any{"age": i % 100}); res.Status != 200 {
			b.Fatalf("patch: %d", res.Status)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkUserGrainCall is one request/reply to an active User grain
// through the cluster (in-process member): the floor under every command.
func BenchmarkUserGrainCall(b *testing.B) {
	srv := servertest.Start(b)
	u := srv.Login("grain")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rep, err := cluster.Call[*grainpb.UserReply](ctx, srv.Node, cluster.KindUser, u.ID, &grainpb.GetUser{})
			if err != nil || rep.Failure != nil {
				b.Fatalf("call: %v %v", err, rep.GetFailure())
			}
		}
	})
}
