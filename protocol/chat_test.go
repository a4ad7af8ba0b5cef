package protocol

import (
	"strings"
	"testing"
)

func TestChatSendValidate(t *testing.T) {
	cases := []struct {
		name, payload string
		code          Code   // "" when accepted
		key           string // the idempotency key when accepted
	}{
		{"no key", `{"recipientId":"user_b","content":"hi"}`, "", ""},
		{"null key", `{"recipientId":"user_b","content":"hi","clientMessageId":null}`, "", ""},
		{"a UUID", `{"recipientId":"user_b","content":"hi","clientMessageId":"0b5c2f1e-8f1a-4c7e-9d2a-3e4f5a6b7c8d"}`, "", "0b5c2f1e-8f1a-4c7e-9d2a-3e4f5a6b7c8d"},
		{"the longest key", `{"recipientId":"user_b","content":"hi","clientMessageId":"` + strings.Repeat("k", MaxIDChars) + `"}`, "", strings.Repeat("k", MaxIDChars)},
		{"one character too long", `{"recipientId":"user_b","content":"hi","clientMessageId":"` + strings.Repeat("k", MaxIDChars+1) + `"}`, CodeInvalidPayload, ""},
		{"empty key", `{"recipientId":"user_b","content":"hi","clientMessageId":""}`, CodeInvalidPayload, ""},
		{"a space", `{"recipientId":"user_b","content":"hi","clientMessageId":"a b"}`, CodeInvalidPayload, ""},
		{"NUL", `{"recipientId":"user_b","content":"hi","clientMessageId":"a\u0000"}`, CodeInvalidPayload, ""},
		{"a control character", `{"recipientId":"user_b","content":"hi","clientMessageId":"a\u007f"}`, CodeInvalidPayload, ""},
		{"not ASCII", `{"recipientId":"user_b","content":"hi","clientMessageId":"clé"}`, CodeInvalidPayload, ""},
		{"a number", `{"recipientId":"user_b","content":"hi","clientMessageId":7}`, CodeInvalidPayload, ""},
		// The recipient is checked first, as before keys existed.
		{"bad key, no recipient", `{"content":"hi","clientMessageId":""}`, CodeMissingRecipientID, ""},
		{"good key, blank content", `{"recipientId":"user_b","content":"  ","clientMessageId":"k"}`, CodeInvalidPayload, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p ChatSend
			err := DecodePayload([]byte(c.payload), DomainChat, &p)
			if err == nil {
				err = p.Validate()
			}
			if c.code == "" {
				if err != nil || p.ClientID() != c.key {
					t.Fatalf("got %v, key %q; want accepted with key %q", err, p.ClientID(), c.key)
				}
				return
			}
			if err == nil || err.Code != c.code || err.Domain != DomainChat {
				t.Fatalf("got %v, want %s in domain chat", err, c.code)
			}
		})
	}
}
