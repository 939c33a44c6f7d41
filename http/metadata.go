package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/iogate/iogate"
)

// Paths of the discovery documents.
const (
	metadataPath = "/.well-known/oauth-authorization-server"
	jwksPath     = "/.well-known/jwks.json"
)

// discoveryMaxAge is how long clients may cache the metadata and the JWKS, in seconds. A
// new signing key is published longer than this before it signs (see
// auth.DefaultActivationDelay), so verifiers that honour it always know the key.
const discoveryMaxAge = 300

// DiscoveryMaxAge is how long clients may cache the metadata and the JWKS.
const DiscoveryMaxAge = discoveryMaxAge * time.Second

// authorizationServerMetadata is the RFC 8414 metadata document.
type authorizationServerMetadata struct {
	Issuer                                    string   `json:"issuer"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	ScopesSupported                           []string `json:"scopes_supported"`
	ResponseTypesSupported                    []string `json:"response_types_supported"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	ServiceDocumentation                      string   `json:"service_documentation"`
}

// clientAuthMethods are the client authentication methods of every /oauth2 endpoint.
var clientAuthMethods = []string{"client_secret_basic", "client_secret_post"}

// handleMetadata serves the authorization server metadata of RFC 8414. Its issuer is the
// "iss" claim of every token, and the document sits at the issuer plus the well-known path,
// as section 3 requires of an issuer without a path.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	issuer := s.auth.Issuer()
	setMaxAge(w)
	writeJSON(w, http.StatusOK, "application/json", authorizationServerMetadata{
		Issuer:                issuer,
		TokenEndpoint:         issuer + "/oauth2/token",
		JWKSURI:               issuer + jwksPath,
		IntrospectionEndpoint: issuer + "/oauth2/introspect",
		RevocationEndpoint:    issuer + "/oauth2/revoke",
		ScopesSupported:       iogate.AllScopes,
		// iogate has no authorization endpoint, so it supports no response type.
		ResponseTypesSupported:                    []string{},
		GrantTypesSupported:                       []string{grantClientCredentials},
		TokenEndpointAuthMethodsSupported:         clientAuthMethods,
		IntrospectionEndpointAuthMethodsSupported: clientAuthMethods,
		RevocationEndpointAuthMethodsSupported:    clientAuthMethods,
		ServiceDocumentation:                      issuer + openAPIPath,
	})
	return nil
}

// handleJWKS serves the public keys that verify access tokens: the key that signs now, a
// key that will sign soon, and retired keys whose tokens may still be valid.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	setMaxAge(w)
	writeEncodedJSON(w, s.auth.Keyring().JWKS())
	return nil
}

func setMaxAge(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(discoveryMaxAge))
}

// writeEncodedJSON writes a JSON body that is already encoded, with status 200.
func writeEncodedJSON(w http.ResponseWriter, body []byte) {
	writeEncoded(w, http.StatusOK, "application/json", body)
}
