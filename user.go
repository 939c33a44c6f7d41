package iogate

import (
	"bytes"
	"context"
	"maps"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Role is the set of permissions a dashboard user has in their account.
type Role string

// Roles, from most to least privileged. Owners manage users and keys, admins manage keys,
// viewers only read.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
)

// Roles lists every role, in the order the dashboard shows them.
var Roles = []Role{RoleOwner, RoleAdmin, RoleViewer}

// ParseRole returns the role named s, or CodeInvalid naming the known roles.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", Errorf(CodeInvalid, "invalid role %s: use owner, admin or viewer", QuoteInput(s))
}

// CanManageKeys reports whether the role may create, change, rotate and delete API keys.
func (r Role) CanManageKeys() bool { return r == RoleOwner || r == RoleAdmin }

// CanManageUsers reports whether the role may invite users, change roles, remove users and
// change the account's security settings.
func (r Role) CanManageUsers() bool { return r == RoleOwner }

// User is a person who signs in to the dashboard. A user belongs to one account.
type User struct {
	ID        string
	AccountID string
	// Email is the sign-in name, stored in lower case and unique across accounts.
	Email        string
	Role         Role
	PasswordHash string
	// TOTPSeedSealed is the TOTP seed sealed under the master key, or nil. While
	// TOTPEnabled is false a non-nil seed is an enrolment awaiting its first code.
	TOTPSeedSealed []byte
	TOTPEnabled    bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// TOTPOnWith reports whether TOTP is on and sealed is its stored seed.
func (u *User) TOTPOnWith(sealed []byte) bool {
	return u.TOTPEnabled && u.TOTPSeedSealed != nil && bytes.Equal(u.TOTPSeedSealed, sealed)
}

// EnrollingWith reports whether TOTP is off with sealed as the seed of an enrolment awaiting
// its first code.
func (u *User) EnrollingWith(sealed []byte) bool {
	return !u.TOTPEnabled && u.TOTPSeedSealed != nil && bytes.Equal(u.TOTPSeedSealed, sealed)
}

// TOTPSealName is the name that binds a user's sealed TOTP seed to that user, so that a
// sealed seed copied to another user's row does not decrypt.
func TOTPSealName(userID string) string { return "totp-seed/" + userID }

// NormalizeEmail checks that s is a plain email address and returns it in lower case.
// net/mail accepts any non-ASCII character in an address, C1 controls, bidirectional
// controls and invisible format characters included. Those are rejected here as in names,
// with an error that names the code point. So are the joiners and variation selectors that
// names may contain, and addresses not in the composed Unicode form (NFC).
func NormalizeEmail(s string) (string, error) {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != strings.TrimSpace(s) || strings.ContainsRune(addr.Address, '\t') {
		return "", Errorf(CodeInvalid, "invalid email %s: expected a plain address such as ops@example.com", QuoteInput(s))
	}
	if err := rejectHiddenCharacters("email "+QuoteInput(s), addr.Address); err != nil {
		return "", err
	}
	// Names may need the joiners and variation selectors, but an address gains nothing from
	// them except a look-alike of another address.
	for _, r := range addr.Address {
		if r == zeroWidthNonJoiner || r == zeroWidthJoiner || unicode.Is(unicode.Variation_Selector, r) {
			return "", Errorf(CodeInvalid, "email %s contains the invisible joiner or variation selector %U: remove it", QuoteInput(s), r)
		}
	}
	// A letter and its combining accent look like the composed letter, but the store and
	// sign-in compare bytes, so only the composed form (NFC) is accepted.
	if !norm.NFC.IsNormalString(addr.Address) {
		return "", Errorf(CodeInvalid, "email %s is not in the composed Unicode form (NFC): type each accented letter as one character", QuoteInput(s))
	}
	return strings.ToLower(addr.Address), nil
}

// Session stages. A session that passed the password but still owes a second factor is in
// SessionSecondFactor and opens only the second-factor page.
const (
	SessionSecondFactor = "second_factor"
	SessionSignedIn     = "signed_in"
)

// Session is a dashboard session. The session ID lives only in the user's cookie; the store
// holds its SHA-256.
type Session struct {
	IDHash    []byte
	UserID    string
	AccountID string
	Stage     string
	CreatedAt time.Time
	// LastSeenAt is when the session was last used, written at most once a minute (more
	// often for idle timeouts under 10 minutes). The idle timeout counts from it.
	LastSeenAt time.Time
	// ExpiresAt is the absolute end of the session, however active it is.
	ExpiresAt time.Time
	// ConfirmedAt is when the user last gave their password or a TOTP code, for the
	// re-confirmation that key changes need.
	ConfirmedAt time.Time
	IP          string
}

// Audit events of dashboard users and account administration.
const (
	AuditUserSignedIn              = "user.signed_in"
	AuditUserSignInFailed          = "user.sign_in_failed"
	AuditUserSignedOut             = "user.signed_out"
	AuditUserInvited               = "user.invited"
	AuditUserInvitationCancelled   = "user.invitation_cancelled"
	AuditUserCreated               = "user.created"
	AuditUserRoleChanged           = "user.role_changed"
	AuditUserRemoved               = "user.removed"
	AuditUserPasswordReset         = "user.password_reset"
	AuditUserResetLinkCreated      = "user.reset_link_created"
	AuditUserTOTPEnabled           = "user.totp_enabled"
	AuditUserTOTPDisabled          = "user.totp_disabled"
	AuditUserRecoveryCodesReplaced = "user.recovery_codes_replaced"
	AuditAccountCreated            = "account.created"
	AuditAccountPolicyChanged      = "account.policy_changed"
	AuditAccountSuspended          = "account.suspended"
	AuditAccountResumed            = "account.resumed"
	AuditLogExported               = "audit.exported"
)

// LinkEvent returns the audit event of creating a link for purpose: AuditUserInvited for
// LinkInvite, AuditUserResetLinkCreated for LinkReset, and "" for LinkSetup and any other
// value, which have no record.
func LinkEvent(purpose string) string {
	switch purpose {
	case LinkInvite:
		return AuditUserInvited
	case LinkReset:
		return AuditUserResetLinkCreated
	}
	return ""
}

// CheckLinkRecord returns a CodeInternal error unless rec is the record of creating l: nil
// for a link whose purpose has no record (LinkEvent), and otherwise a record of that event
// for l's account. Stores call it before they store the link.
func CheckLinkRecord(rec *AuditRecord, l *UserLink) error {
	event := LinkEvent(l.Purpose)
	if event == "" {
		if rec != nil {
			return Errorf(CodeInternal, "%s audit record given for a %s link, which has none", rec.Event, l.Purpose)
		}
		return nil
	}
	return CheckChangeRecord(rec, l.AccountID, event)
}

// AccountStatusEvent returns the audit event of a change to status: AuditAccountSuspended
// for AccountSuspended, AuditAccountResumed for AccountActive, and "" for any other value.
func AccountStatusEvent(status string) string {
	switch status {
	case AccountSuspended:
		return AuditAccountSuspended
	case AccountActive:
		return AuditAccountResumed
	}
	return ""
}

// CheckAccountStatusRecord returns CodeInvalid for a status other than AccountActive and
// AccountSuspended, and otherwise CheckChangeRecord's error for rec as the record of
// accountID's change to status. Stores call it before they change the status.
func CheckAccountStatusRecord(rec *AuditRecord, accountID, status string) error {
	event := AccountStatusEvent(status)
	if event == "" {
		return Errorf(CodeInvalid, "invalid account status %s: use %s or %s", QuoteInput(status), AccountActive, AccountSuspended)
	}
	return CheckChangeRecord(rec, accountID, event)
}

// NewUserRecord returns a record of event about the user u, by actor, at time at, for the
// store method that makes the change. Its details carry the user's ID and email besides
// details, which may be nil.
func (c *AuditChain) NewUserRecord(u *User, event string, actor Actor, at time.Time, details map[string]any) (*AuditRecord, error) {
	all := make(map[string]any, len(details)+2)
	maps.Copy(all, details)
	all["userId"], all["email"] = u.ID, u.Email
	return c.NewRecord(u.AccountID, event, actor, at, all)
}

// ErrUserChanged is the error of a change to a user's two-factor settings that another
// request changed first, for example a second enrolment started in another tab.
var ErrUserChanged = Errorf(CodeConflict, "your two-factor settings changed meanwhile; reload the page and try again")

// ErrSetupLinkReplaced is the CodeNotFound error of a setup link that a newer one replaced.
// Every server that starts while no account exists prints a new setup link, so starting a
// second node, or restarting the first, makes the link printed before it invalid.
var ErrSetupLinkReplaced = Errorf(CodeNotFound, "this setup link was replaced by a newer one, which iogate printed "+
	"when it started again or when another node started; only the setup link printed last works, so open that one")

// DenyAccountSuspended is the audit reason of a token request for a key whose account is
// suspended.
const DenyAccountSuspended = "account_suspended"

// Purposes of single-use links.
const (
	LinkSetup  = "setup"
	LinkInvite = "invite"
	LinkReset  = "reset"
)

// UserLink is a single-use link that the CLI or an owner hands to a person: the first-run
// setup link, an invitation, or a password reset. The token lives only in the link; the
// store holds its SHA-256.
type UserLink struct {
	// ID names the link where its token cannot appear, such as in the list of pending
	// invitations and in the request that cancels one. It is not secret. Every invitation
	// has one; setup and reset links stored before IDs existed have none.
	ID        string
	TokenHash []byte
	Purpose   string
	// AccountID and Role are set on invitations; UserID on password resets.
	AccountID string
	UserID    string
	Email     string
	Role      Role
	// CreatedBy is who created the link, without an address. It is the zero Actor for a
	// link created before iogate stored it, unless the link's user.invited record was
	// still in the audit log when the store was upgraded.
	CreatedBy Actor
	CreatedAt time.Time
	ExpiresAt time.Time
}

// UserStore is the part of Store that holds dashboard users, their sessions, single-use
// links, recovery codes and used form tokens, and the account settings that the dashboard
// changes.
//
// A method that takes rec appends it, the audit record of its change, in the change's
// transaction, so that neither commits without the other. It returns CodeInternal, and
// changes nothing, when rec is nil or not a record of the method's event for the account
// that the change is in.
type UserStore interface {
	// CreateUser inserts a user, or returns CodeConflict when the email is taken.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns the user, or CodeNotFound.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserByEmail returns the user with the lower-case email, or CodeNotFound.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// ListUsers returns an account's users ordered by email.
	ListUsers(ctx context.Context, accountID string) ([]*User, error)
	// SetUserRole stores the user's role with rec, the user's AuditUserRoleChanged record,
	// or returns CodeNotFound. Like the TOTP methods below, it writes only its own columns,
	// so that it cannot undo a change that another request made meanwhile, such as a
	// password reset. When role may not manage users, the same transaction cancels the
	// user's pending invitations, as DeleteUser does, with the reason
	// InvitationInviterDemoted.
	SetUserRole(ctx context.Context, userID string, role Role, at time.Time, rec *AuditRecord) error
	// SetUserTOTPSeed stores the sealed seed of a TOTP enrolment. It returns
	// ErrUserChanged when TOTP is on.
	SetUserTOTPSeed(ctx context.Context, userID string, sealed []byte, at time.Time) error
	// EnableUserTOTP turns TOTP on and stores hashes as the user's recovery codes in place
	// of any others, with rec, the user's AuditUserTOTPEnabled record. It returns
	// ErrUserChanged unless TOTP is off and sealed is the stored seed, the one whose code
	// was checked, and CodeNotFound for an unknown user.
	EnableUserTOTP(ctx context.Context, userID string, sealed []byte, hashes [][]byte, at time.Time, rec *AuditRecord) error
	// DisableUserTOTP turns TOTP off and deletes the seed and the recovery codes, with rec,
	// the user's AuditUserTOTPDisabled record, or returns CodeNotFound.
	DisableUserTOTP(ctx context.Context, userID string, at time.Time, rec *AuditRecord) error
	// DeleteUser deletes the user with their sessions and recovery codes, with rec, the
	// user's AuditUserRemoved record, or returns CodeNotFound. The same transaction
	// cancels every invitation that the user created and that is unused and valid at
	// rec.Time. Each gets the record that InvitationCancelledBy makes with rec and the
	// reason InvitationInviterRemoved, appended after rec.
	DeleteUser(ctx context.Context, id string, rec *AuditRecord) error
	// UseTOTPStep records that the user's TOTP code for time step was accepted, or returns
	// CodeConflict when that step or a later one was already used, so a code works once.
	UseTOTPStep(ctx context.Context, userID string, step int64) error

	// SetAccountStatus sets an account's status, records a key change for each of its keys
	// so that running engines apply the new status to every key, and appends rec, the
	// change's record (AccountStatusEvent), all in one transaction. Suspending also deletes
	// the account's sessions. It returns CodeNotFound for no account and for
	// SigningKeyLogID, CodeInvalid for a
	// status other than AccountActive and AccountSuspended, and CodeInternal when rec is
	// nil or not the change's record.
	SetAccountStatus(ctx context.Context, accountID, status string, rec *AuditRecord) error
	// SuspendedAccounts returns the IDs of every suspended account.
	SuspendedAccounts(ctx context.Context) ([]string, error)
	// AccountRequiresTOTP reports whether the account makes its users enrol in TOTP.
	AccountRequiresTOTP(ctx context.Context, accountID string) (bool, error)
	// SetAccountRequireTOTP changes that setting with rec, the account's
	// AuditAccountPolicyChanged record, or returns CodeNotFound.
	SetAccountRequireTOTP(ctx context.Context, accountID string, require bool, rec *AuditRecord) error

	// CreateUserLink stores a single-use link with rec, the link's record: AuditUserInvited
	// for an invitation, AuditUserResetLinkCreated for a password reset, and nil for a setup
	// link, which no account exists yet to record. Creating a setup link makes the unused
	// setup links before it expire at their creation time, so only the last one printed
	// works, and FindUserLink can tell a replaced link from an unknown one. It returns
	// CodeInternal for an invitation without an ID (CheckNewUserLink). An invitation
	// whose CreatedBy is a user is stored only while that user belongs to the link's
	// account and may manage users, checked in the transaction. Otherwise it returns
	// CodeForbidden, so that no invitation is left valid by a user whose removal or
	// demotion committed first.
	CreateUserLink(ctx context.Context, l *UserLink, rec *AuditRecord) error
	// FindUserLink returns the unused link with the token hash and purpose that has not
	// expired at now, or CodeNotFound: ErrSetupLinkReplaced for a setup link that a newer
	// one replaced, until the sweep deletes it.
	FindUserLink(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (*UserLink, error)
	// ListPendingInvitations returns the account's invitation links that are unused and
	// have not expired at now, ordered by email and then by creation time. It leaves
	// TokenHash unset, so that no caller can print a link's token hash.
	ListPendingInvitations(ctx context.Context, accountID string, now time.Time) ([]*UserLink, error)
	// CancelInvitation marks the invitation id of rec's account as used at rec.Time, so
	// that its link fails as a used one does, with rec, its AuditUserInvitationCancelled
	// record, in one transaction. It returns CodeNotFound when rec's account has no
	// invitation id that is unused and valid at rec.Time, and CodeInternal when rec is
	// nil or of another event.
	CancelInvitation(ctx context.Context, id string, rec *AuditRecord) error
	// CreateAccountWithOwner uses the setup link and creates the first account and its
	// owner, and appends accountRec, the account's AuditAccountCreated record, and then
	// ownerRec, the owner's AuditUserCreated record, all in one transaction. It returns
	// CodeNotFound when the link is used, expired, replaced (ErrSetupLinkReplaced) or
	// unknown, CodeConflict when an account already exists, and CodeInternal when a record
	// is nil or not of its event and the new account.
	CreateAccountWithOwner(ctx context.Context, tokenHash []byte, now time.Time, a *Account, owner *User, accountRec, ownerRec *AuditRecord) error
	// AcceptInvite uses the invitation link and creates the invited user, with rec, the
	// user's AuditUserCreated record in the link's account, in one transaction.
	// CodeNotFound when the link is not valid, CodeConflict when the email is taken.
	AcceptInvite(ctx context.Context, tokenHash []byte, now time.Time, u *User, rec *AuditRecord) error
	// ResetPassword uses the reset link, sets the user's password hash and deletes their
	// sessions, with rec, the user's AuditUserPasswordReset record in the link's account,
	// in one transaction. CodeNotFound when the link is not valid.
	ResetPassword(ctx context.Context, tokenHash []byte, now time.Time, passwordHash string, rec *AuditRecord) error

	// CreateSession inserts a session.
	CreateSession(ctx context.Context, s *Session) error
	// FindSession returns the session with the ID hash, or CodeNotFound.
	FindSession(ctx context.Context, idHash []byte) (*Session, error)
	// UpdateSession stores the session's stage and its last-seen and confirmation times,
	// or returns CodeNotFound.
	UpdateSession(ctx context.Context, s *Session) error
	// DeleteSession deletes the session; deleting one that does not exist is no error.
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteUserSessions deletes every session of the user.
	DeleteUserSessions(ctx context.Context, userID string) error
	// DeleteEndedSessions deletes at most limit sessions that have ended by now: those
	// whose expiry is at or before now, and those last seen at or before idleSince. It
	// returns how many it deleted. Concurrent calls, from several nodes too, delete
	// different sessions, so each session is counted once.
	DeleteEndedSessions(ctx context.Context, now, idleSince time.Time, limit int) (int, error)
	// DeleteSpentUserLinks deletes at most limit links that are used or whose expiry is at
	// or before now, and returns how many it deleted. FindUserLink returns CodeNotFound
	// for a deleted link, as it does for a used one. Concurrent calls behave as those of
	// DeleteEndedSessions.
	DeleteSpentUserLinks(ctx context.Context, now time.Time, limit int) (int, error)

	// UseFormToken records the hash of a single-use form token, kept until expiresAt, or
	// returns ErrFormTokenUsed when the hash is already recorded. Of concurrent calls with
	// one hash, exactly one succeeds. A key change records its form's token in its own
	// transaction instead (see WithFormTokenUse).
	UseFormToken(ctx context.Context, tokenHash []byte, usedAt, expiresAt time.Time) error
	// FormTokenUsed reports whether UseFormToken, or a key change, recorded the hash.
	FormTokenUsed(ctx context.Context, tokenHash []byte) (bool, error)
	// DeleteExpiredFormTokens deletes at most limit form-token records whose expiry is at
	// or before now, and returns how many it deleted.
	DeleteExpiredFormTokens(ctx context.Context, now time.Time, limit int) (int, error)

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores the new hashes, with
	// rec, the user's AuditUserRecoveryCodesReplaced record, if TOTP is on with sealed as
	// its seed, so that codes made for a seed never outlive it. It returns ErrUserChanged
	// when TOTP is off or has another seed, and CodeNotFound for an unknown user.
	ReplaceRecoveryCodes(ctx context.Context, userID string, sealed []byte, hashes [][]byte, rec *AuditRecord) error
	// UseRecoveryCode marks the user's unused code with the hash as used, or returns
	// CodeNotFound.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) error
	// CountRecoveryCodes returns how many unused recovery codes the user has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}
