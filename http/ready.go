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

// SetDraining makes /readyz report 503 with the status "draining" from now on, so that load
// balancers stop sending requests to this node before it shuts down. Other requests are
// served as before.
func (s *Server) SetDraining() { s.draining.Store(true) }

// handleReady answers load balancers' health checks: 200 while the store answers and the
// change feed keeps this node's view of the keys current, 503 otherwise. A node that
// answers 503 here also answers 503 to token and bearer requests until it recovers, so a
// load balancer should take it out of rotation. Of the failed checks of an outage, only the
// first is logged in full, and s.outages counts the others.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, "application/json",
			readiness{Status: "draining", Detail: "this node is shutting down; send requests to another node", RequestID: requestIDFrom(r.Context())})
		return nil
	}
	if err := s.auth.Ready(r.Context()); err != nil {
		id := requestIDFrom(r.Context())
		if s.outages.failed(failedReadiness, id, err) {
			s.log.WarnContext(r.Context(), "not ready", "request_id", id, "error", err)
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, "application/json",
			readiness{Status: "unavailable", Detail: iogate.ErrorMessageOf(err), RequestID: id})
		return nil
	}
	writeJSON(w, http.StatusOK, "application/json", readiness{Status: "ready", RequestID: requestIDFrom(r.Context())})
	return nil
}
