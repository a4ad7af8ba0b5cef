package grainpb

import "github.com/gisbi/engine/protocol"

// Fail builds a Failure carrying a wire code.
func Fail(code protocol.Code, domain, message string) *Failure {
	return &Failure{Code: string(code), Domain: domain, Message: message}
}

// Err turns a grain's Failure into a reply error; a nil Failure is no error.
func (f *Failure) Err() error {
	if f == nil {
		return nil
	}
	return &protocol.Error{Code: protocol.Code(f.Code), Message: f.Message, Domain: f.Domain}
}

// Stale is the answer of a grain whose write the store refused as stale
// (storage.ErrStale: another activation of the grain has written since
// this one loaded its state). Nothing was done and the grain stops, so a
// retry reaches a fresh activation that loads the newer state: it is the
// wire's `unavailable`, retry.
func Stale(domain string) *Failure {
	return Fail(protocol.CodeUnavailable, domain, "nothing was done, try again")
}
