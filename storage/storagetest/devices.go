package storagetest

import (
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

func newDevice(token, user string) *storage.Device {
	return &storage.Device{Token: token, Platform: "ios", UserID: user, IsActive: true, UpdatedAt: t0}
}

func listDevices(t *testing.T, s storage.Store, user string) map[string]storage.Device {
	t.Helper()
	ds, err := s.Devices().ListByUser(t.Context(), user)
	must(t, err)
	out := make(map[string]storage.Device, len(ds))
	for _, d := range ds {
		if _, dup := out[d.Token]; dup {
			t.Fatalf("ListByUser(%s) lists %s twice", user, d.Token)
		}
		out[d.Token] = d
	}
	return out
}

var deviceCases = []testCase{
	{"register then list", func(t *testing.T, s storage.Store) {
		a, b := newDevice("tok-a", "u1"), newDevice("tok-b", "u1")
		b.Platform = "android"
		must(t, s.Devices().Register(t.Context(), a))
		must(t, s.Devices().Register(t.Context(), b))
		must(t, s.Devices().Register(t.Context(), newDevice("tok-c", "u2")))
		got := listDevices(t, s, "u1")
		wantEqual(t, "devices of u1", len(got), 2)
		wantEqual(t, "tok-a", got["tok-a"], *a)
		wantEqual(t, "tok-b", got["tok-b"], *b)
		wantEqual(t, "devices of an unknown user", len(listDevices(t, s, "nobody")), 0)
	}},
	{"registering another user's token moves it", func(t *testing.T, s storage.Store) {
		must(t, s.Devices().Register(t.Context(), newDevice("tok", "u1")))
		moved := newDevice("tok", "u2")
		moved.UpdatedAt = at(time.Minute)
		must(t, s.Devices().Register(t.Context(), moved))
		wantEqual(t, "devices of u1", len(listDevices(t, s, "u1")), 0)
		wantEqual(t, "tok of u2", listDevices(t, s, "u2")["tok"], *moved)
		wantIs(t, "Deactivate by the old owner", s.Devices().Deactivate(t.Context(), "u1", "tok", t0), storage.ErrNotFound)
		must(t, s.Devices().DeactivateUser(t.Context(), "u1", t0))
		if !listDevices(t, s, "u2")["tok"].IsActive {
			t.Fatal("DeactivateUser of the old owner deactivated the moved token")
		}
		must(t, s.Devices().Deactivate(t.Context(), "u2", "tok", t0))
	}},
	{"deactivate then re-register reactivates", func(t *testing.T, s storage.Store) {
		must(t, s.Devices().Register(t.Context(), newDevice("tok", "u1")))
		must(t, s.Devices().Deactivate(t.Context(), "", "tok", at(time.Minute)))
		d := listDevices(t, s, "u1")["tok"]
		if d.IsActive || !d.UpdatedAt.Equal(at(time.Minute)) {
			t.Fatalf("after Deactivate: %s", show(d))
		}
		again := newDevice("tok", "u1")
		again.UpdatedAt = at(time.Hour)
		must(t, s.Devices().Register(t.Context(), again))
		wantEqual(t, "after re-register", listDevices(t, s, "u1")["tok"], *again)
	}},
	{"deactivate unknown or foreign token is ErrNotFound", func(t *testing.T, s storage.Store) {
		must(t, s.Devices().Register(t.Context(), newDevice("tok", "u1")))
		wantIs(t, "unknown token", s.Devices().Deactivate(t.Context(), "u1", "nope", t0), storage.ErrNotFound)
		wantIs(t, "unknown token, any user", s.Devices().Deactivate(t.Context(), "", "nope", t0), storage.ErrNotFound)
		wantIs(t, "another user's token", s.Devices().Deactivate(t.Context(), "u2", "tok", t0), storage.ErrNotFound)
		if !listDevices(t, s, "u1")["tok"].IsActive {
			t.Fatal("a refused Deactivate deactivated the token")
		}
	}},
	{"deactivate user deactivates only that user's devices", func(t *testing.T, s storage.Store) {
		for _, d := range []*storage.Device{newDevice("a1", "u1"), newDevice("a2", "u1"), newDevice("b1", "u2")} {
			must(t, s.Devices().Register(t.Context(), d))
		}
		must(t, s.Devices().DeactivateUser(t.Context(), "u1", at(time.Minute)))
		for tok, d := range listDevices(t, s, "u1") {
			if d.IsActive || !d.UpdatedAt.Equal(at(time.Minute)) {
				t.Fatalf("%s after DeactivateUser: %s", tok, show(d))
			}
		}
		if !listDevices(t, s, "u2")["b1"].IsActive {
			t.Fatal("DeactivateUser(u1) deactivated u2's device")
		}
		must(t, s.Devices().DeactivateUser(t.Context(), "nobody", t0))
	}},
	{"empty ids are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for name, err := range map[string]error{
			"Register without token": s.Devices().Register(ctx, newDevice("", "u1")),
			"Register without user":  s.Devices().Register(ctx, newDevice("tok", "")),
			"Deactivate(\"\")":       s.Devices().Deactivate(ctx, "u1", "", t0),
			"ListByUser(\"\")":       func() error { _, err := s.Devices().ListByUser(ctx, ""); return err }(),
			"DeactivateUser(\"\")":   s.Devices().DeactivateUser(ctx, "", t0),
		} {
			wantErr(t, name, err)
		}
	}},
}
