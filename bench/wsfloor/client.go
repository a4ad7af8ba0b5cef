package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/spf13/pflag"
)

// result is what the client reports.
type result struct {
	Conns          int     `json:"conns"`
	RSSBeforeBytes int64   `json:"rssBeforeBytes,omitempty"`
	RSSAfterBytes  int64   `json:"rssAfterBytes,omitempty"`
	PerConnBytes   float64 `json:"perConnBytes,omitempty"`
}

func client(args []string) error {
	fs := pflag.NewFlagSet("wsfloor client", pflag.ContinueOnError)
	settle := fs.Duration("settle", 5*time.Second, "wait after the last connection before sampling the server")
	pid := fs.Int("server-pid", 0, "the server's pid, to report its RSS growth per connection")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	hold := fs.Bool("hold", true, "hold the connections until killed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("client: want ADDR and N")
	}
	addr := fs.Arg(0)
	n, err := strconv.Atoi(fs.Arg(1))
	if err != nil || n < 1 {
		return fmt.Errorf("connection count %q: want a positive number", fs.Arg(1))
	}
	var res result
	if *pid > 0 {
		if res.RSSBeforeBytes, err = vmRSS(*pid); err != nil {
			return err
		}
	}
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		// A source address has ~28,000 ephemeral ports; a new one every
		// 20,000 connections keeps clear of that.
		la := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/20000), 2)}
		d := websocket.Dialer{
			NetDial:          (&net.Dialer{LocalAddr: la}).Dial,
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
		}
		c, _, err := d.Dial("ws://"+addr+"/ws", nil)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	res.Conns = len(conns)
	time.Sleep(*settle)
	if *pid > 0 {
		if res.RSSAfterBytes, err = vmRSS(*pid); err != nil {
			return err
		}
		res.PerConnBytes = float64(res.RSSAfterBytes-res.RSSBeforeBytes) / float64(res.Conns)
	}
	if *asJSON {
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Printf("open %d", res.Conns)
		if *pid > 0 {
			fmt.Printf(": server RSS %d → %d KiB, %.0f B per connection", res.RSSBeforeBytes>>10, res.RSSAfterBytes>>10, res.PerConnBytes)
		}
		fmt.Println()
	}
	if *hold {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return nil
}

// vmRSS reads a process's resident set size from /proc.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
