package loadgen

import (
	"runtime"
	"testing"
)

func TestParseLocalAddrs(t *testing.T) {
	tests := []struct {
		in      string
		auto    bool
		n       int
		first   string
		wantErr bool
	}{
		{in: "auto", auto: true},
		{in: "none"},
		{in: ""},
		{in: "127.0.0.2,127.0.0.3", n: 2, first: "127.0.0.2"},
		{in: "127.0.0.2-127.0.0.40", n: 39, first: "127.0.0.2"},
		{in: "127.0.0.250-127.0.1.3", n: 10, first: "127.0.0.250"},
		{in: "127.0.0.5-127.0.0.5", n: 1, first: "127.0.0.5"},
		{in: "127.0.0.9-127.0.0.2", wantErr: true},
		{in: "10.0.0.0-10.1.0.0", wantErr: true},
		{in: "::1-::2", wantErr: true},
		{in: "nope", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := parseLocalAddrs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if s.auto != tt.auto || len(s.ips) != tt.n || (tt.n > 0 && s.ips[0].String() != tt.first) {
				t.Fatalf("got auto %v, %d ips %v", s.auto, len(s.ips), s.ips)
			}
		})
	}
}

func TestResolveSources(t *testing.T) {
	auto := localAddrSpec{auto: true}
	ips, dial, err := resolveSources("http://localhost:8080", auto)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		if len(ips) != autoLoopbackAddrs || ips[0].String() != "127.0.0.2" || dial != "127.0.0.1:8080" {
			t.Fatalf("loopback: %d ips from %v, dial %s", len(ips), ips, dial)
		}
	}
	ips, dial, _ = resolveSources("https://example.test", auto)
	if ips != nil || dial != "example.test:443" {
		t.Fatalf("remote: ips %v dial %s", ips, dial)
	}
	ips, dial, _ = resolveSources("http://127.0.0.1:9000", localAddrSpec{})
	if ips != nil || dial != "127.0.0.1:9000" {
		t.Fatalf("none: ips %v dial %s", ips, dial)
	}
}
