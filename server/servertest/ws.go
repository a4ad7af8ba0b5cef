package servertest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// Frame is a server frame as a test sees it. A legacy `{event, data}`
// frame reads as Type = event and Payload = data, so the same Expect
// helpers serve both dialects.
type Frame struct {
	Type          string          `json:"type"`
	Payload       json.RawMessage `json:"payload"`
	Event         string          `json:"event"`
	Data          json.RawMessage `json:"data"`
	Timestamp     string          `json:"timestamp"`
	RequestID     string          `json:"requestId"`
	CorrelationID string          `json:"correlationId"`
	Raw           []byte          `json:"-"`
}

// Map decodes the payload as an object.
func (f *Frame) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.Payload, &m); err != nil {
		t.Fatalf("%s payload is not an object: %s", f.Type, f.Payload)
	}
	return m
}

// ErrorCode is payload.code of an error frame.
func (f *Frame) ErrorCode() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(f.Payload, &p)
	return p.Code
}

// WS is a test WebSocket client. A background reader collects frames so
// tests can wait for a type without losing what came before it.
type WS struct {
	t    testing.TB
	Conn *websocket.Conn
	path string

	mu      sync.Mutex
	frames  []*Frame
	notify  chan struct{}
	closeMu sync.Mutex
	closed  *websocket.CloseError
	readErr error
	done    chan struct{}
}

// DialWS opens a socket to base (http://host:port) with the given headers.
func DialWS(t testing.TB, base, path string, header http.Header) (*WS, *http.Response, error) {
	t.Helper()
	return DialWSWith(t, &websocket.Dialer{HandshakeTimeout: 5 * time.Second}, base, path, header)
}

// DialWSWith is DialWS through d, e.g. one whose TLSClientConfig trusts a
// test CA for a wss:// socket to an https:// base.
func DialWSWith(t testing.TB, d *websocket.Dialer, base, path string, header http.Header) (*WS, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + path
	conn, res, err := d.Dial(url, header)
	if err != nil {
		return nil, res, err
	}
	path, _, _ = strings.Cut(path, "?")
	w := &WS{t: t, Conn: conn, path: path, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go w.readLoop()
	t.Cleanup(func() { w.Close() })
	return w, res, nil
}

// Dial opens an authenticated /ws socket as u.
func (u *User) Dial() *WS {
	u.t.Helper()
	return u.dial("/ws")
}

// dial opens an authenticated socket on path as u, failing the test when
// the upgrade is refused.
func (u *User) dial(path string) *WS {
	u.t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+u.AccessToken)
	w, res, err := DialWS(u.t, u.base, path, h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		u.t.Fatalf("dial %s as %s: %v (status %d)", path, u.ID, err, status)
	}
	return w
}

