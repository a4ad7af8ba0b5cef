package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The connection payloads were maps before they were structs: encoding/json
// wrote their keys sorted. The goldens are those bytes, so a field renamed,
// dropped, reordered or turned from null into absent fails here.
func TestConnectionShapesGolden(t *testing.T) {
	str := func(s string) *string { return &s }
	me := User{ID: "user_b", Name: "Bee"}
	req := ConnectionRequest{
		ID: "req_1", RequestID: "req_1", FromUserID: "user_a", ToUserID: "user_b", SenderID: "user_a", ReceiverID: "user_b",
		User: me, UserID: "user_b", Name: "Bee", Snippet: "", Direction: "outgoing", Status: "declined", LegacyStatus: "rejected",
		CreatedAt: "2026-04-14T14:00:00.000Z", ResolvedAt: str("2026-04-14T14:01:00.000Z"),
	}
	const user = `{"id":"user_b","name":"Bee","age":null,"avatar":null,"gender":null,"vibe":null,"vibeExpiresAt":null,"username":null,"bio":null}`
	const request = `{"id":"req_1","requestId":"req_1","fromUserId":"user_a","toUserId":"user_b","senderId":"user_a","receiverId":"user_b",` +
		`"user":` + user + `,"userId":"user_b","name":"Bee","age":null,"avatar":null,"snippet":"","direction":"outgoing","status":"declined",` +
		`"legacyStatus":"rejected","closureReason":null,"createdAt":"2026-04-14T14:00:00.000Z","resolvedAt":"2026-04-14T14:01:00.000Z","expiresAt":null}`
	conn := Connection{
		ConnectionID: "conn_1", User: me, Direction: "outgoing", Type: "connection", Status: "accepted", LegacyStatus: "active",
		SenderID: "user_a", ReceiverID: "user_b", Name: "Bee", ConnectedLocation: &LatLng{Lat: 6.5, Lng: 3.25},
		CreatedAt: "2026-04-14T14:00:00.000Z", ResolvedAt: "2026-04-14T14:01:00.000Z",
	}
	const connection = `{"connectionId":"conn_1","user":` + user + `,"isOnline":false,"accumulatedMinutes":0,"nextMilestoneMinutes":null,` +
		`"direction":"outgoing","type":"connection","status":"accepted","legacyStatus":"active","senderId":"user_a","receiverId":"user_b",` +
		`"name":"Bee","age":null,"avatar":null,"snippet":"","closureReason":null,"closedByUserId":null,"connectedLocation":{"lat":6.5,"lng":3.25},` +
		`"createdAt":"2026-04-14T14:00:00.000Z","resolvedAt":"2026-04-14T14:01:00.000Z","closedAt":null}`
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"request.send", RequestSent{Request: req}, `{"request":` + request + `}`},
		{"request.accept", RequestResolved{Connection: &conn, Direction: "outgoing", FromUserID: "user_a", Request: req, RequestID: "req_1",
			ResolvedAt: str("2026-04-14T14:01:00.000Z"), ToUserID: "user_b"},
			`{"connection":` + connection + `,"direction":"outgoing","fromUserId":"user_a","request":` + request +
				`,"requestId":"req_1","resolvedAt":"2026-04-14T14:01:00.000Z","toUserId":"user_b"}`},
		{"request.reject", RequestResolved{Direction: "outgoing", FromUserID: "user_a", Request: req, RequestID: "req_1", Status: "rejected", ToUserID: "user_b"},
			`{"direction":"outgoing","fromUserId":"user_a","request":` + request + `,"requestId":"req_1","resolvedAt":null,"status":"rejected","toUserId":"user_b"}`},
		{"connection.close", ConnectionClosed{ClosedAt: str("2026-04-14T15:00:00.000Z"), ClosedByUserID: str("user_a"), ClosureReason: str("user_left"),
			ConnectionID: "conn_1", RecipientID: "user_b", Status: "closed", Type: "connection"},
			`{"closedAt":"2026-04-14T15:00:00.000Z","closedByUserId":"user_a","closureReason":"user_left","connectionId":"conn_1","recipientId":"user_b","status":"closed","type":"connection"}`},
		{"connection.close by nobody", ConnectionClosed{ConnectionID: "conn_1", RecipientID: "user_b", Status: "closed", Type: "connection"},
			`{"closedAt":null,"closedByUserId":null,"closureReason":null,"connectionId":"conn_1","recipientId":"user_b","status":"closed","type":"connection"}`},
		{"ring event", Ring{FromUser: me, FromUserID: "user_b", RecipientID: "user_a"},
			`{"fromUser":` + user + `,"fromUserId":"user_b","recipientId":"user_a"}`},
		{"ring answer", Ring{FromUser: me, FromUserID: "user_b", RecipientID: "user_a", Status: "sent"},
			`{"fromUser":` + user + `,"fromUserId":"user_b","recipientId":"user_a","status":"sent"}`},
		{"history", ConnectionHistory{ActiveConnections: []Connection{}, ClosedConnections: []Connection{}},
			`{"activeConnections":[],"closedConnections":[]}`},
		{"legacy list", LegacyConnectionList{Count: 1, Connections: []LegacyConnection{{
			ID: "req_1", From: LegacyUser{ID: "user_a", Name: "A"}, To: LegacyUser{ID: "user_b", Name: "Bee", Username: str("bee")},
			Status: "pending", CreatedAt: "2026-04-14T14:00:00.000Z", User: LegacyUser{ID: "user_b", Name: "Bee", Username: str("bee")}}}},
			`{"connections":[{"_id":"req_1","from":{"_id":"user_a","name":"A","username":null,"photo":null,"bio":null},` +
				`"to":{"_id":"user_b","name":"Bee","username":"bee","photo":null,"bio":null},"status":"pending","createdAt":"2026-04-14T14:00:00.000Z",` +
				`"user":{"_id":"user_b","name":"Bee","username":"bee","photo":null,"bio":null}}],"count":1}`},
		{"legacy answer", LegacyConnectionReply{Connection: LegacyRequest{ID: "req_1", From: "user_a", To: "user_b", Status: "accepted",
			CreatedAt: "2026-04-14T14:00:00.000Z", AcceptedAt: str("2026-04-14T14:01:00.000Z")}},
			`{"connection":{"_id":"req_1","from":"user_a","to":"user_b","status":"accepted","createdAt":"2026-04-14T14:00:00.000Z","acceptedAt":"2026-04-14T14:01:00.000Z"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roundTrip(t, tt.v, tt.want)
		})
	}
}

func TestChatShapesGolden(t *testing.T) {
	str := func(s string) *string { return &s }
	yes, lat, lng := true, 6.5, 3.25
	msg := Message{MessageID: "msg_1", SenderID: "user_a", RecipientID: "user_b", Sender: User{ID: "user_a"}, Recipient: User{ID: "user_b"},
		Content: "hi", CreatedAt: "2026-04-14T14:00:00.000Z"}
	const message = `{"messageId":"msg_1","senderId":"user_a","recipientId":"user_b","sender":{"id":"user_a","name":"","age":null,"avatar":null,"gender":null,"vibe":null,"vibeExpiresAt":null,"username":null,"bio":null},` +
		`"recipient":{"id":"user_b","name":"","age":null,"avatar":null,"gender":null,"vibe":null,"vibeExpiresAt":null,"username":null,"bio":null},` +
		`"content":"hi","createdAt":"2026-04-14T14:00:00.000Z","readAt":null}`
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"read receipt", ChatReadReceipt{MessageID: "msg_1", ReadAt: str("2026-04-14T14:05:00.000Z"), RecipientID: "user_b", SenderID: "user_a"},
			`{"messageId":"msg_1","readAt":"2026-04-14T14:05:00.000Z","recipientId":"user_b","senderId":"user_a"}`},
		{"read receipt, unread", ChatReadReceipt{MessageID: "msg_1", RecipientID: "user_b", SenderID: "user_a"},
			`{"messageId":"msg_1","readAt":null,"recipientId":"user_b","senderId":"user_a"}`},
		{"typing relayed", ChatRelayed{FromUserID: "user_a", IsTyping: &yes, RecipientID: "user_b"},
			`{"fromUserId":"user_a","isTyping":true,"recipientId":"user_b"}`},
		{"location answer", ChatRelayed{FromUserID: "user_a", Location: &SharedLocation{Lat: &lat, Lng: &lng}, RecipientID: "user_b", Status: "sent"},
			`{"fromUserId":"user_a","location":{"lat":6.5,"lng":3.25},"recipientId":"user_b","status":"sent"}`},
		{"share stop", ChatRelayed{FromUserID: "user_a", RecipientID: "user_b"}, `{"fromUserId":"user_a","recipientId":"user_b"}`},
		{"history", ChatHistory{Messages: []Message{msg}, Conversations: map[string]ConversationSummary{"user_b": {LastMessage: msg, UnreadCount: 2}},
			UnreadMessageCount: map[string]int{"user_b": 2}, TotalUnreadMessageCount: 2},
			`{"messages":[` + message + `],"conversations":{"user_b":{"lastMessage":` + message + `,"unreadCount":2}},"unreadMessageCount":{"user_b":2},"totalUnreadMessageCount":2}`},
		{"conversation list", ConversationList{Conversations: map[string]ConversationSummary{}, UnreadMessageCount: map[string]int{}},
			`{"conversations":{},"unreadMessageCount":{},"totalUnreadMessageCount":0}`},
		{"last page", MessagePage{Messages: []Message{msg}}, `{"messages":[` + message + `],"nextBefore":null}`},
		{"page", MessagePage{Messages: []Message{}, NextBefore: str("msg_1")}, `{"messages":[],"nextBefore":"msg_1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roundTrip(t, tt.v, tt.want)
		})
	}
}

