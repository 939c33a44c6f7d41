package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/iogate/iogate/user"
)

// formTokenField is the form field of a single-use form token. Forms whose repeated post
// would repeat a change carry one: creating a key, where a reload of the secret page would
// create a second key, and rotating one, where it would retire the secret just shown.
const formTokenField = "form_token"

// createKeyPurpose is the purpose of the create-key form's token.
const createKeyPurpose = "create-key"

// rotateKeyPurpose returns the purpose of the rotation form's token for a key, so that a
// token of one key's form is invalid for another.
func rotateKeyPurpose(clientID string) string { return "rotate-key/" + clientID }

// keySubmitted is the data of the page shown for a repeated post of a create or rotate
// form.
type keySubmitted struct {
	Rotated bool
	KeyName string
}

// checkFormToken returns whether the post's form token is still unused. When it was used,
// it renders the page for a repeated post. An invalid token is an error.
func (d *Dashboard) checkFormToken(w http.ResponseWriter, r *http.Request, c *user.Current, purpose string, page keySubmitted) (bool, error) {
	used, err := d.users.FormTokenUsed(r.Context(), c, purpose, r.PostForm.Get(formTokenField))
	if err != nil || !used {
		return err == nil, err
	}
	d.renderSubmitted(w, r, c, page)
	return false, nil
}

// formTokenContext returns the audit context of the change, carrying the post's form token,
// which the store records in the transaction of the key change made with it. A change that
// fails or is canceled, as when the client disconnects, thus leaves the token unused, and
// the same form can be posted again.
func (d *Dashboard) formTokenContext(r *http.Request, c *user.Current, purpose string) (context.Context, error) {
	return d.users.WithFormToken(actorContext(r, c), c, purpose, r.PostForm.Get(formTokenField))
}

// renderIfSubmitted renders the page for a repeated post and reports true when err is
// ErrFormUsed: another request with the same form token made the change first.
func (d *Dashboard) renderIfSubmitted(w http.ResponseWriter, r *http.Request, c *user.Current, err error, page keySubmitted) bool {
	if !errors.Is(err, user.ErrFormUsed) {
		return false
	}
	d.renderSubmitted(w, r, c, page)
	return true
}

// renderSubmitted renders, with 409 Conflict, the page for a repeated post of a create or
// rotate form: the change was made before, and its secret is not shown again.
func (d *Dashboard) renderSubmitted(w http.ResponseWriter, r *http.Request, c *user.Current, page keySubmitted) {
	title := "API key already created"
	if page.Rotated {
		title = "Secret already rotated"
	}
	v := d.newView(c, title, "keys")
	v.Data = page
	d.render(w, r, http.StatusConflict, "key_submitted", v)
}
