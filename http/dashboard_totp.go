package http

import (
	"bytes"
	"errors"
	"image/png"
	"net/http"
	"strconv"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// security is the data of the security page.
type security struct {
	TOTPEnabled bool
	Required    bool
	// Pending is the seed of an enrolment in progress, shown for manual entry.
	Pending string
	// PendingHidden is set when an enrolment is in progress but its seed is not shown,
	// because the session's last confirmation is older than the confirmation interval.
	PendingHidden bool
	RecoveryLeft  int
	RecoveryCodes []string
	UsedRecovery  bool
	// NeedConfirm is set when turning TOTP on needs a fresh confirmation.
	NeedConfirm bool
	Fields      map[string]string
}

func (d *Dashboard) securityData(r *http.Request, c *user.Current) (*security, error) {
	required, err := d.users.RequiresTOTP(r.Context(), c.Account.ID)
	if err != nil {
		return nil, err
	}
	s := &security{TOTPEnabled: c.User.TOTPEnabled, Required: required, UsedRecovery: r.URL.Query().Get("recovery") == "used",
		NeedConfirm: d.users.NeedsConfirmation(c)}
	if c.User.TOTPEnabled {
		if s.RecoveryLeft, err = d.users.RecoveryCodesLeft(r.Context(), c.User); err != nil {
			return nil, err
		}
	} else if p, err := d.users.PendingTOTP(c); err == nil {
		s.Pending = p.Secret()
	} else if errors.Is(err, user.ErrTOTPSeedHidden) {
		s.PendingHidden = true
	}
	return s, nil
}

func (d *Dashboard) renderSecurity(w http.ResponseWriter, r *http.Request, c *user.Current, status int, s *security) {
	v := d.newView(c, "Security", "security")
	v.Notice = noticeFrom(r)
	v.Data = s
	d.render(w, r, status, "security", v)
}

func (d *Dashboard) handleSecurity(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	s, err := d.securityData(r, c)
	if err != nil {
		return err
	}
	d.renderSecurity(w, r, c, http.StatusOK, s)
	return nil
}

// renderSecurityErrors shows the security page again with an error on each field in fields.
func (d *Dashboard) renderSecurityErrors(w http.ResponseWriter, r *http.Request, c *user.Current, fields map[string]string) error {
	s, err := d.securityData(r, c)
	if err != nil {
		return err
	}
	s.Fields = fields
	d.renderSecurity(w, r, c, rejectedStatus(w), s)
	return nil
}

func (d *Dashboard) handleBeginTOTP(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	ok, err := d.confirmOrPrompt(w, r, c, "security", confirmPrompt{
		Heading: "Set up two-factor authentication",
		Summary: "Create a new authenticator seed for " + c.User.Email + ". Two-factor authentication turns on when you enter the first code from your app.",
		Submit:  "Continue",
		Page:    "Security",
		Cancel:  "/dashboard/security",
	})
	if !ok || err != nil {
		return err
	}
	if _, err := d.users.BeginTOTP(r.Context(), c.User); err != nil {
		return err
	}
	http.Redirect(w, r, "/dashboard/security", http.StatusSeeOther)
	return nil
}

// handleTOTPQR serves the QR code of the pending enrolment as a PNG. It is an image on the
// same origin rather than a data: URL, so the CSP can keep img-src 'self'. Like the
// security page, it serves the seed only while the session's confirmation is fresh.
func (d *Dashboard) handleTOTPQR(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	p, err := d.users.PendingTOTP(c)
	if err != nil {
		return err
	}
	img, err := p.Image(240)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
	return nil
}

// handleConfirmTOTP turns TOTP on with the first code from the pending enrolment. A failed
// confirmation leaves the code unused, and a wrong code after a good confirmation leaves the
// session confirmed.
func (d *Dashboard) handleConfirmTOTP(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	fields := map[string]string{}
	fail := func(field, msg string) { fields[field] = msg }
	ok, err := d.confirmIfNeeded(w, r, c, fail)
	if err != nil {
		return err
	}
	if !ok {
		return d.renderSecurityErrors(w, r, c, fields)
	}
	codes, err := d.users.ConfirmTOTP(actorContext(r, c), c.User, r.PostForm.Get("code"))
	if iogate.ErrorCodeOf(err) == iogate.CodeInvalid {
		fail("code", sentence(iogate.ErrorMessageOf(err)))
		return d.renderSecurityErrors(w, r, c, fields)
	}
	if err != nil {
		return err
	}
	return d.showRecoveryCodes(w, r, c, codes)
}

func (d *Dashboard) showRecoveryCodes(w http.ResponseWriter, r *http.Request, c *user.Current, codes []string) error {
	s, err := d.securityData(r, c)
	if err != nil {
		return err
	}
	s.RecoveryCodes = codes
	d.renderSecurity(w, r, c, http.StatusOK, s)
	return nil
}

func (d *Dashboard) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	ok, err := d.confirmOrPrompt(w, r, c, "security", confirmPrompt{
		Heading: "Replace recovery codes",
		Summary: "Create ten new recovery codes. Your current recovery codes stop working at once.",
		Submit:  "Replace recovery codes",
		Page:    "Security",
		Cancel:  "/dashboard/security",
	})
	if !ok || err != nil {
		return err
	}
	codes, err := d.users.RegenerateRecoveryCodes(actorContext(r, c), c.User)
	if err != nil {
		return err
	}
	return d.showRecoveryCodes(w, r, c, codes)
}

// handleDisableTOTP turns TOTP off. It requires the password or a current code every time,
// however recent the session's last confirmation is, because removing the second factor is
// what someone holding a stolen or unattended session would do first.
func (d *Dashboard) handleDisableTOTP(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	fields := map[string]string{}
	ok, err := d.confirm(w, r, c, func(field, msg string) { fields[field] = msg })
	if err != nil {
		return err
	}
	if !ok {
		return d.renderSecurityErrors(w, r, c, fields)
	}
	if err := d.users.DisableTOTP(actorContext(r, c), c.User); err != nil {
		return err
	}
	seeOther(w, r, "/dashboard/security", "totp-off")
	return nil
}
