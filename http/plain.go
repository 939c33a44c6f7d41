package http

import (
	"context"
	"fmt"
	"net/http"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// httpsRequired returns the error of every request that arrives over plain HTTP. It names
// the issuer, the HTTPS base URL of the API, so that a client configured with the wrong
// URL learns the right one.
func (s *Server) httpsRequired() error {
	where := "the https:// URL"
	if s.auth != nil {
		where = s.auth.Issuer()
	}
	return iogate.Errorf(iogate.CodeHTTPSRequired, "HTTPS is required: send this request to %s instead, and if it carried credentials, treat them as exposed", where)
}

// PlainHandler returns the handler of the plain HTTP listener: 403 with a JSON error for
// every request, never a redirect, because a redirect would teach clients that sending
// credentials over plain HTTP works.
func (s *Server) PlainHandler() http.Handler {
	return s.middleware(http.HandlerFunc(s.refusePlainHTTP), false)
}

// refusePlainHTTP rejects with 403 a request that reached iogate over plain HTTP, directly
// or through a trusted proxy that reported it. First it checks each credential the
// request carries with the same engine that serves HTTPS: one that verifies has crossed a
// network in clear text, so its key is marked exposed, or deleted with
// --revoke-exposed-credentials. One that does not verify changes nothing, because
// otherwise anyone who knew a client ID could have its key revoked. It counts as a failed
// authentication of the sending address. The response is the same in every case.
func (s *Server) refusePlainHTTP(w http.ResponseWriter, r *http.Request) {
	creds := presentedCredentials(r)
	addr := clientAddr(r)
	if len(creds) > 0 {
		// An address in its slowdown or block still gets its valid credentials marked, since
		// the response is the same either way, but its failures are not counted again.
		limited := s.limiter != nil && s.limiter.checkAddress(addr, true) != nil
		// The audit records of an exposure name iogate as the actor and the sender's
		// address.
		ctx := iogate.WithActor(r.Context(), iogate.Actor{Type: iogate.ActorSystem, IP: addr.String()})
		for _, c := range creds {
			exposure, ok := s.auth.VerifyExposed(c)
			if !ok {
				if s.limiter != nil && !limited {
					s.limiter.recordFailure(ctx, addr, c.ClientID)
				}
				continue
			}
			err := s.markExposed(ctx, exposure, limited)
			if err != nil && iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
				s.log.ErrorContext(ctx, "recording an exposed credential failed", "client_id", exposure.ClientID, "error", err, "request_id", requestIDFrom(ctx))
				continue
			}
			s.log.WarnContext(ctx, "valid credential received over plain HTTP",
				"client_id", exposure.ClientID, "credential", exposure.Kind, "secret_generation", exposure.Generation,
				"revoked", s.opts.RevokeExposedCredentials, "next_step", exposedStep(exposure.ClientID, s.opts.RevokeExposedCredentials),
				"remote_addr", addr.String(), "request_id", requestIDFrom(ctx))
		}
	}
	s.writeError(w, r, s.httpsRequired())
}

// exposedStep returns what an operator does next about the exposed key clientID, the
// advice of "iogate key show" for an exposed key. With revoked the key is already deleted,
// so its client needs a new key. The client ID is one that verified, not caller text.
func exposedStep(clientID string, revoked bool) string {
	if revoked {
		return fmt.Sprintf("the key was deleted, so create a new key for its client: \"iogate key show %s\" names the account, "+
			"and \"iogate key create --account ACCOUNT_ID --name NAME\" creates the key", clientID)
	}
	return fmt.Sprintf("rotate the key with \"iogate key rotate %s --grace 0\", or delete it with \"iogate key delete %s\"",
		clientID, clientID)
}

// markExposed marks the key of the exposure exposed, or deletes it with
// --revoke-exposed-credentials, waiting at most the store timeout, so that a database that
// stopped responding delays the 403 response by no more than that.
func (s *Server) markExposed(ctx context.Context, exposure auth.Exposure, limited bool) error {
	ctx, cancel := s.auth.WithStoreTimeout(ctx)
	defer cancel()
	mark := s.auth.MarkExposed
	if limited {
		// The address is past its rate or failure limit, so nothing else bounds how often
		// it can make the store write: record an exposure only once.
		mark = s.auth.MarkExposedOnce
	}
	return auth.StoreError(ctx, mark(ctx, exposure, s.opts.RevokeExposedCredentials))
}
