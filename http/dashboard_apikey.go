package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/user"
)

// keyRow is one key of the key list, with what the list warns about.
type keyRow struct {
	iogate.APIKeyView
	SecretAge time.Duration
	// AgeWarning is set when the current secret is older than the configured warning age.
	AgeWarning bool
	Expired    bool
}

// keyList is the data of the key list page.
type keyList struct {
	Keys          []keyRow
	NextCursor    string
	KeyAgeWarning time.Duration
	Warnings      int
}

func (d *Dashboard) handleKeyList(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	keys, next, err := d.cfg.Store.ListAPIKeys(r.Context(), c.Account.ID, page)
	if err != nil {
		return err
	}
	now := d.users.Now()
	list := keyList{NextCursor: next, KeyAgeWarning: d.cfg.KeyAgeWarning}
	for _, k := range keys {
		row := keyRow{APIKeyView: k.View(now), SecretAge: now.Sub(k.SecretCreatedAt), Expired: k.Expired(now)}
		row.AgeWarning = row.SecretAge >= d.cfg.KeyAgeWarning
		if row.AgeWarning || row.Exposed {
			list.Warnings++
		}
		list.Keys = append(list.Keys, row)
	}
	v := d.newView(c, "API Keys", "keys")
	v.Notice = noticeFrom(r)
	warning, err := d.savedKeyWarning(r, c)
	if err != nil {
		return err
	}
	if warning != "" {
		v.Notice += " " + warning
	}
	v.Data = list
	d.render(w, r, http.StatusOK, "keys", v)
	return nil
}

// savedKeyWarning returns catchAllNotice of the key that the edit form has just saved, which
// the query parameter saved names beside notice=key-updated. A key of another account or an
// unknown client ID gets none, so that a crafted link shows nothing about them.
func (d *Dashboard) savedKeyWarning(r *http.Request, c *user.Current) (string, error) {
	query := r.URL.Query()
	if query.Get("notice") != "key-updated" || query.Get("saved") == "" {
		return "", nil
	}
	k, err := d.findKeyOfAccount(r.Context(), c, query.Get("saved"))
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return catchAllNotice(k.AllowedIPs), nil
}

// catchAllNotice returns iogate.CatchAllWarning about allowed as sentences for a page, with
// what to type instead, or "" when allowed has no entry with a prefix length of 0.
func catchAllNotice(allowed []netip.Prefix) string {
	warning := iogate.CatchAllWarning(allowed)
	if warning == "" {
		return ""
	}
	return sentence(warning) + " To get one, leave the Allowed IP addresses field empty."
}

// keyForm is the data of the create and edit forms, as typed, with an error per field.
type keyForm struct {
	ClientID    string
	Name        string
	Description string
	Scopes      map[string]bool
	AllowedIPs  string
	ExpiresIn   string
	// ExpiresAt is the current expiry of an edited key, zero when it has none.
	ExpiresAt   time.Time
	NeedConfirm bool
	Fields      map[string]string
	AllScopes   []string
	// FormToken is the single-use token of the create form; the edit form has none.
	FormToken string
}

func (f *keyForm) fail(field, msg string) {
	if f.Fields == nil {
		f.Fields = map[string]string{}
	}
	if prev := f.Fields[field]; prev != "" {
		msg = prev + " " + msg
	}
	f.Fields[field] = msg
}

func newKeyForm() *keyForm {
	return &keyForm{Scopes: map[string]bool{iogate.ScopeVaultsRead: true}, AllScopes: iogate.AllScopes}
}

