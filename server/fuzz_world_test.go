package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gisbi/engine/auth/authtest"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// The fuzz targets of this package drive one real in-process server (bbolt
// on disk, real sockets on 127.0.0.1, real JWTs) with every frame type and
// REST route it registers. A fuzz input names the objects it acts on with
// placeholders ($PEER, $CONN, …) that stand for fixtures of the current
// generation: real users, a connection, a pending request, a message, a
// sponsored gift. That lets mutations reach past "not found" into the
// handlers' real work. A generation serves fuzzRotateEvery inputs, or
// fewer when an input spent it (a deleted account, a closed socket).
const fuzzRotateEvery = 2000

// fuzzAnswerWithin bounds the wait for the answer to one input: the
// documented call timeout (5 s) with margin for a loaded 2-core machine.
const fuzzAnswerWithin = 15 * time.Second

type fuzzAccount struct{ ID, Access, Refresh string }

// fuzzFixtures are one generation's objects. me has a `/ws` and a
// `/socket` socket; me and peer are connected (with a message, a chat, a
// BLE token and a sponsored gift); pend has a request pending to me;
// stranger shares nothing with me.
type fuzzFixtures struct {
	me, peer, pend, stranger                      fuzzAccount
	conn, req, msg, chat, ble, gift, code, report string
	ws, legacy                                    *websocket.Conn
	fill                                          *strings.Replacer
	uses                                          int
	spent                                         bool
}

func (fx *fuzzFixtures) close() {
	for _, c := range []*websocket.Conn{fx.ws, fx.legacy} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// fuzzWorld is the server under fuzz and what the checks compare against.
type fuzzWorld struct {
	srv    *servertest.Server
	client *http.Client
	// googleToken and appleToken are ID tokens of the local providers,
	// valid for a day: signed here, before the fuzzing, as the providers
	// belong to the F.
	googleToken, appleToken string
	// codes are the documented error codes with their HTTP status, read
	// from docs/protocol.md.
	codes map[string]int
	// replies maps each documented `/ws` frame type to the types its
	// answer may have (docs/protocol.md's client → server table).
	replies map[string][]string
	// legacyEvents are the events a `/socket` client may receive.
	legacyEvents map[string]bool

	internal     prometheus.Counter
	lastInternal float64
	errs         *errorLog

	brandID, sponsorKey, campaignID, grants string
	// claim: the fixtures claim their gift, so the sponsor routes have a
	// live redemption code ($CODE).
	claim bool

	gen int
	seq int
	fx  *fuzzFixtures
}

// newFuzzWorld starts the server with loose rate limits (the fuzzer is not
// the flood test) and an operator token, and a campaign that grants every
// new connection a gift.
func newFuzzWorld(f *testing.F, claim bool) *fuzzWorld {
	errs := &errorLog{}
	// Google and Apple sign-in on, against local JWKS servers, so login
	// bodies reach the ID token verifier ($GOOGLE and $APPLE are valid
	// tokens of theirs).
	google, apple := authtest.NewProvider(f, authtest.GoogleIssuer), authtest.NewProvider(f, authtest.AppleIssuer)
	srv := servertest.StartLogged(f, f.TempDir(), slog.New(errs), withAdmin, func(c *config.Config) {
		c.WSRate, c.WSBurst = 1e6, 1e6
		c.HTTPRate, c.HTTPBurst = 1e6, 1e6
		c.SponsorCodeMissesPerHour = 100000
		c.GoogleClientIDs, c.GoogleJWKSURL = []string{googleClient}, google.JWKSURL()
		c.AppleClientIDs, c.AppleJWKSURL = []string{appleClient}, apple.JWKSURL()
	})
	w := &fuzzWorld{
		srv: srv, errs: errs, claim: claim,
		googleToken: dayToken(google, "fuzz-google", googleClient), appleToken: dayToken(apple, "fuzz-apple", appleClient),
		client:   &http.Client{Timeout: fuzzAnswerWithin, Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
		internal: srv.Metrics.Errors.WithLabelValues("internal"),
	}
	w.readDocs(f)
	w.brandID, w.sponsorKey = brand(f, srv, "Fuzz Lounge")
	// The fixtures' campaign grants each new connection its gift; inputs
	// cannot name it. $CAMPAIGN is another, granted at a milestone no
	// fixture reaches.
	w.grants = campaign(f, srv, w.brandID, nil)
	w.campaignID = campaign(f, srv, w.brandID, map[string]any{"triggerType": "proximityMilestone", "milestoneMinutes": 15})
	w.rotate(f)
	return w
}

func dayToken(p *authtest.Provider, sub, aud string) string {
	c := p.Claims(sub, aud)
	c["exp"] = time.Now().Add(24 * time.Hour).Unix()
	return p.Sign(c)
}

// readDocs loads the documented codes and frame answers.
func (w *fuzzWorld) readDocs(tb testing.TB) {
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		tb.Fatal(err)
	}
	doc := string(b)
	w.codes = map[string]int{}
	_, table, _ := strings.Cut(doc, "\n## Error codes")
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z_]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(table, -1) {
		w.codes[m[1]], _ = strconv.Atoi(m[2])
	}
	w.replies = map[string][]string{}
	_, table, _ = strings.Cut(doc, "### Client → server")
	table, _, _ = strings.Cut(table, "\n### ")
	quoted := regexp.MustCompile("`([a-z_]+(?:\\.[a-z_]+)+)[` ]")
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		var answers []string
		for _, m := range quoted.FindAllStringSubmatch(cells[3], -1) {
			answers = append(answers, m[1])
		}
		for _, m := range quoted.FindAllStringSubmatch(cells[1], -1) {
			// An answer column without a frame type ("`{…}`") answers
			// with the request's own type.
			w.replies[m[1]] = append(answers, m[1])
		}
	}
	w.legacyEvents = map[string]bool{}
	_, legacy, _ := strings.Cut(doc, "## Legacy dialect")
	legacy, _, _ = strings.Cut(legacy, "\n## Chats REST")
	for _, sec := range []string{"### Server → client", "### Errors"} {
		_, table, _ := strings.Cut(legacy, sec)
		table, _, _ = strings.Cut(table, "\n### ")
		for _, line := range strings.Split(table, "\n") {
			if cells := strings.Split(line, "|"); len(cells) >= 3 {
				for _, m := range regexp.MustCompile("`([a-z]+(?:-[a-z]+)+)`").FindAllStringSubmatch(cells[1], -1) {
					w.legacyEvents[m[1]] = true
				}
			}
		}
	}
	if len(w.codes) < 30 || len(w.replies) < 20 || len(w.legacyEvents) < 15 {
		tb.Fatalf("docs/protocol.md tables not found: %d codes, %d frame types, %d legacy events",
			len(w.codes), len(w.replies), len(w.legacyEvents))
	}
}

