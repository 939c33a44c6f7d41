// Command iogate is the iogate server and its operator CLI: "iogate serve" runs the HTTPS
// API, and the other subcommands manage accounts, API keys and vaults in the same data
// directory, also while a server is running.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

// hangups receives SIGHUP from the start of the process, so that a SIGHUP sent while the
// server opens the store and loads its keys does not end it. serve reloads the TLS
// certificate on it; every other command restores the default action, which ends the
// process.
var hangups = make(chan os.Signal, 1)

func main() {
	signal.Notify(hangups, syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Environ, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

// run executes the command line args. Errors are printed to stderr before it returns them.
func run(ctx context.Context, args []string, getenv func(string) string, environ func() []string, stdout, stderr io.Writer) error {
	cmd, g := newRootCommand(getenv, environ, stdout, stderr)
	cmd.SetArgs(args)
	executed, err := cmd.ExecuteContextC(ctx)
	if err != nil {
		printError(stderr, wantsJSON(cmd, args, getenv), err, g.flagSources, typedValues(executed))
	}
	return err
}

// wantsJSON reports whether errors should be printed as JSON. It also scans the raw
// arguments, because a flag parse error stops cobra before it sets --json.
func wantsJSON(cmd interface{ PersistentFlags() *pflag.FlagSet }, args []string, getenv func(string) string) bool {
	if f := cmd.PersistentFlags().Lookup("json"); f != nil && f.Value.String() == "true" {
		return true
	}
	for _, a := range args {
		if a == "--json" || a == "--json=true" {
			return true
		}
		if a == "--" {
			break
		}
	}
	v := getenv("IOGATE_JSON")
	return v == "true" || v == "1"
}

// exitError is printed by run like any error; it exists so subcommands can fail with a
// message of their own.
type exitError struct{ msg string }

func (e *exitError) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &exitError{msg: fmt.Sprintf(format, args...)} }

// flagError is an error caused by the value of the flag named flag, so that run can add
// where that value came from.
type flagError struct {
	flag string
	err  error
}

func (e *flagError) Error() string { return e.err.Error() }

func (e *flagError) Unwrap() error { return e.err }

// flagErrorf is errorf for an error caused by the value of the flag named flag.
func flagErrorf(flag, format string, args ...any) error {
	return &flagError{flag: flag, err: errorf(format, args...)}
}
