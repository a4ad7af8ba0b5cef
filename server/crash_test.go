package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

const adminToken = "test-admin-token-0123456789"

// TestSIGKILLLosesNoAcknowledgedWrite kills the server right after it
// acknowledged a profile change, a block, a report and a device, and checks
// every one is there after a restart.
func TestSIGKILLLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	p := servertest.StartProcess(t, dir, "GISBI_ADMIN_TOKEN="+adminToken)
	a := servertest.LoginAt(t, p.URL, "dev", "crash-a")
	b := servertest.LoginAt(t, p.URL, "dev", "crash-b")
	ws := a.Dial()
	ws.Start()

	if res := a.Do(http.MethodPatch, "/users/profile", map[string]any{"name": "Survivor", "age": 40, "username": "survivor", "vibe": "still here", "vibeDurationMinutes": 600}); res.Status != 200 {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	ws.Send("safety.block", map[string]any{"blockedUserId": b.ID}, "blk")
	ws.Expect("safety.block")
	ws.Send("safety.report", map[string]any{"reportedUserId": b.ID, "reason": "spam"}, "rep")
	reportID := ws.Expect("safety.report").Map(t)["reportId"]
	if res := a.Do(http.MethodPost, "/devices/register", map[string]string{"token": "apns_survivor", "platform": "ios"}); res.Status != 200 {
		t.Fatalf("device: %d %s", res.Status, res.Body)
	}
	p.Kill()

	p = servertest.StartProcess(t, dir, "GISBI_ADMIN_TOKEN="+adminToken)
	a2 := servertest.LoginAt(t, p.URL, "dev", "crash-a")
	if a2.ID != a.ID {
		t.Fatalf("login after restart made a new user: %s vs %s", a2.ID, a.ID)
	}
	me := a2.Do(http.MethodGet, "/users/me", nil).JSON(t)
	if me["name"] != "Survivor" || me["age"] != 40.0 || me["username"] != "survivor" || me["vibe"] != "still here" {
		t.Fatalf("profile after SIGKILL: %v", me)
	}
	boot := a2.Dial().Start()
	if ids := boot["blockedUserIds"].([]any); len(ids) != 1 || ids[0] != b.ID {
		t.Fatalf("block lost: %v", ids)
	}
	if reps := boot["safetyReports"].([]any); len(reps) != 1 || reps[0].(map[string]any)["reportId"] != reportID {
		t.Fatalf("report lost: %v", reps)
	}
	admin := servertest.Do(t, p.URL, http.MethodGet, "/admin/users/"+a.ID, adminToken, nil).JSON(t)
	devs, _ := admin["devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["token"] != "apns_survivor" {
		t.Fatalf("device lost: %v", admin["devices"])
	}
}

func TestSIGTERMClosesSocketsWith1001(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	p := servertest.StartProcess(t, dir)
	ws := servertest.LoginAt(t, p.URL, "dev", "goodbye").Dial()
	ws.Start()
	if code := p.Terminate(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, p.ServerLog())
	}
	if code := ws.WaitClosed(5 * time.Second); code != protocol.CloseGoingAway {
		t.Fatalf("close code = %d, want 1001", code)
	}
}

func TestAdminAPIIsOffWithoutAToken(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("curious")
	if res := u.Do(http.MethodGet, "/admin/users/"+u.ID, nil); res.Status != 404 {
		t.Fatalf("admin route without GISBI_ADMIN_TOKEN: %d %s", res.Status, res.Body)
	}
}
