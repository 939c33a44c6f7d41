package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// rotatedKey is the JSON output of "iogate key rotate".
type rotatedKey struct {
	ClientID         string `json:"clientId"`
	ClientSecret     string `json:"clientSecret"`
	SecretGeneration int    `json:"secretGeneration"`
	Rotation         *struct {
		RotatedAt                 time.Time  `json:"rotatedAt"`
		PreviousExpiresAt         time.Time  `json:"previousExpiresAt"`
		PreviousUsedSinceRotation bool       `json:"previousUsedSinceRotation"`
		PreviousLastUsedAt        *time.Time `json:"previousLastUsedAt"`
	} `json:"rotation"`
}

func rotate(t *testing.T, dir, clientID string, args ...string) rotatedKey {
	t.Helper()
	var k rotatedKey
	testenv.CLIJSON(t, dir, &k, append([]string{"key", "rotate", clientID}, args...)...)
	if k.ClientID != clientID || k.ClientSecret == "" {
		t.Fatalf("key rotate returned client ID %q and a secret of %d characters, want %s and a new secret", k.ClientID, len(k.ClientSecret), clientID)
	}
	return k
}

func TestRotationWithGrace(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	oldToken := accessToken(t, f.srv, f.clientID, f.clientSecret)

	before := time.Now()
	k := rotate(t, dir, f.clientID)
	if k.ClientSecret == f.clientSecret || k.SecretGeneration != 2 {
		t.Errorf("rotation: generation %d, new secret differs: %t; want generation 2 and a new secret", k.SecretGeneration, k.ClientSecret != f.clientSecret)
	}
	if k.Rotation == nil {
		t.Fatal("rotation output has no rotation state")
	}
	if d := k.Rotation.PreviousExpiresAt.Sub(before); d < 24*time.Hour || d > 24*time.Hour+time.Minute {
		t.Errorf("previous secret expires %v after the rotation, want the default 24h", d)
	}
	if k.Rotation.PreviousUsedSinceRotation {
		t.Error("rotation output says the previous secret was used since the rotation")
	}
	waitForKey(t, f.srv, f.clientID, k.ClientSecret)

	// Both secrets work during the grace period, and so does the old token.
	if r := getVaults(t, f.srv, oldToken); r.status != http.StatusOK {
		t.Errorf("token of the old secret: status %d, want 200", r.status)
	}
	accessToken(t, f.srv, f.clientID, k.ClientSecret)
	accessToken(t, f.srv, f.clientID, f.clientSecret)

	// key show reports the old secret's use, once the server has written its batch.
	var shown rotatedKey
	deadline := time.Now().Add(5 * time.Second)
	for {
		testenv.CLIJSON(t, dir, &shown, "key", "show", f.clientID)
		if shown.Rotation != nil && shown.Rotation.PreviousUsedSinceRotation {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key show rotation = %+v 5s after the old secret was used, want it marked as used", shown.Rotation)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if at := shown.Rotation.PreviousLastUsedAt; at == nil || at.Before(k.Rotation.RotatedAt) {
		t.Errorf("previousLastUsedAt = %v, want a time after the rotation at %s", at, k.Rotation.RotatedAt)
	}
	res := testenv.RunCLI(t, dir, nil, "key", "show", f.clientID)
	if !strings.Contains(res.Stdout, "Previous secret used since rotation:  yes, last at") {
		t.Errorf("key show text does not report the use of the previous secret:\n%s", res.Stdout)
	}
	if strings.Contains(res.Stdout, k.ClientSecret) || strings.Contains(res.Stdout, f.clientSecret) {
		t.Error("key show prints a secret")
	}
}

func TestRotationWithoutGrace(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	oldToken := accessToken(t, f.srv, f.clientID, f.clientSecret)
	k := rotate(t, f.srv.DataDir, f.clientID, "--grace", "0")
	if k.Rotation != nil {
		t.Errorf("rotation with grace 0 reports a previous secret: %+v", k.Rotation)
	}
	waitForKey(t, f.srv, f.clientID, k.ClientSecret)
	if r := getVaults(t, f.srv, oldToken); r.status != http.StatusUnauthorized {
		t.Errorf("token of the retired secret: status %d, want 401", r.status)
	}
	r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(f.clientID, f.clientSecret))
	if r.status != http.StatusUnauthorized {
		t.Errorf("retired secret: status %d, want 401", r.status)
	}
	res := testenv.RunCLI(t, f.srv.DataDir, nil, "key", "rotate", f.clientID, "--grace", "0")
	if !strings.Contains(res.Stdout, "no longer work") {
		t.Errorf("key rotate --grace 0 text output does not say the old secret stopped working:\n%s", res.Stdout)
	}
}

func TestRotationTwice(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	firstToken := accessToken(t, f.srv, f.clientID, f.clientSecret)
	second := rotate(t, dir, f.clientID, "--grace", "7d")
	waitForKey(t, f.srv, f.clientID, second.ClientSecret)
	secondToken := accessToken(t, f.srv, f.clientID, second.ClientSecret)
	third := rotate(t, dir, f.clientID, "--grace", "7d")
	waitForKey(t, f.srv, f.clientID, third.ClientSecret)

	if third.SecretGeneration != 3 {
		t.Errorf("generation after two rotations = %d, want 3", third.SecretGeneration)
	}
	// Only one previous secret is ever valid: the second. The first retired at once.
	r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(f.clientID, f.clientSecret))
	if r.status != http.StatusUnauthorized {
		t.Errorf("first secret after the second rotation: status %d, want 401", r.status)
	}
	if r := getVaults(t, f.srv, firstToken); r.status != http.StatusUnauthorized {
		t.Errorf("token of the first secret: status %d, want 401", r.status)
	}
	if r := getVaults(t, f.srv, secondToken); r.status != http.StatusOK {
		t.Errorf("token of the second secret: status %d, want 200", r.status)
	}
	accessToken(t, f.srv, f.clientID, second.ClientSecret)
	accessToken(t, f.srv, f.clientID, third.ClientSecret)
}

func TestRotationGraceRejected(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	for _, grace := range []string{"31d", "720h1s", "-1h", "soon", ""} {
		res := testenv.RunCLI(t, f.srv.DataDir, nil, "key", "rotate", f.clientID, "--grace", grace)
		if res.ExitCode == 0 {
			t.Errorf("key rotate --grace %q succeeded, want an error", grace)
			continue
		}
		if !strings.Contains(res.Stderr, "grace") && !strings.Contains(res.Stderr, "duration") {
			t.Errorf("key rotate --grace %q: stderr %q does not say what is wrong", grace, res.Stderr)
		}
	}
	res := testenv.RunCLI(t, f.srv.DataDir, nil, "key", "rotate", "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "no API key") {
		t.Errorf("key rotate of an unknown key: exit %d, stderr %q; want a not-found error", res.ExitCode, res.Stderr)
	}
	// The key is unchanged: its first secret still works.
	accessToken(t, f.srv, f.clientID, f.clientSecret)
}
