package server_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/tlscert/tlscerttest"
)

// tlsServer is a server with TLS on, and what a client needs to trust it.
type tlsServer struct {
	*servertest.Server
	ca        *tlscerttest.CA
	cert, key string
	client    *http.Client
}

func startTLS(t *testing.T, leaf func(*tlscerttest.CA) tlscerttest.Leaf) *tlsServer {
	t.Helper()
	ca := tlscerttest.NewCA(t)
	cert, key := leaf(ca).Files(t)
	srv := servertest.Start(t, func(c *config.Config) { c.TLSCertFile, c.TLSKeyFile = cert, key })
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}}
	t.Cleanup(client.CloseIdleConnections)
	return &tlsServer{Server: srv, ca: ca, cert: cert, key: key, client: client}
}

// served is the serial of the certificate a new handshake sees.
func (s *tlsServer) served(t *testing.T) *big.Int {
	t.Helper()
	serial, err := servedAt(s.Addr(), s.ca)
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return serial
}

func servedAt(addr string, ca *tlscerttest.CA) (*big.Int, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, ca.ClientConfig())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// login signs in with the dev provider over HTTPS and returns the access token.
func (s *tlsServer) login(t *testing.T, handle string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"provider": "dev", "idToken": handle})
	res, err := s.client.Post(s.URL+"/auth/social-login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("login over https: %v", err)
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || out.AccessToken == "" {
		t.Fatalf("login over https: %d, %v", res.StatusCode, err)
	}
	return out.AccessToken
}

// dial opens a wss:// socket that trusts only the test CA.
func (s *tlsServer) dial(t *testing.T, path, token string) *servertest.WS {
	t.Helper()
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: s.ca.ClientConfig()}
	ws, res, err := servertest.DialWSWith(t, d, s.URL, path, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial wss %s: %v (status %d)", path, err, status)
	}
	if _, ok := ws.Conn.UnderlyingConn().(*tls.Conn); !ok {
		t.Fatalf("socket on %s is %T, not TLS", path, ws.Conn.UnderlyingConn())
	}
	return ws
}

func TestTLSServesHTTPSAndWSS(t *testing.T) {
	srv := startTLS(t, func(ca *tlscerttest.CA) tlscerttest.Leaf { return ca.Issue(t, 7, time.Now().Add(time.Hour)) })
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("servertest URL %q, want https://", srv.URL)
	}

	res, err := srv.client.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over https: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("GET /healthz: status %d, TLS %+v", res.StatusCode, res.TLS)
	}

	token := srv.login(t, "ada")
	boot := srv.dial(t, "/ws", token).Start()
	if me, _ := boot["currentUser"].(map[string]any); me["name"] != "ada" {
		t.Fatalf("bootstrap over wss is not ada's: %v", boot)
	}
	srv.dial(t, "/socket", token).Ready()

	// The TLS port speaks nothing else: plain HTTP and ws:// are refused.
	plain := &http.Client{Timeout: 5 * time.Second}
	if res, err := plain.Get("http://" + srv.Addr() + "/healthz"); err == nil {
		res.Body.Close()
		t.Fatalf("plain HTTP to the TLS port answered %d", res.StatusCode)
	}
	if _, _, err := servertest.DialWS(t, "http://"+srv.Addr(), "/ws", http.Header{"Authorization": {"Bearer " + token}}); err == nil {
		t.Fatal("a ws:// socket opened on the TLS port")
	}
}

func TestTLSReload(t *testing.T) {
	triggers := []struct {
		name   string
		reload func(*tlsServer) error
	}{
		// What cmd/gisbi's SIGHUP handler calls.
		{"SIGHUP", func(s *tlsServer) error { return s.Certs.Reload() }},
		// What the file poller runs every few seconds.
		{"file change", func(s *tlsServer) error { return s.Certs.CheckFiles() }},
	}
	for _, tr := range triggers {
		t.Run(tr.name, func(t *testing.T) {
			notAfter := time.Now().Add(time.Hour)
			srv := startTLS(t, func(ca *tlscerttest.CA) tlscerttest.Leaf { return ca.Issue(t, 1, notAfter) })
			if got := srv.served(t); got.Cmp(big.NewInt(1)) != 0 {
				t.Fatalf("serial %v served at start, want 1", got)
			}
			// A socket opened before the reload must outlive it.
			token := srv.login(t, "ada")
			open := srv.dial(t, "/ws", token)

			renewed := srv.ca.Issue(t, 2, notAfter.Add(90*24*time.Hour))
			renewed.Write(t, srv.cert, srv.key)
			if err := tr.reload(srv); err != nil {
				t.Fatalf("reload of a good pair: %v", err)
			}
			if got := srv.served(t); got.Cmp(renewed.Serial) != 0 {
				t.Fatalf("new handshake sees serial %v, want %v", got, renewed.Serial)
			}
			if got := srv.Certs.Leaf().NotAfter; !got.Equal(renewed.NotAfter.Truncate(time.Second)) {
				t.Fatalf("holder's NotAfter %v, want %v", got, renewed.NotAfter)
			}
			open.Start()

			// A bad replacement: the key of a certificate that is not in the
			// certificate file. The renewed pair stays in service.
			stray := srv.ca.Issue(t, 3, notAfter)
			tlscerttest.WriteFile(t, srv.key, stray.KeyPEM)
			if err := tr.reload(srv); err == nil || !strings.Contains(err.Error(), "is not the private key") {
				t.Fatalf("reload of a mismatched pair: %v, want an error", err)
			}
			if got := srv.served(t); got.Cmp(renewed.Serial) != 0 {
				t.Fatalf("after a failed reload a new handshake sees serial %v, want %v", got, renewed.Serial)
			}
			res, err := srv.client.Get(srv.URL + "/healthz")
			if err != nil {
				t.Fatalf("GET /healthz after a failed reload: %v", err)
			}
			res.Body.Close()
		})
	}
}

// TestTLSReloadOnSIGHUP runs the binary: SIGHUP reloads the certificate and
// does not stop a server that serves TLS.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ca := tlscerttest.NewCA(t)
	notAfter := time.Now().Add(time.Hour)
	cert, key := ca.Issue(t, 1, notAfter).Files(t)
	dir, addr := t.TempDir(), servertest.FreeAddr(t)
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(servertest.Binary(t), "serve", "--dev")
	cmd.Env = append(os.Environ(), "GISBI_ADDR="+addr, "GISBI_DATA_DIR="+dir, "GISBI_TLS_CERT_FILE="+cert, "GISBI_TLS_KEY_FILE="+key)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	serverLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			select {
			case <-exited:
				t.Fatalf("server exited waiting for %s; log:\n%s", what, serverLog())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s; log:\n%s", what, serverLog())
			}
		}
	}
	waitFor("TLS handshake with the first certificate", func() bool {
		serial, err := servedAt(addr, ca)
		return err == nil && serial.Int64() == 1
	})

	renewed := ca.Issue(t, 2, notAfter.Add(24*time.Hour))
	renewed.Write(t, cert, key)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// trigger=requested is SIGHUP's reload; the poller's says files changed.
	waitFor("reload on SIGHUP", func() bool {
		return strings.Contains(serverLog(), `msg="TLS certificate reloaded" trigger=requested`)
	})
	if serial, err := servedAt(addr, ca); err != nil || serial.Cmp(renewed.Serial) != 0 {
		t.Fatalf("after SIGHUP a new handshake sees serial %v (%v), want %v", serial, err, renewed.Serial)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("server still running after SIGTERM; log:\n%s", serverLog())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; log:\n%s", code, serverLog())
	}
}
