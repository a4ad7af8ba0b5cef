// Command hello is the smallest GISBI client: it logs in with the dev
// provider, opens /ws, sends session.start and prints every frame it
// receives. Run it against a dev server:
//
//	go run ./cmd/gisbi serve --dev &
//	go run ./examples/hello --handle ada
//
// With --listen it keeps printing pushed events (radar, requests, chat)
// until interrupted; without it, it stops after session.bootstrap.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "base URL of a dev server")
	handle := flag.String("handle", "ada", "dev login handle (any name; the same name is the same user)")
	listen := flag.Bool("listen", false, "keep printing pushed events after bootstrap")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *server, *handle, *listen, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

// run logs in, opens the socket and prints frames to out.
func run(ctx context.Context, server, handle string, listen bool, out io.Writer) error {
	token, err := login(ctx, server, handle)
	if err != nil {
		return err
	}
	wsURL := "ws" + strings.TrimPrefix(server, "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return fmt.Errorf("open socket: %w", err)
	}
	defer conn.Close()
	go func() { <-ctx.Done(); conn.Close() }()

	start := `{"type":"session.start","payload":{},"requestId":"hello-1"}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(start)); err != nil {
		return fmt.Errorf("send session.start: %w", err)
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(70 * time.Second))
		_, frame, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read: %w", err)
		}
		var f struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(frame, &f); err != nil {
			return fmt.Errorf("frame is not JSON: %w", err)
		}
		fmt.Fprintf(out, "%s\n", frame)
		if f.Type == "session.bootstrap" && !listen {
			return nil
		}
	}
}

// login answers the access token of a dev login.
func login(ctx context.Context, server, handle string) (string, error) {
	body, _ := json.Marshal(map[string]string{"provider": "dev", "idToken": handle})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/auth/social-login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer res.Body.Close()
	var ans struct {
		AccessToken string `json:"accessToken"`
		Code        string `json:"code"`
		Detail      string `json:"detail"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ans); err != nil {
		return "", fmt.Errorf("login: %d: %w", res.StatusCode, err)
	}
	if res.StatusCode != http.StatusOK || ans.AccessToken == "" {
		return "", fmt.Errorf("login: %d %s: %s (is the server in --dev mode?)", res.StatusCode, ans.Code, ans.Detail)
	}
	return ans.AccessToken, nil
}
