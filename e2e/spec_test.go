package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestSpecCurl runs the two curl commands of the published API contract, with the base
// URL swapped for the test server and --cacert added for its self-signed certificate.
func TestSpecCurl(t *testing.T) {
	curl := testenv.RequireTool(t, "curl")
	f := newFixture(t, testenv.Options{})
	base := "https://localhost:" + f.srv.Addr[strings.LastIndex(f.srv.Addr, ":")+1:]

	tokenOut := runTool(t, curl, "--silent", "--show-error", "--fail-with-body", "--cacert", f.srv.CACert,
		"--request", "POST",
		"--url", base+"/v1/auth/accessToken",
		"--header", "accept: application/json",
		"--header", "content-type: application/json",
		"-d", `{"clientId":"`+f.clientID+`", "clientSecret":"`+f.clientSecret+`"}`)
	var tok struct {
		AccessToken string `json:"accessToken"`
		TokenType   string `json:"tokenType"`
		ExpiresIn   int    `json:"expiresIn"`
	}
	if err := json.Unmarshal([]byte(tokenOut), &tok); err != nil {
		t.Fatalf("token response is not JSON: %v", err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token response has tokenType %q, expiresIn %d and an access token of %d bytes; want Bearer, 3600 and a token",
			tok.TokenType, tok.ExpiresIn, len(tok.AccessToken))
	}

	vaultsOut := runTool(t, curl, "--silent", "--show-error", "--fail-with-body", "--cacert", f.srv.CACert,
		"--url", base+"/v1/vaults",
		"--header", "accept: application/json",
		"--header", "content-type: application/json",
		"--header", "authorization: Bearer "+tok.AccessToken)
	var list struct {
		Data []struct{ ID, Name string }
	}
	if err := json.Unmarshal([]byte(vaultsOut), &list); err != nil {
		t.Fatalf("vault list is not JSON: %v", err)
	}
	if len(list.Data) != 1 || list.Data[0].ID != f.vaultID {
		t.Errorf("vault list = %+v, want the one vault %s", list.Data, f.vaultID)
	}

	t.Run("plain HTTP", func(t *testing.T) {
		cmd := exec.Command(curl, "--silent", "--output", "/dev/null", "--write-out", "%{http_code} %{redirect_url}",
			"--request", "POST", "--url", "http://"+f.srv.HTTPAddr+"/v1/auth/accessToken",
			"--header", "content-type: application/json", "-d", `{"clientId":"a","clientSecret":"b"}`)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl over plain HTTP: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != "403" {
			t.Errorf("curl over plain HTTP: status and redirect %q, want 403 and no redirect", got)
		}
	})
}

// nodeSample is the contract's JavaScript sample in a form that runs: an ES module (for the
// top-level await), the token response's body parsed before accessToken is read, and no
// unused require of the "request" package.
const nodeSample = `
const baseUrl = process.env.IOGATE_URL;

const authResponse = await fetch(baseUrl + '/v1/auth/accessToken', {
  method: 'POST',
  headers: {
    'Content-Type': 'application/json',
    Accept: 'application/json'
  },
  body: JSON.stringify({
    clientId: process.env.IOGATE_CLIENT_ID,
    clientSecret: process.env.IOGATE_CLIENT_SECRET
  })
});
if (!authResponse.ok) {
  throw new Error('token request failed with status ' + authResponse.status);
}
const { accessToken } = await authResponse.json();

const accounts = await fetch(baseUrl + '/v1/vaults', {
    method: 'GET',
    headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        Authorization: ` + "`Bearer ${accessToken}`" + `
    }
});
console.log(JSON.stringify({ status: accounts.status, body: await accounts.json() }));
`

// TestSpecNode runs the contract's JavaScript sample, in its working form, with the real
// Node.js and its built-in fetch.
func TestSpecNode(t *testing.T) {
	node := testenv.RequireTool(t, "node")
	f := newFixture(t, testenv.Options{})
	script := filepath.Join(t.TempDir(), "sample.mjs")
	if err := os.WriteFile(script, []byte(nodeSample), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(),
		"IOGATE_URL=https://localhost:"+f.srv.Addr[strings.LastIndex(f.srv.Addr, ":")+1:],
		"IOGATE_CLIENT_ID="+f.clientID,
		"IOGATE_CLIENT_SECRET="+f.clientSecret,
		"NODE_EXTRA_CA_CERTS="+f.srv.CACert,
	)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node sample failed: %v\n%s", err, stderr)
	}
	var res struct {
		Status int
		Body   struct{ Data []struct{ ID string } }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output is not JSON: %v", err)
	}
	if res.Status != 200 || len(res.Body.Data) != 1 || res.Body.Data[0].ID != f.vaultID {
		t.Errorf("node sample got status %d and vaults %+v, want 200 and vault %s", res.Status, res.Body.Data, f.vaultID)
	}
}

// runTool runs an external program and returns its stdout. On failure it prints stderr and
// the exit status, never the arguments, which hold credentials.
func runTool(t *testing.T, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s failed: %v; stderr: %s; stdout: %s", filepath.Base(path), err, stderr, redactBody(out))
	}
	return string(out)
}

// TestDocNodeSamples runs every JavaScript block of README.md and docs/OAUTH.md as an ES
// module with Node, as the docs tell readers to: the key's credentials in a JSON file named
// by the first argument, IOGATE_URL and NODE_EXTRA_CA_CERTS in the environment. Each must
// print the fixture's vault.
func TestDocNodeSamples(t *testing.T) {
	node := testenv.RequireTool(t, "node")
	f := newFixture(t, testenv.Options{})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.json")
	creds, err := json.Marshal(map[string]string{"clientId": f.clientID, "clientSecret": f.clientSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}

	samples := 0
	for _, doc := range []string{"../README.md", "../docs/OAUTH.md"} {
		page, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range fencedBlocks(string(page), "js") {
			samples++
			t.Run(fmt.Sprintf("%s block %d", filepath.Base(doc), i+1), func(t *testing.T) {
				script := filepath.Join(dir, fmt.Sprintf("sample%d.mjs", samples))
				if err := os.WriteFile(script, []byte(block), 0o600); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, node, script, keyFile)
				cmd.Env = append(os.Environ(),
					"IOGATE_URL=https://localhost:"+f.srv.Addr[strings.LastIndex(f.srv.Addr, ":")+1:],
					"NODE_EXTRA_CA_CERTS="+f.srv.CACert,
				)
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("node sample failed: %v\nstderr: %s", err, redactBody([]byte(stderr.String())))
				}
				if !strings.Contains(stdout.String(), f.vaultID) {
					t.Errorf("node sample output does not list vault %s:\n%s", f.vaultID, redactBody([]byte(stdout.String())))
				}
			})
		}
	}
	if samples < 2 {
		t.Fatalf("found %d JavaScript blocks in README.md and docs/OAUTH.md, want at least 2", samples)
	}
}

// fencedBlocks returns the contents of the Markdown code blocks of page fenced with
// three backticks and lang.
func fencedBlocks(page, lang string) []string {
	var blocks []string
	var current *strings.Builder
	for _, line := range strings.Split(page, "\n") {
		switch {
		case current == nil && strings.TrimSpace(line) == "```"+lang:
			current = &strings.Builder{}
		case current != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, current.String())
			current = nil
		case current != nil:
			current.WriteString(line + "\n")
		}
	}
	return blocks
}
