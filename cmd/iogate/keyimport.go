package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/spf13/cobra"
)

// secretEnv is the environment variable that can hold the secret of "key import".
const secretEnv = "IOGATE_CLIENT_SECRET"

func newKeyImportCommand(g *globals) *cobra.Command {
	var req auth.ImportKeyRequest
	var secretFile string
	cmd := &cobra.Command{
		Use:   "import --account ID --name NAME --secret-file FILE",
		Short: "Import an API key whose client secret was issued elsewhere",
		Long: "Import an API key whose client ID and secret were issued by another system, so that its clients\n" +
			"keep working unchanged. The secret is read from --secret-file (\"-\" for standard input) or from\n" +
			secretEnv + ", never from a flag; one trailing newline is dropped. iogate stores only its keyed hash.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			secret, err := readImportSecret(g, secretFile, cmd.InOrStdin())
			if err != nil {
				return err
			}
			req.Secret = secret
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			k, err := e.auth.ImportKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			v := k.View(time.Now())
			err = g.printResult(v, func(w io.Writer) {
				fmt.Fprintf(w, "Imported API key %q with client ID %s and scopes %s.\n", k.Name, k.ClientID, strings.Join(k.Scopes, " "))
			})
			if err != nil {
				return err
			}
			g.warnCatchAll(k.AllowedIPs, "Leave out --allow-ip to get an empty list.")
			return nil
		},
	}
	addKeyFlags(cmd, &req.CreateKeyRequest)
	f := cmd.Flags()
	f.StringVar(&req.ClientID, "client-id", "", "existing client ID, a lower-case UUID (default: a new random one)")
	f.StringVar(&secretFile, "secret-file", "", "file holding the existing client secret, \"-\" for standard input (default: the "+secretEnv+" variable)")
	return cmd
}

// readImportSecret reads the secret to import from a file, standard input or the
// environment. Error messages name the source, never the secret.
func readImportSecret(g *globals, path string, stdin io.Reader) (iogate.Secret, error) {
	var raw []byte
	var err error
	switch path {
	case "":
		v := g.getenv(secretEnv)
		if v == "" {
			return "", errorf("missing secret: pass --secret-file FILE, --secret-file - for standard input, or set %s", secretEnv)
		}
		return iogate.Secret(v), nil
	case "-":
		raw, err = io.ReadAll(io.LimitReader(stdin, iogate.MaxSecretLength+2))
	default:
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return "", errorf("read secret from %s: %v", sourceName(path), err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	return iogate.Secret(s), nil
}

func sourceName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}
