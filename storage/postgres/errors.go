package postgres

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by errors for input that cannot be stored: empty or
// oversized ids, ids PostgreSQL text cannot hold (a NUL byte, invalid
// UTF-8), a non-positive limit. storage.go has no sentinel for this;
// callers should treat it as a programming error (HTTP 400 or 500), never
// as not-found.
var ErrInvalid = errors.New("postgres: invalid input")

// maxIDBytes bounds every id, as bbolt bounds its key parts, so both stores
// refuse the same input: an id this long is a bug or an attack.
const maxIDBytes = 1024

// checkID refuses what bbolt refuses (empty, too long, NUL) plus invalid
// UTF-8, which bbolt could store but a text column cannot: failing it here
// gives the caller ErrInvalid instead of an encoding error from the server.
func checkID(what, v string) error { return checkIDUpTo(what, v, maxIDBytes) }

// checkIDUpTo is checkID with another length limit, for composite ids.
func checkIDUpTo(what, v string, limit int) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	case len(v) > limit:
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalid, what, len(v), limit)
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("%w: %s contains a NUL byte", ErrInvalid, what)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return nil
}

// checkIDs checks name/value pairs and returns the first error.
func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkID(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}
