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
