package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iogate/iogate"
	"github.com/spf13/pflag"
)

// auditActorHelp describes the values of --actor, for the help of the commands that take it.
const auditActorHelp = `--actor selects the records that one actor made, in one of these forms:
  EMAIL             the dashboard user who has this email now, in the account of --account
  ID                the user or API key with this ID, whatever the actor's type, as the
                    dashboard's user filter does
  user:ID           the dashboard user with this ID, also after their removal (their
                    user.removed record holds the ID). user:EMAIL is the same as EMAIL
  client:CLIENT_ID  the API key's own requests, such as token.issued and token.denied, but
                    not the changes made to it, which --client-id selects
  operator:NAME     the changes made with this CLI by the operating-system user NAME
  system            the records that iogate writes itself, such as key.exposed
The ACTOR column of "iogate audit list" shows actors in these forms. With --signing-keys,
only operator:NAME and system act.`

// auditFilterFlags are the filters that audit list and audit export share.
type auditFilterFlags struct {
	clientID string
	actor    string
	event    string

	// parsed is the actor of --actor, which check sets.
	parsed auditActor
}

// auditActor is the actor that --actor names. A user named by email has the email and no
// ID until resolve looks the user up.
type auditActor struct {
	typ, id, email string
}

func (f *auditFilterFlags) register(flags *pflag.FlagSet) {
	flags.StringVar(&f.clientID, "client-id", "", "only records about this API key")
	flags.StringVar(&f.actor, "actor", "", "only records made by this actor: a user's email or ID, user:ID, client:CLIENT_ID, operator:NAME or system")
	flags.StringVar(&f.event, "event", "", "only records of this event, such as key.rotated or token.denied")
}

// check validates the filters before the store is opened. A value that no record can have
// is an error, because it would otherwise print an empty list that looks like a log
// without such records.
func (f *auditFilterFlags) check(signingKeys bool) error {
	events := iogate.AuditEvents
	if signingKeys {
		events = iogate.SigningKeyAuditEvents
		if f.clientID != "" {
			return errorf("invalid --client-id with --signing-keys: the records of the signing keys concern no API key")
		}
	}
	// Client IDs are stored in lower-case canonical form, so any other text would match no
	// record.
	if f.clientID != "" && !iogate.ValidClientID(f.clientID) {
		return errorf("invalid --client-id %s: use the client ID as \"iogate key list --account ID\" prints it, a lower-case UUID",
			iogate.QuoteInput(f.clientID))
	}
	if f.event != "" && !slices.Contains(events, f.event) {
		return errorf("invalid --event %q: use one of %s", f.event, strings.Join(events, ", "))
	}
	if f.actor == "" {
		return nil
	}
	var err error
	if f.parsed, err = parseAuditActor(f.actor); err != nil {
		return err
	}
	if signingKeys && f.parsed.typ != iogate.ActorOperator && f.parsed.typ != iogate.ActorSystem {
		return errorf("invalid --actor %s with --signing-keys: only operator:NAME and system act in the log of the signing keys",
			iogate.QuoteInput(f.actor))
	}
	return nil
}