// rotate replaces the fixtures with a new generation.
func (w *fuzzWorld) rotate(tb testing.TB) {
	tb.Helper()
	if w.fx != nil {
		w.fx.close()
	}
	w.gen++
	w.endStrayCampaigns(tb)
	p := fmt.Sprintf("fz%d-", w.gen)
	fx := &fuzzFixtures{}
	w.fx = fx
	fx.me, fx.peer, fx.pend, fx.stranger = w.login(tb, p+"me"), w.login(tb, p+"peer"), w.login(tb, p+"pend"), w.login(tb, p+"stranger")
	// The REST request needs its target to have a vibe.
	vibe := []byte(`{"vibe":"fuzzing","vibeDurationMinutes":1440}`)
	w.must(tb, http.MethodPatch, "/users/profile", fx.me.Access, vibe)
	w.must(tb, http.MethodPatch, "/users/profile", fx.peer.Access, vibe)
	fx.ws = w.dial(tb, "/ws", fx.me.Access)
	fx.legacy = w.dial(tb, "/socket", fx.me.Access)

	w.must(tb, http.MethodPost, "/connections/"+fx.peer.ID, fx.me.Access, nil)
	w.must(tb, http.MethodPost, "/connections/"+fx.me.ID+"/accept", fx.peer.Access, nil)
	var pending struct {
		Connection struct {
			ID string `json:"_id"`
		} `json:"connection"`
	}
	decodeInto(tb, w.must(tb, http.MethodPost, "/connections/"+fx.me.ID, fx.pend.Access, nil), &pending)
	fx.req = pending.Connection.ID

	// The accept reaches me's socket with the connection id, and the
	// campaign's grant follows.
	for fx.conn == "" || fx.gift == "" {
		typ, payload := w.push(tb, fx.ws)
		var p struct {
			Connection struct {
				ConnectionID string `json:"connectionId"`
			} `json:"connection"`
			GiftID string `json:"giftId"`
		}
		_ = json.Unmarshal(payload, &p)
		switch typ {
		case "connection.request.accept":
			fx.conn = p.Connection.ConnectionID
		case "gift.sponsored.granted":
			fx.gift = p.GiftID
		}
	}
	var msg struct {
		MessageID string `json:"messageId"`
	}
	decodeInto(tb, w.ask(tb, "chat.message.created", fmt.Sprintf(`{"recipientId":%q,"content":"hello"}`, fx.peer.ID)), &msg)
	fx.msg = msg.MessageID
	var rep struct {
		ReportID string `json:"reportId"`
	}
	decodeInto(tb, w.ask(tb, "safety.report", fmt.Sprintf(`{"reportedUserId":%q,"reason":"spam"}`, fx.stranger.ID)), &rep)
	fx.report = rep.ReportID
	if w.claim {
		var g struct {
			Code string `json:"redemptionCode"`
		}
		decodeInto(tb, w.ask(tb, "gift.claim", fmt.Sprintf(`{"giftId":%q}`, fx.gift)), &g)
		fx.code = g.Code
	}
	var chats struct {
		Chats []struct {
			ID string `json:"_id"`
		} `json:"chats"`
	}
	decodeInto(tb, w.must(tb, http.MethodGet, "/chats", fx.me.Access, nil), &chats)
	if len(chats.Chats) != 1 {
		tb.Fatalf("fixtures: me has %d chats, want 1", len(chats.Chats))
	}
	fx.chat = chats.Chats[0].ID
	var tok struct {
		Token string `json:"token"`
	}
	decodeInto(tb, w.must(tb, http.MethodPost, "/connections/"+fx.conn+"/proximity/token", fx.peer.Access, nil), &tok)
	fx.ble = tok.Token
	for _, v := range []string{fx.conn, fx.req, fx.msg, fx.chat, fx.ble, fx.gift, fx.report} {
		if v == "" {
			tb.Fatalf("fixtures incomplete: %+v", fx)
		}
	}
	fx.fill = strings.NewReplacer(
		"$ME", fx.me.ID, "$PEER", fx.peer.ID, "$PEND", fx.pend.ID, "$STRANGER", fx.stranger.ID,
		"$ACCESS", fx.me.Access, "$REFRESH", fx.me.Refresh,
		"$CONN", fx.conn, "$REQ", fx.req, "$MSG", fx.msg, "$CHAT", fx.chat, "$BLE", fx.ble,
		"$GIFT", fx.gift, "$CODE", fx.code, "$REPORT", fx.report,
		"$CAMPAIGN", w.campaignID, "$BRAND", w.brandID,
		"$GOOGLE", w.googleToken, "$APPLE", w.appleToken,
	)
}

