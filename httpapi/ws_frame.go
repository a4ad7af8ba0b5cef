package httpapi

import (
	"encoding/binary"
	"sync"
)

// The transport writes its text frames itself, many to one write(2),
// instead of one WriteMessage (one syscall) per frame. Server frames are
// never masked (RFC 6455 §5.1) and the socket never negotiates
// permessage-deflate (wsHandler), so a frame is a header and the payload
// as is.

// frameHeaderMax is the longest header of an unmasked frame: 2 bytes and a
// 64-bit length.
const frameHeaderMax = 10

// appendTextFrame appends payload as one final, unmasked text frame.
func appendTextFrame(buf, payload []byte) []byte {
	const finText = 0x80 | 0x1 // FIN, opcode text
	switch n := len(payload); {
	case n <= 125:
		buf = append(buf, finText, byte(n))
	case n <= 0xFFFF:
		buf = append(buf, finText, 126)
		buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	default:
		buf = append(buf, finText, 127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return append(buf, payload...)
}

// frameLen is the encoded size of a text frame carrying n bytes.
func frameLen(n int) int {
	switch {
	case n <= 125:
		return 2 + n
	case n <= 0xFFFF:
		return 4 + n
	}
	return frameHeaderMax + n
}

// maxWrite bounds one write: a batch larger than this goes out in several
// writes of whole frames, so a backlog does not need one buffer its size.
// A single larger frame is written alone.
const maxWrite = 64 << 10

// writeBufs keeps the writers' buffers between flushes: a socket only holds
// one while its writer runs.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func getWriteBuf() *[]byte { return writeBufs.Get().(*[]byte) }

func putWriteBuf(b *[]byte) {
	if cap(*b) > maxWrite+frameHeaderMax {
		return // grown for one big frame: let it go
	}
	*b = (*b)[:0]
	writeBufs.Put(b)
}
