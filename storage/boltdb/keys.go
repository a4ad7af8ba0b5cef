package boltdb

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

// ErrInvalid is wrapped by errors for input that cannot be stored: empty or
// oversized ids, ids containing NUL, a non-positive limit. It is
// storage.ErrInvalid, kept under this name for callers of this package.
var ErrInvalid = storage.ErrInvalid

// maxKeyPart bounds every id that becomes part of a key. bbolt allows 32 KiB
// keys, but an id that long is a bug or an attack, and composite keys hold
// several ids.
const maxKeyPart = 1024

// sep joins the parts of composite keys. Ids are checked not to contain it,
// so a prefix "u1\x00" can never match the keys of "u10".
const sep = 0

// checkID is storage.CheckID with the key part limit (sep is the NUL byte
// it refuses).
func checkID(what, v string) error { return storage.CheckID(what, v, maxKeyPart) }

// checkIDs checks name/value pairs and returns the first error.
func checkIDs(pairs ...string) error { return storage.CheckIDs(checkID, pairs...) }

// join builds a composite key. A fresh slice every time: bbolt keeps the key
// slice until commit, so buffers must not be reused.
func join(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, sep)
		}
		k = append(k, p...)
	}
	return k
}

// prefix is join(parts...) plus the trailing separator, for scans.
func prefix(parts ...string) []byte {
	return append(join(parts...), sep)
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// timeKey encodes t so byte order equals time order: big-endian nanoseconds
// with the sign bit flipped (pre-1970 times sort first). Times outside the
// int64-nanosecond range (1678–2262, including the zero time.Time) clamp to
// the ends; the exact value is kept in the JSON record.
func timeKey(t time.Time) []byte {
	var n int64
	switch {
	case t.Before(minNanoTime):
		n = math.MinInt64
	case t.After(maxNanoTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	k := make([]byte, 8, 8+64)
	binary.BigEndian.PutUint64(k, uint64(n)^(1<<63))
	return k
}

// scanPrefix calls fn with the suffix after p of every key starting with p,
// in key order. The suffix is only valid inside the transaction.
func scanPrefix(b *bolt.Bucket, p []byte, fn func(suffix, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(k[len(p):], v); err != nil {
			return err
		}
	}
	return nil
}

// scanPrefixReverse is scanPrefix from the last key backwards. p must end in
// sep: the first key after the range is then p with its last byte + 1.
func scanPrefixReverse(b *bolt.Bucket, p []byte, fn func(suffix, v []byte) error) error {
	end := bytes.Clone(p)
	end[len(end)-1]++
	c := b.Cursor()
	var k, v []byte
	if k, _ = c.Seek(end); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Prev() {
		if err := fn(k[len(p):], v); err != nil {
			return err
		}
	}
	return nil
}

// suffixes collects the key suffixes under p. Writers use it to finish
// reading an index before modifying anything, since bbolt cursors are not
// safe across writes to their bucket.
func suffixes(b *bolt.Bucket, p []byte) ([]string, error) {
	var out []string
	err := scanPrefix(b, p, func(s, _ []byte) error {
		out = append(out, string(s))
		return nil
	})
	return out, err
}
