package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	iohttp "github.com/iogate/iogate/http"
	"github.com/iogate/iogate/token"
	"github.com/spf13/cobra"
)

func newSigningKeyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "signing-key", Short: "Manage the keys that sign access tokens"}
	cmd.AddCommand(newSigningKeyRotateCommand(g), newSigningKeyRetireCommand(g), newSigningKeyRevokeCommand(g), newSigningKeyListCommand(g))
	return cmd
}

// signingKeyView is the JSON form of a signing key. It never holds the private key.
type signingKeyView struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"algorithm"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"createdAt"`
	ActiveAt  time.Time  `json:"activeAt"`
	RetiredAt *time.Time `json:"retiredAt,omitempty"`
}

// signingKeyState names where a key is in its life at now.
func signingKeyState(k *iogate.SigningKey, now time.Time) string {
	switch {
	case !k.RetiredAt.IsZero() && !k.RetiredAt.After(k.ActiveAt):
		// A scheduled key retired before its activation never signs.
		return "retired"
	case now.Before(k.ActiveAt):
		return "scheduled"
	case k.MaySign(now):
		return "signing"
	}
	return "retired"
}

func viewSigningKey(k *iogate.SigningKey, now time.Time) signingKeyView {
	v := signingKeyView{KID: k.KID, Algorithm: k.Algorithm, State: signingKeyState(k, now), CreatedAt: k.CreatedAt, ActiveAt: k.ActiveAt}
	if !k.RetiredAt.IsZero() {
		v.RetiredAt = &k.RetiredAt
	}
	return v
}

func viewSigningKeys(keys []*iogate.SigningKey, now time.Time) []signingKeyView {
	views := make([]signingKeyView, len(keys))
	for i, k := range keys {
		views[i] = viewSigningKey(k, now)
	}
	return views
}

func newSigningKeyRotateCommand(g *globals) *cobra.Command {
	var alg string
	activateIn := auth.DefaultActivationDelay
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Create a new signing key and retire the current one of its algorithm",
		Long: "Create a new token-signing key. It is published in the JWKS at once and signs from --activate-in\n" +
			"later, so that verifiers that cache the JWKS know it before they see its tokens. The current key\n" +
			"of the same algorithm stops signing then and stays published until the last token it signed has\n" +
			"expired; keys of other algorithms keep signing. A running server picks up the change within\n" +
			"about a second.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			if activateIn < iohttp.DiscoveryMaxAge {
				g.warn(fmt.Sprintf("--activate-in %s is shorter than the %s for which verifiers may cache the JWKS: "+
					"a verifier that fetched it before the rotation rejects the new key's tokens until it fetches it again",
					iogate.FormatDuration(activateIn), iogate.FormatDuration(iohttp.DiscoveryMaxAge)))
			}
			k, err := e.auth.RotateSigningKey(cmd.Context(), alg, activateIn)
			if err != nil {
				return err
			}
			keys, err := e.store.SigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			replaced := false
			for _, other := range keys {
				replaced = replaced || other.KID != k.KID && other.Algorithm == k.Algorithm && other.RetiredAt.Equal(k.ActiveAt)
			}
			v := viewSigningKey(k, time.Now())
			return g.printResult(v, func(w io.Writer) {
				fmt.Fprintf(w, "Created %s signing key %s. It is published now and signs from %s;\n", k.Algorithm, k.KID, k.ActiveAt.Format(time.RFC3339))
				if replaced {
					fmt.Fprintf(w, "the current %s key stops signing then and stays published until its tokens have expired.\n", k.Algorithm)
					return
				}
				fmt.Fprintf(w, "no earlier %s key signs, so it replaces none. Servers with --signing-alg %s sign with it once it is active;\n"+
					"keys of other algorithms keep signing.\n", k.Algorithm, k.Algorithm)
			})
		},
	}
	cmd.Flags().StringVar(&alg, "algorithm", "", "algorithm of the new key: "+strings.Join(token.Algorithms, ", ")+"; a server signs only with keys of its --signing-alg (default: that of the newest key with no retirement, past or scheduled)")
	cmd.Flags().Var(newDurationFlag(&activateIn), "activate-in", "how long the new key is published before it signs; longer than verifiers cache the JWKS (default 10m)")
	return cmd
}

func newSigningKeyRetireCommand(g *globals) *cobra.Command {
	var alg string
	var retireIn time.Duration
	cmd := &cobra.Command{
		Use:   "retire",
		Short: "Retire every signing key of an algorithm after servers moved to another",
		Long: "Retire every signing key of --algorithm that signs or is scheduled, at --retire-in from now. Run it\n" +
			"after every server runs with another --signing-alg. The retired keys stay published until the\n" +
			"last token they signed has expired. It is rejected unless keys of another algorithm sign from\n" +
			"then on, because a server still configured with the retired algorithm creates a new key at once,\n" +
			"which verifiers have not seen. A running server picks up the change within about a second.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if alg == "" {
				return iogate.Errorf(iogate.CodeInvalid, "missing --algorithm: name the algorithm to retire, one of %s", strings.Join(token.Algorithms, ", "))
			}
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			retired, err := e.auth.RetireSigningKeys(cmd.Context(), alg, retireIn)
			if err != nil {
				return err
			}
			views := viewSigningKeys(retired, time.Now())
			return g.printResult(map[string]any{"data": views}, func(w io.Writer) {
				for _, k := range retired {
					fmt.Fprintf(w, "Retired %s signing key %s from %s; it stays published until its tokens have expired.\n",
						k.Algorithm, k.KID, k.RetiredAt.Format(time.RFC3339))
				}
			})
		},
	}
	cmd.Flags().StringVar(&alg, "algorithm", "", "algorithm whose keys to retire: "+strings.Join(token.Algorithms, ", "))
	cmd.Flags().Var(newDurationFlag(&retireIn), "retire-in", "how long the keys keep signing from now (default 0, at once)")
	return cmd
}

func newSigningKeyListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the signing keys, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			keys, err := e.store.SigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			views := viewSigningKeys(keys, time.Now())
			return g.printResult(map[string]any{"data": views}, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KID\tALGORITHM\tSTATE\tACTIVE FROM\tRETIRED FROM")
				for _, v := range views {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.KID, v.Algorithm, v.State, v.ActiveAt.Format(time.RFC3339), formatTimePtr(v.RetiredAt))
				}
				tw.Flush()
			})
		},
	}
}
