package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/spf13/cobra"
)

func newKeyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage API keys (client credentials)"}
	cmd.AddCommand(newKeyCreateCommand(g), newKeyListCommand(g), newKeyShowCommand(g), newKeyDeleteCommand(g),
		newKeyUpdateCommand(g), newKeyRotateCommand(g), newKeyImportCommand(g))
	return cmd
}

// createdKey is the output of key creation: the key and, this once, its secret.
type createdKey struct {
	iogate.APIKeyView
	ClientSecret string `json:"clientSecret"`
}

func newKeyCreateCommand(g *globals) *cobra.Command {
	var req auth.CreateKeyRequest
	cmd := &cobra.Command{
		Use:   "create --account ID --name NAME",
		Short: "Create an API key and print its client ID and secret",
		Long:  "Create an API key and print its client ID and secret. The secret is shown only this once:\nthe server stores a keyed hash of it and cannot show it again.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("expires-in") && cmd.Flags().Changed("expires-at") {
				return errorf("--expires-in and --expires-at cannot be used together: give one of them")
			}
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			k, secret, err := e.auth.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			out := createdKey{APIKeyView: k.View(time.Now()), ClientSecret: secret.Reveal()}
			err = g.printResult(out, func(w io.Writer) {
				fmt.Fprintf(w, "Created API key %q.\n\n", k.Name)
				tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
				fmt.Fprintf(tw, "  Client ID:\t%s\n", k.ClientID)
				fmt.Fprintf(tw, "  Client secret:\t%s\n", secret.Reveal())
				fmt.Fprintf(tw, "  Scopes:\t%s\n", strings.Join(out.Scopes, " "))
				fmt.Fprintf(tw, "  Allowed IPs:\t%s\n", allowedIPsText(out.AllowedIPs))
				fmt.Fprintf(tw, "  Expires:\t%s\n", formatTimePtr(out.ExpiresAt))
				tw.Flush()
				fmt.Fprintln(w, "\nStore the client secret now: it will not be shown again.")
			})
			if err != nil {
				return err
			}
			g.warnCatchAll(k.AllowedIPs, "Leave out --allow-ip to get an empty list.")
			return nil
		},
	}
	addKeyFlags(cmd, &req)
	return cmd
}

// addKeyFlags adds the flags that describe a new key.
func addKeyFlags(cmd *cobra.Command, req *auth.CreateKeyRequest) {
	f := cmd.Flags()
	f.StringVar(&req.AccountID, "account", "", "ID of the account that owns the key (required)")
	f.StringVar(&req.Name, "name", "", "key name (required)")
	f.StringVar(&req.Description, "description", "", "what the key is for")
	f.StringArrayVar(&req.Scopes, "scope", nil, fmt.Sprintf("scope the key may use; repeatable (default %s; known: %s)", strings.Join(iogate.DefaultScopes, " "), strings.Join(iogate.AllScopes, ", ")))
	f.StringArrayVar(&req.AllowedIPs, "allow-ip", nil, "IP address or CIDR prefix allowed to use the key; repeatable (default: any address)")
	f.Var(newDurationFlag(&req.ExpiresIn), "expires-in", "lifetime of the key, such as 720h or 90d; 0 means no expiry (default: no expiry)")
	f.Var(timeFlag{&req.ExpiresAt}, "expires-at", "expiry of the key, as an RFC 3339 time such as 2027-06-30T00:00:00Z, in place of --expires-in")
	cmd.MarkFlagRequired("account")
	cmd.MarkFlagRequired("name")
}

func newKeyListCommand(g *globals) *cobra.Command {
	var accountID string
	cmd := &cobra.Command{
		Use:   "list --account ID",
		Short: "List an account's API keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			if _, err := e.store.FindAccountByID(cmd.Context(), accountID); err != nil {
				return accountNotFound(err, accountID)
			}
			now := time.Now()
			views := []iogate.APIKeyView{}
			page := iogate.Page{Limit: iogate.MaxPageLimit}
			for {
				keys, next, err := e.store.ListAPIKeys(cmd.Context(), accountID, page)
				if err != nil {
					return err
				}
				for _, k := range keys {
					views = append(views, k.View(now))
				}
				if next == "" {
					break
				}
				page.Cursor = next
			}
			return g.printResult(map[string]any{"data": views}, func(w io.Writer) { printKeyList(w, views) })
		},
	}
	cmd.Flags().StringVar(&accountID, "account", "", "account ID (required)")
	cmd.MarkFlagRequired("account")
	return cmd
}

