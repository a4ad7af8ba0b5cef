package httpapi

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
)

// transport is the session's view of a socket: a bounded queue drained by a
// writer goroutine that only runs while there is something to write. Every
// write this side makes (frames, pings, the close frame) happens on that
// goroutine, and the handler waits for it before returning.
//
// The writer takes everything queued at once and writes it as whole text
// frames in one write(2) (up to maxWrite each), rather than one syscall per
// frame through WriteMessage. That is safe next to the library because the
// library buffers nothing across calls here: this side never uses its
// message writers, and the control frames it writes by itself from the
// reader goroutine (a pong, a close reply, close 1009 or 1002) are each one
// Write on the same connection, which Go serialises with ours, so frames
// never interleave.
type transport struct {
	conn *fws.Conn
	nc   net.Conn // conn's connection, written directly
	max  int

	mu          sync.Mutex
	queue       [][]byte
	writing     bool
	pingDue     bool
	closing     bool
	closed      bool
	closeCode   int
	closeReason string
	done        chan struct{} // made by Close, closed once the close frame is written
	writer      sync.WaitGroup
	stopped     atomic.Bool // set by shutdown; the writer checks it before each write

	// The registry's ping wheel; guarded by the registry's lock.
	slot, pos int32
}

func newTransport(conn *fws.Conn, max int) *transport {
	return &transport{conn: conn, nc: conn.NetConn(), max: max}
}

// startWriter runs the writer if it is not running; t.mu must be held.
func (t *transport) startWriter() {
	if !t.writing {
		t.writing = true
		t.writer.Add(1)
		go t.flush()
	}
}

// Send implements session.Transport.
func (t *transport) Send(_ string, frame []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.closed {
		return true // dropped: the socket is going away anyway
	}
	if len(t.queue) >= t.max {
		return false
	}
	t.queue = append(t.queue, frame)
	t.startWriter()
	return true
}

// Close implements session.Transport: queued frames go first, then the close frame.
func (t *transport) Close(code int, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.closed {
		return
	}
	t.closing, t.closeCode, t.closeReason = true, code, reason
	t.done = make(chan struct{})
	t.startWriter()
}

// ping asks the writer for a ping, unless the socket is going away.
func (t *transport) ping() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.closed {
		return
	}
	t.pingDue = true
	t.startWriter()
}

const writeWait = 10 * time.Second

func (t *transport) flush() {
	defer t.writer.Done()
	for {
		t.mu.Lock()
		if t.closed {
			t.writing = false
			t.mu.Unlock()
			return
		}
		batch, ping := t.queue, t.pingDue
		t.queue, t.pingDue = nil, false
		if len(batch) == 0 && !ping {
			if t.closing {
				code, reason := t.closeCode, t.closeReason
				t.closed = true
				t.mu.Unlock()
				_ = t.conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
				// Let the reader see the client's close reply, or give up shortly.
				_ = t.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
				close(t.done)
				t.mu.Lock()
			}
			t.writing = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		if ping {
			if err := t.conn.WriteControl(fws.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				t.fail()
				return
			}
		}
		if err := t.writeFrames(batch); err != nil {
			t.fail()
			return
		}
	}
}

// writeFrames writes frames as text frames, as few writes as maxWrite allows.
func (t *transport) writeFrames(frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	bp := getWriteBuf()
	defer putWriteBuf(bp)
	buf := *bp
	for _, f := range frames {
		if len(buf) > 0 && len(buf)+frameLen(len(f)) > maxWrite {
			if err := t.write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		buf = appendTextFrame(buf, f)
	}
	*bp = buf
	return t.write(buf)
}

func (t *transport) write(b []byte) error {
	if t.stopped.Load() {
		return net.ErrClosed
	}
	if err := t.nc.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	_, err := t.nc.Write(b)
	return err
}

// fail ends a writer whose socket broke, and unblocks the reader so the
// handler tears the socket down.
func (t *transport) fail() {
	t.mu.Lock()
	t.closed, t.queue, t.writing = true, nil, false
	t.mu.Unlock()
	_ = t.nc.SetReadDeadline(time.Now())
}

// drainUntilClosed waits for the close frame to be written and for the
// client's reply (or the read deadline) before the handler returns.
func (t *transport) drainUntilClosed() {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
	}
	for {
		if _, _, err := t.conn.ReadMessage(); err != nil {
			return
		}
	}
}

// shutdown stops further writes once the reader has ended and waits for the
// writer, so nothing touches the connection after the handler returns.
func (t *transport) shutdown() {
	t.stopped.Store(true)
	t.mu.Lock()
	t.closing, t.closed = true, true
	t.queue = nil
	t.mu.Unlock()
	// A writer blocked on a dead peer gives up now instead of at its deadline.
	_ = t.nc.SetWriteDeadline(time.Now())
	t.writer.Wait()
}