// readKeyForm reads and checks the posted key fields. Every problem is reported against its
// field, naming the entry at fault, so the page can show all of them at once. stored is the
// key of an edit form and nil for the create form. A name or description that the edit
// form sends back unchanged is kept as stored and not checked again.
func readKeyForm(r *http.Request, f *keyForm, stored *iogate.APIKey) (scopes, allowed []string, expiresIn time.Duration) {
	form := r.PostForm
	f.Name = strings.TrimSpace(form.Get("name"))
	f.Description = strings.TrimSpace(form.Get("description"))
	f.AllowedIPs = form.Get("allowed_ips")
	f.ExpiresIn = strings.TrimSpace(form.Get("expires_in"))
	f.Scopes = map[string]bool{}
	for _, s := range form["scope"] {
		f.Scopes[s] = true
	}

	if stored != nil {
		f.Name = keepStoredText(f.Name, stored.Name)
		f.Description = keepStoredText(f.Description, stored.Description)
	}
	if stored == nil || f.Name != stored.Name {
		if err := iogate.ValidateKeyName(f.Name); err != nil {
			f.fail("name", capitalize(iogate.ErrorMessageOf(err))+".")
		}
	}
	if stored == nil || f.Description != stored.Description {
		if err := iogate.ValidateKeyDescription(f.Description); err != nil {
			f.fail("description", capitalize(iogate.ErrorMessageOf(err))+".")
		}
	}

	scopes = form["scope"]
	if _, err := iogate.ValidateScopes(scopes); err != nil {
		f.fail("scope", capitalize(iogate.ErrorMessageOf(err))+".")
	}

	allowed = splitEntries(f.AllowedIPs)
	if len(allowed) > iogate.MaxAllowedIPs {
		f.fail("allowed_ips", fmt.Sprintf("Too many entries: %d, at most %d.", len(allowed), iogate.MaxAllowedIPs))
	} else {
		for i, e := range allowed {
			if _, err := iogate.ParseAllowedIP(e); err != nil {
				f.fail("allowed_ips", fmt.Sprintf("Entry %d: %s.", i+1, capitalize(iogate.ErrorMessageOf(err))))
			}
		}
	}

	if f.ExpiresIn != "" {
		d, err := iogate.ParseDuration(f.ExpiresIn)
		switch {
		case err != nil:
			f.fail("expires_in", fmt.Sprintf("%s is not a duration: use a form such as 30d, 720h or 90d.", iogate.QuoteInput(f.ExpiresIn)))
		case d < time.Hour:
			f.fail("expires_in", fmt.Sprintf("%s is too short: a key must live at least 1h.", iogate.QuoteInput(f.ExpiresIn)))
		case d > 3650*24*time.Hour:
			f.fail("expires_in", fmt.Sprintf("%s is too long: at most 3650d.", iogate.QuoteInput(f.ExpiresIn)))
		default:
			expiresIn = d
		}
	}
	return scopes, allowed, expiresIn
}

// keepStoredText returns stored if posted is what the edit form sends back for it
// unchanged, and posted otherwise. A browser drops line breaks from a text input and sends
// those of a textarea as CR LF, and readKeyForm trims spaces at both ends. Without this, a
// stored value with any of those would count as changed, and be checked again, when the
// user changed only another field.
func keepStoredText(posted, stored string) string {
	asTextInput := strings.NewReplacer("\r", "", "\n", "").Replace(stored)
	asTextarea := strings.ReplaceAll(strings.ReplaceAll(stored, "\r\n", "\n"), "\n", "\r\n")
	for _, sent := range []string{stored, asTextInput, asTextarea} {
		if posted == strings.TrimSpace(sent) {
			return stored
		}
	}
	return posted
}

// splitEntries splits a textarea of allowlist entries on line breaks, commas and spaces.
func splitEntries(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t'
	})
}

