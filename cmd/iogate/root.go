package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/iogate/iogate"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals are the flags every command has.
type globals struct {
	dataDir       string
	database      string
	json          bool
	masterKeyFile string
	getenv        func(string) string
	environ       func() []string
	stdout        io.Writer
	stderr        io.Writer
	// wrapStore, when set, wraps the store that g.open hands to the engine; the server
	// uses it to count store errors.
	wrapStore func(iogate.Store) iogate.Store
	// flagSources maps each flag that an IOGATE_* variable or the --config file set to
	// that source, so that an error about the flag names what the operator must change.
	flagSources map[string]string
	// ignoredEnv lists the IOGATE_* variables that the command ignores, such as a misspelt
	// IOGATE_TRUSTED_PROXY. serve logs them; other commands print them before they run.
	ignoredEnv envReport
	// commandPath is the running command, such as "iogate account list", for messages
	// that differ between the server and the CLI.
	commandPath string
}

func newRootCommand(getenv func(string) string, environ func() []string, stdout, stderr io.Writer) (*cobra.Command, *globals) {
	g := &globals{getenv: getenv, environ: environ, stdout: stdout, stderr: stderr, flagSources: map[string]string{}}
	root := &cobra.Command{
		Use:           "iogate",
		Short:         "OAuth 2.0 client-credentials front for the custody API",
		Long:          "iogate serves the HTTPS API (iogate serve) and manages its accounts, API keys and vaults.\nGlobal flags and the flags of serve and migrate can also be set with IOGATE_FOO_BAR for --foo-bar.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.commandPath = cmd.CommandPath()
			if cmd.Name() != "serve" {
				signal.Stop(hangups)
				signal.Reset(syscall.SIGHUP)
			}
			// Changes made from the CLI are recorded in the audit log as the operator's.
			cmd.SetContext(iogate.WithActor(cmd.Context(), operatorActor(getenv)))
			fromEnv, err := applyEnv(cmd, getenv)
			if err != nil {
				return err
			}
			for name := range fromEnv {
				g.flagSources[name] = envVariable(name)
			}
			g.ignoredEnv = checkEnv(cmd, environ())
			if cmd.Name() != "serve" {
				g.ignoredEnv.print(g.stderr, g.json, cmd.CommandPath())
			}
			if err := applyConfigFile(cmd, fromEnv, g.flagSources, getenv, g.warn); err != nil {
				return err
			}
			if err := checkDatabaseFlag(cmd, g.database, g.flagSources["database"]); err != nil {
				return err
			}
			return checkMasterKeyFileFlag(g.masterKeyFile)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", "./iogate-data", "directory of the SQLite database, TLS certificate and master key")
	pf.StringVar(&g.database, "database", "", "PostgreSQL URL postgres://USER@HOST:PORT/DATABASE shared by several nodes (default: the SQLite database in --data-dir); "+
		"a password goes in IOGATE_DATABASE, PGPASSWORD or ~/.pgpass, never in this flag")
	pf.BoolVar(&g.json, "json", false, "print results and errors as JSON")
	pf.StringVar(&g.masterKeyFile, "master-key-file", "", "file holding the base64 master key (default DATA_DIR/master.key; IOGATE_MASTER_KEY takes precedence)")

	root.AddCommand(newServeCommand(g), newAccountCommand(g), newKeyCommand(g), newVaultCommand(g), newAuditCommand(g))
	root.AddCommand(newSigningKeyCommand(g))
	root.AddCommand(newMigrateCommand(g), newMasterKeyCommand(g))
	root.AddCommand(newUserCommand(g))
	root.AddCommand(newBackupCommand(g))
	root.AddCommand(newAddressCommand(g))
	markRunFailures(root)
	return root, g
}

// runFailure is an error of a running command, such as a file that could not be written.
// printError gives it the code "failed". Other errors without a domain code come from
// rejected flags, arguments or configuration, so they get invalid_request.
type runFailure struct{ err error }

func (e *runFailure) Error() string { return e.err.Error() }

func (e *runFailure) Unwrap() error { return e.err }

// markRunFailures wraps the RunE of cmd and of its subcommands so that their errors become
// runFailures. Domain errors and the errors of errorf and flagErrorf stay as they are.
func markRunFailures(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			var (
				de *iogate.Error
				ee *exitError
			)
			if err == nil || errors.As(err, &de) || errors.As(err, &ee) {
				return err
			}
			return &runFailure{err: err}
		}
	}
	for _, sub := range cmd.Commands() {
		markRunFailures(sub)
	}
}

