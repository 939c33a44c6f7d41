package http

import (
	"net/http"

	"github.com/iogate/iogate"
)

// errHTTPSRequired is the answer to every request on the plain HTTP listener.
var errHTTPSRequired = iogate.Errorf(iogate.CodeHTTPSRequired, "HTTPS is required: send this request to the https:// URL instead; if it carried credentials, treat them as exposed")

// PlainHandler returns the handler of the plain HTTP listener: 403 with a JSON error for
// every request, never a redirect, because a redirect would teach clients that sending
// credentials over plain HTTP works.
func (s *Server) PlainHandler() http.Handler {
	return s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errHTTPSRequired)
	}), false)
}
