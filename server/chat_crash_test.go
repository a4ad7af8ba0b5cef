package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
)

// TestChatSIGKILLKeepsEveryAcknowledgedMessage: 10 senders stream 100
// messages each; the server is killed mid-stream; after a restart every
// message whose ack a sender received is in history, in order, once.
func TestChatSIGKILLKeepsEveryAcknowledgedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	env := []string{"GISBI_WS_RATE=100000", "GISBI_WS_BURST=100000", "GISBI_MAX_SOCKETS_PER_USER=50"}
	p := servertest.StartProcess(t, dir, env...)
	hub := servertest.LoginAt(t, p.URL, "dev", "hub")
	hubWS := hub.Dial()
	hubWS.Start()
	const senders, each = 10, 100
	type sender struct {
		u  *servertest.User
		ws *servertest.WS
	}
	var ss []sender
	for i := 0; i < senders; i++ {
		u := servertest.LoginAt(t, p.URL, "dev", fmt.Sprint("sender-", i))
		ws := u.Dial()
		ws.Start()
		req := send(t, member{u, ws}, member{hub, hubWS})
		hubWS.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
		hubWS.ExpectReply("connection.request.accept", "acc")
		ss = append(ss, sender{u, ws})
	}

	acked := make([][]string, senders) // contents acknowledged, per sender
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	killed := make(chan struct{})
	var once sync.Once
	for i, s := range ss {
		wg.Add(1)
		go func(i int, s sender) {
			defer wg.Done()
			for j := 0; j < each; j++ {
				content := fmt.Sprintf("s%d-%03d", i, j)
				if err := s.ws.Conn.WriteJSON(map[string]any{"type": "chat.message.created", "requestId": content,
					"payload": map[string]any{"recipientId": hub.ID, "content": content}}); err != nil {
					return
				}
			}
		}(i, s)
		wg.Add(1)
		go func(i int, s sender) {
			defer wg.Done()
			for {
				f := s.ws.TryNext(3 * time.Second)
				if f == nil {
					return
				}
				if f.Type == "chat.message.created" && f.RequestID != "" {
					mu.Lock()
					acked[i] = append(acked[i], f.RequestID)
					total++
					if total >= senders*each/2 {
						once.Do(func() { close(killed) })
					}
					mu.Unlock()
				}
			}
		}(i, s)
	}
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("half the messages were never acknowledged")
	}
	p.Kill()
	wg.Wait()

	p = servertest.StartProcess(t, dir, env...)
	hub = servertest.LoginAt(t, p.URL, "dev", "hub")
	mu.Lock()
	defer mu.Unlock()
	stored := 0
	for i, s := range ss {
		history := conversation(t, hub, s.u.ID)
		stored += len(history)
		// In order, each once: history is a prefix of what was sent.
		for j, c := range history {
			if want := fmt.Sprintf("s%d-%03d", i, j); c != want {
				t.Fatalf("sender %d: history[%d] = %s, want %s (%s)", i, j, c, want, strings.Join(history, ","))
			}
		}
		if len(history) < len(acked[i]) {
			t.Fatalf("sender %d: %d messages acknowledged but only %d stored", i, len(acked[i]), len(history))
		}
	}
	t.Logf("%d messages acknowledged before SIGKILL, %d stored after restart", total, stored)
}

// conversation is u's whole conversation with peer, oldest first, read
// page by page over REST.
func conversation(t *testing.T, u *servertest.User, peer string) []string {
	t.Helper()
	var history []string
	before := ""
	for {
		path := "/conversations/" + peer + "/messages?limit=100"
		if before != "" {
			path += "&before=" + before
		}
		res := u.Do(http.MethodGet, path, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("history: %d %s", res.Status, res.Body)
		}
		m := res.JSON(t)
		for _, x := range m["messages"].([]any) {
			history = append([]string{x.(map[string]any)["content"].(string)}, history...)
		}
		if m["nextBefore"] == nil {
			return history
		}
		before = m["nextBefore"].(string)
	}
}