// envAnnotation marks a command whose own flags may also be set from IOGATE_* variables.
const envAnnotation = "iogate-env"

// applyEnv sets every flag the command line did not set from its IOGATE_* variable, and
// returns the names of the flags it set.
//
// Only global flags and the flags of commands that configure a process (serve, migrate)
// read the environment. The flags of commands that change keys do not, because a variable
// left over in a shell, such as IOGATE_CLEAR_ALLOW_IP, would silently change every key
// that a later command touches.
func applyEnv(cmd *cobra.Command, getenv func(string) string) (map[string]bool, error) {
	flags := envFlags(cmd)
	var firstErr error
	set := make(map[string]bool)
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || firstErr != nil {
			return
		}
		name := envVariable(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		set[f.Name] = true
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if err := sv.Replace(strings.Split(v, ",")); err != nil {
				firstErr = fmt.Errorf("invalid %s: %w", name, err)
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			firstErr = fmt.Errorf("invalid %s: %w", name, err)
		}
	})
	return set, firstErr
}

// envFlags returns the flags of cmd that the environment may set.
func envFlags(cmd *cobra.Command) *pflag.FlagSet {
	if cmd.Annotations[envAnnotation] == "all" {
		return cmd.Flags()
	}
	flags := cmd.InheritedFlags()
	flags.AddFlagSet(cmd.PersistentFlags())
	return flags
}

// otherEnvVariables are IOGATE_* variables that some commands read without a flag of their
// own: the master key, --json, a client secret for "key import", and the --config file of
// the global flags. The docs' client examples name the others, which users export in the
// shell that also runs the server.
var otherEnvVariables = map[string]bool{
	"IOGATE_MASTER_KEY": true, "IOGATE_JSON": true, "IOGATE_CLIENT_SECRET": true, "IOGATE_CONFIG": true,
	"IOGATE_CLIENT_ID": true, "IOGATE_URL": true, "IOGATE_BENCH_PPROF_ADDR": true,
}

// envReport lists, by name only, the IOGATE_* variables that a command ignores.
type envReport struct {
	// Unknown variables set no flag that the command reads from the environment.
	unknown []string
	// suggestions maps an unknown variable to the known variable whose name is closest to
	// it, when one is close enough to be a likely misspelling.
	suggestions map[string]string
	// Empty variables would set such a flag, or are otherEnvVariables, but are empty,
	// which counts as unset.
	empty []string
	// hasConfigFlag is set when the command has a --config flag, where a flag may be set
	// to an empty value too.
	hasConfigFlag bool
}

// checkEnv returns the IOGATE_* variables in environ that cmd ignores. serve and migrate,
// which take their settings from the environment, report every variable that sets none of
// their flags. The other commands read only the global flags from it, and report only
// variables that no command reads, so that a shell that exports serve's settings does not
// make every CLI command warn. Variables of the test suite and the bench harness
// (IOGATE_TEST_*, IOGATE_BENCH_*) are left out.
func checkEnv(cmd *cobra.Command, environ []string) envReport {
	read := envFlags(cmd)
	known := func(flag string) bool { return read.Lookup(flag) != nil }
	if cmd.Annotations[envAnnotation] != "all" {
		known = func(flag string) bool {
			if read.Lookup(flag) != nil {
				return true
			}
			for _, c := range cmd.Root().Commands() {
				if c.Annotations[envAnnotation] == "all" && c.Flags().Lookup(flag) != nil {
					return true
				}
			}
			return false
		}
	}
	r := envReport{hasConfigFlag: cmd.Flags().Lookup("config") != nil}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, "IOGATE_")
		if !ok || strings.HasPrefix(rest, "TEST_") || strings.HasPrefix(rest, "BENCH_") {
			continue
		}
		flag := strings.ToLower(strings.ReplaceAll(rest, "_", "-"))
		switch {
		case otherEnvVariables[name] || read.Lookup(flag) != nil && envVariable(flag) == name:
			if value == "" {
				r.empty = append(r.empty, name)
			}
		case known(flag) && envVariable(flag) == name:
		default:
			r.unknown = append(r.unknown, name)
		}
	}
	slices.Sort(r.unknown)
	slices.Sort(r.empty)
	if len(r.unknown) > 0 {
		known := knownEnvVariables(cmd)
		for _, name := range r.unknown {
			if suggestion := suggestVariable(name, known); suggestion != "" {
				if r.suggestions == nil {
					r.suggestions = make(map[string]string)
				}
				r.suggestions[name] = suggestion
			}
		}
	}
	return r
}