// parseAuditActor parses a value of --actor in one of the forms that auditActorHelp lists.
func parseAuditActor(s string) (auditActor, error) {
	invalid := func(reason string) error {
		return errorf("invalid --actor %s: %s", iogate.QuoteInput(s), reason)
	}
	typ, value := "", s
	for _, t := range []string{iogate.ActorUser, iogate.ActorClient, iogate.ActorOperator} {
		if rest, ok := strings.CutPrefix(s, t+":"); ok {
			typ, value = t, rest
			break
		}
	}

	switch {
	case typ == "" && s == iogate.ActorSystem:
		return auditActor{typ: iogate.ActorSystem}, nil
	case typ == iogate.ActorOperator:
		if !validOperatorName(value) {
			return auditActor{}, invalid("expected an operating-system user name after operator:, without surrounding spaces or control characters")
		}
		return auditActor{typ: typ, id: value}, nil
	case typ == iogate.ActorClient:
		if !iogate.ValidClientID(value) {
			return auditActor{}, invalid("expected a client ID after client:, a lower-case UUID as \"iogate key list --account ID\" prints it")
		}
		return auditActor{typ: typ, id: value}, nil
	case strings.Contains(value, "@"):
		email, err := iogate.NormalizeEmail(value)
		if err != nil {
			return auditActor{}, invalid(iogate.ErrorMessageOf(err))
		}
		return auditActor{typ: iogate.ActorUser, email: email}, nil
	case iogate.ValidClientID(value):
		// A bare ID keeps typ empty, so that it matches a user or a client.
		return auditActor{typ: typ, id: value}, nil
	case typ == iogate.ActorUser:
		return auditActor{}, invalid("expected a user ID after user:, a lower-case UUID, or the user's email")
	}
	reason := "expected a user's email or ID, user:ID, client:CLIENT_ID, operator:NAME or system, as \"iogate audit list --help\" describes"
	if validOperatorName(s) && !strings.ContainsAny(s, ": ") {
		reason += ". For the changes made by the operator " + s + ", use operator:" + s
	}
	return auditActor{}, invalid(reason)
}

// validOperatorName reports whether name can be the operating-system user name that the
// CLI records as the operator: not empty, valid UTF-8, without surrounding white space or
// control characters.
func validOperatorName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.TrimSpace(name) == name && !strings.ContainsFunc(name, unicode.IsControl)
}

// resolve returns the filter of the flags for the log of accountID, which may be
// iogate.SigningKeyLogID. It looks up a user named by email, who must belong to that
// account, and returns a CodeNotFound error otherwise. check must have succeeded first.
func (f *auditFilterFlags) resolve(ctx context.Context, store iogate.Store, accountID string) (iogate.AuditFilter, error) {
	filter := iogate.AuditFilter{AccountID: accountID, ClientID: f.clientID, Event: f.event,
		ActorType: f.parsed.typ, ActorID: f.parsed.id}
	if f.parsed.email == "" {
		return filter, nil
	}
	u, err := store.FindUserByEmail(ctx, f.parsed.email)
	switch {
	case iogate.ErrorCodeOf(err) == iogate.CodeNotFound:
		return filter, iogate.Errorf(iogate.CodeNotFound, "user with the email %s not found in account %s: %s",
			iogate.QuoteInput(f.parsed.email), accountID, removedUserHint(accountID))
	case err != nil:
		return filter, err
	case u.AccountID != accountID:
		return filter, iogate.Errorf(iogate.CodeNotFound, "user with the email %s not found in account %s: the email belongs to a user of account %s. %s",
			iogate.QuoteInput(f.parsed.email), accountID, u.AccountID, removedUserHint(accountID))
	}
	filter.ActorID = u.ID
	return filter, nil
}

// removedUserHint returns the next step of an operator whose --actor email names no user
// of the account: the command that lists its users, and how to select a removed user.
func removedUserHint(accountID string) string {
	return fmt.Sprintf("\"iogate user list --account %s\" lists the account's users. "+
		"To select a removed user's records, use --actor user:ID with the userId that their user.removed record holds "+
		"(\"iogate audit list --account %s --event user.removed --json\")", accountID, accountID)
}

// exportDetails returns the details of the audit.exported record of an export in format
// with filter. An export without filters records its format alone.
func exportDetails(format string, filter iogate.AuditFilter) map[string]any {
	details := map[string]any{"format": format}
	selected := map[string]any{}
	for name, value := range map[string]string{"clientId": filter.ClientID, "actorType": filter.ActorType, "actorId": filter.ActorID, "event": filter.Event} {
		if value != "" {
			selected[name] = value
		}
	}
	if len(selected) > 0 {
		details["filter"] = selected
	}
	return details
}
