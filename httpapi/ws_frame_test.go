package httpapi

import (
	"bytes"
	"testing"
)

func TestAppendTextFrameLengthEncodings(t *testing.T) {
	for _, tc := range []struct {
		n      int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xFF, 0xFF}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{70000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70}},
	} {
		payload := bytes.Repeat([]byte{'x'}, tc.n)
		got := appendTextFrame([]byte("prev"), payload)
		want := append(append([]byte("prev"), tc.header...), payload...)
		if !bytes.Equal(got, want) {
			t.Errorf("n=%d: header % x, want % x", tc.n, got[4:4+len(tc.header)], tc.header)
		}
		if l := frameLen(tc.n); l != len(got)-4 {
			t.Errorf("n=%d: frameLen %d, encoded %d", tc.n, l, len(got)-4)
		}
	}
}
