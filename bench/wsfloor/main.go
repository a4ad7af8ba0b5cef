// Command wsfloor measures the floor of the WebSocket stack the engine is
// built on: what one idle connection costs a bare gofiber/fiber v2 +
// gofiber/contrib/websocket server (1 KB read and write buffers, an echo
// handler), before any engine state. bench/compare.sh sets the engine's
// per-session memory against it.
//
//	wsfloor server ADDR
//	wsfloor client [--settle 5s] [--server-pid PID] [--json] ADDR N
//
// The server echoes every message on /ws. The client opens N connections
// to ws://ADDR/ws, from source addresses 127.0.x.2 (a new x every 20,000
// connections, so no source runs out of ports), leaves them idle, waits
// --settle, and with --server-pid reports the server's VmRSS growth per
// connection: (RSS with N open − RSS before dialling) / N. It then holds
// the connections until it is killed (or, with --hold=false, exits).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "server":
		if len(os.Args) != 3 {
			usage()
		}
		err = serve(os.Args[2])
	case "client":
		err = client(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsfloor:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wsfloor server ADDR | wsfloor client [--settle 5s] [--server-pid PID] [--json] [--hold=false] ADDR N")
	os.Exit(2)
}