// roundTrip checks that v encodes as want and that want decodes back into
// a value equal to v.
func roundTrip(t *testing.T, v any, want string) {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("encoded\n %s\nwant\n %s", got, want)
	}
	back := reflect.New(reflect.TypeOf(v))
	if err := json.Unmarshal([]byte(want), back.Interface()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Elem().Interface(), v) {
		t.Fatalf("decoded %+v\nwant %+v", back.Elem().Interface(), v)
	}
}

func TestValidateRelay(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	no := false
	tests := []struct {
		name string
		typ  string
		in   ChatRelay
		want string
		code Code
	}{
		{"typing", TypeChatTyping, ChatRelay{RecipientID: "user_b", IsTyping: &no}, `{"isTyping":false,"recipientId":"user_b"}`, ""},
		{"typing without isTyping", TypeChatTyping, ChatRelay{RecipientID: "user_b"}, "", CodeInvalidPayload},
		{"share", TypeChatShareStart, ChatRelay{RecipientID: "user_b", Location: raw(`{"lat":1,"lng":2}`)}, `{"location":{"lat":1,"lng":2},"recipientId":"user_b"}`, ""},
		{"share without location", TypeChatShareUpdated, ChatRelay{RecipientID: "user_b"}, "", CodeInvalidLocation},
		{"stop", TypeChatShareStop, ChatRelay{RecipientID: "user_b"}, `{"recipientId":"user_b"}`, ""},
		{"no recipient", TypeChatShareStop, ChatRelay{}, "", CodeMissingRecipientID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.in.ValidateRelay(tt.typ)
			if !checkErr(t, err, tt.code, "") || err != nil {
				return
			}
			b, _ := json.Marshal(out)
			if string(b) != tt.want {
				t.Fatalf("relayed %s, want %s", b, tt.want)
			}
		})
	}
}
