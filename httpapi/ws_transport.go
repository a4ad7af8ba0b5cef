package httpapi

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	fws "github.com/fasthttp/websocket"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/protocol"
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
//
// What a socket whose client stops reading can hold is bounded three
// ways: the queue by frames (ws_send_queue) and by bytes
// (ws_send_queue_bytes), the batch the writer took by the same, and the
// kernel's send buffer by socketSendBuffer. Past that the socket is cut
// (4008): see cut.
type transport struct {
	conn     *fws.Conn
	nc       net.Conn     // conn's connection, written directly
	tcp      *net.TCPConn // the TCP connection under nc; nil when there is none (tests)
	max      int          // frames queued at most
	maxBytes int          // bytes queued at most, but one frame is always taken

	mu          sync.Mutex
	queue       [][]byte
	queued      int // bytes in queue
	writing     bool
	pingDue     bool
	closing     bool
	closed      bool
	closeCode   int
	closeReason string
	done        chan struct{} // made by Close, closed once the close frame is written or given up
	doneClosed  bool
	writer      sync.WaitGroup
	stopped     atomic.Bool // set by shutdown; the writer checks it before each write
	partial     bool        // writer only: a write ended mid-frame, so no close frame can follow

	// cutAt (Unix ns, 0 when not cut) is the latest any write may last:
	// set when the socket is cut, it shortens the write under way too.
	cutAt atomic.Int64
	// readBy (Unix ns, 0 when unset) is the latest the reader may read
	// until: extending the read deadline never goes past it.
	readBy atomic.Int64
	// The socket's session, and the Drain it was sent (Registry.CloseAll):
	// from then on the reader forwards nothing; guarded by mu.
	pid      *actor.PID
	drainMsg *session.Drain
	// draining mirrors drainMsg != nil for the reader's cheap look.
	draining atomic.Bool

	// The registry's ping wheel; guarded by the registry's lock.
	slot, pos int32
}

// socketSendBuffer is the kernel send buffer asked for each socket
// (Linux doubles it for its bookkeeping). Left to itself the kernel grows
// a socket's buffer to megabytes (tcp_wmem) for a client that stops
// reading. 64 KiB still carries about 1 MB/s to a phone 100 ms away, far
// more than any session's frames.
const socketSendBuffer = 64 << 10

// The cut of a slow consumer, from the decision: the write under way
// gives up after cutWriteWait, the close frame after as much again, and
// the kernel gets cutLinger more to hand the client what it took before
// the connection is reset. Together well under the second promised; a
// client that really stopped reading is reset after the first wait, since
// its stream is then mid-frame.
const (
	cutWriteWait = 200 * time.Millisecond
	cutLinger    = 300 * time.Millisecond
)

func newTransport(conn *fws.Conn, max, maxBytes int) *transport {
	t := &transport{conn: conn, nc: conn.NetConn(), max: max, maxBytes: maxBytes}
	t.tcp = tcpOf(t.nc)
	if t.tcp != nil {
		_ = t.tcp.SetWriteBuffer(socketSendBuffer)
	}
	// The library's own answer to a ping, but never writing past a cut.
	conn.SetPingHandler(func(data string) error {
		err := conn.WriteControl(fws.PongMessage, []byte(data), t.writeDeadline(time.Second))
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, fws.ErrCloseSent) {
			return nil
		}
		return err
	})
	return t
}

