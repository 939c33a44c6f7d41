package http

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// tlsRecordHandshake is the first byte of every TLS connection: the content type of the
// record that carries the ClientHello (RFC 8446 section 5.1).
const tlsRecordHandshake = 0x16

// SplitPlainHTTP accepts the connections of ln and sorts them by their first byte. TLS
// connections come out of the first listener returned, already wrapped by tls.Server with
// cfg. Every other connection comes out of the second, unwrapped, for PlainHandler.
// Without the split, Go's TLS server responds to a plain HTTP request on the HTTPS port
// with its own 400, and a credential that crossed the network in clear text is never seen.
//
// A connection that sends nothing within firstByteTimeout is closed. Closing either
// listener closes ln and both listeners.
func SplitPlainHTTP(ln net.Listener, cfg *tls.Config, firstByteTimeout time.Duration) (tlsListener, plainListener net.Listener) {
	s := &splitter{
		ln:      ln,
		cfg:     cfg,
		timeout: firstByteTimeout,
		tls:     make(chan net.Conn),
		plain:   make(chan net.Conn),
		done:    make(chan struct{}),
	}
	go s.acceptLoop()
	return &splitListener{s: s, conns: s.tls}, &splitListener{s: s, conns: s.plain}
}

type splitter struct {
	ln      net.Listener
	cfg     *tls.Config
	timeout time.Duration
	tls     chan net.Conn
	plain   chan net.Conn

	// done is closed by close. err is the error that ended the accept loop, if it ended
	// before close.
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	err       error
}

// acceptLoop accepts connections until ln is closed, backing off after other errors as
// net/http does, and sorts each connection in a goroutine of its own, so that a
// client that connects and sends nothing holds up no other.
func (s *splitter) acceptLoop() {
	var delay time.Duration
	for {
		conn, err := s.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.close()
			return
		}
		if err != nil {
			// Too many open files, or a connection aborted before it was accepted.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
				continue
			case <-s.done:
				return
			}
		}
		delay = 0
		go s.sort(conn)
	}
}

// sort reads the first byte of conn and hands conn to the listener it belongs to.
func (s *splitter) sort(conn net.Conn) {
	var first [1]byte
	conn.SetReadDeadline(time.Now().Add(s.timeout))
	if _, err := conn.Read(first[:]); err != nil {
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	var c net.Conn = &peekedConn{Conn: conn, first: first[0], unread: true}
	out := s.plain
	if first[0] == tlsRecordHandshake {
		c, out = tls.Server(c, s.cfg), s.tls
	}
	select {
	case out <- c:
	case <-s.done:
		c.Close()
	}
}

func (s *splitter) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ln.Close()
	})
}

// splitListener is one of the two listeners that SplitPlainHTTP returns.
type splitListener struct {
	s     *splitter
	conns chan net.Conn
}

func (l *splitListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.s.done:
		l.s.mu.Lock()
		defer l.s.mu.Unlock()
		if l.s.err != nil {
			return nil, l.s.err
		}
		return nil, net.ErrClosed
	}
}

func (l *splitListener) Close() error {
	l.s.close()
	return nil
}

func (l *splitListener) Addr() net.Addr { return l.s.ln.Addr() }

// peekedConn is a connection whose first byte has been read, and which returns it again
// before the rest.
type peekedConn struct {
	net.Conn
	first  byte
	unread bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.unread && len(p) > 0 {
		p[0] = c.first
		c.unread = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the TCP connection. net/http calls it before it closes a
// connection, so that the client reads the whole response before the connection resets.
func (c *peekedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
