package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/server/servertest"
)

// TestRadarFanOutIsProportionalToWatchersNearby counts the wake-ups one move
// causes: the watchers near the mover, and none of the users far away,
// however many there are.
func TestRadarFanOutIsProportionalToWatchersNearby(t *testing.T) {
	srv := radarServer(t)
	grid := radar.NewGrid(srv.Config.RadarRadiusM)
	// Put the mover at the centre of its cell so a 10 m step stays inside it.
	center := h3.CellToLatLng(grid.Cell(baseLat, baseLng))

	const nearN, farN = 4, 30
	var near []radarUser
	for i := 0; i < nearN; i++ {
		u := joinRadar(t, srv, fmt.Sprint("near-", i))
		lat, lng := metresEast(center.Lat, center.Lng, float64(100+20*i))
		locate(t, u.ws, lat, lng)
		near = append(near, u)
	}
	for i := 0; i < farN; i++ {
		u := joinRadar(t, srv, fmt.Sprint("far-", i))
		// 50 km north, spread over a few km: a city of their own.
		locate(t, u.ws, center.Lat+0.45+float64(i%6)*0.01, center.Lng+float64(i/6)*0.01)
	}
	mover := joinRadar(t, srv, "mover")
	locate(t, mover.ws, center.Lat, center.Lng)
	for _, u := range near {
		u.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool { return decodeNearby(t, f).has(mover.ID) })
	}
	time.Sleep(300 * time.Millisecond) // let every wake-up of the set-up land

	before := testutil.ToFloat64(srv.Metrics.RadarNotifications)
	lat, lng := metresEast(center.Lat, center.Lng, 10)
	locate(t, mover.ws, lat, lng)
	// The answer does not wait for the cell: the cell write, and the
	// wake-ups it causes, land just after it.
	woke := func() float64 { return testutil.ToFloat64(srv.Metrics.RadarNotifications) - before }
	for deadline := time.Now().Add(5 * time.Second); woke() < nearN && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := woke(); got != nearN {
		t.Fatalf("one move woke %v watchers; want exactly the %d nearby (and none of the %d far away)", got, nearN, farN)
	}
	for _, u := range near {
		u.ws.ExpectPushWhere("radar.nearby.updated", 5*time.Second, func(f *servertest.Frame) bool {
			n := decodeNearby(t, f)
			for _, x := range n.NearbyUsers {
				if x.User["id"] == mover.ID {
					return x.Location["lng"].(float64) == lng
				}
			}
			return false
		})
	}
	// Every near watcher has pushed, so every wake-up of the move landed.
	if got := woke(); got != nearN {
		t.Fatalf("one move woke %v watchers in the end; want exactly the %d nearby", got, nearN)
	}
}