// printKeyList prints views as the text table of "key list", with what to do about exposed
// keys below it.
func printKeyList(w io.Writer, views []iogate.APIKeyView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tSCOPES\tALLOWED IPS\tCREATED\tEXPIRES\tLAST USED\tEXPOSED")
	currentExposed := false
	var previousExposed []iogate.APIKeyView
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ClientID, cell(v.Name), strings.Join(v.Scopes, " "),
			allowedIPsText(v.AllowedIPs), v.CreatedAt.Format(time.RFC3339), formatTimePtr(v.ExpiresAt), formatTimePtr(v.LastUsedAt),
			exposedSince(v))
		switch {
		case v.ExposedUntil != nil:
			previousExposed = append(previousExposed, v)
		case v.Exposed:
			currentExposed = true
		}
	}
	tw.Flush()
	if !currentExposed && len(previousExposed) == 0 {
		return
	}
	fmt.Fprintln(w, "\nEXPOSED is when a valid credential of the key first arrived over plain HTTP. "+
		"The mark clears when that secret stops working.")
	if currentExposed {
		fmt.Fprintln(w, "Rotate keys whose current secret is exposed with \"iogate key rotate CLIENT_ID --grace 0\".")
	}
	for _, v := range previousExposed {
		fmt.Fprintln(w, previousSecretExposed(v))
	}
}

func newKeyShowCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show an API key (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			k, err := e.store.FindAPIKey(cmd.Context(), args[0])
			if err != nil {
				return keyNotFound(cmd.Context(), e, err, args[0])
			}
			v := k.View(time.Now())
			return g.printResult(v, func(w io.Writer) { printKeyText(w, v) })
		},
	}
}

func newKeyDeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete an API key; running servers refuse its tokens within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			if err := e.auth.DeleteKey(cmd.Context(), args[0]); err != nil {
				return keyNotFound(cmd.Context(), e, err, args[0])
			}
			return g.printResult(map[string]any{"clientId": args[0], "deleted": true}, func(w io.Writer) {
				fmt.Fprintf(w, "Deleted API key %s. A running server refuses its access tokens within a second.\n", args[0])
			})
		},
	}
}

// keyNotFound returns err, unless it is CodeNotFound. Then, if the store holds a tombstone
// of clientID, it returns an error that names the deletion's time, account and actor.
// Otherwise the error names clientID and how to list keys.
func keyNotFound(ctx context.Context, e *env, err error, clientID string) error {
	if iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		return err
	}
	deleted, findErr := e.auth.FindDeletedKey(ctx, clientID)
	switch {
	case findErr == nil:
		return iogate.Errorf(iogate.CodeNotFound, "API key %q was deleted at %s%s, from account %s: "+
			"create a new key with \"iogate key create --account %s\"",
			clientID, deleted.DeletedAt.UTC().Format(time.RFC3339), deletedBy(deleted.DeletedBy), deleted.AccountID, deleted.AccountID)
	case iogate.ErrorCodeOf(findErr) != iogate.CodeNotFound:
		return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %q, and reading its deletion failed: %v", clientID, findErr)
	}
	return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %q: list keys with \"iogate key list --account ID\"", clientID)
}

// deletedBy returns " by " and the actor of a key's deletion, or "" when the audit
// retention has pruned the record that named it.
func deletedBy(a *iogate.Actor) string {
	switch {
	case a == nil:
		return ""
	case a.Type == iogate.ActorUser:
		return " by dashboard user " + a.ID
	case a.ID == "":
		return " by the " + a.Type
	}
	return " by " + a.Type + " " + a.ID
}

