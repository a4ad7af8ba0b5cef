package servertest

import (
	"net/http"
	"strings"
	"sync"
)

// The recorder keeps what the servers under test actually sent, so a suite
// can check the real traffic against the published API documents (see
// Recorded). It is bounded: at most recordPerKey exchanges are kept for each
// frame type or route, which is plenty to cover every shape a test provoked
// while a fuzz run cannot grow it without end.
const recordPerKey = 64

// RecordedFrame is one server frame a test socket received.
type RecordedFrame struct {
	// Path is the socket's path: "/ws" or "/socket".
	Path string
	// Type is the frame's type (or the legacy event).
	Type string
	Raw  []byte
}

// RecordedExchange is one REST request a test made through Do and the
// answer it got.
type RecordedExchange struct {
	Method string
	// Path is the request path without its query string.
	Path        string
	Status      int
	ContentType string
	Body        []byte
}

var recorder struct {
	sync.Mutex
	frames    []RecordedFrame
	exchanges []RecordedExchange
	counts    map[string]int
}

// take reports whether one more record under key fits.
func take(key string) bool {
	if recorder.counts == nil {
		recorder.counts = map[string]int{}
	}
	if recorder.counts[key] >= recordPerKey {
		return false
	}
	recorder.counts[key]++
	return true
}

func recordFrame(path string, f *Frame) {
	recorder.Lock()
	defer recorder.Unlock()
	if take("frame " + path + " " + f.Type) {
		recorder.frames = append(recorder.frames, RecordedFrame{Path: path, Type: f.Type, Raw: f.Raw})
	}
}

func recordExchange(method, path string, res *http.Response, body []byte) {
	path, _, _ = strings.Cut(path, "?")
	recorder.Lock()
	defer recorder.Unlock()
	// Keyed by method, status and the path's first two segments: ids in
	// deeper segments would otherwise make every request its own key.
	key := method + " " + res.Status + " " + prefix(path, 3)
	if take("rest " + key) {
		recorder.exchanges = append(recorder.exchanges, RecordedExchange{
			Method: method, Path: path, Status: res.StatusCode,
			ContentType: res.Header.Get("Content-Type"), Body: body,
		})
	}
}

// prefix is path cut after its n-th slash.
func prefix(path string, n int) string {
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			n--
			if n == 0 {
				return path[:i]
			}
		}
	}
	return path
}

// Recorded answers the server frames and REST exchanges recorded so far in
// this test process.
func Recorded() ([]RecordedFrame, []RecordedExchange) {
	recorder.Lock()
	defer recorder.Unlock()
	return append([]RecordedFrame(nil), recorder.frames...), append([]RecordedExchange(nil), recorder.exchanges...)
}
