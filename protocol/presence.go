package protocol

import (
	"encoding/json"
	"math"
)

// LocationUpdate is the presence.location_update payload. Pointers tell a
// missing coordinate from a zero one (0,0 is a real place in the Gulf of Guinea).
type LocationUpdate struct {
	Lat            *float64 `json:"lat"`
	Lng            *float64 `json:"lng"`
	AccuracyMeters *float64 `json:"accuracyMeters"`
	Heading        *float64 `json:"heading"`
	Speed          *float64 `json:"speed"`
}

// DecodeLocationUpdate parses and validates a location. Every problem with a
// location, its shape included, is invalid_location: that is the code the
// spec gives clients to react to.
func DecodeLocationUpdate(raw json.RawMessage) (LocationUpdate, *Error) {
	var p LocationUpdate
	if err := DecodePayload(raw, DomainPresence, &p); err != nil {
		if err.Code == CodeInvalidJSON {
			return p, err
		}
		return p, Errorf(CodeInvalidLocation, DomainPresence, "%s", err.Message)
	}
	return p, p.Validate()
}

// Validate checks ranges: lat −90…90, lng −180…180, accuracy ≥ 0, heading
// 0…360, speed ≥ 0, all finite.
func (p *LocationUpdate) Validate() *Error {
	bad := func(msg string) *Error { return Errorf(CodeInvalidLocation, DomainPresence, "%s", msg) }
	switch {
	case p.Lat == nil || p.Lng == nil:
		return bad("lat and lng are required")
	case !finite(*p.Lat) || *p.Lat < -90 || *p.Lat > 90:
		return bad("lat must be between -90 and 90")
	case !finite(*p.Lng) || *p.Lng < -180 || *p.Lng > 180:
		return bad("lng must be between -180 and 180")
	case p.AccuracyMeters != nil && (!finite(*p.AccuracyMeters) || *p.AccuracyMeters < 0):
		return bad("accuracyMeters must be 0 or more")
	case p.Heading != nil && (!finite(*p.Heading) || *p.Heading < 0 || *p.Heading > 360):
		return bad("heading must be between 0 and 360")
	case p.Speed != nil && (!finite(*p.Speed) || *p.Speed < 0):
		return bad("speed must be 0 or more")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// SetVisible is the radar.set_visible payload.
type SetVisible struct {
	IsOnRadar *bool `json:"isOnRadar"`
}

// Validate checks the payload.
func (p *SetVisible) Validate() *Error {
	if p.IsOnRadar == nil {
		return Errorf(CodeInvalidPayload, DomainPresence, "isOnRadar is required")
	}
	return nil
}
