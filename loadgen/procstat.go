package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports; reading it needs cgo.
const clockTicks = 100

// ProcSample is one reading of a process's memory and CPU.
type ProcSample struct {
	At         time.Time `json:"at"`
	RSSBytes   int64     `json:"rssBytes"`
	PeakRSS    int64     `json:"peakRssBytes"` // VmHWM
	AnonBytes  int64     `json:"anonBytes"`    // RssAnon: heap and stacks, without mapped files (bbolt's mmap is RssFile)
	CPUSeconds float64   `json:"cpuSeconds"`   // user + system since the process started
	Threads    int       `json:"threads"`
}

// parseStatus reads VmRSS, VmHWM, RssAnon and Threads from /proc/<pid>/status.
func parseStatus(b []byte, s *ProcSample) error {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		switch k {
		case "VmRSS":
			s.RSSBytes = n
			found++
		case "VmHWM":
			s.PeakRSS = n
		case "RssAnon":
			s.AnonBytes = n
		case "Threads":
			s.Threads = int(n)
		}
	}
	if found == 0 {
		return fmt.Errorf("no VmRSS in status")
	}
	return nil
}

// parseStatCPU reads utime + stime (fields 14 and 15) from /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted after its closing parenthesis.
func parseStatCPU(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After ")": field 3 (state) is f[0], so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: bad utime/stime")
	}
	return float64(ut+st) / clockTicks, nil
}

// sampleProc reads /proc/<pid> ("self" for this process).
func sampleProc(pid string) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, fmt.Errorf("read status of %s: %w", pid, err)
	}
	if err := parseStatus(b, &s); err != nil {
		return s, fmt.Errorf("status of %s: %w", pid, err)
	}
	b, err = os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, fmt.Errorf("read stat of %s: %w", pid, err)
	}
	if s.CPUSeconds, err = parseStatCPU(b); err != nil {
		return s, fmt.Errorf("stat of %s: %w", pid, err)
	}
	return s, nil
}

// sampleProcs is the sum of several processes' samples (the nodes of a
// cluster on one machine): memory and CPU add up; PeakRSS is the sum of
// each one's peak, an upper bound of the peak of the sum.
func sampleProcs(pids []int) (ProcSample, error) {
	var sum ProcSample
	for i, pid := range pids {
		s, err := sampleProc(strconv.Itoa(pid))
		if err != nil {
			return s, err
		}
		if i == 0 {
			sum.At = s.At
		}
		sum.RSSBytes += s.RSSBytes
		sum.PeakRSS += s.PeakRSS
		sum.AnonBytes += s.AnonBytes
		sum.CPUSeconds += s.CPUSeconds
		sum.Threads += s.Threads
	}
	return sum, nil
}

// selfSample reads this process: RSS from /proc/self/status and CPU from
// getrusage, which is exact where /proc's ticks are coarse.
func selfSample() ProcSample {
	s, _ := sampleProc("self") // /proc may be missing (not Linux); rusage still works
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
		s.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
		if s.PeakRSS == 0 {
			s.PeakRSS = int64(ru.Maxrss) * 1024 // kB on Linux
		}
	}
	s.At = time.Now()
	return s
}
