package loadgen

import (
	"os"
	"testing"
)

func TestParseStatus(t *testing.T) {
	in := "Name:\tgisbi\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   51200 kB\nThreads:\t9\n"
	var s ProcSample
	if err := parseStatus([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes != 100<<20 || s.PeakRSS != 200<<20 || s.AnonBytes != 50<<20 || s.Threads != 9 {
		t.Fatalf("parsed %+v", s)
	}
	if err := parseStatus([]byte("Name:\tx\n"), &s); err == nil {
		t.Fatal("a status without VmRSS is an error")
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"42 (gisbi) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200", 3, false},
		{"42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 0.1, false},
		{"42 gisbi S", 0, true},
		{"42 (x) S 1 2 3", 0, true},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSampleProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	s := selfSample()
	if s.RSSBytes <= 0 || s.CPUSeconds <= 0 {
		t.Fatalf("self sample %+v", s)
	}
	if _, err := sampleProc("0"); err == nil {
		t.Fatal("pid 0 has no /proc entry")
	}
}

func TestSampleProcsSums(t *testing.T) {
	one, err := sampleProcs([]int{os.Getpid()})
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	two, err := sampleProcs([]int{os.Getpid(), os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	// The same process twice: memory doubles (give or take what moved
	// between the reads), and CPU never goes down.
	if two.RSSBytes < one.RSSBytes*3/2 || two.CPUSeconds < one.CPUSeconds {
		t.Fatalf("one %+v, twice %+v", one, two)
	}
	if _, err := sampleProcs([]int{os.Getpid(), 1 << 30}); err == nil {
		t.Fatal("a missing process sampled without an error")
	}
}