// endStrayCampaigns ends the campaigns inputs created: each would grant
// every later connection a gift, and a long run creates thousands.
func (w *fuzzWorld) endStrayCampaigns(tb testing.TB) {
	tb.Helper()
	var list struct {
		Campaigns []struct{ CampaignID, Status string }
	}
	decodeInto(tb, w.must(tb, http.MethodGet, "/admin/campaigns", testAdminToken, nil), &list)
	for _, c := range list.Campaigns {
		if c.Status != "ended" && c.CampaignID != w.grants && c.CampaignID != w.campaignID {
			w.must(tb, http.MethodPatch, "/admin/campaigns/"+c.CampaignID, testAdminToken, []byte(`{"status":"ended"}`))
		}
	}
}

// next returns the fixtures for one more input, a new generation when the
// current one is used up.
func (w *fuzzWorld) next(tb testing.TB) *fuzzFixtures {
	if w.fx.spent || w.fx.uses >= fuzzRotateEvery {
		w.rotate(tb)
	}
	w.fx.uses++
	return w.fx
}

func (w *fuzzWorld) login(tb testing.TB, handle string) fuzzAccount {
	tb.Helper()
	var r struct {
		AccessToken, RefreshToken string
		User                      struct{ ID string }
	}
	decodeInto(tb, w.must(tb, http.MethodPost, "/auth/social-login", "", []byte(fmt.Sprintf(`{"provider":"dev","idToken":%q}`, handle))), &r)
	return fuzzAccount{ID: r.User.ID, Access: r.AccessToken, Refresh: r.RefreshToken}
}

