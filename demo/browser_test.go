package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// tab is one browser tab, one demo user. Tabs of one browser share an
// origin's BroadcastChannel, which is the demo's simulated radio.
type tab struct {
	t        *testing.T
	name     string
	ctx      context.Context
	dir      string
	shots    int
	mu       sync.Mutex
	problems []string
}

func (b *tab) listen(ev any) {
	var p string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		p = "uncaught exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			p += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			p = "console.error"
		}
	case *cdplog.EventEntryAdded:
		// A refusal by the Content-Security-Policy lands here.
		if e.Entry.Level == cdplog.EntryLevelError && e.Entry.Source != cdplog.EntrySourceNetwork {
			p = string(e.Entry.Source) + ": " + e.Entry.Text
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// run performs one step under its own deadline; a failure shows the
// page's frame log, which says what the server answered.
func (b *tab) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		rctx, rcancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer rcancel()
		logText, _ := chromedp.Run(rctx, chromedp.Text(chromedp.CSS("#log")))
		b.mu.Lock()
		defer b.mu.Unlock()
		b.t.Fatalf("%s, %s: %v\nframes (newest first):\n%s\nbrowser problems: %q", b.name, step, err, logText, b.problems)
	}
}

// until waits for a JavaScript condition on the page, evaluating it every
// 100 ms: a timer, since a tab in the background gets no animation frames.
func (b *tab) until(step, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(80 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.run(step, chromedp.Func(func(context.Context, *chromedp.Target) error {
				return fmt.Errorf("still false after 80 s (last error: %v): %s", err, cond)
			}))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot saves a full-page screenshot in the test's temp dir.
func (b *tab) shot(what string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	// Quality 100 is what makes chromedp ask for PNG; below it the bytes
	// are JPEG, whatever the file is called.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("%s: screenshot %s: %v", b.name, what, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Fatalf("%s: screenshot %s is not a PNG (%d bytes)", b.name, what, len(png))
	}
	b.shots++
	path := filepath.Join(b.dir, fmt.Sprintf("%s-%d-%s.png", b.name, b.shots, what))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

func (b *tab) noProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("%s: browser: %s", b.name, p)
	}
}