// warnings returns the warnings of r for the command named command.
func (r envReport) warnings(command string) []envWarning {
	var ws []envWarning
	if len(r.unknown) > 0 {
		ws = append(ws, envWarning{"ignoring environment variables that set no flag of " + command,
			"IOGATE_FOO_BAR sets --foo-bar", r.unknown, r.suggestions})
	}
	if len(r.empty) > 0 {
		next := "to set a flag to an empty value, pass it on the command line"
		if r.hasConfigFlag {
			next += " or in the --config file"
		}
		ws = append(ws, envWarning{"ignoring empty environment variables, which count as unset", next, r.empty, nil})
	}
	return ws
}

// envWarning is one warning about ignored IOGATE_* variables: what happened, the next
// step, the variables, by name only, and the known names that some of them may be
// misspellings of.
type envWarning struct {
	what, next  string
	names       []string
	suggestions map[string]string
}

// attrs returns the names and suggestions of w as the arguments of a slog call.
func (w envWarning) attrs() []any {
	attrs := []any{"variables", w.names}
	if len(w.suggestions) > 0 {
		attrs = append(attrs, "suggestions", w.suggestions)
	}
	return attrs
}

// listNames returns the names of w for a line of text, each followed by its suggestion.
func (w envWarning) listNames() string {
	items := make([]string, len(w.names))
	for i, name := range w.names {
		items[i] = name
		if suggestion, ok := w.suggestions[name]; ok {
			items[i] += " (did you mean " + suggestion + "?)"
		}
	}
	return strings.Join(items, ", ")
}

// message returns the warning without the names, for a log line or a JSON object that
// lists them in a field of their own.
func (w envWarning) message() string { return w.what + "; " + w.next }

// print writes the warnings of r for the command named command to w, one line each, as
// {"warning":{"message","variables","suggestions"}} when asJSON is set. The suggestions
// object, of misspelt name to known name, is left out when there are none.
func (r envReport) print(w io.Writer, asJSON bool, command string) {
	for _, warning := range r.warnings(command) {
		if asJSON {
			fields := map[string]any{"message": warning.message(), "variables": warning.names}
			if len(warning.suggestions) > 0 {
				fields["suggestions"] = warning.suggestions
			}
			body, _ := json.Marshal(map[string]any{"warning": fields})
			fmt.Fprintln(w, string(body))
			continue
		}
		fmt.Fprintf(w, "iogate: %s: %s; %s\n", warning.what, warning.listNames(), warning.next)
	}
}

