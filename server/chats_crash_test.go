package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// TestChatsRESTSIGKILLKeepsEveryAnsweredMessage: two users post over
// REST; the server is killed as soon as 40 posts were answered 200; after
// a restart every answered message is in the chat's history, exactly once.
func TestChatsRESTSIGKILLKeepsEveryAnsweredMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	p := servertest.StartProcess(t, dir)
	a := servertest.LoginAt(t, p.URL, "dev", "chats-crash-a")
	b := servertest.LoginAt(t, p.URL, "dev", "chats-crash-b")
	aws, bws := a.Dial(), b.Dial()
	aws.Start()
	bws.Start()
	pairUp(t, member{a, aws}, member{b, bws})
	chat := storage.ChatID(storage.PairID(a.ID, b.ID))

	// Posters use their own client: a request cut by the kill is an
	// expected error, not a test failure.
	const each, killAfter = 100, 40
	var mu sync.Mutex
	answered := map[string]string{} // message id → content
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for _, u := range []*servertest.User{a, b} {
		wg.Add(1)
		go func(u *servertest.User) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				content := fmt.Sprintf("%s-%03d", u.ID, i)
				body, _ := json.Marshal(map[string]string{"content": content})
				req, _ := http.NewRequest(http.MethodPost, p.URL+"/chats/"+chat+"/messages", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+u.AccessToken)
				res, err := client.Do(req)
				if err != nil {
					return
				}
				var out struct {
					Message struct {
						ID      string `json:"_id"`
						Content string `json:"content"`
					} `json:"message"`
				}
				err = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK {
					return
				}
				mu.Lock()
				answered[out.Message.ID] = out.Message.Content
				if len(answered) >= killAfter {
					once.Do(func() { close(killed) })
				}
				mu.Unlock()
			}
		}(u)
	}
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("40 posts were never answered")
	}
	p.Kill()
	wg.Wait()

	p = servertest.StartProcess(t, dir)
	a = servertest.LoginAt(t, p.URL, "dev", "chats-crash-a")
	stored := map[string]string{}
	before := ""
	for {
		path := "/chats/" + chat + "/messages?limit=100"
		if before != "" {
			path += "&before=" + before
		}
		res := a.Do(http.MethodGet, path, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("history after restart: %d %s", res.Status, res.Body)
		}
		page := res.JSON(t)
		for _, x := range page["messages"].([]any) {
			m := x.(map[string]any)
			id := m["_id"].(string)
			if _, dup := stored[id]; dup {
				t.Fatalf("%s listed twice", id)
			}
			stored[id] = m["content"].(string)
		}
		if page["nextBefore"] == nil {
			break
		}
		before = page["nextBefore"].(string)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, content := range answered {
		if stored[id] != content {
			t.Errorf("answered %s (%q) but after the restart it reads %q", id, content, stored[id])
		}
	}
	t.Logf("%d posts answered before SIGKILL, %d messages stored after restart", len(answered), len(stored))
}
