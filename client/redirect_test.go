package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRedirectKeepsCredentials points the client at a server that redirects the token
// request, and then the API call, to plain HTTP on the same host. The client sends its
// secret and its token only to the HTTPS base URL, so the plain server must receive no
// credential.
func TestRedirectKeepsCredentials(t *testing.T) {
	for _, path := range []string{"/oauth2/token", "/v1/vaults"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			var leaked atomic.Int32
			plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					leaked.Add(1)
				}
				http.Error(w, "plain HTTP", http.StatusForbidden)
			}))
			t.Cleanup(plain.Close)
			f := newFakeAPI(t)
			redirect := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
					return
				}
				f.serve(w, r)
			}))
			t.Cleanup(redirect.Close)
			c, err := New(redirect.URL, "client", "s3cr+t:%é", WithHTTPClient(redirect.Client()), WithRetries(0, 1, 1))
			if err != nil {
				t.Fatal(err)
			}

			_, err = c.ListVaults(context.Background(), ListOptions{})
			if err == nil {
				t.Errorf("ListVaults with %s redirected to plain HTTP: no error, want the redirect reported", path)
			}
			if n := leaked.Load(); n != 0 {
				t.Errorf("ListVaults with %s redirected to plain HTTP: the plain server received %d requests with an Authorization header, want 0", path, n)
			}
		})
	}
}
