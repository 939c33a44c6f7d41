package http

import (
	"net/http"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// introspectionResponse is the body of POST /oauth2/introspect for an active token (RFC
// 7662 section 2.2). An inactive token gets exactly {"active":false}.
type introspectionResponse struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	TokenType string `json:"token_type"`
	Expiry    int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	Issuer    string `json:"iss"`
	TokenID   string `json:"jti"`
}

// inactiveToken is the whole response for any token that is not an active token of the
// calling client, so that a client learns nothing about other clients' tokens.
var inactiveToken = struct {
	Active bool `json:"active"`
}{false}

// handleIntrospect serves POST /oauth2/introspect (RFC 7662). The caller authenticates as
// a client, the same ways as at the token endpoint, and learns about its own tokens only.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	setNoStore(w)
	req, tok, err := s.readTokenRequest(w, r)
	if err != nil {
		return err
	}
	claims, ok := s.auth.IntrospectToken(r.Context(), req.clientID, tok)
	if !ok {
		writeJSON(w, http.StatusOK, "application/json", inactiveToken)
		return nil
	}
	writeJSON(w, http.StatusOK, "application/json", introspectionResponse{
		Active:    true,
		Scope:     claims.Scope,
		ClientID:  claims.ClientID,
		TokenType: "Bearer",
		Expiry:    claims.Expiry,
		IssuedAt:  claims.IssuedAt,
		NotBefore: claims.NotBefore,
		Subject:   claims.Subject,
		Audience:  claims.Audience,
		Issuer:    claims.Issuer,
		TokenID:   claims.ID,
	})
	return nil
}

// handleRevoke serves POST /oauth2/revoke (RFC 7009). Revoking an unknown, malformed or
// expired token succeeds, as section 2.2 requires. A token issued to another client is
// rejected with unauthorized_client, as section 2.1 requires. The optional token_type_hint is
// ignored: iogate issues access tokens only.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	setNoStore(w)
	req, tok, err := s.readTokenRequest(w, r)
	if err != nil {
		return err
	}
	ctx, cancel := s.auth.WithStoreTimeout(r.Context())
	defer cancel()
	if err := s.auth.RevokeToken(ctx, req.clientID, tok, clientAddr(r)); err != nil {
		return auth.StoreError(ctx, err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// readTokenRequest reads an introspection or revocation request, authenticates the
// calling client and returns the token parameter.
func (s *Server) readTokenRequest(w http.ResponseWriter, r *http.Request) (*oauthRequest, string, error) {
	req, err := readOAuthRequest(w, r)
	if err != nil {
		return nil, "", err
	}
	tok := req.form.Get("token")
	if tok == "" {
		return nil, "", iogate.Errorf(iogate.CodeInvalid, "missing token parameter: send the token to look up as token=...")
	}
	c, err := s.auth.AuthenticateClient(r.Context(), req.clientID, req.clientSecret, clientAddr(r))
	if err != nil {
		markOutdatedCredential(r, err)
		logRefusedClient(r, err, req.clientID)
		return nil, "", err
	}
	stateFrom(r.Context()).clientID = c.ClientID
	return req, tok, nil
}
