package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
)

// mountTmpfs mounts a tmpfs of size (e.g. "4m") on a fresh directory and
// unmounts it when the test ends (after anything registered later, such
// as a server on it, has stopped). It needs root, or a sudo that asks no
// password. Without either the test skips, except under GISBI_CI, where a
// fault test that cannot run fails.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// mode=0777: a tmpfs mounted through sudo belongs to root, and the
	// test process writes into it.
	opts := "size=" + size + ",mode=0777"
	unmount := func() error { return syscall.Unmount(dir, syscall.MNT_DETACH) }
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts)
	if err != nil {
		out, serr := exec.Command("sudo", "-n", "mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
		if serr != nil {
			msg := fmt.Sprintf("cannot mount a tmpfs (needs root or a password-less sudo): mount: %v; sudo mount: %v %s", err, serr, strings.TrimSpace(string(out)))
			if os.Getenv("GISBI_CI") != "" {
				t.Fatal(msg + " (GISBI_CI is set: a fault test that cannot run fails)")
			}
			t.Skip(msg)
		}
		unmount = func() error { return exec.Command("sudo", "-n", "umount", "-l", dir).Run() }
	}
	t.Cleanup(func() {
		if err := unmount(); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// freeBytes is what an unprivileged writer may still write on dir's
// filesystem.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fill writes a file of up to n bytes at path (all of the free space
// when n < 0) and stops quietly when the disk is full.
func fill(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for written := int64(0); n < 0 || written < n; written += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestFullDiskAnswersUnavailableAndRecovers runs a server whose data_dir is
// a 4 MiB tmpfs. A filler file takes all but a little of it, and chat
// messages fill the rest. From then on every write must answer
// `unavailable` (socket error frames, REST 503), never `internal`, and
// nothing may crash: reads keep working, and the bbolt file passes its
// consistency check while full. Once the filler is removed, writes succeed
// again without a restart, and the conversation holds exactly the messages
// that were acknowledged.
func TestFullDiskAnswersUnavailableAndRecovers(t *testing.T) {
	if servertest.OnPostgres() {
		t.Skip("a full data_dir is a bbolt fault; this test runs in the bbolt pass of the suite")
	}
	dir := mountTmpfs(t, "4m")
	// The test's writes come as fast as they are answered; the per-socket
	// frame limit would answer some rate_limited instead of reaching the store.
	srv := servertest.StartIn(t, dir, func(c *config.Config) { c.WSRate, c.WSBurst = 1000, 1000 })
	bolt, ok := srv.Store.(*boltdb.Store)
	if !ok {
		t.Fatalf("store is %T, want bbolt", srv.Store)
	}
	a, b := connected(t, srv, "disk-a", "disk-b")
	c := joinAs(t, srv, "disk-c")
	chat := chatsOf(t, a)[0]["_id"].(string)

	filler := filepath.Join(dir, "filler")
	fill(t, filler, freeBytes(t, dir)-48<<10)
	t.Logf("filler leaves %d KiB free", freeBytes(t, dir)>>10)

	var acked []string // contents acknowledged, in order
	padding := strings.Repeat("x", 300)
	seq := 0
	// sendWS sends one message and says whether it was stored; an answer
	// other than the ack or `unavailable` fails the test.
	sendWS := func() bool {
		t.Helper()
		seq++
		content := fmt.Sprintf("m%05d %s", seq, padding)
		id := fmt.Sprint("full-", seq)
		a.ws.Send("chat.message.created", map[string]any{"recipientId": b.ID, "content": content}, id)
		f := a.ws.ExpectReplyAny(id)
		switch {
		case f.Type == "chat.message.created":
			acked = append(acked, content)
			return true
		case f.Type == "error" && f.ErrorCode() == "unavailable":
			return false
		}
		t.Fatalf("message %d answered %s", seq, f.Raw)
		return false
	}
	sendREST := func() bool {
		t.Helper()
		seq++
		content := fmt.Sprintf("m%05d %s", seq, padding)
		res := a.Do(http.MethodPost, "/chats/"+chat+"/messages", map[string]any{"content": content})
		switch {
		case res.Status == http.StatusOK:
			acked = append(acked, content)
			return true
		case res.Status == http.StatusServiceUnavailable && res.Code() == "unavailable":
			return false
		}
		t.Fatalf("REST message %d answered %d %s", seq, res.Status, res.Body)
		return false
	}

	// Fill the rest with the server's own writes.
	for sendWS() {
		if seq > 5000 {
			t.Fatalf("%d messages stored on a full 4 MiB disk", len(acked))
		}
	}
	t.Logf("disk full after %d messages", len(acked))
	// Leave no byte for anything but the pages bbolt already wrote: a
	// commit may still fit into pages it freed, one that needs a new page
	// cannot.
	fill(t, filepath.Join(dir, "filler-2"), -1)

	// Every kind of write answers `unavailable` or succeeds: a commit that
	// fits into pages bbolt freed needs no new space (a profile rewritten
	// in place always does). Each is tried until it fails once or n times;
	// chat, which only grows the file, must fail.
	tries := func(what string, n int, try func() bool) bool {
		t.Helper()
		for i := 0; i < n; i++ {
			if !try() {
				t.Logf("%s: %d writes stored on the full disk, then unavailable", what, i)
				return true
			}
		}
		t.Logf("%s: %d writes stored on the full disk", what, n)
		return false
	}
	if !tries("socket chat", 200, sendWS) || !tries("REST chat", 200, sendREST) {
		t.Fatal("chat messages kept being stored on a full disk")
	}
	tries("profile", 20, func() bool {
		res := c.Do(http.MethodPatch, "/users/profile", map[string]any{"bio": fmt.Sprint("bio ", time.Now().UnixNano())})
		if res.Status == http.StatusOK {
			return true
		}
		if res.Status != http.StatusServiceUnavailable || res.Code() != "unavailable" {
			t.Fatalf("profile answered %d %s", res.Status, res.Body)
		}
		return false
	})
	tries("login of a new user", 50, func() bool {
		res := srv.Do(http.MethodPost, "/auth/social-login", "", map[string]string{"provider": "dev", "idToken": fmt.Sprint("new-", time.Now().UnixNano())})
		if res.Status == http.StatusOK {
			return true
		}
		if res.Status != http.StatusServiceUnavailable || res.Code() != "unavailable" {
			t.Fatalf("login answered %d %s", res.Status, res.Body)
		}
		return false
	})
	requested := false
	tries("connection request", 1, func() bool {
		c.ws.Send("connection.request.send", map[string]any{"userId": a.ID}, "req-full")
		f := c.ws.ExpectReplyAny("req-full")
		switch {
		case f.Type == "connection.request.send":
			requested = true
			return true
		case f.Type == "error" && f.ErrorCode() == "unavailable":
			return false
		}
		t.Fatalf("connection request answered %s", f.Raw)
		return false
	})

	// Reads keep working, and the file is sound while full.
	if got := conversation(t, b.User, a.ID); !slices.Equal(got, acked) {
		t.Fatalf("history while full: %d messages, %d acknowledged", len(got), len(acked))
	}
	if res := a.Do(http.MethodGet, "/users/me", nil); res.Status != http.StatusOK {
		t.Fatalf("GET /users/me while full: %d %s", res.Status, res.Body)
	}
	a.ws.Send("presence.location_update", map[string]any{"lat": 52.52, "lng": 13.405}, "loc")
	a.ws.ExpectReply("presence.updated", "loc")
	if err := bolt.Check(t.Context()); err != nil {
		t.Fatalf("bbolt file while full: %v", err)
	}

	// Space comes back: writes succeed again, no restart.
	for _, f := range []string{filler, filepath.Join(dir, "filler-2")} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		if !sendWS() || !sendREST() {
			t.Fatalf("a write failed after the space was freed")
		}
	}
	if res := c.Do(http.MethodPatch, "/users/profile", map[string]any{"bio": "back"}); res.Status != http.StatusOK {
		t.Fatalf("profile after the space was freed: %d %s", res.Status, res.Body)
	}
	if !requested {
		c.ws.Send("connection.request.send", map[string]any{"userId": a.ID}, "req-after")
		c.ws.ExpectReply("connection.request.send", "req-after")
	}
	c.ws.Send("connection.request.send", map[string]any{"userId": b.ID}, "req-after-2")
	c.ws.ExpectReply("connection.request.send", "req-after-2")

	// Exactly what was acknowledged is stored, and the file is sound after
	// a clean stop too.
	if got := conversation(t, b.User, a.ID); !slices.Equal(got, acked) {
		t.Fatalf("history after recovery: %d messages, %d acknowledged", len(got), len(acked))
	}
	srv.Stop()
	st, err := boltdb.Open(filepath.Join(dir, server.DBFile), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(t.Context()); err != nil {
		t.Fatalf("bbolt file after stop: %v", err)
	}
	if last, err := st.Messages().LastSeq(t.Context(), storage.PairID(a.ID, b.ID)); err != nil || last != uint64(len(acked)) {
		t.Fatalf("last seq = %d (%v), want %d", last, err, len(acked))
	}
	t.Logf("%d messages acknowledged, all stored, none else", len(acked))
}
