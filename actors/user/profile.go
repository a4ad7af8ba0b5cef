package user

import (
	"context"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Profile renders a user as others see them at now, read from the store.
// An unknown or unreadable user renders as just its id: a view must not
// fail because one profile could not be read.
func Profile(ctx context.Context, users storage.Users, id string, now time.Time) protocol.User {
	u, err := users.Get(ctx, id)
	if err != nil {
		return protocol.User{ID: id}
	}
	return Wire(u, now)
}

// Profiles is a Profile cache for one view or one batch: the same few users
// are rendered many times (every message of a page names both of them).
type Profiles struct {
	users storage.Users
	now   time.Time
	m     map[string]protocol.User
}

// NewProfiles returns an empty cache rendering profiles at now.
func NewProfiles(users storage.Users, now time.Time) *Profiles {
	return &Profiles{users: users, now: now, m: map[string]protocol.User{}}
}

// Get returns the profile of id, reading it once.
func (p *Profiles) Get(ctx context.Context, id string) protocol.User {
	u, ok := p.m[id]
	if !ok {
		u = Profile(ctx, p.users, id, p.now)
		p.m[id] = u
	}
	return u
}
