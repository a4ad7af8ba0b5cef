package storage

import (
	"context"
	"time"
)

// ScoreDay is one user's daily social score as stored: the day it counts
// and how many times each action was done that day. Only the user's
// current day is kept; the Score grain replaces it when the day rolls over.
type ScoreDay struct {
	UserID string `json:"userId"`
	// Date is the first instant of the day in the server's day zone.
	Date time.Time `json:"date"`
	// Counts maps an action type to its completions that day; actions
	// never done are absent.
	Counts    map[string]int `json:"counts,omitempty"`
	UpdatedAt time.Time      `json:"updatedAt"`
	// Version fences Put (see ErrStale).
	Version uint64 `json:"version,omitempty"`
}

// Scores stores each user's daily score. The user's Score grain is its
// only writer; Put is fenced by ScoreDay.Version.
type Scores interface {
	// Get returns the user's record; ErrNotFound when none was ever stored.
	Get(ctx context.Context, userID string) (*ScoreDay, error)
	// Put replaces the user's record durably; ErrStale when d.Version is
	// not the stored version, else d.Version is the new one.
	Put(ctx context.Context, d *ScoreDay) error
}
