package http

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/iogate/iogate/auth"
)

// maxExposedCredentials bounds how many credentials one plain HTTP request can make the
// server verify.
const maxExposedCredentials = 3

// presentedCredentials returns the credentials a request carries. They are a bearer token
// or Basic credentials in the Authorization header, an access token or client credentials
// in the query string, and client credentials in a JSON or form body of at most the token
// endpoints' size limit. Nothing it returns is logged.
func presentedCredentials(r *http.Request) []auth.ExposedCredential {
	var out []auth.ExposedCredential
	add := func(c auth.ExposedCredential) {
		if len(out) < maxExposedCredentials && (c.BearerToken != "" || c.ClientSecret != "") {
			out = append(out, c)
		}
	}

	authz := r.Header.Get("Authorization")
	if id, secret, err := parseBasicCredentials(authz); err == nil {
		add(auth.ExposedCredential{ClientID: id, ClientSecret: secret})
	} else if scheme, tok, ok := strings.Cut(authz, " "); ok && strings.EqualFold(scheme, "Bearer") {
		add(auth.ExposedCredential{BearerToken: strings.TrimSpace(tok)})
	}

	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
		add(auth.ExposedCredential{BearerToken: q.Get("access_token")})
		add(auth.ExposedCredential{ClientID: q.Get("client_id"), ClientSecret: q.Get("client_secret")})
	}

	body := peekBody(r, maxTokenBodyBytes)
	if len(body) == 0 {
		return out
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var v struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
		}
		if json.Unmarshal(body, &v) == nil {
			add(auth.ExposedCredential{ClientID: v.ClientID, ClientSecret: v.ClientSecret})
		}
	case "application/x-www-form-urlencoded":
		if q, err := url.ParseQuery(string(body)); err == nil {
			add(auth.ExposedCredential{ClientID: q.Get("client_id"), ClientSecret: q.Get("client_secret")})
			add(auth.ExposedCredential{BearerToken: q.Get("token")})
		}
	}
	return out
}