// sentence returns a domain error message as a sentence for a page: capitalized, with a
// final period.
func sentence(msg string) string {
	msg = capitalize(msg)
	if msg != "" && !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (d *Dashboard) handleNewKey(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	f := newKeyForm()
	f.NeedConfirm = d.users.NeedsConfirmation(c)
	f.FormToken = d.users.NewFormToken(c, createKeyPurpose)
	v := d.newView(c, "Create API key", "keys")
	v.Data = f
	d.render(w, r, http.StatusOK, "key_form", v)
	return nil
}

// keySecret is the data of the page that shows a new secret, once.
type keySecret struct {
	Key        iogate.APIKeyView
	Secret     string
	Rotated    bool
	TokenURL   string
	CACertHint string
}

// handleCreateKey creates a key from the create form, once per form: a repeated post of the
// same form, such as a reload of the secret page, gets a page saying the key was created.
func (d *Dashboard) handleCreateKey(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	if unused, err := d.checkFormToken(w, r, c, createKeyPurpose, keySubmitted{}); !unused {
		return err
	}
	f := newKeyForm()
	f.FormToken = r.PostForm.Get(formTokenField)
	scopes, allowed, expiresIn := readKeyForm(r, f, nil)
	if f.Fields == nil {
		if _, err := d.confirmIfNeeded(w, r, c, f.fail); err != nil {
			return err
		}
	}
	if f.Fields != nil {
		f.NeedConfirm = d.users.NeedsConfirmation(c)
		v := d.newView(c, "Create API key", "keys")
		v.Data = f
		d.render(w, r, rejectedStatus(w), "key_form", v)
		return nil
	}
	ctx, err := d.formTokenContext(r, c, createKeyPurpose)
	if err != nil {
		return err
	}
	k, secret, err := d.cfg.Auth.CreateKey(ctx, auth.CreateKeyRequest{
		AccountID:   c.Account.ID,
		Name:        f.Name,
		Description: f.Description,
		Scopes:      scopes,
		AllowedIPs:  allowed,
		ExpiresIn:   expiresIn,
	})
	if d.renderIfSubmitted(w, r, c, err, keySubmitted{}) {
		return nil
	}
	if err != nil {
		return err
	}
	d.renderSecret(w, r, c, k, secret, false)
	return nil
}

// renderSecret shows a new client secret. It is the only response that ever carries it:
// the store keeps a keyed hash, and the page is served with Cache-Control: no-store.
func (d *Dashboard) renderSecret(w http.ResponseWriter, r *http.Request, c *user.Current, k *iogate.APIKey, secret iogate.Secret, rotated bool) {
	title := "API key created"
	if rotated {
		title = "New secret for " + k.Name
	}
	v := d.newView(c, title, "keys")
	v.Data = keySecret{
		Key:        k.View(d.users.Now()),
		Secret:     secret.Reveal(),
		Rotated:    rotated,
		TokenURL:   strings.TrimRight(d.cfg.PublicURL, "/") + "/v1/auth/accessToken",
		CACertHint: d.cfg.CACertHint,
	}
	if !rotated {
		v.Notice = catchAllNotice(k.AllowedIPs)
	}
	d.render(w, r, http.StatusOK, "key_secret", v)
}

// findAccountKey returns the key with the client ID in the path if it belongs to the
// signed-in account. A key of another account is reported as not found.
func (d *Dashboard) findAccountKey(r *http.Request, c *user.Current) (*iogate.APIKey, error) {
	return d.findKeyOfAccount(r.Context(), c, r.PathValue("id"))
}

// findKeyOfAccount returns the key with client ID id if it belongs to the signed-in
// account. A key of another account is reported as not found.
func (d *Dashboard) findKeyOfAccount(ctx context.Context, c *user.Current, id string) (*iogate.APIKey, error) {
	notFound := iogate.Errorf(iogate.CodeNotFound, "No API key with client ID %s in this account.", iogate.QuoteInput(id))
	if !iogate.ValidClientID(id) {
		return nil, notFound
	}
	k, err := d.cfg.Store.FindAPIKey(ctx, id)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound || err == nil && k.AccountID != c.Account.ID {
		return nil, notFound
	}
	return k, err
}

// errRotatedSinceLoaded is the error of a rotation form whose key was rotated after the
// form was loaded, in another tab or by a form posted at the same moment.
var errRotatedSinceLoaded = iogate.Errorf(iogate.CodeConflict, "This key was rotated since this page was loaded; its new secret was shown once then. Reload the key list to see its state.")

// keyDelete is the data of the delete confirmation page.
type keyDelete struct {
	Key iogate.APIKeyView
	// ConfirmName is the key name as typed, shown again when the form has errors.
	ConfirmName string
	NeedConfirm bool
	Fields      map[string]string
}

func (d *Dashboard) handleDeleteKey(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	k, err := d.findAccountKey(r, c)
	if err != nil {
		return err
	}
	data := &keyDelete{Key: k.View(d.users.Now())}
	fail := func(field, msg string) {
		if data.Fields == nil {
			data.Fields = map[string]string{}
		}
		data.Fields[field] = msg
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		data.ConfirmName = r.PostForm.Get("confirm_name")
		// Both sides are trimmed: a key named with surrounding spaces (possible through the
		// CLI) must still be deletable by typing its name.
		nameMatches := strings.TrimSpace(data.ConfirmName) == strings.TrimSpace(k.Name)
		if !nameMatches {
			fail("confirm_name", fmt.Sprintf("Type the key's name, %s, exactly to confirm.", k.Name))
		}
		// A password typed beside a mistyped name is still checked, as the first TOTP code's
		// form checks one beside a wrong code, so that the user need not type it again. A
		// mistyped name without one checks nothing, so it never counts against the limit.
		if nameMatches || r.PostForm.Get("confirm") != "" {
			if _, err := d.confirmIfNeeded(w, r, c, fail); err != nil {
				return err
			}
		}
		if data.Fields == nil {
			if err := d.cfg.Auth.DeleteKey(actorContext(r, c), k.ClientID); err != nil {
				return err
			}
			seeOther(w, r, "/dashboard/keys", "key-deleted")
			return nil
		}
		status = rejectedStatus(w)
	}
	data.NeedConfirm = d.users.NeedsConfirmation(c)
	v := d.newView(c, "Delete "+k.Name, "keys")
	v.Data = data
	d.render(w, r, status, "key_delete", v)
	return nil
}

// keyFormOf returns the edit form of an existing key, filled with its current values.
func keyFormOf(k *iogate.APIKey) *keyForm {
	f := &keyForm{
		ClientID:    k.ClientID,
		Name:        k.Name,
		Description: k.Description,
		Scopes:      map[string]bool{},
		AllowedIPs:  strings.Join(iogate.FormatAllowedIPs(k.AllowedIPs), "\n"),
		ExpiresAt:   k.ExpiresAt,
		AllScopes:   iogate.AllScopes,
	}
	for _, s := range k.Scopes {
		f.Scopes[s] = true
	}
	return f
}

// handleEditKey shows and saves the edit form of a key. Every field is sent, and the auth
// service records only what changed.
func (d *Dashboard) handleEditKey(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	k, err := d.findAccountKey(r, c)
	if err != nil {
		return err
	}
	f := keyFormOf(k)
	status := http.StatusOK
	if r.Method == http.MethodPost {
		scopes, allowed := d.readEditForm(r, f, k)
		if f.Fields == nil {
			if _, err := d.confirmIfNeeded(w, r, c, f.fail); err != nil {
				return err
			}
		}
		if f.Fields == nil {
			req := auth.UpdateKeyRequest{Name: &f.Name, Description: &f.Description, Scopes: scopes, AllowedIPs: allowed}
			if expiry, set := editedExpiry(f.ExpiresIn, d.users.Now(), f); set {
				req.ExpiresAt = &expiry
			}
			if f.Fields == nil {
				_, err := d.cfg.Auth.UpdateKey(actorContext(r, c), k.ClientID, req)
				if err != nil {
					return err
				}
				// The key list reads the saved key again to warn about its allowed IPs.
				seeOther(w, r, "/dashboard/keys?saved="+url.QueryEscape(k.ClientID), "key-updated")
				return nil
			}
		}
		status = rejectedStatus(w)
	}
	f.NeedConfirm = d.users.NeedsConfirmation(c)
	v := d.newView(c, "Edit "+k.Name, "keys")
	v.Data = f
	d.render(w, r, status, "key_form", v)
	return nil
}

// readEditForm reads the edit form. The expiry field of an edit means "keep" when empty
// and "remove" when it contains never, so it is checked here rather than by readKeyForm.
func (d *Dashboard) readEditForm(r *http.Request, f *keyForm, stored *iogate.APIKey) (scopes, allowed []string) {
	expires := strings.TrimSpace(r.PostForm.Get("expires_in"))
	r.PostForm.Set("expires_in", "")
	scopes, allowed, _ = readKeyForm(r, f, stored)
	f.ExpiresIn = expires
	if allowed == nil {
		// An empty list clears the allowlist; nil would leave it unchanged.
		allowed = []string{}
	}
	return scopes, allowed
}

// editedExpiry returns the new expiry that the edit form's expiry field requests, and
// whether it requests one. "never" removes the expiry; a duration counts from now.
func editedExpiry(text string, now time.Time, f *keyForm) (time.Time, bool) {
	switch strings.ToLower(text) {
	case "":
		return time.Time{}, false
	case "never":
		return time.Time{}, true
	}
	d, err := iogate.ParseDuration(text)
	switch {
	case err != nil:
		f.fail("expires_in", fmt.Sprintf("%s is not a duration: use a form such as 30d or 720h, or never.", iogate.QuoteInput(text)))
	case d < time.Hour || d > 3650*24*time.Hour:
		f.fail("expires_in", fmt.Sprintf("%s is out of range: from 1h to 3650d.", iogate.QuoteInput(text)))
	default:
		return now.Add(d), true
	}
	return time.Time{}, false
}

// graceChoice is one option of the rotation page's grace period.
type graceChoice struct {
	Value   string
	Label   string
	Default bool
}

// graceChoices are the grace periods the rotation page offers, from retiring the old
// secret at once to the maximum the auth service allows.
var graceChoices = []graceChoice{
	{"0", "None: the current secret stops working at once", false},
	{"1h", "1 hour", false},
	{"24h", "24 hours", true},
	{"7d", "7 days", false},
	{"30d", "30 days", false},
}

// keyRotate is the data of the rotation page.
type keyRotate struct {
	Key         iogate.APIKeyView
	SecretAge   time.Duration
	Choices     []graceChoice
	Grace       string
	NeedConfirm bool
	Fields      map[string]string
	FormToken   string
}

func (d *Dashboard) handleRotateKey(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	k, err := d.findAccountKey(r, c)
	if err != nil {
		return err
	}
	now := d.users.Now()
	data := &keyRotate{Key: k.View(now), SecretAge: now.Sub(k.SecretCreatedAt), Choices: graceChoices, Grace: "24h"}
	fail := func(field, msg string) {
		if data.Fields == nil {
			data.Fields = map[string]string{}
		}
		data.Fields[field] = msg
	}
	status := http.StatusOK
	if r.Method != http.MethodPost {
		data.FormToken = d.users.NewFormToken(c, rotateKeyPurpose(k.ClientID))
	} else {
		done, err := d.rotateFromForm(w, r, c, k, data, fail)
		if done || err != nil {
			return err
		}
		status = rejectedStatus(w)
	}
	data.NeedConfirm = d.users.NeedsConfirmation(c)
	v := d.newView(c, "Rotate "+k.Name, "keys")
	v.Data = data
	d.render(w, r, status, "key_rotate", v)
	return nil
}

// rotateFromForm rotates the key with the grace period of the posted rotation form and
// renders the new secret, or the page for a repeated post, reporting true. It reports false, with the
// errors set on data, when the form must be shown again.
func (d *Dashboard) rotateFromForm(w http.ResponseWriter, r *http.Request, c *user.Current, k *iogate.APIKey, data *keyRotate, fail func(field, msg string)) (bool, error) {
	// Rotating twice would retire the first new secret, which was shown once, and end the
	// grace of the old one. A reload or a second click posts the same form and form token
	// again, so a used token rotates nothing.
	purpose := rotateKeyPurpose(k.ClientID)
	submitted := keySubmitted{Rotated: true, KeyName: k.Name}
	if unused, err := d.checkFormToken(w, r, c, purpose, submitted); !unused {
		return true, err
	}
	data.FormToken = r.PostForm.Get(formTokenField)
	data.Grace = r.PostForm.Get("grace")
	grace, ok := graceOf(data.Grace)
	// The form also names the secret generation it was shown for, so that a form loaded
	// before a rotation made elsewhere, such as in another tab, rotates nothing.
	if r.PostForm.Get("generation") != strconv.Itoa(k.SecretGeneration) {
		return true, errRotatedSinceLoaded
	}
	if !ok {
		fail("grace", "Choose one of the grace periods listed.")
	} else if _, err := d.confirmIfNeeded(w, r, c, fail); err != nil {
		return true, err
	}
	if data.Fields != nil {
		return false, nil
	}

	ctx, err := d.formTokenContext(r, c, purpose)
	if err != nil {
		return true, err
	}
	// The store checks the generation again in the rotation's transaction: another form of
	// the same key may have been posted at the same moment.
	rotated, secret, err := d.cfg.Auth.RotateKeyFrom(ctx, k.ClientID, k.SecretGeneration, grace)
	if errors.Is(err, auth.ErrRotatedMeanwhile) {
		return true, errRotatedSinceLoaded
	}
	if d.renderIfSubmitted(w, r, c, err, submitted) {
		return true, nil
	}
	if err != nil {
		return true, err
	}
	d.renderSecret(w, r, c, rotated, secret, true)
	return true, nil
}

// graceOf returns the duration of a listed grace choice.
func graceOf(value string) (time.Duration, bool) {
	for _, g := range graceChoices {
		if g.Value == value {
			d, err := iogate.ParseDuration(value)
			return d, err == nil
		}
	}
	return 0, false
}