// envVariable returns the name of the environment variable that sets the flag named flag.
func envVariable(flag string) string {
	return "IOGATE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// describeFlagValue rewrites msg when it begins with "invalid --NAME VALUE:", an error about
// the value of the flag NAME. VALUE becomes the text the operator gave, when typed returns it,
// so that "48h" is not shown as "2d". When the environment or the --config file set the
// flag, msg also names that source: an operator who never typed the flag would otherwise
// look for it on the command line.
func describeFlagValue(msg string, sources map[string]string, typed func(flag string) string) string {
	rest, ok := strings.CutPrefix(msg, "invalid --")
	if !ok {
		return msg
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' })
	if end < 0 {
		end = len(rest)
	}
	name := rest[:end]
	if text := typed(name); text != "" && strings.HasPrefix(rest[end:], " ") {
		if value, after, ok := strings.Cut(rest[end+1:], ":"); ok && !strings.Contains(value, " ") {
			msg = "invalid --" + name + " " + text + ":" + after
		}
	}
	return withFlagSource(msg, name, sources)
}

// withFlagSource returns msg with the source of the flag named name added, when the
// environment or the --config file set it.
func withFlagSource(msg, name string, sources map[string]string) string {
	if source, ok := sources[name]; ok {
		msg += " (--" + name + " was set by " + source + ")"
	}
	return msg
}

// strconvError matches the text of a strconv.NumError, which the flag package passes on
// when a value is not a number or a boolean.
var strconvError = regexp.MustCompile(`strconv\.Parse(Float|Int|Uint|Bool): parsing "(?:[^"\\]|\\.)*": (invalid syntax|value out of range)`)

// plainParseErrors replaces, in msg, the text of strconv errors with what was expected, in
// the words of the flag's help: "expected a number" rather than Go's function name.
func plainParseErrors(msg string) string {
	return strconvError.ReplaceAllStringFunc(msg, func(m string) string {
		parts := strconvError.FindStringSubmatch(m)
		if parts[2] == "value out of range" {
			return "the value is out of range"
		}
		switch parts[1] {
		case "Bool":
			return "expected true or false"
		case "Float":
			return "expected a number"
		}
		return "expected a whole number"
	})
}

// typedValues returns a function that gives the text a flag of cmd was set from, for the
// flags that keep it, and "" for the others.
func typedValues(cmd *cobra.Command) func(flag string) string {
	return func(flag string) string {
		if cmd == nil {
			return ""
		}
		f := cmd.Flags().Lookup(flag)
		if f == nil {
			return ""
		}
		if d, ok := f.Value.(durationFlag); ok {
			return *d.typed
		}
		return ""
	}
}

// durationFlag is a flag in Go's duration syntax that also accepts days ("30d"). It keeps
// the text it was set from, so that an error about the value shows it as it was typed.
type durationFlag struct {
	d     *time.Duration
	typed *string
}

// newDurationFlag returns a durationFlag that sets *d.
func newDurationFlag(d *time.Duration) durationFlag {
	return durationFlag{d: d, typed: new(string)}
}

func (f durationFlag) String() string {
	// An empty string keeps cobra from printing Go's form of the default ("1h0m0s") in help
	// text; each flag's usage states its default in the form users type ("1h", "90d").
	return ""
}

func (f durationFlag) Set(s string) error {
	d, err := iogate.ParseDuration(s)
	if err != nil {
		return errors.New(iogate.ErrorMessageOf(err))
	}
	*f.d = d
	*f.typed = strings.TrimSpace(s)
	return nil
}

func (durationFlag) Type() string { return "duration" }

// timeFlag is a flag whose value is an RFC 3339 time, such as 2027-06-30T00:00:00Z.
type timeFlag struct{ t *time.Time }

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid time %s: expected an RFC 3339 time such as 2027-06-30T00:00:00Z", iogate.QuoteInput(s))
	}
	*f.t = t
	return nil
}

func (timeFlag) Type() string { return "time" }

// printResult prints v as JSON with --json, or calls text otherwise.
func (g *globals) printResult(v any, text func(w io.Writer)) error {
	if g.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout)
	return nil
}

// warn prints a warning to stderr: as {"warning":{"message"}} when --json was given, as the
// warnings about ignored variables are, else as one line that starts "iogate: warning:", so
// that it does not read like the error of a command that failed.
func (g *globals) warn(message string) {
	if g.json {
		body, _ := json.Marshal(map[string]any{"warning": map[string]any{"message": message}})
		fmt.Fprintln(g.stderr, string(body))
		return
	}
	fmt.Fprintf(g.stderr, "iogate: warning: %s\n", message)
}

// printError prints err to stderr: as {"error":{"code","message"}} when --json was given,
// else as one line. Only caller-safe messages are printed for domain errors. The code is
// the domain error's, "failed" for a runFailure, and invalid_request for the rest.
func printError(stderr io.Writer, asJSON bool, err error, sources map[string]string, typed func(flag string) string) {
	msg := err.Error()
	code := string(iogate.CodeInvalid)
	var (
		de *iogate.Error
		rf *runFailure
	)
	if errors.As(err, &rf) {
		code = "failed"
	}
	if errors.As(err, &de) {
		code = string(de.Code)
		msg = de.Message
		if de.Code == iogate.CodeInternal || de.Code == iogate.CodeUnavailable {
			msg = de.Error()
		}
	}
	msg = describeFlagValue(plainParseErrors(msg), sources, typed)
	if fe := (*flagError)(nil); errors.As(err, &fe) && !strings.HasPrefix(msg, "invalid --"+fe.flag) {
		msg = withFlagSource(msg, fe.flag, sources)
	}
	if asJSON {
		body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
		fmt.Fprintln(stderr, string(body))
		return
	}
	fmt.Fprintf(stderr, "iogate: %s\n", msg)
}