// TestDemoInTwoTabs drives the demo as two people would, in one headless
// Chromium against a real server: they see each other on the radar, one
// connects and the other accepts, a message crosses, and a proximity run
// starts from tokens "scanned" between the tabs, accrues together-time and
// reaches a milestone.
func TestDemoInTwoTabs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	exe := servertest.Chromium(t, "the demo")
	srv := servertest.Start(t, func(c *config.Config) {
		// A first milestone after one minute of together-time, on a clock
		// at twice the wall clock's pace: half a minute of heartbeats. The
		// page paces them for speed 1, and at 2 the heartbeat timeout is
		// still 7.5 s against a heartbeat every 2 s.
		c.MilestonesMinutes = []int{1, 5}
		c.ClockSpeed = 2
	})
	dir := t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// CI runs as root in a container, where Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1100),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)

	a := &tab{t: t, name: "ada", dir: dir}
	actxTab, aclose := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithListener(a.listen))
	a.ctx = actxTab
	if err := chromedp.Do(a.ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	// A second tab of the same browser (same profile, same origin).
	b := &tab{t: t, name: "bob", dir: dir}
	bctxTab, bclose := chromedp.NewContext(a.ctx, chromedp.WithListener(b.listen))
	b.ctx = bctxTab
	t.Cleanup(func() { bclose(); aclose() })
	// The first Do binds the tab to its context: with a step's deadline,
	// the tab would close when that step ends.
	if err := chromedp.Do(b.ctx); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}

	locations := map[*tab][2]string{a: {"52.520000", "13.405000"}, b: {"52.520300", "13.405100"}}
	for _, tb := range []*tab{a, b} {
		tb.run("open the demo and log in",
			chromedp.Navigate(srv.URL+"/demo"),
			chromedp.WaitVisible(chromedp.CSS("#login-form")),
			chromedp.SendKeys(chromedp.CSS("#handle"), tb.name),
			chromedp.Click(chromedp.CSS("#login")))
		tb.until("bootstrapped", `document.getElementById('me').dataset.userId !== '' && document.getElementById('socket-state').dataset.state === 'open'`)
		tb.run("set a location",
			chromedp.SetValue(chromedp.CSS("#lat"), locations[tb][0]),
			chromedp.SetValue(chromedp.CSS("#lng"), locations[tb][1]),
			chromedp.Click(chromedp.CSS("#set-location")))
	}
	for _, tb := range []*tab{a, b} {
		tb.until("the other user on the radar, drawn",
			`document.querySelectorAll('#nearby li').length === 1 && document.getElementById('radar').dataset.drawn === '1'`)
		tb.shot("radar")
	}

	a.run("connect to bob", chromedp.Click(chromedp.CSS("#nearby li button.connect")))
	b.run("accept ada's request",
		chromedp.WaitVisible(chromedp.CSS("#incoming li button.accept")),
		chromedp.Click(chromedp.CSS("#incoming li button.accept")))
	for _, tb := range []*tab{a, b} {
		tb.until("connected", `document.getElementById('connection').dataset.connectionId !== ''`)
		tb.shot("connected")
	}

	const hello = "hello from ada"
	a.run("send a message",
		chromedp.WaitEnabled(chromedp.CSS("#chat-input")),
		chromedp.SendKeys(chromedp.CSS("#chat-input"), hello),
		chromedp.Click(chromedp.CSS("#chat-send")))
	b.until("bob reads it", `document.getElementById('messages').textContent.includes('`+hello+`')`)
	b.shot("chat")

	for _, tb := range []*tab{a, b} {
		tb.run("scan the partner's token",
			chromedp.WaitEnabled(chromedp.CSS("#scan")),
			chromedp.Click(chromedp.CSS("#scan")))
	}
	for _, tb := range []*tab{a, b} {
		tb.until("the run is active", `document.getElementById('run-status').dataset.status === 'active'`)
	}
	a.until("together-time grows", `Number(document.getElementById('together').dataset.seconds) > 0`)
	for _, tb := range []*tab{a, b} {
		tb.shot("together")
	}
	for _, tb := range []*tab{a, b} {
		tb.until("the first milestone is listed", `document.querySelector('#milestones li[data-milestone="1"]') !== null`)
	}
	b.shot("milestone")
	// Each tab advertised the token the server issued it, and scanned the
	// other's: the tokens it shows must differ and cross.
	var tokens [2][2]string
	for i, tb := range []*tab{a, b} {
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		mine, err1 := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#ble-token")))
		theirs, err2 := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#partner-token")))
		cancel()
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: read tokens: %v %v", tb.name, err1, err2)
		}
		tokens[i] = [2]string{strings.TrimSpace(mine), strings.TrimSpace(theirs)}
	}
	if tokens[0][0] == tokens[1][0] || tokens[0][1] != tokens[1][0] || tokens[1][1] != tokens[0][0] {
		t.Errorf("tokens do not cross: ada shows %q and saw %q, bob shows %q and saw %q", tokens[0][0], tokens[0][1], tokens[1][0], tokens[1][1])
	}
	a.noProblems()
	b.noProblems()
}

// The demo signs in with the dev provider, so outside dev mode it is not
// there at all.
func TestDemoIsOnlyServedInDevMode(t *testing.T) {
	for _, tc := range []struct {
		dev  bool
		want int
	}{{true, 200}, {false, 404}} {
		srv := servertest.Start(t, func(c *config.Config) { c.Dev = tc.dev })
		for _, path := range []string{"/demo", "/demo/demo.js", "/demo/demo.css", "/demo/tick.js"} {
			if res := srv.Do("GET", path, "", nil); res.Status != tc.want {
				t.Errorf("dev=%v: GET %s answered %d, want %d", tc.dev, path, res.Status, tc.want)
			}
		}
		if res := srv.Do("GET", "/demo/nope.js", "", nil); res.Status != 404 {
			t.Errorf("dev=%v: GET /demo/nope.js answered %d, want 404", tc.dev, res.Status)
		}
		srv.Stop()
	}
}