func printKeyText(w io.Writer, v iogate.APIKeyView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Client ID:\t%s\n", v.ClientID)
	fmt.Fprintf(tw, "Account:\t%s\n", v.AccountID)
	fmt.Fprintf(tw, "Name:\t%s\n", cell(v.Name))
	fmt.Fprintf(tw, "Description:\t%s\n", cell(orDash(v.Description)))
	fmt.Fprintf(tw, "Scopes:\t%s\n", strings.Join(v.Scopes, " "))
	fmt.Fprintf(tw, "Allowed IPs:\t%s\n", allowedIPsText(v.AllowedIPs))
	fmt.Fprintf(tw, "Created:\t%s\n", v.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "Expires:\t%s\n", formatTimePtr(v.ExpiresAt))
	fmt.Fprintf(tw, "Secret created:\t%s (generation %d)\n", v.SecretCreatedAt.Format(time.RFC3339), v.SecretGeneration)
	lastUsed := formatTimePtr(v.LastUsedAt)
	if v.LastUsedIP != "" {
		lastUsed += " from " + v.LastUsedIP
	}
	fmt.Fprintf(tw, "Last used:\t%s\n", lastUsed)
	fmt.Fprintf(tw, "Exposed:\t%t\n", v.Exposed)
	if v.ExposedAt != nil {
		credential := "a valid credential"
		if v.ExposedGeneration != 0 {
			credential += fmt.Sprintf(" of secret generation %d", v.ExposedGeneration)
		}
		fmt.Fprintf(tw, "Exposed since:\t%s (%s arrived over plain HTTP)\n", v.ExposedAt.Format(time.RFC3339), credential)
	}
	switch {
	case v.ExposedUntil != nil:
		fmt.Fprintf(tw, "Exposed until:\t%s, the end of the grace period (the exposed secret is the previous one)\n", v.ExposedUntil.Format(time.RFC3339))
		fmt.Fprintf(tw, "Next step:\trotate again (\"iogate key rotate %s\"), which retires the exposed secret at once and issues another secret; until then, or until the grace period ends, the exposed secret still works\n", v.ClientID)
	case v.Exposed:
		fmt.Fprintf(tw, "Next step:\trotate the key with \"iogate key rotate %s --grace 0\"\n", v.ClientID)
	}
	if r := v.Rotation; r != nil {
		fmt.Fprintf(tw, "Rotated:\t%s\n", r.RotatedAt.Format(time.RFC3339))
		fmt.Fprintf(tw, "Previous secret valid until:\t%s\n", r.PreviousExpiresAt.Format(time.RFC3339))
		used := "no"
		if r.PreviousUsedSinceRotation {
			used = "yes, last at " + formatTimePtr(r.PreviousLastUsedAt)
		}
		fmt.Fprintf(tw, "Previous secret used since rotation:\t%s\n", used)
	}
	tw.Flush()
}

// previousSecretExposed returns when the exposed previous secret of v stops working and
// how to retire it sooner. No command ends a grace period early, but every rotation retires
// the previous secret at once.
func previousSecretExposed(v iogate.APIKeyView) string {
	return fmt.Sprintf("Key %s: the exposed secret is the previous one, which works until %s, when the grace period ends. "+
		"Rotating again (\"iogate key rotate %s\") retires it at once and issues another secret.",
		v.ClientID, v.ExposedUntil.Format(time.RFC3339), v.ClientID)
}

// exposedSince returns when v was first exposed, "yes" for an exposed key without that
// time, or "-". A key whose exposed secret has stopped working is not exposed.
func exposedSince(v iogate.APIKeyView) string {
	switch {
	case v.ExposedAt != nil:
		return v.ExposedAt.Format(time.RFC3339)
	case v.Exposed:
		return "yes"
	}
	return "-"
}

// warnCatchAll prints iogate.CatchAllWarning about allowed, followed by next, when allowed
// has an entry that allows every address of its family. Callers print it after the key's
// output, so that the warning is the last line on the terminal.
func (g *globals) warnCatchAll(allowed []netip.Prefix, next string) {
	if warning := iogate.CatchAllWarning(allowed); warning != "" {
		g.warn(warning + " " + next)
	}
}

// allowedIPsText returns a key's allowed IPs for text output. An empty list allows every
// address, which a dash would make read like none.
func allowedIPsText(ips []string) string {
	if len(ips) == 0 {
		return "any"
	}
	return strings.Join(ips, " ")
}

