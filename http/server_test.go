package http

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestMethodNotAllowedMessage checks the status, Allow header and message of requests whose
// route does not serve their method, in the problem form and in the OAuth form. The test
// sets the odd methods on the request directly. Go's HTTP/1.1 server rejects them with 400,
// but its HTTP/2 server passes them to handlers (TestMethodNotAllowedOverHTTP2).
func TestMethodNotAllowedMessage(t *testing.T) {
	h := newTestAPI(t, Options{}).srv.Handler()
	cases := []struct {
		name, method, target string
		wantAllow            string
		wantMessage          string
	}{
		{"one allowed method", "DELETE", "/v1/vaults/123", "GET, HEAD", "DELETE is not allowed on /v1/vaults/{id}: use GET or HEAD"},
		{"two allowed methods", "PUT", "/v1/vaults", "GET, HEAD, POST", "PUT is not allowed on /v1/vaults: use GET, HEAD or POST"},
		{"path not echoed", "DELETE", "/v1/vaults/%3Cb%3E%22x%22", "GET, HEAD", "DELETE is not allowed on /v1/vaults/{id}: use GET or HEAD"},
		{"extension token", "X-Purge!", "/healthz", "GET, HEAD", "X-Purge! is not allowed on /healthz: use GET or HEAD"},
		{"quote and space", `DEL"E TE\`, "/healthz", "GET, HEAD", `"DEL\"E TE\\" is not allowed on /healthz: use GET or HEAD`},
		{"invalid UTF-8", "GET\xff", "/healthz", "GET, HEAD", `"GET\xff" is not allowed on /healthz: use GET or HEAD`},
		{"long token", strings.Repeat("A", 100), "/healthz", "GET, HEAD",
			`"` + strings.Repeat("A", 64) + `" (first 64 of 100 bytes) is not allowed on /healthz: use GET or HEAD`},
		{"OAuth form", "GET", "/oauth2/token", "POST", "GET is not allowed on /oauth2/token: use POST"},
		{"OAuth form with quote and backslash", `DEL"E TE\`, "/oauth2/revoke", "POST", `'DEL/'E TE//' is not allowed on /oauth2/revoke: use POST`},
		{"OAuth form with non-ASCII", "caf\u00e9", "/oauth2/introspect", "POST", `'caf?' is not allowed on /oauth2/introspect: use POST`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://iogate.test"+c.target, nil)
			req.Method = c.method
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405; body %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Allow"); got != c.wantAllow {
				t.Errorf("Allow = %q, want %q", got, c.wantAllow)
			}
			var body struct {
				Code             string `json:"code"`
				Detail           string `json:"detail"`
				Error            string `json:"error"`
				ErrorDescription string `json:"error_description"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			got := body.Detail
			if isOAuthPath(req.URL.Path) {
				got = body.ErrorDescription
				if body.Error != "invalid_request" {
					t.Errorf("error = %q, want invalid_request", body.Error)
				}
			} else if body.Code != "method_not_allowed" {
				t.Errorf("code = %q, want method_not_allowed", body.Code)
			}
			if got != c.wantMessage {
				t.Errorf("message = %q, want %q", got, c.wantMessage)
			}
		})
	}
}

// TestMethodNotAllowedOverHTTP2 sends methods that are not RFC 9110 tokens over HTTP/2, which
// Go's server passes to handlers, and checks that the 405 body stays valid JSON with the
// method quoted. Go's HTTP/2 client refuses such methods, so the test writes the frames
// itself.
func TestMethodNotAllowedOverHTTP2(t *testing.T) {
	ts := httptest.NewUnstartedServer(newTestAPI(t, Options{}).srv.Handler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)

	cases := []struct {
		name, method, path string
		field, want        string
	}{
		{"problem form", "DEL\"E\\ TE", "/v1/vaults/1", "detail", `"DEL\"E\\ TE" is not allowed on /v1/vaults/{id}: use GET or HEAD`},
		{"OAuth form", "DEL\"E\\ TE", "/oauth2/token", "error_description", `'DEL/'E// TE' is not allowed on /oauth2/token: use POST`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := sendHTTP2(t, ts, c.method, c.path)
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if got[c.field] != c.want {
				t.Errorf("%s = %q, want %q", c.field, got[c.field], c.want)
			}
		})
	}
}

// sendHTTP2 sends one bodiless request with method and path to ts over a new HTTP/2
// connection and returns the response body. It writes the header block as HPACK literals
// without Huffman coding, which limits each name and value to 126 bytes.
func sendHTTP2(t *testing.T, ts *httptest.Server, method, path string) []byte {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	conn, err := tls.Dial("tcp", ts.Listener.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated protocol %q, want h2", p)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))

	const (
		frameData, frameHeaders, frameRSTStream, frameSettings, frameGoAway = 0x0, 0x1, 0x3, 0x4, 0x7
		flagEndStream, flagAck, flagEndHeaders                              = 0x1, 0x1, 0x4
	)
	var block []byte
	for _, f := range [][2]string{{":method", method}, {":scheme", "https"}, {":path", path}, {":authority", "example.com"}} {
		if len(f[0]) > 126 || len(f[1]) > 126 {
			t.Fatalf("header field %s is too long for sendHTTP2", f[0])
		}
		// A literal header field without indexing, with a new name (RFC 7541 section 6.2.2).
		block = append(block, 0x00, byte(len(f[0])))
		block = append(block, f[0]...)
		block = append(block, byte(len(f[1])))
		block = append(block, f[1]...)
	}
	var out bytes.Buffer
	out.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out.Write(http2Frame(frameSettings, 0, 0, nil))
	out.Write(http2Frame(frameHeaders, flagEndStream|flagEndHeaders, 1, block))
	if _, err := conn.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}

	var body []byte
	for {
		var head [9]byte
		if _, err := io.ReadFull(conn, head[:]); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		length := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
		kind, flags, stream := head[3], head[4], binary.BigEndian.Uint32(head[5:])&0x7fffffff
		payload := make([]byte, length)
		if _, err := io.ReadFull(conn, payload); err != nil {
			t.Fatalf("read frame payload: %v", err)
		}
		switch {
		case kind == frameSettings && flags&flagAck == 0:
			if _, err := conn.Write(http2Frame(frameSettings, flagAck, 0, nil)); err != nil {
				t.Fatal(err)
			}
		case kind == frameRSTStream || kind == frameGoAway:
			t.Fatalf("server ended the stream with frame type %d, payload %x", kind, payload)
		case stream == 1 && (kind == frameData || kind == frameHeaders):
			if kind == frameData {
				body = append(body, payload...)
			}
			if flags&flagEndStream != 0 {
				return body
			}
		}
	}
}

// http2Frame returns an HTTP/2 frame (RFC 9113 section 4.1).
func http2Frame(kind, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	f := []byte{byte(n >> 16), byte(n >> 8), byte(n), kind, flags}
	f = binary.BigEndian.AppendUint32(f, stream)
	return append(f, payload...)
}
