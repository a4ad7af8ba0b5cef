package console_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gisbi/engine/server/servertest"
)

// browser starts headless Chromium for one test and records what would
// go wrong silently in a real browser: uncaught exceptions, console
// errors and refusals by the Content-Security-Policy.
type browser struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// CI runs as root in a container, where Chromium's sandbox cannot
		// start; the page is our own, so the sandbox protects nothing here.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// /dev/shm is tiny in containers; Chromium crashes tabs there.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	)
	// Deadlines bound every wait (this one the whole test, run's each
	// step): the test waits for elements, never for durations, and a stuck
	// page fails instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	b := &browser{t: t}
	// The listener is set before the tab opens, so it sees every event.
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		// Close the browser before the server stops (cleanups run last
		// registered first), so no request is left hanging on it.
		bcancel()
	})
	b.ctx = bctx
	// The first Do starts the browser and binds it to ctx, the whole
	// test's deadline; each step then runs under a shorter one.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return b
}

// listen runs in the tab's event loop, so it only records.
func (b *browser) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		b.problem("uncaught exception: " + msg)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, a.Description+string(a.Value))
			}
			b.problem("console." + string(e.Type) + ": " + strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		// Failed requests (the wrong token's 401) are expected and
		// shown on the page; anything else logged as an error, such
		// as a refusal by the Content-Security-Policy, is not.
		if e.Entry.Level == cdplog.EntryLevelError && e.Entry.Source != cdplog.EntrySourceNetwork {
			b.problem(string(e.Entry.Source) + ": " + e.Entry.Text)
		}
	}
}

// noProblems fails the test for each problem the browser reported.
func (b *browser) noProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser: %s", p)
	}
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// run performs one step; on failure it names the step and shows what the
// page said, which is most of what a failing browser test needs. Each step
// has its own deadline, so the page can still be read after one times out.
func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(step, err)
	}
}

// fail ends the test at step with what the page shows.
func (b *browser) fail(step string, err error) {
	b.t.Helper()
	rctx, rcancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer rcancel()
	body, _ := chromedp.Run(rctx, chromedp.Text(chromedp.CSS("body")))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t.Fatalf("%s: %v\npage text:\n%s\nbrowser problems: %q", step, err, body, b.problems)
}

// value runs one action that answers a value, as a step.
func value[T any](b *browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(step, err)
	}
	return v
}

func (b *browser) text(step, sel string) string {
	b.t.Helper()
	return value(b, step, chromedp.Text(chromedp.CSS(sel)))
}

func tab(view string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(`nav.tabs button[data-view="` + view + `"]`))
}

