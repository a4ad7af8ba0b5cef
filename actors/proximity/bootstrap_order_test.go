package proximity

import (
	"testing"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/protocol"
)

// The proximity source reads the active connections the connections source
// listed; run first, it must say so instead of reporting no session.
func TestBootstrapRefusesToRunBeforeTheConnectionsSource(t *testing.T) {
	calls := 0
	var got error
	b := protocol.NewBootstrap()
	(&Views{}).Bootstrap()(&session.Context{}, &b, func(err error) { calls++; got = err })
	if calls != 1 || got == nil {
		t.Fatalf("done called %d times with %v, want once with an error", calls, got)
	}
}
