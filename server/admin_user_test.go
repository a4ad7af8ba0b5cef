package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// TestAdminUserView: the operator's view of an account is answered by its
// User grain (blocks, reports filed, the stored record) with the devices
// from the store, in the store's own shapes, deleted accounts included.
func TestAdminUserView(t *testing.T) {
	const token = "operator-token-0123456789"
	srv := servertest.Start(t, func(c *config.Config) { c.AdminToken = token })
	a, b := srv.Login("watched"), srv.Login("other")
	ws := a.Dial()
	ws.Start()
	ws.Send("safety.block", map[string]any{"blockedUserId": b.ID}, "blk")
	ws.Expect("safety.block")
	ws.Send("safety.report", map[string]any{"reportedUserId": b.ID, "reason": "spam"}, "rep")
	ws.Expect("safety.report")
	if res := a.Do(http.MethodPost, "/devices/register", map[string]string{"token": "apns_admin", "platform": "ios"}); res.Status != 200 {
		t.Fatalf("device: %d %s", res.Status, res.Body)
	}

	view := servertest.Do(t, srv.URL, http.MethodGet, "/admin/users/"+a.ID, token, nil)
	if view.Status != 200 {
		t.Fatalf("admin view: %d %s", view.Status, view.Body)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(view.Body, &got); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u, _ := srv.Store.Users().Get(ctx, a.ID)
	blocks, _ := srv.Store.Safety().BlockedBy(ctx, a.ID)
	reports, _ := srv.Store.Safety().ReportsBy(ctx, a.ID)
	devices, _ := srv.Store.Devices().ListByUser(ctx, a.ID)
	if len(blocks) != 1 || len(reports) != 1 || len(devices) != 1 {
		t.Fatalf("set-up: %d blocks, %d reports, %d devices", len(blocks), len(reports), len(devices))
	}
	for key, want := range map[string]any{"user": u, "blocks": blocks, "reportsFiled": reports, "devices": devices} {
		assertSameJSON(t, key, got[key], want)
	}
	if len(got) != 4 {
		t.Errorf("admin view keys: %v", got)
	}

	// A deleted account is still shown.
	if res := b.Do(http.MethodPost, "/auth/delete-account", map[string]string{"reason": "leaving"}); res.Status != 200 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	view = servertest.Do(t, srv.URL, http.MethodGet, "/admin/users/"+b.ID, token, nil)
	if m := view.JSON(t); view.Status != 200 || m["user"].(map[string]any)["deletedAt"] == nil {
		t.Fatalf("deleted account: %d %s", view.Status, view.Body)
	}
	if res := servertest.Do(t, srv.URL, http.MethodGet, "/admin/users/user_nobody", token, nil); res.Status != 404 || res.Code() != "user_not_found" {
		t.Fatalf("unknown user: %d %s", res.Status, res.Body)
	}
}

// assertSameJSON checks that raw is want as encoding/json writes it.
func assertSameJSON(t *testing.T, key string, raw json.RawMessage, want any) {
	t.Helper()
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("%s: %v: %s", key, err, raw)
	}
	_ = json.Unmarshal(wb, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", key, raw, wb)
	}
}
