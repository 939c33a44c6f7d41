package http

import (
	"net/http"
)

// handleHealth serves /healthz: the process is alive and serving HTTP.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
	return nil
}

// AdminHandler returns the handler of the admin listener: /metrics, /healthz and /readyz.
// It is meant for a private address, because metrics describe traffic.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "/healthz", map[string]handlerFunc{http.MethodGet: s.handleHealth})
	s.route(mux, "/readyz", map[string]handlerFunc{http.MethodGet: s.handleReady})
	if s.metrics != nil {
		// Registered through route, so that another method gets 405 with an Allow header as
		// on the other paths, not the catch-all's 404.
		metrics := s.metrics.Handler()
		s.route(mux, "/metrics", map[string]handlerFunc{http.MethodGet: func(w http.ResponseWriter, r *http.Request) error {
			metrics.ServeHTTP(w, r)
			return nil
		}})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errRouteNotFound) })
	return s.listenerMiddleware(rejectUncleanPaths(mux, s), "admin")
}
