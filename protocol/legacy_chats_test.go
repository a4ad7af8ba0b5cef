package protocol

import (
	"strings"
	"testing"
)

func TestLegacyChatPost(t *testing.T) {
	cases := []struct {
		name, body, content string
		code                Code // "" when accepted
	}{
		{"trimmed", `{"content":"  hello  "}`, "hello", ""},
		{"the longest content", `{"content":"` + strings.Repeat("é", MaxMessageChars) + `"}`, strings.Repeat("é", MaxMessageChars), ""},
		{"one character too long", `{"content":"` + strings.Repeat("x", MaxMessageChars+1) + `"}`, "", CodeInvalidPayload},
		{"blank", `{"content":" \n\t "}`, "", CodeInvalidPayload},
		{"missing", `{}`, "", CodeInvalidPayload},
		{"not a string", `{"content":5}`, "", CodeInvalidPayload},
		{"unknown field", `{"content":"x","recipientId":"user_1"}`, "", CodeInvalidPayload},
		{"with a key", `{"content":"x","clientMessageId":"c-1"}`, "x", ""},
		{"with a null key", `{"content":"x","clientMessageId":null}`, "x", ""},
		{"an empty key", `{"content":"x","clientMessageId":""}`, "", CodeInvalidPayload},
		{"a key with a space", `{"content":"x","clientMessageId":"c 1"}`, "", CodeInvalidPayload},
		{"a key too long", `{"content":"x","clientMessageId":"` + strings.Repeat("k", MaxIDChars+1) + `"}`, "", CodeInvalidPayload},
		{"a key that is not a string", `{"content":"x","clientMessageId":1}`, "", CodeInvalidPayload},
		{"no body", ``, "", CodeInvalidPayload},
		{"not an object", `"hello"`, "", CodeInvalidPayload},
		{"not JSON", `{"content":`, "", CodeInvalidJSON},
		{"trailing data", `{"content":"x"} {}`, "", CodeInvalidJSON},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p LegacyChatPost
			err := DecodeStrictIn([]byte(c.body), DomainChat, &p)
			if err == nil {
				err = p.Validate()
			}
			if c.code == "" {
				if err != nil || p.Content != c.content {
					t.Fatalf("got %v, content %q; want %q", err, p.Content, c.content)
				}
				return
			}
			if err == nil || err.Code != c.code || err.Domain != DomainChat {
				t.Fatalf("got %v, want %s in domain chat", err, c.code)
			}
		})
	}
}
