package server_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// Lagos, Victoria Island.
const baseLat, baseLng = 6.4281, 3.4219

// metresEast returns the point d metres due east of (lat, lng) on a sphere of
// the mean Earth radius, so the expected distance and bearing are known.
func metresEast(lat, lng, d float64) (float64, float64) {
	const r = 6371008.8
	φ, λ, δ := lat*math.Pi/180, lng*math.Pi/180, d/r
	θ := math.Pi / 2
	φ2 := math.Asin(math.Sin(φ)*math.Cos(δ) + math.Cos(φ)*math.Sin(δ)*math.Cos(θ))
	λ2 := λ + math.Atan2(math.Sin(θ)*math.Sin(δ)*math.Cos(φ), math.Cos(δ)-math.Sin(φ)*math.Sin(φ2))
	return φ2 * 180 / math.Pi, λ2 * 180 / math.Pi
}

type nearby struct {
	NearbyUsers []struct {
		User            map[string]any `json:"user"`
		Distance        float64        `json:"distance"`
		Angle           float64        `json:"angle"`
		IsLive          bool           `json:"isLive"`
		SharedInterests []string       `json:"sharedInterests"`
		Location        map[string]any `json:"location"`
	} `json:"nearbyUsers"`
}

func decodeNearby(t *testing.T, f *servertest.Frame) nearby {
	t.Helper()
	var n nearby
	if err := json.Unmarshal(f.Payload, &n); err != nil {
		t.Fatalf("radar.nearby.updated payload: %v: %s", err, f.Payload)
	}
	return n
}

func (n nearby) ids() []string {
	var ids []string
	for _, u := range n.NearbyUsers {
		ids = append(ids, u.User["id"].(string))
	}
	return ids
}

func (n nearby) has(id string) bool {
	for _, x := range n.ids() {
		if x == id {
			return true
		}
	}
	return false
}

var locSeq int

// locate sends a location and returns the presence and radar answers.
func locate(t *testing.T, ws *servertest.WS, lat, lng float64) (map[string]any, nearby) {
	t.Helper()
	locSeq++
	id := fmt.Sprintf("loc-%d", locSeq)
	ws.Send("presence.location_update", map[string]any{"lat": lat, "lng": lng, "accuracyMeters": 5, "heading": 90, "speed": 1.2}, id)
	p := ws.ExpectReply("presence.updated", id)
	n := ws.ExpectReply("radar.nearby.updated", id)
	return p.Map(t), decodeNearby(t, n)
}

// seen answers ws's radar once it holds id: the answer n itself, or a later
// push. A location is acknowledged before its cell has applied it (cells
// take writes as messages, queries read their published snapshot), so a
// user located just before may reach the querier's radar by push instead.
func seen(t *testing.T, ws *servertest.WS, n nearby, id string) nearby {
	t.Helper()
	if n.has(id) {
		return n
	}
	return decodeNearby(t, ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool {
		return decodeNearby(t, f).has(id)
	}))
}

func radarServer(t *testing.T, opts ...servertest.Option) *servertest.Server {
	base := func(c *config.Config) {
		c.RadarInterval = 100 * time.Millisecond
		c.ReconnectGrace = 300 * time.Millisecond
		c.WSRate, c.WSBurst = 1000, 1000
	}
	return servertest.Start(t, append([]servertest.Option{base}, opts...)...)
}

type radarUser struct {
	*servertest.User
	ws *servertest.WS
}

func joinRadar(t *testing.T, srv *servertest.Server, handle string) radarUser {
	u := srv.Login(handle)
	ws := u.Dial()
	ws.Start()
	return radarUser{u, ws}
}

