package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// OpenAPI checks HTTP responses against an OpenAPI 3.1 document with kin-openapi, which
// validates OpenAPI 3.1 schemas as JSON Schema 2020-12.
type OpenAPI struct {
	doc    *openapi3.T
	router routers.Router
}

// LoadOpenAPI parses and validates an OpenAPI document. Its servers are dropped, so that
// routes match by path whatever host the tests use.
func LoadOpenAPI(data []byte) (*OpenAPI, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document: %w", err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &OpenAPI{doc: doc, router: router}, nil
}

// Doc returns the parsed document.
func (o *OpenAPI) Doc() *openapi3.T { return o.doc }

// CheckResponse reports how a response to req differs from the document: a status the
// operation does not list, a missing required header, or a body that its schema rejects.
// A request that matches no operation must have got the document's 404 (unknown path) or
// 405 (method not allowed) response. Access tokens and client secrets in the error are
// redacted.
func (o *OpenAPI) CheckResponse(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := o.router.FindRoute(req)
	if err != nil {
		return o.checkUnrouted(req, status, header, body)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return fmt.Errorf("%s %s: status %d does not match openapi.json: %s", req.Method, req.URL.Path, status, redactSecrets(err.Error()))
	}
	return nil
}

// checkUnrouted checks a response to a request for which the document has no operation.
func (o *OpenAPI) checkUnrouted(req *http.Request, status int, header http.Header, body []byte) error {
	name := ""
	switch status {
	case http.StatusNotFound:
		name = "NotFound"
	case http.StatusMethodNotAllowed:
		name = "MethodNotAllowed"
		if strings.HasPrefix(req.URL.Path, "/oauth2/") {
			name = "OAuthMethodNotAllowed"
		}
	default:
		return fmt.Errorf("%s %s: status %d, but openapi.json has no such operation; document the route in http/openapi.json", req.Method, req.URL.Path, status)
	}
	if strings.HasPrefix(req.URL.Path, "/oauth2/") && status == http.StatusNotFound {
		// Unknown /oauth2/ paths return errors in the OAuth form.
		return o.checkSchema(req, status, header, body, "OAuthError")
	}
	ref := o.doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("openapi.json lacks components.responses.%s", name)
	}
	for hname, h := range ref.Value.Headers {
		if h.Value != nil && h.Value.Required && header.Get(hname) == "" {
			return fmt.Errorf("%s %s: status %d lacks the required header %s of components.responses.%s", req.Method, req.URL.Path, status, hname, name)
		}
	}
	for _, mt := range ref.Value.Content {
		if mt.Schema != nil {
			return o.checkValue(req, status, header, body, mt.Schema.Value, "components.responses."+name)
		}
	}
	return nil
}

func (o *OpenAPI) checkSchema(req *http.Request, status int, header http.Header, body []byte, schema string) error {
	ref := o.doc.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("openapi.json lacks components.schemas.%s", schema)
	}
	return o.checkValue(req, status, header, body, ref.Value, "components.schemas."+schema)
}

func (o *OpenAPI) checkValue(req *http.Request, status int, header http.Header, body []byte, schema *openapi3.Schema, where string) error {
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/problem+json") {
		return fmt.Errorf("%s %s: status %d has Content-Type %q, want JSON as %s", req.Method, req.URL.Path, status, header.Get("Content-Type"), where)
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("%s %s: status %d body is not JSON: %v", req.Method, req.URL.Path, status, err)
	}
	if err := schema.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("%s %s: status %d body does not match %s: %s", req.Method, req.URL.Path, status, where, redactSecrets(err.Error()))
	}
	return nil
}

// secretPattern matches what must not reach test output: JWTs and generated client
// secrets.
var secretPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|iogs_[A-Za-z0-9]+`)

func redactSecrets(s string) string { return secretPattern.ReplaceAllString(s, "[REDACTED]") }

// ValidatingTransport returns a RoundTripper that checks every response passing through
// base against the document and reports each mismatch with t.Errorf.
func (o *OpenAPI) ValidatingTransport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	return &validatingTransport{t: t, api: o, base: base}
}

type validatingTransport struct {
	t    testing.TB
	api  *OpenAPI
	base http.RoundTripper
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := v.api.CheckResponse(req, resp.StatusCode, resp.Header, body); err != nil {
		v.t.Errorf("OpenAPI check: %v", err)
	}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the base transport.
func (v *validatingTransport) CloseIdleConnections() {
	if c, ok := v.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
