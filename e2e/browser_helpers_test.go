package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/iogate/iogate/internal/testenv"
)

// browserTimeout bounds one browser test from start to end.
const browserTimeout = 2 * time.Minute

// newBrowser starts a headless Chromium for one test and returns its tab's context. The
// browser accepts the certificates whose public-key hashes are in spki (see spkiHash)
// whatever their names and issuers, and checks every other certificate as usual.
// When the test ends, its last page is saved as a screenshot; see saveScreenshot.
func newBrowser(t *testing.T, spki ...string) context.Context {
	t.Helper()
	chromium := testenv.RequireTool(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spki, ",")),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Registered after the browser's own cleanup, so it runs first, while the tab is open.
	t.Cleanup(func() { saveScreenshot(t, ctx, "last-page") })
	return ctx
}

// spkiHash returns the base64 SHA-256 of the public key of the PEM certificate in file, the
// form that --ignore-certificate-errors-spki-list takes.
func spkiHash(t *testing.T, file string) string {
	t.Helper()
	cert := readCert(t, file)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("no PEM block in %s", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// artifactDir returns the directory for screenshots: $IOGATE_TEST_ARTIFACTS when set,
// else a temporary directory of the test.
func artifactDir(t *testing.T) string {
	if dir := os.Getenv("IOGATE_TEST_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("create IOGATE_TEST_ARTIFACTS: %v", err)
		}
		return dir
	}
	return t.TempDir()
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// saveScreenshot saves a full-page PNG of the tab as TEST-NAME.png in the artifact
// directory and logs its path.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if ctx.Err() != nil {
		t.Logf("no %s screenshot: the browser context has ended", name)
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no %s screenshot: %v", name, err)
		return
	}
	file := filepath.Join(artifactDir(t), unsafeFileChars.ReplaceAllString(t.Name(), "_")+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Errorf("write screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", file)
}

// grantClipboard lets pages of origin read and write the clipboard without a prompt.
func grantClipboard(t *testing.T, ctx context.Context, origin string) {
	t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name},
			Setting:    "granted",
			Origin:     origin,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// run runs browser steps and fails the test with what step failed.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// textOf returns the visible text of the element sel.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// location returns the path and query of the tab's URL.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(loc, "/dashboard"); i >= 0 {
		return loc[i:]
	}
	return loc
}

// browserSignIn signs in through the sign-in page and waits for the page after it.
func browserSignIn(t *testing.T, ctx context.Context, base, email, password, waitFor string) {
	t.Helper()
	run(t, ctx, "sign in as "+email,
		chromedp.Navigate(base+"/dashboard/signin"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(waitFor)),
	)
}

// exists reports whether the page has an element matching the CSS selector sel.
func exists(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	found, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+jsString(sel)+`) !== null`))
	if err != nil {
		t.Fatalf("look for %s: %v", sel, err)
	}
	return found
}

// jsString quotes s as a JavaScript string literal: a JSON string is one.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitFor evaluates the JavaScript condition until it is true, for up to 20 seconds. An
// evaluation that fails because a navigation replaced the document is tried again.
func waitFor(t *testing.T, ctx context.Context, condition string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](condition))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waited 20s for %s; last error: %v", condition, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// submitConfirming clicks the submit button submit and waits for an element matching done
// on the next page. When the form requests a re-confirmation, before or after the click,
// it types password into it and submits again. Whether the server requests one depends on
// how long ago the last confirmation was, which a test cannot pin to the millisecond.
func submitConfirming(t *testing.T, ctx context.Context, submit, done, password string) {
	t.Helper()
	for attempt := 1; attempt <= 2; attempt++ {
		if exists(t, ctx, "#confirm") {
			run(t, ctx, "type the confirmation", chromedp.SetValue(chromedp.ID("confirm"), password))
		}
		run(t, ctx, "click "+submit,
			chromedp.Evaluate[chromedp.Void](`document.getElementById('confirm-error')?.remove()`),
			chromedp.Click(chromedp.CSS(submit)),
		)
		waitFor(t, ctx, `document.readyState === "complete" && (document.querySelector(`+jsString(done)+`) !== null || document.getElementById('confirm-error') !== null)`)
		if exists(t, ctx, done) {
			return
		}
	}
	t.Fatalf("submitting %s twice with the confirmation did not reach %s; page text: %s", submit, done, textOf(t, ctx, "main"))
}

// spkiFromDER returns the base64 SHA-256 of a DER SubjectPublicKeyInfo.
func spkiFromDER(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}
