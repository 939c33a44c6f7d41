// Command iogate-bench measures an OAuth 2.0 client-credentials server over HTTPS: token
// issuance on iogate's /v1/auth/accessToken and on the standard /oauth2/token, bearer
// authenticated GET /v1/vaults, and a mix of both while keys are deleted and rotated. It
// drives a fixed number of keep-alive connections on loopback, each sending its next
// request when the previous response arrives, for a fixed time after a warm-up, and
// reports throughput, latency percentiles, errors by status, and the server's CPU time and
// peak memory.
//
// It targets any server (--url), or starts iogate itself on a fresh data directory with
// pre-created keys (--start --iogate-bin PATH). With --baseline it also runs a minimal Go
// HTTPS server that answers the bytes of /v1/vaults without authentication, the limit of
// the machine, and reports iogate's vault throughput as a fraction of it. --scale N
// compares start-up, memory and throughput at N keys with --key-count keys.
//
// Usage:
//
//	iogate-bench --start --iogate-bin ./iogate --scenario token,vaults --baseline -c 16 -d 10s
//	iogate-bench --url https://127.0.0.1:8443 --cacert cert.pem --keys keys.json --scenario token
//	iogate-bench report --main main.json [--scale scale.json] --out docs/BENCHMARKS.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		// The flag package has already printed the usage.
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "iogate-bench:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommands; without one it runs a benchmark.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "baseline-server":
			return runBaselineServer(ctx, args[1:], stderr)
		case "report":
			return runReport(args[1:], stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	rep, err := runBenchmark(ctx, cfg, args, stderr)
	if err != nil {
		return err
	}
	if cfg.json {
		return writeJSON(stdout, rep)
	}
	printReport(stdout, rep)
	return nil
}
