package protocol

import (
	"bytes"
	"encoding/json"
	"time"
)

// MaxIDLength bounds requestId and correlationId: they are echoed to the client
// and logged, so they must not be a vector for large payloads.
const MaxIDLength = 128

// ClientFrame is the `/ws` envelope a client sends.
type ClientFrame struct {
	Type          string          `json:"type"`
	Payload       json.RawMessage `json:"payload"`
	RequestID     string          `json:"requestId,omitempty"`
	CorrelationID string          `json:"correlationId,omitempty"`
}

// DecodeClientFrame parses one text frame. The returned frame carries the ids
// even when an error is returned, so the error frame can echo them.
func DecodeClientFrame(data []byte) (ClientFrame, *Error) {
	var raw struct {
		Type          json.RawMessage `json:"type"`
		Payload       json.RawMessage `json:"payload"`
		RequestID     json.RawMessage `json:"requestId"`
		CorrelationID json.RawMessage `json:"correlationId"`
	}
	var f ClientFrame
	// JSON whitespace only: bytes.TrimSpace would also accept Unicode spaces.
	trimmed := bytes.Trim(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return f, Errorf(CodeInvalidJSON, DomainSession, "frame must be a JSON object")
	}
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return f, Errorf(CodeInvalidJSON, DomainSession, "frame is not valid JSON")
	}
	// Decode both ids before failing on either, so the error echoes the good one.
	var reqErr, corrErr *Error
	f.RequestID, reqErr = decodeID("requestId", raw.RequestID)
	f.CorrelationID, corrErr = decodeID("correlationId", raw.CorrelationID)
	if reqErr != nil {
		return f, reqErr
	}
	if corrErr != nil {
		return f, corrErr
	}
	if len(raw.Type) == 0 || string(raw.Type) == "null" {
		return f, Errorf(CodeInvalidPayload, DomainSession, "type is required")
	}
	if err := json.Unmarshal(raw.Type, &f.Type); err != nil || f.Type == "" {
		return f, Errorf(CodeInvalidPayload, DomainSession, "type must be a non-empty string")
	}
	if len(f.Type) > 64 {
		return f, Errorf(CodeUnknownType, DomainSession, "unknown type")
	}
	f.Payload = raw.Payload
	if len(f.Payload) == 0 || string(f.Payload) == "null" {
		f.Payload = json.RawMessage("{}")
	}
	return f, nil
}

// decodeID accepts a string or a number (some clients send counters) and
// returns it as a string; anything else is invalid.
func decodeID(name string, raw json.RawMessage) (string, *Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", Errorf(CodeInvalidPayload, DomainSession, "%s must be a string", name)
		}
		s = n.String()
	}
	if len(s) > MaxIDLength {
		return "", Errorf(CodeInvalidPayload, DomainSession, "%s longer than %d bytes", name, MaxIDLength)
	}
	return s, nil
}

// ServerFrame is what the server sends on `/ws`.
type ServerFrame struct {
	Type          string `json:"type"`
	Payload       any    `json:"payload"`
	Timestamp     string `json:"timestamp"`
	RequestID     string `json:"requestId,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
}

// TimeFormat is RFC 3339 in UTC with milliseconds, used for every timestamp on the wire.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t for the wire.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// FormatTimePtr renders an optional time: nil stays null on the wire.
func FormatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := FormatTime(*t)
	return &s
}

// EncodeFrame encodes one server frame. Events for many recipients are
// encoded once with empty ids and the same bytes written to every socket.
func EncodeFrame(typ string, payload any, now time.Time, requestID, correlationID string) ([]byte, error) {
	if payload == nil {
		payload = struct{}{}
	}
	return json.Marshal(ServerFrame{
		Type: typ, Payload: payload, Timestamp: FormatTime(now),
		RequestID: requestID, CorrelationID: correlationID,
	})
}

// EncodeRawFrame is EncodeFrame for a payload that is already compact JSON
// the server produced itself: it is copied as is, where encoding/json would
// re-validate and re-compact it (a real cost on 16 KB radar answers).
func EncodeRawFrame(typ string, payload []byte, now time.Time, requestID, correlationID string) []byte {
	b := make([]byte, 0, len(payload)+len(typ)+len(requestID)+len(correlationID)+96)
	b = AppendFrameHead(b, typ)
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	b = append(b, payload...)
	return AppendFrameTail(b, now, requestID, correlationID)
}

// FrameTailMax is room enough for AppendFrameTail without ids; add the
// lengths of the ids. A producer that sizes its buffer with it lets the
// tail be appended in place, without copying the payload again.
const FrameTailMax = 64

// AppendFrameHead starts a frame of type typ up to its payload: write the
// payload next, then AppendFrameTail. Together they produce what
// EncodeRawFrame does, for a producer that writes a large payload (a radar
// answer) straight into the frame instead of copying it there.
func AppendFrameHead(b []byte, typ string) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, typ)
	return append(b, `,"payload":`...)
}

// AppendFrameTail ends a frame started by AppendFrameHead.
func AppendFrameTail(b []byte, now time.Time, requestID, correlationID string) []byte {
	b = append(b, `,"timestamp":"`...)
	b = now.UTC().AppendFormat(b, TimeFormat)
	b = append(b, '"')
	if requestID != "" {
		b = append(b, `,"requestId":`...)
		b = appendJSONString(b, requestID)
	}
	if correlationID != "" {
		b = append(b, `,"correlationId":`...)
		b = appendJSONString(b, correlationID)
	}
	return append(b, '}')
}

// appendJSONString appends s as encoding/json would. Types and ids are
// nearly always plain ASCII, which needs no escaping: that common case
// costs no allocation.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// ErrorPayload is the payload of an `error` frame.
type ErrorPayload struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Domain    string `json:"domain"`
	RequestID string `json:"requestId,omitempty"`
	Details   any    `json:"details,omitempty"`
}

// EncodeError encodes an `error` frame answering the given client frame ids.
func EncodeError(e *Error, now time.Time, requestID, correlationID string) []byte {
	b, err := EncodeFrame(TypeError, ErrorPayload{
		Code: e.Code, Message: e.Message, Domain: e.Domain, RequestID: requestID, Details: e.Details,
	}, now, requestID, correlationID)
	if err != nil {
		// Details failed to encode; the code and message alone still help the client.
		b, _ = EncodeFrame(TypeError, ErrorPayload{Code: e.Code, Message: e.Message, Domain: e.Domain, RequestID: requestID}, now, requestID, correlationID)
	}
	return b
}

// RESTError is the body of every REST error.
type RESTError struct {
	Detail string `json:"detail"`
	Code   Code   `json:"code"`
}
