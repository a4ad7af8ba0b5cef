package storage

import "testing"

func TestChatID(t *testing.T) {
	cases := []struct{ a, b, chat string }{
		{"user_01b", "user_01a", "chat_01a~01b"},
		{"user_01jz8k3m2q4r5s6t7v8w9x0y1z", "user_01jz8k3m2q4r5s6t7v8w9x0y2a", "chat_01jz8k3m2q4r5s6t7v8w9x0y1z~01jz8k3m2q4r5s6t7v8w9x0y2a"},
		{"legacy-7", "user_01a", "chatx_legacy-7~user_01a"},
	}
	for _, c := range cases {
		pair := PairID(c.a, c.b)
		chat := ChatID(pair)
		if chat != c.chat {
			t.Fatalf("ChatID(%q) = %q, want %q", pair, chat, c.chat)
		}
		if len(chat) > 64 && c.a[:5] == "user_" && c.b[:5] == "user_" {
			t.Errorf("chat id of two ordinary users is %d bytes, over the wire's 64", len(chat))
		}
		if got, ok := ChatPair(chat); !ok || got != pair {
			t.Fatalf("ChatPair(%q) = %q, %v; want %q", chat, got, ok, pair)
		}
	}
	for _, bad := range []string{
		"", "chat_", "chat_~", "chat_01a", "chat_01b~01a", "chat_01a~01a", "chatx_user_01a~user_01b",
		"01a~01b", "chat_01a~", "chat_~01b", "chat_01a~01b~01c", "chat_0|1a~01b", "chat_01a~0|1b",
	} {
		if got, ok := ChatPair(bad); ok {
			t.Errorf("ChatPair(%q) = %q, want refused", bad, got)
		}
	}
}