func TestRadarDistanceBearingAndRange(t *testing.T) {
	srv := radarServer(t)
	a, b, far := joinRadar(t, srv, "ann"), joinRadar(t, srv, "ben"), joinRadar(t, srv, "far")
	bLat, bLng := metresEast(baseLat, baseLng, 300)

	p, n := locate(t, a.ws, baseLat, baseLng)
	if pres := p["presence"].(map[string]any); p["userId"] != a.ID || pres["isLive"] != true || pres["isOnRadar"] != true {
		t.Fatalf("presence.updated = %v", p)
	}
	if len(n.NearbyUsers) != 0 {
		t.Fatalf("empty city, radar = %v", n.ids())
	}
	locate(t, far.ws, baseLat+0.045, baseLng) // 5 km north
	_, n = locate(t, b.ws, bLat, bLng)
	n = seen(t, b.ws, n, a.ID)
	if len(n.NearbyUsers) != 1 || n.NearbyUsers[0].User["id"] != a.ID {
		t.Fatalf("ben's radar = %v, want only ann", n.ids())
	}
	seen := n.NearbyUsers[0]
	if math.Abs(seen.Distance-300) > 0.5 || math.Abs(seen.Angle-270) > 0.5 || !seen.IsLive {
		t.Fatalf("ben sees ann at %.2f m, %.2f°, live %v; want 300 m, 270°", seen.Distance, seen.Angle, seen.IsLive)
	}
	for _, k := range []string{"lat", "lng", "updatedAt", "accuracyMeters"} {
		if _, ok := seen.Location[k]; !ok {
			t.Errorf("nearby location lacks %s: %v", k, seen.Location)
		}
	}
	for _, k := range []string{"id", "name", "age", "avatar", "gender", "vibe", "vibeExpiresAt"} {
		if _, ok := seen.User[k]; !ok {
			t.Errorf("nearby user lacks %s: %v", k, seen.User)
		}
	}

	// Ann was there first; Ben appearing is pushed to her.
	push := decodeNearby(t, a.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool {
		return decodeNearby(t, f).has(b.ID)
	}))
	got := push.NearbyUsers[0]
	if math.Abs(got.Distance-300) > 0.5 || math.Abs(got.Angle-90) > 0.5 {
		t.Fatalf("ann sees ben at %.2f m, %.2f°; want 300 m, 90°", got.Distance, got.Angle)
	}
	if push.has(far.ID) {
		t.Fatal("a user 5 km away is on a 1 km radar")
	}
	_, n = locate(t, far.ws, baseLat+0.045, baseLng)
	if len(n.NearbyUsers) != 0 {
		t.Fatalf("far user's radar = %v", n.ids())
	}

	// Bootstrap restores presence and the radar.
	boot := a.Dial().Start()
	pres := boot["presence"].(map[string]any)
	if pres["isLive"] != true || pres["location"] == nil {
		t.Fatalf("bootstrap presence = %v", pres)
	}
	if nb := boot["nearbyUsers"].([]any); len(nb) != 1 || nb[0].(map[string]any)["user"].(map[string]any)["id"] != b.ID {
		t.Fatalf("bootstrap nearbyUsers = %v", nb)
	}
}

// pair sets up two users 300 m apart who see each other.
func pair(t *testing.T, srv *servertest.Server) (radarUser, radarUser) {
	a, b := joinRadar(t, srv, "amy"), joinRadar(t, srv, "bob")
	locate(t, a.ws, baseLat, baseLng)
	bLat, bLng := metresEast(baseLat, baseLng, 300)
	_, n := locate(t, b.ws, bLat, bLng)
	seen(t, b.ws, n, a.ID)
	a.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool { return decodeNearby(t, f).has(b.ID) })
	return a, b
}

func gone(t *testing.T, ws *servertest.WS, id string, timeout time.Duration) {
	t.Helper()
	ws.ExpectPushWhere("radar.nearby.updated", timeout, func(f *servertest.Frame) bool { return !decodeNearby(t, f).has(id) })
}

func TestHidingRemovesFromRadar(t *testing.T) {
	srv := radarServer(t)
	a, b := pair(t, srv)
	b.ws.Send("radar.set_visible", map[string]any{"isOnRadar": false}, "hide")
	p := b.ws.ExpectReply("presence.updated", "hide").Map(t)["presence"].(map[string]any)
	if p["isOnRadar"] != false {
		t.Fatalf("presence after hiding = %v", p)
	}
	// A hidden user still sees others.
	if n := decodeNearby(t, b.ws.ExpectReply("radar.nearby.updated", "hide")); !n.has(a.ID) {
		t.Fatalf("hidden bob's own radar = %v", n.ids())
	}
	gone(t, a.ws, b.ID, 5*time.Second)
	if _, n := locate(t, a.ws, baseLat, baseLng); n.has(b.ID) {
		t.Fatal("hidden user still on radar")
	}
	// Visibility is persisted and restored in bootstrap.
	if boot := b.Dial().Start(); boot["presence"].(map[string]any)["isOnRadar"] != false {
		t.Fatalf("bootstrap isOnRadar = %v", boot["presence"])
	}
	b.ws.Send("radar.set_visible", map[string]any{"isOnRadar": true}, "show")
	b.ws.ExpectReply("radar.nearby.updated", "show")
	a.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool { return decodeNearby(t, f).has(b.ID) })

	b.ws.Send("radar.set_visible", map[string]any{}, "bad")
	b.ws.ExpectErrorCode("invalid_payload")
}

