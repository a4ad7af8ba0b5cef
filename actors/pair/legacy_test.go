package pair

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

func TestLegacyEvents(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	resolved := t0.Add(time.Minute)
	const a, b = "user_a", "user_b"
	chat := storage.ChatID(storage.PairID(a, b))
	req := &storage.Request{ID: "req_1", FromUserID: a, ToUserID: b, Status: StatusPending, LegacyStatus: "pending", CreatedAt: t0}
	accepted := *req
	accepted.Status, accepted.ResolvedAt = StatusAccepted, &resolved
	closed := func(by, reason string) *storage.Connection {
		return &storage.Connection{ID: "conn_1", SenderID: a, ReceiverID: b, Status: StatusClosed, ClosedByUserID: &by, ClosureReason: &reason}
	}
	profile := func(id string) protocol.User { return protocol.User{ID: id, Name: "name of " + id} }
	cases := []struct {
		name   string
		ev     Event
		viewer string
		want   []string // event names, in order
	}{
		{"request: the target hears", Event{Type: protocol.TypeRequestSend, Request: req}, b, []string{protocol.EventConnectionRequest}},
		{"request: not the sender", Event{Type: protocol.TypeRequestSend, Request: req}, a, nil},
		{"accept: the accepter joins", Event{Type: protocol.TypeRequestAccept, Request: &accepted, Connection: &storage.Connection{ID: "conn_1"}}, b, []string{protocol.EventChatCreated, protocol.EventChatJoined}},
		{"accept: the sender is accepted", Event{Type: protocol.TypeRequestAccept, Request: &accepted, Connection: &storage.Connection{ID: "conn_1"}}, a, []string{protocol.EventChatCreated, protocol.EventConnectionAccepted}},
		{"reject: nothing", Event{Type: protocol.TypeRequestReject, Request: req}, a, nil},
		{"missed: nothing", Event{Type: protocol.TypeRequestMissed, Request: req}, b, nil},
		{"close", Event{Type: protocol.TypeConnClose, Connection: closed(a, "user_closed")}, b, []string{protocol.EventChatDeleted}},
		{"block: the blocker", Event{Type: protocol.TypeConnClose, Connection: closed(a, "blocked")}, a, []string{protocol.EventChatParticipantRemoved, protocol.EventChatDeleted}},
		{"block: the blocked", Event{Type: protocol.TypeConnClose, Connection: closed(a, "blocked")}, b, []string{protocol.EventChatParticipantRemoved, protocol.EventChatDeleted}},
		{"deleted: the survivor", Event{Type: protocol.TypeConnClose, Connection: closed(a, "account_deleted")}, b, []string{protocol.EventChatParticipantRemoved, protocol.EventChatDeleted}},
		{"deleted: the deleted", Event{Type: protocol.TypeConnClose, Connection: closed(a, "account_deleted")}, a, []string{protocol.EventChatDeleted}},
		{"terminated: the survivor", Event{Type: protocol.TypeConnClose, Connection: closed(b, "account_terminated")}, a, []string{protocol.EventChatParticipantRemoved, protocol.EventChatDeleted}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, f := range LegacyEvents(c.ev, c.viewer, profile) {
				var env struct {
					Event string         `json:"event"`
					Data  map[string]any `json:"data"`
				}
				if err := json.Unmarshal(f, &env); err != nil {
					t.Fatalf("frame %s: %v", f, err)
				}
				got = append(got, env.Event)
				switch env.Event {
				case protocol.EventChatCreated, protocol.EventChatDeleted, protocol.EventChatParticipantRemoved, protocol.EventChatJoined:
					if env.Data["chat"] != chat {
						t.Errorf("%s names chat %v, want %s", env.Event, env.Data["chat"], chat)
					}
				}
				switch env.Event {
				case protocol.EventChatParticipantRemoved:
					if want := map[bool]string{true: b, false: a}[c.viewer == a]; env.Data["user"] != want {
						t.Errorf("removed user %v, want %s", env.Data["user"], want)
					}
				case protocol.EventChatDeleted:
					if env.Data["user"] != *c.ev.Connection.ClosedByUserID {
						t.Errorf("chat-deleted by %v", env.Data["user"])
					}
				case protocol.EventChatJoined:
					if env.Data["admin"].(map[string]any)["_id"] != a {
						t.Errorf("chat-joined admin %v", env.Data["admin"])
					}
				case protocol.EventConnectionAccepted:
					if c := env.Data["connection"].(map[string]any); c["status"] != "accepted" || c["acceptedAt"] == nil {
						t.Errorf("connection-accepted %v", c)
					}
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("events = %v, want %v", got, c.want)
			}
		})
	}
}
