package pair

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/protocol.md says how many messages bootstrap and chat.history.fetch
// carry in two places; both must be what the code does.
func TestDocsStateTheHistoryLimits(t *testing.T) {
	b, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(b)), " ")
	said := regexp.MustCompile(`latest (\d+) messages of each of the (\d+) most recent conversations`).FindAllStringSubmatch(text, -1)
	if len(said) != 2 {
		t.Fatalf("docs/protocol.md states the history limits %d times, want 2 (chat.history.fetch and bootstrap)", len(said))
	}
	want := []string{fmt.Sprint(historyPerConv), fmt.Sprint(historyConversations)}
	for _, m := range said {
		if m[1] != want[0] || m[2] != want[1] {
			t.Errorf("docs say %q, the code serves %s messages of each of %s conversations", m[0], want[0], want[1])
		}
	}
}
