package http

import (
	"net/http"
)

// handleHealth serves /healthz: the process is alive and serving HTTP.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
	return nil
}

// handleReady serves /readyz: 200 when the store can be read and the key view is current
// (within the engine's configured lag bound), else 503 with the reason. Load balancers
// should route only to ready nodes.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	h := s.auth.CheckHealth(r.Context())
	body := map[string]any{"status": "ok", "feedLagSeconds": h.Lag.Seconds()}
	status := http.StatusOK
	if !h.Ready {
		status = http.StatusServiceUnavailable
		body["status"] = "unavailable"
		body["reason"] = h.Reason
	}
	writeJSON(w, status, "application/json", body)
	return nil
}

// AdminHandler returns the handler of the admin listener: /metrics, /healthz and /readyz.
// It is meant for a private address, because metrics describe traffic.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "/healthz", map[string]handlerFunc{http.MethodGet: s.handleHealth})
	s.route(mux, "/readyz", map[string]handlerFunc{http.MethodGet: s.handleReady})
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics.Handler())
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errRouteNotFound) })
	return s.listenerMiddleware(mux, "admin")
}