// DialRefused opens a socket on path with token and expects the upgrade
// to be refused: it answers the refusal's status and body, and fails the
// test if the socket opened.
func DialRefused(t testing.TB, base, path, token string) *Response {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	w, res, err := DialWS(t, base, path, h)
	if err == nil {
		w.Close()
		t.Fatalf("dial %s: the upgrade was accepted, want it refused", path)
	}
	if res == nil {
		t.Fatalf("dial %s: %v, with no HTTP answer", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return &Response{Status: res.StatusCode, Body: body}
}

// DialLegacy opens an authenticated /socket (legacy dialect) socket as u,
// and waits until it is attached (see Ready).
func (u *User) DialLegacy() *WS {
	u.t.Helper()
	w := u.DialLegacyRaw()
	w.Ready()
	return w
}

// DialLegacyRaw opens a /socket socket as u without waiting for it to be
// attached: for sockets the server is expected to refuse.
func (u *User) DialLegacyRaw() *WS {
	u.t.Helper()
	return u.dial("/socket")
}

// Ready waits until a legacy socket is attached to its user: the server
// serves a legacy socket's frames only once it is, so the answer to a
// probe (an unknown event, answered validation-failed) means events for
// the user now reach this socket.
func (w *WS) Ready() {
	w.t.Helper()
	w.Emit("servertest-ready-probe", nil)
	if f := w.Expect("validation-failed"); !strings.Contains(f.Message(), "servertest-ready-probe") {
		w.t.Fatalf("ready probe answered %s", f.Raw)
	}
}

// Emit writes a legacy `{event, data}` frame.
func (w *WS) Emit(event string, data any) {
	w.t.Helper()
	b, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		w.t.Fatal(err)
	}
	w.SendRaw(b)
}

// Message is data.message of a legacy error event.
func (f *Frame) Message() string {
	var p struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(f.Payload, &p)
	return p.Message
}

// Start sends session.start and returns the bootstrap payload.
func (w *WS) Start() map[string]any {
	w.t.Helper()
	w.Send("session.start", map[string]any{}, "start-1")
	w.Expect("session.connected")
	b := w.Expect("session.bootstrap")
	return b.Map(w.t)
}

func (w *WS) readLoop() {
	defer close(w.done)
	for {
		_, data, err := w.Conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			w.closeMu.Lock()
			if errors.As(err, &ce) {
				w.closed = ce
			}
			w.readErr = err
			w.closeMu.Unlock()
			w.wake()
			return
		}
		f := &Frame{Raw: data}
		if err := json.Unmarshal(data, f); err != nil {
			f.Type = "!invalid"
		}
		if f.Type == "" && f.Event != "" {
			f.Type, f.Payload = f.Event, f.Data
		}
		recordFrame(w.path, f)
		w.mu.Lock()
		w.frames = append(w.frames, f)
		w.mu.Unlock()
		w.wake()
	}
}

func (w *WS) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// Send writes a client frame.
func (w *WS) Send(typ string, payload any, requestID string) {
	w.t.Helper()
	f := map[string]any{"type": typ, "payload": payload}
	if requestID != "" {
		f["requestId"] = requestID
	}
	b, _ := json.Marshal(f)
	w.SendRaw(b)
}

// SendRaw writes raw bytes as a text frame.
func (w *WS) SendRaw(b []byte) {
	w.t.Helper()
	_ = w.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := w.Conn.WriteMessage(websocket.TextMessage, b); err != nil {
		w.t.Fatalf("ws write: %v", err)
	}
}

// Next returns the next frame in arrival order, failing after timeout.
func (w *WS) Next(timeout time.Duration) *Frame {
	w.t.Helper()
	f := w.take(func(*Frame) bool { return true }, timeout)
	if f == nil {
		w.t.Fatalf("no frame within %v", timeout)
	}
	return f
}

// TryNext returns the next frame, or nil after timeout or once the socket closed.
func (w *WS) TryNext(timeout time.Duration) *Frame {
	return w.take(func(*Frame) bool { return true }, timeout)
}

// Expect waits for the next frame of type typ, skipping (and logging) others.
func (w *WS) Expect(typ string) *Frame {
	w.t.Helper()
	return w.ExpectWithin(typ, 10*time.Second)
}

// ExpectWithin is Expect with a timeout.
func (w *WS) ExpectWithin(typ string, timeout time.Duration) *Frame {
	w.t.Helper()
	f := w.take(func(f *Frame) bool { return f.Type == typ }, timeout)
	if f == nil {
		w.t.Fatalf("no %s frame within %v (have: %s)", typ, timeout, w.pending())
	}
	return f
}

// ExpectError waits for an error frame and checks its code.
func (w *WS) ExpectError(code string) *Frame {
	w.t.Helper()
	f := w.Expect("error")
	if got := f.ErrorCode(); got != code {
		w.t.Fatalf("error code = %q, want %q: %s", got, code, f.Raw)
	}
	return f
}

// ExpectReply waits for the frame of type typ answering requestID.
func (w *WS) ExpectReply(typ, requestID string) *Frame {
	w.t.Helper()
	f := w.take(func(f *Frame) bool { return f.Type == typ && f.RequestID == requestID }, 10*time.Second)
	if f == nil {
		w.t.Fatalf("no %s answering %q within 10s (have: %s)", typ, requestID, w.pending())
	}
	return f
}

