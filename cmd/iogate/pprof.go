//go:build pprof

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// This file is compiled only with "go build -tags pprof", for the benchmark harness:
// "iogate-bench --profile-dir" sets IOGATE_BENCH_PPROF_ADDR to a loopback address and
// fetches CPU profiles of the server from there. Release builds serve no profiles.

func init() {
	addr := os.Getenv("IOGATE_BENCH_PPROF_ADDR")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "iogate: ignoring IOGATE_BENCH_PPROF_ADDR %q: profiles are served on a loopback address only\n", addr)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "iogate: profile listener on %s failed: %v\n", addr, err)
		return
	}
	go http.Serve(ln, mux)
}
