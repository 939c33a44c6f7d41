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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

// run executes the command line args. Errors are printed to stderr before it returns them.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := newRootCommand(getenv, stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		printError(stderr, cmd, err)
	}
	return err
}

// exitError is printed by run like any error; it exists so subcommands can fail with a
// message of their own.
type exitError struct{ msg string }

func (e *exitError) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &exitError{msg: fmt.Sprintf(format, args...)} }
