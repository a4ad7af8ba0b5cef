package user

import (
	"sort"
	"time"

	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// State is everything the User grain owns. Methods are pure: they take the
// time, change the state and tell the grain what to persist and announce.
type State struct {
	User     storage.User
	Blocked  map[string]time.Time // users this user blocked, and when
	Blockers map[string]bool      // users who blocked this user
	Sessions []*grainpb.SessionRef
}

// ReminderVibe names the vibe-expiry reminder.
const ReminderVibe = "vibe"

// Wire renders the User model as clients see it at now: a vibe past its
// expiry is already gone even if its reminder has not fired yet.
func Wire(u *storage.User, now time.Time) protocol.User {
	w := protocol.User{
		ID: u.ID, Name: u.Name, Age: u.Age, Avatar: u.Avatar, Gender: u.Gender,
		Username: u.Username, Bio: u.Bio,
	}
	if u.Vibe != nil && (u.VibeExpiresAt == nil || u.VibeExpiresAt.After(now)) {
		w.Vibe = u.Vibe
		if u.VibeExpiresAt != nil {
			s := protocol.FormatTime(*u.VibeExpiresAt)
			w.VibeExpiresAt = &s
		}
	}
	return w
}

// PatchResult says what an applied patch changed.
type PatchResult struct {
	Changed bool
	// VibeDue is the new vibe expiry; zero when the vibe was cleared or untouched.
	VibeDue time.Time
	// VibeCleared is set when the patch removed the vibe.
	VibeCleared bool
}

// ApplyPatch applies a validated profile patch.
func ApplyPatch(u *storage.User, p *grainpb.UpdateProfile, now time.Time) PatchResult {
	var r PatchResult
	if p.Name != nil && *p.Name != u.Name {
		u.Name = *p.Name
		r.Changed = true
	}
	setString := func(dst **string, v *grainpb.NullableString) {
		if v == nil {
			return
		}
		if v.Null {
			if *dst != nil {
				*dst = nil
				r.Changed = true
			}
			return
		}
		if *dst == nil || **dst != v.Value {
			s := v.Value
			*dst = &s
			r.Changed = true
		}
	}
	setString(&u.Avatar, p.Avatar)
	setString(&u.Gender, p.Gender)
	setString(&u.Username, p.Username)
	setString(&u.Bio, p.Bio)
	if p.Age != nil {
		if p.Age.Null {
			if u.Age != nil {
				u.Age, r.Changed = nil, true
			}
		} else if u.Age == nil || int64(*u.Age) != p.Age.Value {
			a := int(p.Age.Value)
			u.Age, r.Changed = &a, true
		}
	}
	if p.Vibe != nil {
		if p.Vibe.Null {
			if u.Vibe != nil {
				r.VibeCleared, r.Changed = true, true
			}
			u.Vibe, u.VibeExpiresAt = nil, nil
		} else {
			mins := p.VibeDurationMinutes
			if mins <= 0 {
				mins = protocol.DefaultVibeMins
			}
			v := p.Vibe.Value
			due := now.Add(time.Duration(mins) * time.Minute)
			u.Vibe, u.VibeExpiresAt = &v, &due
			r.VibeDue, r.Changed = due, true
		}
	}
	if r.Changed {
		u.UpdatedAt = now
	}
	return r
}

// ExpireVibe clears a vibe whose time has come. It reports whether it did and
// when the vibe expired; a vibe moved to a later time is left alone.
func ExpireVibe(u *storage.User, now time.Time) (bool, time.Time) {
	if u.Vibe == nil || u.VibeExpiresAt == nil || u.VibeExpiresAt.After(now) {
		return false, time.Time{}
	}
	at := *u.VibeExpiresAt
	u.Vibe, u.VibeExpiresAt = nil, nil
	u.UpdatedAt = now
	return true, at
}

// Attach adds a session; when the user is over max sessions it returns the
// oldest ones to close.
func (s *State) Attach(ref *grainpb.SessionRef, max int) (evicted []*grainpb.SessionRef) {
	s.Detach(ref.SessionId)
	s.Sessions = append(s.Sessions, ref)
	if max > 0 && len(s.Sessions) > max {
		n := len(s.Sessions) - max
		evicted = append(evicted, s.Sessions[:n]...)
		s.Sessions = append([]*grainpb.SessionRef(nil), s.Sessions[n:]...)
	}
	return evicted
}

// Detach removes a session; unknown ids are ignored.
func (s *State) Detach(id string) {
	for i, r := range s.Sessions {
		if r.SessionId == id {
			s.Sessions = append(s.Sessions[:i], s.Sessions[i+1:]...)
			return
		}
	}
}

// Session is the attached session with id, or nil.
func (s *State) Session(id string) *grainpb.SessionRef {
	for _, r := range s.Sessions {
		if r.SessionId == id {
			return r
		}
	}
	return nil
}

// SessionAt is the attached session whose actor is at address with pidID,
// or nil.
func (s *State) SessionAt(address, pidID string) *grainpb.SessionRef {
	for _, r := range s.Sessions {
		if r.Address == address && r.PidId == pidID {
			return r
		}
	}
	return nil
}

// BlockedIDs lists the users this user blocked, sorted for stable output.
func (s *State) BlockedIDs() []string {
	ids := make([]string, 0, len(s.Blocked))
	for id := range s.Blocked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Blocks lists the blocks this user (id) holds as the store keeps them,
// sorted by blocked user.
func (s *State) Blocks(id string) []storage.Block {
	out := make([]storage.Block, 0, len(s.Blocked))
	for _, other := range s.BlockedIDs() {
		out = append(out, storage.Block{BlockerID: id, BlockedID: other, CreatedAt: s.Blocked[other]})
	}
	return out
}

// Hidden reports whether other is out of this user's world: blocked in either direction.
func (s *State) Hidden(other string) bool {
	_, blocked := s.Blocked[other]
	return blocked || s.Blockers[other]
}
