package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gisbi/engine/auth/authtest"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// fakeFCM plays Google's token endpoint and FCM v1 on 127.0.0.1.
type fakeFCM struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent []map[string]any // message objects, in arrival order
	auth []string
}

func newFakeFCM(t *testing.T) *fakeFCM {
	f := &fakeFCM{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			_ = r.ParseForm()
			if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.Form.Get("assertion") == "" {
				http.Error(w, "bad grant", 400)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"ya29.test","expires_in":3600,"token_type":"Bearer"}`)
		case strings.HasSuffix(r.URL.Path, "/messages:send"):
			var body struct {
				Message map[string]any `json:"message"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			f.mu.Lock()
			f.sent = append(f.sent, body.Message)
			f.auth = append(f.auth, r.Header.Get("Authorization"))
			f.mu.Unlock()
			if body.Message["token"] == "dead-token" {
				w.WriteHeader(404)
				_, _ = io.WriteString(w, `{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
				return
			}
			_, _ = io.WriteString(w, `{"name":"projects/demo/messages/1"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFCM) messages() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.sent...)
}

func (f *fakeFCM) waitFor(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := f.messages(); len(m) >= n {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fake FCM got %d pushes, want %d", len(f.messages()), n)
	return nil
}

func TestPushReachesOfflineUsersOnly(t *testing.T) {
	fcm := newFakeFCM(t)
	saPath, _ := authtest.WriteServiceAccount(t)
	srv := servertest.Start(t, func(c *config.Config) {
		c.FCMCredentialsFile = saPath
		c.FCMEndpoint = fcm.srv.URL
		c.FCMTokenURL = fcm.srv.URL + "/token"
		c.PushRetries = 0
	})
	a, b := connected(t, srv, "push-a", "push-b")
	if res := b.Do(http.MethodPost, "/devices/register", map[string]string{"token": "live-token", "platform": "android"}); res.Status != 200 {
		t.Fatalf("register: %d", res.Status)
	}
	// Online: no push.
	say(t, a, b, "you are online", "on")
	b.ws.ExpectPush("chat.message.created", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(fcm.messages()); n != 0 {
		t.Fatalf("pushed %d notifications to an online user", n)
	}
	// Offline (after the last socket closed): a push per message, then a ring.
	open := testutil.ToFloat64(srv.Metrics.SocketsOpen)
	b.ws.Close()
	waitOffline(t, srv, open)
	say(t, a, b, "where are you?", "off")
	got := fcm.waitFor(t, 1)
	if got[0]["token"] != "live-token" || got[0]["notification"].(map[string]any)["body"] != "where are you?" {
		t.Fatalf("push = %v", got[0])
	}
	if fcm.auth[0] != "Bearer ya29.test" {
		t.Fatalf("Authorization = %q", fcm.auth[0])
	}
	time.Sleep(10 * time.Millisecond)
	a.ws.Send("connection.ring", map[string]any{"userId": b.ID}, "ring")
	a.ws.ExpectReply("connection.ring", "ring")
	if ring := fcm.waitFor(t, 2)[1]; ring["data"].(map[string]any)["kind"] != "ring" {
		t.Fatalf("ring push = %v", ring)
	}
	// A new request to an offline user is pushed too.
	c := joinAs(t, srv, "push-c")
	c.ws.Send("connection.request.send", map[string]any{"userId": b.ID}, "req")
	c.ws.ExpectReply("connection.request.send", "req")
	if req := fcm.waitFor(t, 3)[2]; req["data"].(map[string]any)["kind"] != "request" {
		t.Fatalf("request push = %v", req)
	}

	// A token the provider calls unregistered is deactivated.
	if res := b.Do(http.MethodPost, "/devices/register", map[string]string{"token": "dead-token", "platform": "android"}); res.Status != 200 {
		t.Fatalf("register: %d", res.Status)
	}
	say(t, a, b, "anyone?", "dead")
	fcm.waitFor(t, 5) // live-token and dead-token
	deadline := time.Now().Add(5 * time.Second)
	for {
		devs, err := srv.Store.Devices().ListByUser(t.Context(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		active := map[string]bool{}
		for _, d := range devs {
			active[d.Token] = d.IsActive
		}
		if !active["dead-token"] && active["live-token"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("devices after UNREGISTERED: %v", active)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOffline waits until one socket fewer is open, then for the User
// grain to hear the session detach (it follows the close asynchronously).
func waitOffline(t *testing.T, srv *servertest.Server, before float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(srv.Metrics.SocketsOpen) >= before {
		if time.Now().After(deadline) {
			t.Fatal("socket never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
}
