package main

import (
	"fmt"
	"io"
	"time"

	"github.com/iogate/iogate/auth"
	iohttp "github.com/iogate/iogate/http"
	"github.com/spf13/cobra"
)

// signingKeyRevocationView is the JSON output of "signing-key revoke".
type signingKeyRevocationView struct {
	Revoked     signingKeyView  `json:"revoked"`
	Replacement *signingKeyView `json:"replacement,omitempty"`
}

func newSigningKeyRevokeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke [flags] -- KID",
		Short: "Distrust a signing key at once, when its private key leaked",
		Long: "Delete a token-signing key, with its encrypted private key, so that it leaves the JWKS and every\n" +
			"server rejects the tokens it signed, running servers within about a second. Services that verify\n" +
			"tokens against a cached JWKS accept them until they fetch it again, for up to 5 minutes. If the key\n" +
			"signs or is scheduled to, a new key of its algorithm takes its place and signs from the same moment,\n" +
			"and those verifiers reject the new key's tokens until they fetch the JWKS again.\n" +
			"For routine changes use rotate or retire, which keep keys published until their tokens expire.\n" +
			"A KID may begin with \"-\", so put it after \"--\": iogate signing-key revoke -- KID.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			got, err := e.auth.RevokeSigningKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			v := signingKeyRevocationView{Revoked: viewSigningKey(got.Revoked, now)}
			v.Revoked.State = "revoked"
			if got.Replacement != nil {
				replacement := viewSigningKey(got.Replacement, now)
				v.Replacement = &replacement
			}
			return g.printResult(v, func(w io.Writer) { printSigningKeyRevocation(w, got) })
		},
	}
}

// printSigningKeyRevocation prints what the revocation did and what the operator should
// do next.
func printSigningKeyRevocation(w io.Writer, got *auth.SigningKeyRevocation) {
	k := got.Revoked
	fmt.Fprintf(w, "Revoked %s signing key %s.\n"+
		"Its encrypted private key is deleted from the database and the key has left the JWKS.\n"+
		"Running servers reject the tokens it signed within about a second.\n", k.Algorithm, k.KID)
	if r := got.Replacement; r != nil {
		fmt.Fprintf(w, "Created %s signing key %s in its place.\n", r.Algorithm, r.KID)
		if until := time.Until(r.ActiveAt); until > 0 {
			fmt.Fprintf(w, "It is published now and signs from %s, when the revoked key was to start.\n", r.ActiveAt.Format(time.RFC3339))
			if until < iohttp.DiscoveryMaxAge {
				fmt.Fprintf(w, "That is sooner than verifiers may cache the JWKS (5 minutes): those that fetched it before\n"+
					"now reject the new key's tokens until they fetch the JWKS again.\n")
			}
		} else {
			fmt.Fprintf(w, "It is published and signs from now on. Verifiers that cached the JWKS reject its tokens\n"+
				"until they fetch the JWKS again, for up to 5 minutes (Cache-Control: max-age=300).\n")
		}
	}
	fmt.Fprintf(w, "\nNext steps:\n"+
		"  1. Services that verify iogate tokens against a cached JWKS still accept the revoked key's\n"+
		"     tokens until they fetch the JWKS again: up to 5 minutes (Cache-Control: max-age=300),\n"+
		"     or longer if they cache it on their own terms or refetch only for an unknown kid.\n"+
		"     Make each of them fetch it now: flush its JWKS cache or restart it.\n"+
		"  2. Whoever held the private key could mint tokens for any client and scope. Check each\n"+
		"     account's audit log (iogate audit list --account ID) for records of API clients since\n"+
		"     the key may have leaked, such as vault.created, that their owners do not recognise.\n"+
		"  3. Search the logs of services that verify iogate tokens against the JWKS for tokens with\n"+
		"     kid %s. iogate's own request log does not record the kid.\n"+
		"  4. If the attacker could have used tokens, rotate the client secrets of the keys involved:\n"+
		"     iogate key rotate CLIENT_ID --grace 0.\n"+
		"  5. Find out how the key leaked. If the database and the master key leaked together, so did\n"+
		"     every signing key: revoke each one and rotate the master key (iogate master-key rotate).\n", k.KID)
}
