package http

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/iogate/iogate"
)

// statusOf maps each domain error code to its HTTP status. It is the only place where a
// status is chosen for an error.
var statusOf = map[iogate.ErrorCode]int{
	iogate.CodeInvalid:              http.StatusBadRequest,
	iogate.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	iogate.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	iogate.CodeInvalidClient:        http.StatusUnauthorized,
	iogate.CodeInvalidToken:         http.StatusUnauthorized,
	iogate.CodeInvalidScope:         http.StatusBadRequest,
	iogate.CodeInsufficientScope:    http.StatusForbidden,
	iogate.CodeForbidden:            http.StatusForbidden,
	iogate.CodeNotFound:             http.StatusNotFound,
	iogate.CodeConflict:             http.StatusConflict,
	iogate.CodeHTTPSRequired:        http.StatusForbidden,
	iogate.CodeRateLimited:          http.StatusTooManyRequests,
	iogate.CodeUnavailable:          http.StatusServiceUnavailable,
	iogate.CodeInternal:             http.StatusInternalServerError,
}

// errMethodNotAllowed and errNotFound are the errors of requests that match no route.
var (
	errMethodNotAllowed = &iogate.Error{Code: "method_not_allowed", Message: "this method is not allowed on this path"}
	errRouteNotFound    = iogate.Errorf(iogate.CodeNotFound, "no such endpoint")
)

// Problem is an RFC 9457 problem-details body, the shape of every /v1 error. Code is the
// stable machine-readable error code.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"requestId"`
}

// writeError writes err as problem details with the status its code maps to. Internal
// errors are logged here, once, with their cause; the client sees only a generic message
// and the request ID.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := iogate.ErrorCodeOf(err)
	status, ok := statusOf[code]
	switch {
	case errors.Is(err, errMethodNotAllowed):
		status = http.StatusMethodNotAllowed
	case !ok:
		status = http.StatusInternalServerError
		code = iogate.CodeInternal
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "status", status, "error", err)
	} else {
		s.log.DebugContext(r.Context(), "request rejected", "status", status, "code", string(code))
	}
	if code == iogate.CodeRateLimited && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	p := Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    iogate.ErrorMessageOf(err),
		Code:      string(code),
		RequestID: requestIDFrom(r.Context()),
	}
	if status >= 500 && code == iogate.CodeInternal {
		p.Detail = "internal error; quote the request ID when reporting it"
	}
	writeJSON(w, status, "application/problem+json", p)
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response failed", "error", err)
		http.Error(w, `{"code":"internal"}`, http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
