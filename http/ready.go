package http

import (
	"net/http"

	"github.com/iogate/iogate"
)

// readiness is the body of /readyz.
type readiness struct {
	Status string `json:"status"`
	// Detail says what is not ready; absent when ready.
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"requestId"`
}

// handleReady answers load balancers' health checks: 200 while the store answers and the
// change feed keeps this node's view of the keys current, 503 otherwise. A node that
// answers 503 here also answers 503 to token and bearer requests until it recovers, so a
// load balancer should take it out of rotation.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if err := s.auth.Ready(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "error", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, "application/json",
			readiness{Status: "unavailable", Detail: iogate.ErrorMessageOf(err), RequestID: requestIDFrom(r.Context())})
		return nil
	}
	writeJSON(w, http.StatusOK, "application/json", readiness{Status: "ready", RequestID: requestIDFrom(r.Context())})
	return nil
}
