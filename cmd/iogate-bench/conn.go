package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// conn is one keep-alive HTTPS connection of one load client. It sends requests that are
// serialized once, before the load starts, and parses responses with net/http's reader. A
// full http.Client would add work per request (its connection pool, a goroutine pair per
// connection), and that CPU is taken from the server under test when both share a machine.
type conn struct {
	addr    string
	tlsConf *tls.Config
	timeout time.Duration

	tc   *tls.Conn
	br   *bufio.Reader
	body bytes.Buffer
	// header is the header of the last response, valid until the next call of do.
	header http.Header
}

func newConn(addr string, tlsConf *tls.Config, timeout time.Duration) *conn {
	return &conn{addr: addr, tlsConf: tlsConf, timeout: timeout}
}

// dial opens the TLS connection, with the handshake outside any measured request.
func (c *conn) dial(ctx context.Context) error {
	c.close()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: c.timeout}, Config: c.tlsConf}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.tc = nc.(*tls.Conn)
	if c.br == nil {
		c.br = bufio.NewReaderSize(c.tc, 16<<10)
	} else {
		c.br.Reset(c.tc)
	}
	return nil
}

func (c *conn) close() {
	if c.tc != nil {
		c.tc.Close()
		c.tc = nil
	}
}

// do sends one serialized request and reads the whole response. The body returned is only
// valid until the next call. On any error the connection is closed, and the next call
// dials a new one.
func (c *conn) do(ctx context.Context, req []byte) (int, []byte, error) {
	if c.tc == nil {
		if err := c.dial(ctx); err != nil {
			return 0, nil, err
		}
	}
	c.tc.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.tc.Write(req); err != nil {
		c.close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, nil, err
	}
	c.body.Reset()
	_, err = c.body.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.close()
		return 0, nil, fmt.Errorf("read response body: %w", err)
	}
	if resp.Close {
		c.close()
	}
	c.header = resp.Header
	return resp.StatusCode, c.body.Bytes(), nil
}

// requestBytes serializes an HTTP/1.1 request with the headers in the order given.
func requestBytes(method, host, path string, headers [][2]string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
