// Package ids makes the public ids of the engine: a kind prefix and a
// lower-case ULID, e.g. user_01j9…, req_…, conn_…, msg_…, sr_…. ULIDs sort
// by creation time, and one format everywhere keeps ids predictable for
// clients and logs.
package ids

import (
	"strings"

	"github.com/oklog/ulid/v2"
)

// New returns prefix + "_" + a new lower-case ULID.
func New(prefix string) string {
	return prefix + "_" + strings.ToLower(ulid.Make().String())
}