// do sends one REST request.
func (w *fuzzWorld) do(method, path, token string, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, w.srv.URL+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := w.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// must sends a fixture request that has to succeed.
func (w *fuzzWorld) must(tb testing.TB, method, path, token string, body []byte) []byte {
	tb.Helper()
	res, b, err := w.do(method, path, token, body)
	if err != nil {
		tb.Fatalf("fixtures: %s %s: %v", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		tb.Fatalf("fixtures: %s %s: %d %s", method, path, res.StatusCode, b)
	}
	return b
}

func (w *fuzzWorld) dial(tb testing.TB, path, token string) *websocket.Conn {
	tb.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	d := websocket.Dialer{HandshakeTimeout: fuzzAnswerWithin}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(w.srv.URL, "http")+path, h)
	if err != nil {
		tb.Fatalf("fixtures: dial %s: %v", path, err)
	}
	return c
}

// wireFrame is a frame of either dialect as read off a socket.
type wireFrame struct {
	Type      string          `json:"type"`
	Event     string          `json:"event"`
	Payload   json.RawMessage `json:"payload"`
	Data      json.RawMessage `json:"data"`
	RequestID string          `json:"requestId"`
}

// read reads one frame within the answer deadline.
func read(c *websocket.Conn) (*wireFrame, []byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(fuzzAnswerWithin))
	_, raw, err := c.ReadMessage()
	if err != nil {
		return nil, nil, err
	}
	var f wireFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, raw, fmt.Errorf("server frame is not JSON: %w", err)
	}
	return &f, raw, nil
}

// push reads the next frame of a fixture socket.
func (w *fuzzWorld) push(tb testing.TB, c *websocket.Conn) (string, json.RawMessage) {
	tb.Helper()
	f, raw, err := read(c)
	if err != nil {
		tb.Fatalf("fixtures: read: %v (%s)", err, raw)
	}
	return f.Type, f.Payload
}

// ask sends a fixture frame on me's `/ws` socket and returns the payload
// of its answer, which must not be an error.
func (w *fuzzWorld) ask(tb testing.TB, typ, payload string) json.RawMessage {
	tb.Helper()
	w.seq++
	id := "fx" + strconv.Itoa(w.seq)
	if err := w.fx.ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":%q,"payload":%s,"requestId":%q}`, typ, payload, id))); err != nil {
		tb.Fatalf("fixtures: write %s: %v", typ, err)
	}
	for {
		f, raw, err := read(w.fx.ws)
		if err != nil {
			tb.Fatalf("fixtures: %s: %v (%s)", typ, err, raw)
		}
		if f.RequestID != id {
			continue
		}
		if f.Type != typ {
			tb.Fatalf("fixtures: %s answered %s", typ, raw)
		}
		return f.Payload
	}
}

func decodeInto(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("fixtures: decode %s: %v", b, err)
	}
}

// checkQuiet fails when the server answered `internal` or logged an error
// since the last check: the input just served (or, for an answer that
// comes after its input's turn, such as a legacy event's grain failure,
// the one before it) met a bug.
func (w *fuzzWorld) checkQuiet(t *testing.T, what string) {
	t.Helper()
	if n := testutil.ToFloat64(w.internal); n != w.lastInternal {
		w.lastInternal = n
		t.Errorf("%s: the server answered internal (%s)", what, w.errs.take())
	}
	if msg := w.errs.take(); msg != "" {
		t.Errorf("%s: the server logged an error: %s", what, msg)
	}
}

// pick chooses the registry entry an input names: itself when registered,
// else one chosen by its hash, so every mutation of a name still lands on
// a served type or route.
func pick(name string, registry []string) string {
	for _, r := range registry {
		if r == name {
			return r
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return registry[h.Sum32()%uint32(len(registry))]
}

// errorLog is the server's logger: it keeps the error records (a bug met
// under fuzz) and drops the rest.
type errorLog struct {
	mu   sync.Mutex
	recs []string
}

func (h *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recs) < 10 {
		h.recs = append(h.recs, b.String())
	}
	return nil
}

func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLog) WithGroup(string) slog.Handler      { return h }

// take returns and forgets the records kept so far.
func (h *errorLog) take() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := strings.Join(h.recs, "; ")
	h.recs = nil
	return s
}