// TestConsoleInBrowser drives the console as an operator would, in real
// headless Chromium against a real server: a failed and a good sign-in,
// a reported account found and terminated, its report resolved, the
// audit entry naming the operator, a campaign created and paused, and the
// health view.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	exe := servertest.Chromium(t, "the console") // before the server: a skip should cost nothing
	srv := servertest.Start(t, withAdmin)
	b := newBrowser(t, exe)

	reporter, reported := srv.Login("alice-reporter"), srv.Login("mallory-reported")
	ws := reporter.Dial()
	ws.Start()
	ws.Send("safety.report", map[string]any{"reportedUserId": reported.ID, "reason": "Harassment in chat"}, "rep")
	reportID, _ := ws.Expect("safety.report").Map(t)["reportId"].(string)
	if reportID == "" {
		t.Fatal("safety.report answered no reportId")
	}
	const operator = "Console Test Operator"

	b.run("open the console",
		chromedp.Navigate(srv.URL+"/console"),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-form")))

	b.run("sign in with a wrong token",
		chromedp.SendKeys(chromedp.CSS("#sign-in-operator"), operator),
		chromedp.SendKeys(chromedp.CSS("#sign-in-token"), "not-the-operator-token-at-all"),
		chromedp.Click(chromedp.CSS("#sign-in-submit")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-error")))
	if msg := b.text("read the sign-in error", "#sign-in-error"); !strings.Contains(msg, "refused this admin token") {
		t.Errorf("wrong token: the sign-in error says %q", msg)
	}
	if !value(b, "the console stays closed", chromedp.Evaluate[bool](`document.getElementById('app').hidden`)) {
		t.Error("a wrong token opened the console")
	}

	b.run("sign in with the right token",
		chromedp.Clear(chromedp.CSS("#sign-in-token")),
		chromedp.SendKeys(chromedp.CSS("#sign-in-token"), adminToken),
		chromedp.Click(chromedp.CSS("#sign-in-submit")),
		chromedp.WaitVisible(chromedp.CSS("#view-reports")),
		chromedp.WaitNotVisible(chromedp.CSS("#sign-in")))
	if who := b.text("read who is signed in", "#who-name"); who != operator {
		t.Errorf("signed in as %q", who)
	}
	// The token is kept in a variable only: not in storage, cookies, the
	// URL or anywhere in the document.
	type kept struct {
		Stored int    `json:"stored"`
		Cookie string `json:"cookie"`
		InURL  bool   `json:"inURL"`
		InDOM  bool   `json:"inDOM"`
		Field  string `json:"field"`
	}
	tok := strconv.Quote(adminToken)
	if k := value(b, "look for the token outside memory", chromedp.Evaluate[kept](`({
		stored: localStorage.length + sessionStorage.length, cookie: document.cookie,
		inURL: location.href.includes(`+tok+`), inDOM: document.documentElement.outerHTML.includes(`+tok+`),
		field: document.getElementById('sign-in-token').value})`)); k != (kept{}) {
		t.Errorf("the token is kept outside memory: %+v", k)
	}

	reportRow := `#reports-rows tr[data-report-id="` + reportID + `"]`
	b.run("see the open report in the queue",
		chromedp.WaitVisible(chromedp.CSS(reportRow+`[data-status="open"]`)))
	b.run("mark it reviewing",
		chromedp.Click(chromedp.CSS(reportRow+` button.mark-reviewing`)),
		chromedp.WaitVisible(chromedp.CSS("#reports-notice")),
		chromedp.WaitNotPresent(chromedp.CSS(reportRow)), // it left the open queue
		chromedp.SetValue(chromedp.CSS("#reports-status"), "reviewing"),
		chromedp.Click(chromedp.CSS(`#reports-filter button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(reportRow+`[data-status="reviewing"]`)))

	userRow := `#users-rows tr[data-user-id="` + reported.ID + `"]`
	b.run("search the reported user",
		tab("users"),
		chromedp.SendKeys(chromedp.CSS("#users-q"), "mallory"),
		chromedp.Click(chromedp.CSS(`#users-search button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(userRow+`[data-state="active"]`)))
	b.run("terminate it",
		chromedp.Click(chromedp.CSS(userRow+` button.terminate`)),
		chromedp.WaitVisible(chromedp.CSS(`#users-rows tr.confirm input.reason`)),
		chromedp.SendKeys(chromedp.CSS(`#users-rows tr.confirm input.reason`), "Harassment confirmed"),
		chromedp.Click(chromedp.CSS(`#users-rows tr.confirm button.confirm-action`)),
		chromedp.WaitVisible(chromedp.CSS(userRow+`[data-state="terminated"]`)),
		chromedp.WaitVisible(chromedp.CSS("#users-notice")))

	b.run("see the report resolved",
		tab("reports"),
		chromedp.SetValue(chromedp.CSS("#reports-status"), "resolved"),
		chromedp.Click(chromedp.CSS(`#reports-filter button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(reportRow+`[data-status="resolved"]`)))
	if row := b.text("read the resolved report", reportRow); !strings.Contains(row, "account terminated") || !strings.Contains(row, "Harassment in chat") {
		t.Errorf("resolved report row: %q", row)
	}

	auditRow := `#audit-rows tr[data-target*="` + reported.ID + `"][data-operator="` + operator + `"]`
	b.run("see the audit entry",
		tab("audit"),
		chromedp.WaitVisible(chromedp.CSS(auditRow)))
	if row := b.text("read the audit entry", auditRow); !strings.Contains(strings.ToLower(row), "terminat") {
		t.Errorf("audit entry: %q", row)
	}
	shot := filepath.Join(t.TempDir(), "console.png")
	png := value(b, "take a screenshot", chromedp.CaptureScreenshot())
	if err := os.WriteFile(shot, png, 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s: %v, %d bytes", shot, err, len(png))
	}

	campaignRow := `#campaigns-rows tr`
	b.run("create a brand",
		tab("campaigns"),
		chromedp.WaitVisible(chromedp.CSS("#campaigns-empty")),
		chromedp.SendKeys(chromedp.CSS("#brand-name"), "Skyline Lounge"),
		chromedp.SendKeys(chromedp.CSS("#brand-category"), "lounge"),
		chromedp.Click(chromedp.CSS(`#brand-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#brand-created")))
	if key := b.text("read the sponsor key", "#brand-created-key"); !strings.HasPrefix(key, "gsk_") {
		t.Errorf("sponsor key shown: %q", key)
	}
	b.run("create a campaign and pause it",
		chromedp.SendKeys(chromedp.CSS("#campaign-title"), "Date Night"),
		chromedp.SendKeys(chromedp.CSS("#campaign-description"), "Two mocktails"),
		chromedp.SendKeys(chromedp.CSS("#campaign-stock"), "500"),
		chromedp.Click(chromedp.CSS(`#campaign-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(campaignRow+`[data-status="active"]`)),
		chromedp.Click(chromedp.CSS(campaignRow+` button.pause`)),
		chromedp.WaitVisible(chromedp.CSS(campaignRow+`[data-status="paused"]`)))
	if row := b.text("read the campaign", campaignRow); !strings.Contains(row, "Date Night") || !strings.Contains(row, "Skyline Lounge") || !strings.Contains(row, "500") {
		t.Errorf("campaign row: %q", row)
	}
	res := srv.Do(http.MethodGet, "/admin/campaigns", adminToken, nil)
	if camps, _ := res.JSON(t)["campaigns"].([]any); len(camps) != 1 || camps[0].(map[string]any)["status"] != "paused" {
		t.Errorf("campaigns after the console paused one: %s", res.Body)
	}

	b.run("see the node's health",
		tab("health"),
		chromedp.WaitVisible(chromedp.CSS(`#view-health[data-state="loaded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#health-ready[data-state="ready"]`)))
	if g := b.text("read the goroutine count", "#health-goroutines"); g == "" || g == "—" || strings.Trim(g, "0123456789,. ") != "" {
		t.Errorf("goroutines shown as %q", g)
	}

	b.run("sign out",
		chromedp.Click(chromedp.CSS("#sign-out")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-form")))
	if left := value(b, "count what is left on the page", chromedp.Evaluate[int](`document.querySelectorAll('#app tbody tr').length`)); left != 0 {
		t.Errorf("%d table rows stay on the page after signing out", left)
	}
	if value(b, "look for the sponsor key", chromedp.Evaluate[bool](`document.documentElement.outerHTML.includes('gsk_')`)) {
		t.Error("the sponsor key stays on the page after signing out")
	}

	b.noProblems()
}

// Without an admin token the page explains that the operator API is off
// rather than offering a sign-in that cannot succeed, or nothing at all.
func TestConsoleInBrowserWithoutOperatorAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	exe := servertest.Chromium(t, "the console")
	srv := servertest.Start(t)
	b := newBrowser(t, exe)
	b.run("open the console",
		chromedp.Navigate(srv.URL+"/console"),
		chromedp.WaitVisible(chromedp.CSS("#api-off")),
		chromedp.WaitNotVisible(chromedp.CSS("#sign-in")),
		chromedp.WaitNotVisible(chromedp.CSS("#loading")))
	if msg := b.text("read the page", "#api-off"); !strings.Contains(msg, "GISBI_ADMIN_TOKEN") {
		t.Errorf("operator API off: the page says %q", msg)
	}
	b.noProblems()
}
