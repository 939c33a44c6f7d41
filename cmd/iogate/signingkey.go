package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/token"
	"github.com/spf13/cobra"
)

func newSigningKeyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "signing-key", Short: "Manage the keys that sign access tokens"}
	cmd.AddCommand(newSigningKeyRotateCommand(g), newSigningKeyListCommand(g))
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

func newSigningKeyRotateCommand(g *globals) *cobra.Command {
	var alg string
	activateIn := auth.DefaultActivationDelay
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Create a new signing key and retire the current one",
		Long: "Create a new token-signing key. It is published in the JWKS at once and signs from --activate-in\n" +
			"later, so that verifiers that cache the JWKS know it before they see its tokens. The current key\n" +
			"stops signing then and stays published until the last token it signed has expired. A running\n" +
			"server picks up the change within about a second.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			k, err := e.auth.RotateSigningKey(cmd.Context(), alg, activateIn)
			if err != nil {
				return err
			}
			v := viewSigningKey(k, time.Now())
			return g.printResult(v, func(w io.Writer) {
				fmt.Fprintf(w, "Created %s signing key %s. It is published now and signs from %s;\nthe current key stops signing then and stays published until its tokens have expired.\n",
					k.Algorithm, k.KID, k.ActiveAt.Format(time.RFC3339))
			})
		},
	}
	cmd.Flags().StringVar(&alg, "algorithm", "", "algorithm of the new key: "+strings.Join(token.Algorithms, ", ")+"; a server signs only with keys of its --signing-alg (default: that of the newest key)")
	cmd.Flags().Var(newDurationFlag(&activateIn), "activate-in", "how long the new key is published before it signs; longer than verifiers cache the JWKS (default 10m)")
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
			now := time.Now()
			views := make([]signingKeyView, len(keys))
			for i, k := range keys {
				views[i] = viewSigningKey(k, now)
			}
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
