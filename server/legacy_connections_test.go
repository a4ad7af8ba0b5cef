package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
)

func TestLegacyConnectionsAPI(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinAs(t, srv, "legacy-a"), joinAs(t, srv, "legacy-b")
	noVibe := srv.Login("no-vibe")
	b.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "open to meet", "username": "bee", "bio": "hello"})

	if res := a.Do(http.MethodPost, "/connections/"+noVibe.ID, nil); res.Status != 409 || res.Code() != "vibe_required" {
		t.Fatalf("request to a user without a vibe: %d %s", res.Status, res.Body)
	}
	if res := a.Do(http.MethodPost, "/connections/"+a.ID, nil); res.Status != 400 || res.Code() != "self_request" {
		t.Fatalf("request to self: %d %s", res.Status, res.Body)
	}
	if res := a.Do(http.MethodPost, "/connections/user_nobody", nil); res.Status != 404 {
		t.Fatalf("request to nobody: %d %s", res.Status, res.Body)
	}
	res := a.Do(http.MethodPost, "/connections/"+b.ID, nil)
	if res.Status != 200 {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	created := res.JSON(t)["connection"].(map[string]any)
	if created["from"] != a.ID || created["to"] != b.ID || created["status"] != "pending" || created["_id"] == "" || created["createdAt"] == nil {
		t.Fatalf("created = %v", created)
	}
	// The /ws client sees it as a normal request.
	if f := b.ws.ExpectPush("connection.request.send", 5*time.Second).Map(t)["request"].(map[string]any); f["requestId"] != created["_id"] {
		t.Fatalf("ws saw %v", f)
	}
	if res := a.Do(http.MethodPost, "/connections/"+b.ID, nil); res.Status != 409 || res.Code() != "request_exists" {
		t.Fatalf("duplicate: %d %s", res.Status, res.Body)
	}
	list := b.Do(http.MethodGet, "/connections", nil).JSON(t)
	items := list["connections"].([]any)
	if list["count"] != 1.0 || len(items) != 1 {
		t.Fatalf("list: %v", list)
	}
	it := items[0].(map[string]any)
	if it["_id"] != created["_id"] || it["status"] != "pending" || it["user"].(map[string]any)["_id"] != a.ID || it["from"].(map[string]any)["_id"] != a.ID || it["to"].(map[string]any)["username"] != "bee" {
		t.Fatalf("item: %v", it)
	}
	// Only the receiver accepts.
	if res := a.Do(http.MethodPost, "/connections/"+b.ID+"/accept", nil); res.Status != 403 {
		t.Fatalf("sender accepting: %d %s", res.Status, res.Body)
	}
	res = b.Do(http.MethodPost, "/connections/"+a.ID+"/accept", nil)
	acc := res.JSON(t)["connection"].(map[string]any)
	if res.Status != 200 || acc["status"] != "accepted" || acc["acceptedAt"] == nil || acc["_id"] != created["_id"] {
		t.Fatalf("accept: %d %s", res.Status, res.Body)
	}
	if f := a.ws.ExpectPush("connection.request.accept", 5*time.Second).Map(t); f["requestId"] != created["_id"] {
		t.Fatalf("ws accept push: %v", f)
	}
	if l := a.Do(http.MethodGet, "/connections?status=accepted", nil).JSON(t); l["count"] != 1.0 {
		t.Fatalf("accepted filter: %v", l)
	}
	if l := a.Do(http.MethodGet, "/connections?status=pending", nil).JSON(t); l["count"] != 0.0 {
		t.Fatalf("pending filter: %v", l)
	}
	if res := a.Do(http.MethodDelete, "/connections/"+b.ID, nil); res.Status != 409 || res.Code() != "already_connected" {
		t.Fatalf("delete an accepted connection: %d %s", res.Status, res.Body)
	}

	// Pagination over 25 pending requests plus the accepted one.
	b.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "popular"})
	var senders []*servertest.User
	for i := 0; i < 25; i++ {
		u := srv.Login(fmt.Sprint("fan-", i))
		if res := u.Do(http.MethodPost, "/connections/"+b.ID, nil); res.Status != 200 {
			t.Fatalf("fan %d: %d %s", i, res.Status, res.Body)
		}
		senders = append(senders, u)
	}
	seen := map[string]bool{}
	for page, want := range map[int]int{1: 10, 2: 10, 3: 6, 4: 0} {
		l := b.Do(http.MethodGet, fmt.Sprintf("/connections?page=%d&limit=10", page), nil).JSON(t)
		got := l["connections"].([]any)
		if len(got) != want || l["count"] != 26.0 {
			t.Fatalf("page %d: %d items, count %v; want %d and 26", page, len(got), l["count"], want)
		}
		for _, x := range got {
			id := x.(map[string]any)["_id"].(string)
			if seen[id] {
				t.Fatalf("%s on two pages", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != 26 {
		t.Fatalf("pages listed %d connections, want 26", len(seen))
	}
	if l := b.Do(http.MethodGet, "/connections?limit=100", nil).JSON(t); len(l["connections"].([]any)) != 26 {
		t.Fatalf("limit=100: %d", len(l["connections"].([]any)))
	}
	for _, q := range []string{"limit=0", "limit=101", "page=0", "page=x", "status=declined"} {
		if res := b.Do(http.MethodGet, "/connections?"+q, nil); res.Status != 400 {
			t.Errorf("GET /connections?%s: %d", q, res.Status)
		}
	}
	// DELETE: the receiver declines, the sender cancels.
	if res := b.Do(http.MethodDelete, "/connections/"+senders[0].ID, nil); res.Status != 200 || res.JSON(t)["connection"].(map[string]any)["status"] != "rejected" {
		t.Fatalf("decline: %d %s", res.Status, res.Body)
	}
	if res := senders[1].Do(http.MethodDelete, "/connections/"+b.ID, nil); res.Status != 200 || res.JSON(t)["connection"].(map[string]any)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", res.Status, res.Body)
	}
	if res := senders[1].Do(http.MethodDelete, "/connections/"+b.ID, nil); res.Status != 404 {
		t.Fatalf("delete twice: %d %s", res.Status, res.Body)
	}
	if l := b.Do(http.MethodGet, "/connections?status=pending&limit=100", nil).JSON(t); l["count"] != 23.0 {
		t.Fatalf("pending after delete: %v", l["count"])
	}
	if res := srv.Do(http.MethodGet, "/connections", "", nil); res.Status != 401 {
		t.Fatalf("anonymous list: %d", res.Status)
	}
}