// tcpOf finds the TCP connection under c: fasthttp's hijacked connection
// wraps it, and TLS wraps that.
func tcpOf(c net.Conn) *net.TCPConn {
	for range 4 {
		switch x := c.(type) {
		case *net.TCPConn:
			return x
		case interface{ UnsafeConn() net.Conn }:
			c = x.UnsafeConn()
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
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
	if len(t.queue) >= t.max || (len(t.queue) > 0 && t.queued+len(frame) > t.maxBytes) {
		return false
	}
	t.queue = append(t.queue, frame)
	t.queued += len(frame)
	t.startWriter()
	return true
}

// Close implements session.Transport: queued frames go first, then the
// close frame. A slow consumer's close is a cut instead.
func (t *transport) Close(code int, reason string) {
	if code == protocol.CloseSlowConsumer {
		t.cut(code, reason)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.closed {
		return
	}
	t.closing, t.closeCode, t.closeReason = true, code, reason
	t.done = make(chan struct{})
	t.startWriter()
}

// cut ends a socket whose client is not keeping up, within a second
// whatever the client does: the queue is dropped (the client catches up
// after reconnecting), the write under way gives up shortly, the close
// frame is tried if the stream is between frames, and the connection is
// closed, reset when the client has not taken what was sent (teardown).
// A socket already closing is cut too. It returns the frames dropped, and
// whether the close frame was still to be written.
func (t *transport) cut(code int, reason string) (dropped int, open bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dropped, open = len(t.queue), !t.closed
	t.queue, t.queued = nil, 0
	if !t.closing && !t.closed {
		t.closing, t.closeCode, t.closeReason = true, code, reason
		t.done = make(chan struct{})
	}
	if t.cutAt.Load() == 0 {
		by := time.Now().Add(cutWriteWait)
		t.cutAt.Store(by.UnixNano())
		_ = t.nc.SetWriteDeadline(by)
	}
	switch {
	case t.writing:
		// The writer gives up at cutAt and tears down.
	case !t.closed:
		t.startWriter() // writes the close frame and tears down
	default:
		t.endRead() // nothing writes any more
	}
	return dropped, open
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
		t.queue, t.queued, t.pingDue = nil, 0, false
		if len(batch) == 0 && !ping {
			if t.closing {
				t.closed = true
				t.mu.Unlock()
				t.finishClose()
				t.mu.Lock()
			}
			t.writing = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		if ping {
			if err := t.conn.WriteControl(fws.PingMessage, nil, t.writeDeadline(writeWait)); err != nil {
				t.partial = true // the library does not say how much it wrote
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
	dl := t.writeDeadline(writeWait)
	if err := t.nc.SetWriteDeadline(dl); err != nil {
		return err
	}
	// A cut between the two lines above set an earlier deadline that ours
	// just replaced: put it back.
	if c := t.cutAt.Load(); c != 0 && c < dl.UnixNano() {
		_ = t.nc.SetWriteDeadline(time.Unix(0, c))
	}
	n, err := t.nc.Write(b)
	if err != nil && n > 0 {
		t.partial = true
	}
	return err
}

// writeDeadline is d from now, but never past a cut.
func (t *transport) writeDeadline(d time.Duration) time.Time {
	dl := time.Now().Add(d)
	if c := t.cutAt.Load(); c != 0 && c < dl.UnixNano() {
		return time.Unix(0, c)
	}
	return dl
}

// fail ends a writer whose socket broke or was cut. A socket being closed
// still gets its close frame if the stream allows; any other is ended by
// unblocking the reader so the handler tears it down.
func (t *transport) fail() {
	t.mu.Lock()
	closing := t.closing && !t.closed
	t.closed, t.queue, t.queued = true, nil, 0
	t.mu.Unlock()
	if closing {
		t.finishClose()
	} else {
		t.endRead()
	}
	t.mu.Lock()
	t.writing = false
	t.mu.Unlock()
}

// finishClose writes the close frame, unless a write ended mid-frame, and
// ends the reader: an ordinary close lets it wait a little for the
// client's reply; a cut one ends it now (teardown).
func (t *transport) finishClose() {
	if c := t.cutAt.Load(); c != 0 {
		if t.partial {
			// Mid-frame: the client cannot read a close frame, nor take
			// the rest in time.
			t.teardown(time.Now())
		} else {
			_ = t.conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(t.closeCode, t.closeReason), time.Unix(0, c).Add(cutWriteWait))
			t.teardown(time.Now().Add(cutLinger))
		}
	} else {
		if !t.partial {
			_ = t.conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(t.closeCode, t.closeReason), t.writeDeadline(time.Second))
		}
		if t.cutAt.Load() != 0 { // cut while writing it
			t.teardown(time.Now().Add(cutLinger))
		} else {
			// Let the reader see the client's close reply, or give up shortly.
			t.setReadBy(time.Now().Add(2 * time.Second))
		}
	}
	t.mu.Lock()
	if t.done != nil && !t.doneClosed {
		close(t.done)
		t.doneClosed = true
	}
	t.mu.Unlock()
}

// teardown ends a cut socket's reader, so its handler closes the
// connection: a plain close once the client has taken everything sent (the
// kernel's send queue is empty), a reset (SO_LINGER 0) when it has not by
// then. The reset frees the kernel's buffer at once; a plain close would
// leave it to the kernel, which keeps probing a peer whose window stays
// shut for minutes.
func (t *transport) teardown(by time.Time) {
	for t.tcp != nil {
		if n, ok := unsentBytes(t.tcp); ok && n == 0 {
			break
		}
		if !time.Now().Before(by) {
			_ = t.tcp.SetLinger(0)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.endRead()
}

// endRead makes the reader's read under way, and every later one, fail at once.
func (t *transport) endRead() { t.setReadBy(time.Now()) }

// setReadBy bounds the reader's reads to by from now on.
func (t *transport) setReadBy(by time.Time) {
	t.readBy.Store(by.UnixNano())
	_ = t.nc.SetReadDeadline(by)
}

// extendRead gives the reader d more, but never past readBy.
func (t *transport) extendRead(d time.Duration) error {
	dl := time.Now().Add(d)
	if b := t.readBy.Load(); b != 0 && b < dl.UnixNano() {
		dl = time.Unix(0, b)
	}
	if err := t.nc.SetReadDeadline(dl); err != nil {
		return err
	}
	// setReadBy between the two may have been overwritten: put it back.
	if b := t.readBy.Load(); b != 0 && b < dl.UnixNano() {
		return t.nc.SetReadDeadline(time.Unix(0, b))
	}
	return nil
}

// bind hands the transport its session, which is sent the Drain at once
// if the server began shutting down in between.
func (t *transport) bind(root *actor.RootContext, pid *actor.PID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pid = pid
	if t.drainMsg != nil {
		root.Send(pid, t.drainMsg)
	}
}

// forward hands a frame the reader read to the session, unless the socket
// drains: a frame read after the Drain is dropped unserved, and its client
// sends it again after reconnecting. Under mu, so every frame forwarded is
// in the session's mailbox ahead of the Drain.
func (t *transport) forward(root *actor.RootContext, cmd *session.Command) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drainMsg == nil && t.pid != nil {
		root.Send(t.pid, cmd)
	}
}

// drain begins a shutdown's close of the socket: the reader forwards no
// more frames, and the session, sent m after the last frame forwarded,
// closes the socket once it has answered what it started. The reader
// reads on, dropping frames, until the client answers the close frame.
func (t *transport) drain(root *actor.RootContext, m *session.Drain) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drainMsg != nil {
		return
	}
	t.drainMsg = m
	t.draining.Store(true)
	if t.pid != nil {
		root.Send(t.pid, m)
	}
}

// closeSent is closed once the close frame is written or given up; nil
// before Close.
func (t *transport) closeSent() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

// drainUntilClosed waits for the close frame to be written and for the
// client's reply (or the read deadline) before the handler returns.
func (t *transport) drainUntilClosed() {
	if done := t.closeSent(); done != nil {
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
	t.queue, t.queued = nil, 0
	t.mu.Unlock()
	// A writer blocked on a dead peer gives up now instead of at its deadline.
	_ = t.nc.SetWriteDeadline(time.Now())
	t.writer.Wait()
}