func TestBlockingRemovesBothWays(t *testing.T) {
	srv := radarServer(t)
	a, b := pair(t, srv)
	a.ws.Send("safety.block", map[string]any{"blockedUserId": b.ID}, "blk")
	a.ws.ExpectReply("safety.block", "blk")
	gone(t, b.ws, a.ID, 5*time.Second)
	gone(t, a.ws, b.ID, 5*time.Second)
	bLat, bLng := metresEast(baseLat, baseLng, 300)
	if _, n := locate(t, b.ws, bLat, bLng); n.has(a.ID) {
		t.Fatal("blocked user still on the blocked user's radar")
	}
	if _, n := locate(t, a.ws, baseLat, baseLng); n.has(b.ID) {
		t.Fatal("blocked user still on the blocker's radar")
	}
}

func TestStaleAndDisconnectedUsersLeave(t *testing.T) {
	srv := radarServer(t, func(c *config.Config) { c.PresenceTTL = 2 * time.Second })
	a, b := pair(t, srv)
	// Ben stops sending; after the TTL he is stale and leaves Amy's radar,
	// while Amy keeps sending and stays live.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				a.ws.Send("presence.location_update", map[string]any{"lat": baseLat, "lng": baseLng}, "keepalive")
			}
		}
	}()
	gone(t, a.ws, b.ID, 6*time.Second)
	close(stop)
	<-done

	// Back: Ben sends again and reappears; then he disconnects and leaves
	// after the reconnect grace.
	bLat, bLng := metresEast(baseLat, baseLng, 300)
	locate(t, a.ws, baseLat, baseLng)
	locate(t, b.ws, bLat, bLng)
	a.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool { return decodeNearby(t, f).has(b.ID) })
	b.ws.Close()
	gone(t, a.ws, b.ID, 5*time.Second)
}

func TestInvalidLocations(t *testing.T) {
	srv := radarServer(t)
	ws := joinRadar(t, srv, "lost").ws
	cases := []string{
		`{"lat":91,"lng":0}`, `{"lat":-90.0001,"lng":0}`, `{"lat":0,"lng":180.5}`, `{"lat":0,"lng":-181}`,
		`{"lng":3}`, `{"lat":6}`, `{"lat":null,"lng":3}`, `{"lat":"6.5","lng":3}`, `{"lat":6,"lng":3,"heading":361}`,
		`{"lat":6,"lng":3,"heading":-1}`, `{"lat":6,"lng":3,"speed":-0.1}`, `{"lat":6,"lng":3,"accuracyMeters":-1}`,
		`{"lat":1e999,"lng":3}`, `[]`,
	}
	for i, payload := range cases {
		id := fmt.Sprint("bad-", i)
		ws.SendRaw([]byte(`{"type":"presence.location_update","requestId":"` + id + `","payload":` + payload + `}`))
		f := ws.ExpectReply("error", id)
		if f.ErrorCode() != "invalid_location" || f.Map(t)["domain"] != "presence" {
			t.Errorf("%s: %s", payload, f.Raw)
		}
	}
	// Edges are valid.
	for _, ll := range [][2]float64{{90, 180}, {-90, -180}, {0, 0}} {
		if p, _ := locate(t, ws, ll[0], ll[1]); p["presence"].(map[string]any)["isLive"] != true {
			t.Fatalf("location %v refused: %v", ll, p)
		}
	}
}

func TestSharedInterestsAndVibeChanges(t *testing.T) {
	srv := radarServer(t)
	a, b := pair(t, srv)
	a.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "coffee #Jazz #art"})
	b.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "late night #jazz and #ART"})
	f := a.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool {
		n := decodeNearby(t, f)
		return len(n.NearbyUsers) == 1 && n.NearbyUsers[0].User["vibe"] == "late night #jazz and #ART" && len(n.NearbyUsers[0].SharedInterests) == 2
	})
	if got := strings.Join(decodeNearby(t, f).NearbyUsers[0].SharedInterests, ","); got != "art,jazz" {
		t.Fatalf("sharedInterests = %s", got)
	}
	// Clearing a vibe reaches the other radar too.
	b.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": nil})
	a.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool {
		n := decodeNearby(t, f)
		return len(n.NearbyUsers) == 1 && n.NearbyUsers[0].User["vibe"] == nil && len(n.NearbyUsers[0].SharedInterests) == 0
	})
}
