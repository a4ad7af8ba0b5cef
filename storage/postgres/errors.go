package postgres

import (
	"fmt"
	"unicode/utf8"

	"github.com/gisbi/engine/storage"
)

// ErrInvalid is wrapped by errors for input that cannot be stored: empty or
// oversized ids, ids PostgreSQL text cannot hold (a NUL byte, invalid
// UTF-8), a non-positive limit. It is storage.ErrInvalid, kept under this
// name for callers of this package.
var ErrInvalid = storage.ErrInvalid

// maxIDBytes bounds every id, as bbolt bounds its key parts, so both stores
// refuse the same input: an id this long is a bug or an attack.
const maxIDBytes = 1024

// checkID refuses what bbolt refuses (empty, too long, NUL) plus invalid
// UTF-8, which bbolt could store but a text column cannot: failing it here
// gives the caller ErrInvalid instead of an encoding error from the server.
func checkID(what, v string) error { return checkIDUpTo(what, v, maxIDBytes) }

// checkIDUpTo is checkID with another length limit, for composite ids.
func checkIDUpTo(what, v string, limit int) error {
	if err := storage.CheckID(what, v, limit); err != nil {
		return err
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return nil
}

// checkIDs checks name/value pairs and returns the first error.
func checkIDs(pairs ...string) error { return storage.CheckIDs(checkID, pairs...) }
