package http

import (
	"net/http"
	"net/url"

	"github.com/iogate/iogate"
)

// queryValues parses the query string of a /v1 GET request. A parameter sent more than
// once is invalid_request, as the /oauth2 endpoints treat a repeated form parameter:
// the handler would read only the first value, while a proxy or a cache in front of iogate
// might read another. An empty query string returns nil without parsing anything, so a
// request without parameters pays nothing for the check.
func queryValues(r *http.Request) (url.Values, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid query string: percent-encode reserved characters")
	}
	// Name the first repeated parameter in sort order, so that the message does not
	// depend on the map's iteration order.
	repeated, found := "", false
	for name, values := range q {
		if len(values) > 1 && (!found || name < repeated) {
			repeated, found = name, true
		}
	}
	if found {
		return nil, iogate.Errorf(iogate.CodeInvalid, "query parameter %s is repeated: send each parameter once", iogate.QuoteInput(repeated))
	}
	return q, nil
}