// cell returns text for a cell of a text table. Names and descriptions may contain tabs,
// which the table writer would take for column breaks, so that a name could fake the
// columns after it. Each tab is shown as the two characters \t. A character that names may
// no longer contain, kept in a name stored before, is shown as its escape such as \u200B,
// so that it neither hides nor acts on the terminal.
func cell(text string) string {
	if !strings.ContainsFunc(text, func(r rune) bool { return r == '\t' || iogate.HiddenCharacter(r) }) {
		return text
	}
	var b strings.Builder
	for _, r := range text {
		switch {
		case r == '\t':
			b.WriteString(`\t`)
		case !iogate.HiddenCharacter(r):
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08X`, r)
		default:
			fmt.Fprintf(&b, `\u%04X`, r)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func newKeyUpdateCommand(g *globals) *cobra.Command {
	var name, description optionalString
	var scopes, allowIPs listFlag
	var clearAllowIP, noExpiry bool
	var expiresIn time.Duration
	var expiresAt time.Time
	cmd := &cobra.Command{
		Use: "update CLIENT_ID [--name NAME] [--description TEXT] [--scope SCOPE]... [--allow-ip IP_OR_CIDR]... [--clear-allow-ip]\n" +
			"  [--expires-in DURATION | --expires-at TIME | --no-expiry]",
		Short: "Change an API key's name, description, scopes, allowed IPs or expiry",
		Long: "Change an API key's name, description, scopes, allowed IPs or expiry. --scope and --allow-ip replace the whole\n" +
			"list. Tokens already issued are checked against the new scopes and IPs on their next request, and stop\n" +
			"working when the key expires.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if allowIPs.set && clearAllowIP {
				return errorf("--allow-ip and --clear-allow-ip cannot be used together: --allow-ip already replaces the whole list")
			}
			req := auth.UpdateKeyRequest{Name: name.ptr(), Description: description.ptr()}
			expiry, err := updatedExpiry(cmd, expiresIn, expiresAt, noExpiry)
			if err != nil {
				return err
			}
			req.ExpiresAt = expiry
			if scopes.set {
				req.Scopes = scopes.values
			}
			if allowIPs.set {
				req.AllowedIPs = allowIPs.values
			}
			if clearAllowIP {
				req.AllowedIPs = []string{}
			}
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			// The expiry before the update, to warn when the update makes an expired key
			// work again.
			var expiredAt time.Time
			if req.ExpiresAt != nil {
				if before, err := e.store.FindAPIKey(cmd.Context(), args[0]); err == nil && before.Expired(time.Now()) {
					expiredAt = before.ExpiresAt
				}
			}
			k, err := e.auth.UpdateKey(cmd.Context(), args[0], req)
			if err != nil {
				return keyNotFound(cmd.Context(), e, err, args[0])
			}
			v := k.View(time.Now())
			err = g.printResult(v, func(w io.Writer) {
				fmt.Fprintf(w, "Updated API key %s.\n\n", k.ClientID)
				printKeyText(w, v)
			})
			if err != nil {
				return err
			}
			// Only a list given now gets the warning, not one kept from before.
			if allowIPs.set {
				g.warnCatchAll(k.AllowedIPs, "Use --clear-allow-ip to get an empty list.")
			}
			if !expiredAt.IsZero() && !k.Expired(time.Now()) {
				g.warn(fmt.Sprintf("the key had expired at %s and works again now. To end a key at once, use \"iogate key delete %s\"",
					expiredAt.Format(time.RFC3339), k.ClientID))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Var(&name, "name", "new key name")
	f.Var(&description, "description", "new description; an empty value clears it")
	f.Var(&scopes, "scope", fmt.Sprintf("scope the key may use, replacing the current ones; repeatable (known: %s)", strings.Join(iogate.AllScopes, ", ")))
	f.Var(&allowIPs, "allow-ip", "IP address or CIDR prefix allowed to use the key, replacing the current list; repeatable")
	f.BoolVar(&clearAllowIP, "clear-allow-ip", false, "remove every IP restriction, so that any address may use the key")
	f.Var(newDurationFlag(&expiresIn), "expires-in", "new lifetime of the key, counted from now, such as 720h or 90d; 0 removes the expiry")
	f.Var(timeFlag{&expiresAt}, "expires-at", "new expiry of the key, as an RFC 3339 time such as 2027-06-30T00:00:00Z")
	f.BoolVar(&noExpiry, "no-expiry", false, "remove the key's expiry, so that it does not expire")
	return cmd
}

// updatedExpiry returns the expiry that key update's flags ask for: nil when none of
// --expires-in, --expires-at and --no-expiry is given, and a pointer to the zero time for
// --no-expiry. At most one of them may be given.
func updatedExpiry(cmd *cobra.Command, expiresIn time.Duration, expiresAt time.Time, noExpiry bool) (*time.Time, error) {
	f := cmd.Flags()
	given := 0
	for _, name := range []string{"expires-in", "expires-at", "no-expiry"} {
		if f.Changed(name) {
			given++
		}
	}
	switch {
	case given == 0:
		return nil, nil
	case given > 1:
		return nil, errorf("--expires-in, --expires-at and --no-expiry cannot be used together: give one of them")
	case noExpiry:
		return &time.Time{}, nil
	case f.Changed("expires-in"):
		if expiresIn < 0 {
			return nil, errorf("invalid --expires-in %s: it must not be negative; use --no-expiry or 0 to remove the expiry", iogate.FormatDuration(expiresIn))
		}
		if expiresIn == 0 {
			// As with "key create", a lifetime of 0 means no expiry.
			return &time.Time{}, nil
		}
		t := time.Now().Add(expiresIn)
		return &t, nil
	case f.Changed("expires-at"):
		return &expiresAt, nil
	}
	return nil, errorf("--no-expiry=false changes nothing: leave it out to keep the expiry")
}

func newKeyRotateCommand(g *globals) *cobra.Command {
	grace := auth.DefaultRotationGrace
	cmd := &cobra.Command{
		Use:   "rotate CLIENT_ID [--grace DURATION]",
		Short: "Give an API key a new secret; the old one keeps working for a grace period",
		Long: "Give an API key a new secret and print it. The old secret, and the tokens issued with it, keep working\n" +
			"until the grace period ends (default 24h, at most 30d; 0 retires it at once). A key has at most one\n" +
			"previous secret: rotating again during the grace period retires the older one at once.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			// The rotation applies to the generation read here, as the dashboard's does, so a
			// previous secret in its grace period that it retires is named exactly.
			before, err := e.store.FindAPIKey(cmd.Context(), args[0])
			if err != nil {
				return keyNotFound(cmd.Context(), e, err, args[0])
			}
			var inGrace *iogate.PreviousSecret
			if p := before.Previous; p != nil && time.Now().Before(p.ExpiresAt) {
				inGrace = p
			}
			k, secret, err := e.auth.RotateKeyFrom(cmd.Context(), args[0], before.SecretGeneration, grace)
			if err != nil {
				return keyNotFound(cmd.Context(), e, err, args[0])
			}
			now := time.Now()
			out := createdKey{APIKeyView: k.View(now), ClientSecret: secret.Reveal()}
			return g.printResult(out, func(w io.Writer) {
				fmt.Fprintf(w, "Rotated API key %q.\n\n  Client ID:         %s\n  New client secret: %s\n  Secret generation: %d\n\n",
					k.Name, k.ClientID, secret.Reveal(), k.SecretGeneration)
				if inGrace != nil && inGrace.Generation < k.SecretGeneration-1 {
					fmt.Fprintf(w, "Secret generation %d, whose grace period would have lasted until %s, and its tokens stopped working now.\n",
						inGrace.Generation, inGrace.ExpiresAt.UTC().Format(time.RFC3339))
				}
				if r := out.Rotation; r != nil {
					fmt.Fprintf(w, "The previous secret and its tokens keep working until %s.\n", r.PreviousExpiresAt.Format(time.RFC3339))
				} else {
					fmt.Fprintln(w, "The previous secret and its tokens no longer work.")
				}
				fmt.Fprintln(w, "Store the new client secret now: it will not be shown again.")
			})
		},
	}
	cmd.Flags().Var(newDurationFlag(&grace), "grace", "how long the old secret keeps working, such as 1h or 7d; 0 retires it at once (default 24h, at most 30d)")
	return cmd
}

// optionalString is a string flag that records whether it was set, on the command line
// or from the environment, so that an empty value differs from an absent one.
type optionalString struct {
	value string
	set   bool
}

func (f *optionalString) String() string { return f.value }

func (f *optionalString) Set(v string) error {
	f.value, f.set = v, true
	return nil
}

func (f *optionalString) Type() string { return "string" }

// ptr returns the value, or nil when the flag was not set.
func (f *optionalString) ptr() *string {
	if !f.set {
		return nil
	}
	return &f.value
}

// listFlag is a repeatable string flag that records whether it was set. Each use adds
// one value; values are not split at commas, because allowlist entries never hold one.
type listFlag struct {
	values []string
	set    bool
}

// String returns the values as pflag's stringArray prints them, or "" when there are
// none. pflag omits a default of "" from the help, where "[]" would show "(default [])".
func (f *listFlag) String() string {
	if len(f.values) == 0 {
		return ""
	}
	return "[" + strings.Join(f.values, ",") + "]"
}

func (f *listFlag) Set(v string) error { return f.Append(v) }

func (f *listFlag) Type() string { return "stringArray" }

// Append adds one value; it makes listFlag a pflag.SliceValue.
func (f *listFlag) Append(v string) error {
	f.values, f.set = append(f.values, v), true
	return nil
}

// Replace sets every value at once, as the environment variable of the flag does.
func (f *listFlag) Replace(vs []string) error {
	f.values, f.set = append([]string{}, vs...), true
	return nil
}

// GetSlice returns the values.
func (f *listFlag) GetSlice() []string { return f.values }
