package server_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// wireTime is RFC 3339 in UTC with exactly milliseconds.
var wireTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestProximityWireTimes: the four proximity timestamps a client reads
// (token, bootstrap token, rotation, summary runs) carry milliseconds, as
// every other timestamp does; they once carried the clock's nanoseconds.
func TestProximityWireTimes(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) {
		c.ClockSpeed = 60 // a rotation within a real second or so
		c.AccessTTL = time.Hour
		c.HeartbeatTimeout = time.Hour
	})
	a, b := joinAs(t, srv, "ms-a"), joinAs(t, srv, "ms-b")
	conn := pairUp(t, a, b)
	check := func(what string, v any) {
		t.Helper()
		if s, _ := v.(string); !wireTime.MatchString(s) {
			t.Errorf("%s = %v, want RFC 3339 UTC with milliseconds", what, v)
		}
	}
	res := a.Do(http.MethodPost, "/connections/"+conn+"/proximity/token", nil)
	check("token expiresAt", res.JSON(t)["expiresAt"])
	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)
	handshake(t, pa, pb)
	runs := summary(t, a, conn)["sessions"].([]any)
	check("summary sessions[0].startedAt", runs[0].(map[string]any)["startedAt"])
	boot := a.User.Dial().Start()
	check("bootstrap bleTokenExpiresAt", boot["proximitySession"].(map[string]any)["bleTokenExpiresAt"])
	check("proximity.token.rotate expiresAt", a.ws.ExpectPush("proximity.token.rotate", 10*time.Second).Map(t)["expiresAt"])
}

// TestProximityBootstrapPausedAfterRunEnded: once a run ended after its
// grace period, the still active connection's proximitySession is paused
// (no run going); ended is kept for closed connections.
func TestProximityBootstrapPausedAfterRunEnded(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) {
		c.ClockSpeed = 60 // heartbeat timeout and grace (45 s) in under a real second
		c.AccessTTL = time.Hour
	})
	a, b := joinAs(t, srv, "end-a"), joinAs(t, srv, "end-b")
	conn := pairUp(t, a, b)
	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)
	handshake(t, pa, pb)
	a.ws.ExpectPushWhere("proximity.session.updated", 10*time.Second, func(f *servertest.Frame) bool {
		return f.Map(t)["status"] == "ended"
	})
	ps := a.User.Dial().Start()["proximitySession"].(map[string]any)
	if ps["connectionId"] != conn || ps["status"] != "paused" {
		t.Fatalf("proximitySession = %v, want status paused", ps)
	}
}
