package e2e

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestAsteriskRequestTarget checks that a request for "*", which only OPTIONS may send,
// gets each listener's JSON error and request ID, not net/http's empty 200 or 400.
func TestAsteriskRequestTarget(t *testing.T) {
	srv := testenv.Start(t, newDataDir(t), testenv.Options{})
	dials := []struct {
		listener   string
		dial       func() (net.Conn, error)
		wantStatus int
		wantCode   string
	}{
		{"https", func() (net.Conn, error) {
			return tls.Dial("tcp", srv.Addr, &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		}, http.StatusNotFound, "not_found"},
		{"plain", func() (net.Conn, error) { return net.Dial("tcp", srv.HTTPAddr) }, http.StatusForbidden, "https_required"},
		{"admin", func() (net.Conn, error) { return net.Dial("tcp", srv.AdminAddr) }, http.StatusNotFound, "not_found"},
	}
	for _, d := range dials {
		for _, method := range []string{"OPTIONS", "GET"} {
			t.Run(d.listener+" "+method, func(t *testing.T) {
				conn, err := d.dial()
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(conn, method+" * HTTP/1.1\r\nHost: localhost\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("%s *: %v", method, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != d.wantStatus {
					t.Errorf("%s *: status %d, want %d", method, resp.StatusCode, d.wantStatus)
				}
				if resp.Header.Get("X-Request-Id") == "" {
					t.Errorf("%s *: no X-Request-Id", method)
				}
				r := response{status: resp.StatusCode, header: resp.Header, body: body}
				if got := r.json(t)["code"]; got != d.wantCode {
					t.Errorf("%s *: code %v, want %s (body %s)", method, got, d.wantCode, body)
				}
			})
		}
	}
}
