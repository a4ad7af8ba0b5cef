package user

import "sync"

// Online counts the open sockets of each user on this node, for the
// Connection model's isOnline. The User grain is its only writer.
type Online struct {
	mu sync.RWMutex
	n  map[string]int
}

// NewOnline returns an empty index.
func NewOnline() *Online { return &Online{n: map[string]int{}} }

// Is reports whether the user has an open socket.
func (o *Online) Is(userID string) bool {
	if o == nil {
		return false
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.n[userID] > 0
}

func (o *Online) set(userID string, sockets int) {
	if o == nil {
		return
	}
	o.mu.Lock()
	if sockets > 0 {
		o.n[userID] = sockets
	} else {
		delete(o.n, userID)
	}
	o.mu.Unlock()
}
