package proximity

import (
	"slices"
	"time"
)

// heartbeatInterval is the least time between two accepted heartbeats of one
// participant (SPEC-NOTES: more than one per second is rate limited).
const heartbeatInterval = time.Second

// Config holds the tunables of proximity; DefaultConfig has the spec values.
type Config struct {
	TokenTTL         time.Duration  // life of a BLE token
	RotateBefore     time.Duration  // a new token is issued this long before the current expires
	HeartbeatTimeout time.Duration  // a participant sees the partner this long after a valid heartbeat
	Grace            time.Duration  // a paused run may resume within this
	Milestones       []int          // minutes of accumulated time, ascending
	RSSIMin, RSSIMax int            // accepted RSSI, inclusive, dBm
	MaxDistanceM     float64        // farther apart fresh GPS fixes are implausible
	DayLocation      *time.Location // calendar days of the per-day totals
}

// DefaultConfig returns the values SPEC-NOTES settles.
func DefaultConfig() Config {
	return Config{
		TokenTTL:         90 * time.Second,
		RotateBefore:     30 * time.Second,
		HeartbeatTimeout: 15 * time.Second,
		Grace:            30 * time.Second,
		Milestones:       []int{5, 15, 30, 60, 120, 240},
		RSSIMin:          -90,
		RSSIMax:          -40,
		MaxDistanceM:     250,
		DayLocation:      time.UTC,
	}
}

// withDefaults fills zero fields so a partly written config (for example from
// an env file that sets one knob) still behaves.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TokenTTL <= 0 {
		c.TokenTTL = d.TokenTTL
	}
	if c.RotateBefore <= 0 || c.RotateBefore >= c.TokenTTL {
		c.RotateBefore = min(d.RotateBefore, c.TokenTTL/3)
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if c.Grace <= 0 {
		c.Grace = d.Grace
	}
	if c.Milestones == nil {
		c.Milestones = d.Milestones
	}
	c.Milestones = slices.Clone(c.Milestones)
	slices.Sort(c.Milestones)
	c.Milestones = slices.Compact(c.Milestones)
	if c.RSSIMin == 0 && c.RSSIMax == 0 {
		c.RSSIMin, c.RSSIMax = d.RSSIMin, d.RSSIMax
	}
	if c.MaxDistanceM <= 0 {
		c.MaxDistanceM = d.MaxDistanceM
	}
	if c.DayLocation == nil {
		c.DayLocation = d.DayLocation
	}
	return c
}
