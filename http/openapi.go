package http

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
)

// openAPIPath is the path of the OpenAPI document.
const openAPIPath = "/openapi.json"

// OpenAPIDocument is the OpenAPI 3.1 description of the whole HTTPS API: every route, every
// status each can return, and a schema for every response body. Tests check the responses
// they see against it. It has no "servers" entry; the served copy gets the issuer as its
// server URL.
//
//go:embed openapi.json
var OpenAPIDocument []byte

// openAPIForIssuer returns the document with the issuer as its only server URL.
func openAPIForIssuer(issuer string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPIDocument, &doc); err != nil {
		return nil, fmt.Errorf("parse embedded openapi.json: %w", err)
	}
	doc["servers"] = []map[string]string{{"url": issuer}}
	return marshalJSON(doc)
}

// handleOpenAPI serves the OpenAPI document.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	body, err := openAPIForIssuer(s.auth.Issuer())
	if err != nil {
		return err
	}
	setMaxAge(w)
	writeEncodedJSON(w, body)
	return nil
}