// ExpectReplyAny waits for whatever frame answers requestID (reply or error).
func (w *WS) ExpectReplyAny(requestID string) *Frame {
	w.t.Helper()
	f := w.take(func(f *Frame) bool { return f.RequestID == requestID }, 10*time.Second)
	if f == nil {
		w.t.Fatalf("no answer to %q within 10s (have: %s)", requestID, w.pending())
	}
	return f
}

// ExpectPush waits for an event of type typ: a frame that answers no request.
func (w *WS) ExpectPush(typ string, timeout time.Duration) *Frame {
	w.t.Helper()
	f := w.take(func(f *Frame) bool { return f.Type == typ && f.RequestID == "" }, timeout)
	if f == nil {
		w.t.Fatalf("no pushed %s within %v (have: %s)", typ, timeout, w.pending())
	}
	return f
}

// ExpectPushWhere waits for a pushed frame of type typ for which ok holds,
// skipping pushes that do not match (radar pushes come and go).
func (w *WS) ExpectPushWhere(typ string, timeout time.Duration, ok func(*Frame) bool) *Frame {
	w.t.Helper()
	f := w.take(func(f *Frame) bool { return f.Type == typ && f.RequestID == "" && ok(f) }, timeout)
	if f == nil {
		w.t.Fatalf("no matching pushed %s within %v (have: %s)", typ, timeout, w.pending())
	}
	return f
}

// ExpectErrorCode waits for an error frame with code, skipping other frames
// and other errors.
func (w *WS) ExpectErrorCode(code string) *Frame {
	w.t.Helper()
	f := w.take(func(f *Frame) bool { return f.Type == "error" && f.ErrorCode() == code }, 10*time.Second)
	if f == nil {
		w.t.Fatalf("no error %s within 10s (have: %s)", code, w.pending())
	}
	return f
}

// NoFrame checks that no frame of type typ arrives within d.
func (w *WS) NoFrame(typ string, d time.Duration) {
	w.t.Helper()
	if f := w.take(func(f *Frame) bool { return f.Type == typ }, d); f != nil {
		w.t.Fatalf("unexpected %s frame: %s", typ, f.Raw)
	}
}

// take removes and returns the first frame matching ok, skipping earlier ones.
func (w *WS) take(ok func(*Frame) bool, timeout time.Duration) *Frame {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if f := w.pop(ok); f != nil {
			return f
		}
		select {
		case <-w.done:
			// Frames may have arrived just before the close.
			return w.pop(ok)
		case <-w.notify:
		case <-deadline.C:
			return nil
		}
	}
}

func (w *WS) pop(ok func(*Frame) bool) *Frame {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range w.frames {
		if ok(f) {
			w.frames = append(w.frames[:i:i], w.frames[i+1:]...)
			return f
		}
	}
	return nil
}

func (w *WS) pending() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var types []string
	for _, f := range w.frames {
		types = append(types, f.Type)
	}
	return "[" + strings.Join(types, " ") + "]"
}

// WaitClosed waits for the server to close the socket and returns its close code.
func (w *WS) WaitClosed(timeout time.Duration) int {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(timeout):
		w.t.Fatalf("socket still open after %v", timeout)
	}
	w.closeMu.Lock()
	defer w.closeMu.Unlock()
	if w.closed == nil {
		return websocket.CloseAbnormalClosure
	}
	return w.closed.Code
}

// Close closes the client side.
func (w *WS) Close() {
	_ = w.Conn.Close()
}

// Take removes and returns the first frame for which ok holds, or nil after
// timeout or once the socket closed. Unlike the Expect family it never
// fails the test, so goroutines that outlive a node (failover tests) can
// use it.
func (w *WS) Take(ok func(*Frame) bool, timeout time.Duration) *Frame {
	return w.take(ok, timeout)
}

// Done is closed once the socket's read side ended.
func (w *WS) Done() <-chan struct{} { return w.done }
