package http

import (
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

// useFormToken records the post's form token as used right before its change. It returns
// false, having rendered the page for a repeated post, when another request used the
// token first.
func (d *Dashboard) useFormToken(w http.ResponseWriter, r *http.Request, c *user.Current, purpose string, page keySubmitted) (bool, error) {
	err := d.users.UseFormToken(r.Context(), c, purpose, r.PostForm.Get(formTokenField))
	if errors.Is(err, user.ErrFormUsed) {
		d.renderSubmitted(w, r, c, page)
		return false, nil
	}
	return err == nil, err
}

// releaseFormToken makes the post's form token usable again after its change failed, so
// that the user can correct the form and submit it again. A failure is logged, because
// the change's own error is what the user must see.
func (d *Dashboard) releaseFormToken(r *http.Request, c *user.Current) {
	if err := d.users.ReleaseFormToken(r.Context(), r.PostForm.Get(formTokenField)); err != nil {
		d.log.ErrorContext(r.Context(), "release form token failed", "error", err, "user_id", c.User.ID,
			"path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
	}
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
