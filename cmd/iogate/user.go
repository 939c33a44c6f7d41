package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/user"
	"github.com/spf13/cobra"
)

// defaultLinkURL is the base of printed links when --url is not given and no server has
// recorded its public URL in the store: the address that "iogate serve" listens on by
// default.
const defaultLinkURL = "https://localhost:8443"

func newUserCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage dashboard users"}
	cmd.AddCommand(newUserInviteCommand(g), newUserUninviteCommand(g), newUserResetCommand(g), newUserRemoveCommand(g), newUserListCommand(g))
	return cmd
}

// openUsers opens the data directory and the user service on it.
func (g *globals) openUsers(ctx context.Context) (*env, *user.Service, error) {
	e, err := g.open(ctx, false, auth.Config{})
	if err != nil {
		return nil, nil, err
	}
	users, err := user.New(ctx, e.store, e.master, user.Config{AuditChain: e.auth.AuditChain()})
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return e, users, nil
}

// openAccountUsers opens the user service as openUsers does, and returns a CodeNotFound
// error naming accountID when no account has it.
func (g *globals) openAccountUsers(ctx context.Context, accountID string) (*env, *user.Service, error) {
	e, users, err := g.openUsers(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := e.store.FindAccountByID(ctx, accountID); err != nil {
		e.Close()
		return nil, nil, accountNotFound(err, accountID)
	}
	return e, users, nil
}

// linkOutput is the --json form of a printed link.
type linkOutput struct {
	URL       string    `json:"url"`
	Email     string    `json:"email"`
	Role      string    `json:"role,omitempty"`
	AccountID string    `json:"accountId,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func addURLFlag(cmd *cobra.Command, base *string) {
	cmd.Flags().StringVar(base, "url", "", "base URL of the dashboard in the printed link "+
		"(default: the public URL of the server that started last on this database, else "+defaultLinkURL+")")
}

// linkBase returns the base URL of a printed link: --url when given, else the public URL
// that the server started last recorded in the store. When no server has recorded one, it
// returns defaultLinkURL and prints a warning, because the link may lead to the wrong host.
func (g *globals) linkBase(ctx context.Context, store iogate.Store, flagURL string) (string, error) {
	if flagURL != "" {
		return flagURL, nil
	}
	recorded, _, err := store.PublicURL(ctx)
	if err == nil {
		return recorded, nil
	}
	if iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		return "", err
	}
	g.warn("no server has recorded its public URL in this store yet, so the link starts with " + defaultLinkURL +
		"; start the server first, or pass --url with the server's --public-url")
	return defaultLinkURL, nil
}

// checkURLFlag checks --url when it was given.
func checkURLFlag(base string) error {
	if base == "" {
		return nil
	}
	if err := checkBaseURL(base); err != nil {
		return errorf("invalid --url %q: %v", base, err)
	}
	return nil
}

func newUserInviteCommand(g *globals) *cobra.Command {
	var accountID, email, role, base string
	cmd := &cobra.Command{
		Use:   "invite --account ID --email EMAIL --role ROLE",
		Short: "Print a single-use link that lets a person join an account",
		Long: "Print a single-use link that lets a person join an account with a role: owner (manages users\n" +
			"and keys), admin (manages keys) or viewer (reads). The link expires after 72 hours.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkURLFlag(base); err != nil {
				return err
			}
			r, err := iogate.ParseRole(role)
			if err != nil {
				return err
			}
			e, users, err := g.openUsers(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			if base, err = g.linkBase(cmd.Context(), e.store, base); err != nil {
				return err
			}
			token, expiresAt, err := users.InviteUser(operatorContext(cmd, g), accountID, email, r)
			if err != nil {
				return err
			}
			out := linkOutput{URL: user.LinkURL(base, iogate.LinkInvite, token), Email: email, Role: role, AccountID: accountID,
				ExpiresAt: expiresAt}
			return g.printResult(out, func(w io.Writer) {
				fmt.Fprintf(w, "Invitation for %s as %s. Send this single-use link; it expires %s:\n%s\n", email, role, out.ExpiresAt.Format(time.RFC3339), out.URL)
			})
		},
	}
	cmd.Flags().StringVar(&accountID, "account", "", "ID of the account to join (required)")
	cmd.Flags().StringVar(&email, "email", "", "email address the person signs in with (required)")
	cmd.Flags().StringVar(&role, "role", "", "role: owner, admin or viewer (required)")
	addURLFlag(cmd, &base)
	cmd.MarkFlagRequired("account")
	cmd.MarkFlagRequired("email")
	cmd.MarkFlagRequired("role")
	return cmd
}

func newUserResetCommand(g *globals) *cobra.Command {
	var email, base string
	cmd := &cobra.Command{
		Use:   "reset --email EMAIL",
		Short: "Print a single-use link that sets a new password",
		Long: "Print a single-use link that sets a new password for a dashboard user. The link expires after\n" +
			"one hour; using it ends the user's sessions. Two-factor authentication stays as it is.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkURLFlag(base); err != nil {
				return err
			}
			e, users, err := g.openUsers(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			if base, err = g.linkBase(cmd.Context(), e.store, base); err != nil {
				return err
			}
			token, expiresAt, err := users.CreateResetLink(operatorContext(cmd, g), email)
			if err != nil {
				return err
			}
			out := linkOutput{URL: user.LinkURL(base, iogate.LinkReset, token), Email: email, ExpiresAt: expiresAt}
			return g.printResult(out, func(w io.Writer) {
				fmt.Fprintf(w, "Password reset for %s. Send this single-use link; it expires %s:\n%s\n", email, out.ExpiresAt.Format(time.RFC3339), out.URL)
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email address of the user (required)")
	addURLFlag(cmd, &base)
	cmd.MarkFlagRequired("email")
	return cmd
}

func newUserRemoveCommand(g *globals) *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:   "remove --email EMAIL",
		Short: "Remove a dashboard user and end their sessions",
		Long:  "Remove a dashboard user and end their sessions. The last owner of an account cannot be removed.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, users, err := g.openUsers(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			u, err := users.RemoveUserByEmail(operatorContext(cmd, g), email)
			if err != nil {
				return err
			}
			return g.printResult(map[string]any{"id": u.ID, "email": u.Email, "accountId": u.AccountID, "removed": true}, func(w io.Writer) {
				fmt.Fprintf(w, "Removed user %s from account %s. Their sessions have ended.\n", u.Email, u.AccountID)
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email address of the user (required)")
	cmd.MarkFlagRequired("email")
	return cmd
}

// userView is the JSON form of a user; it never holds the password hash or TOTP seed.
type userView struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"accountId"`
	Email       string    `json:"email"`
	Role        string    `json:"role"`
	TOTPEnabled bool      `json:"totpEnabled"`
	CreatedAt   time.Time `json:"createdAt"`
}

// invitationView is the JSON form of a pending invitation. It never contains the link or its
// token. InvitedBy is absent for an invitation whose creator is unknown (iogate.UserLink).
type invitationView struct {
	ID        string        `json:"id"`
	AccountID string        `json:"accountId"`
	Email     string        `json:"email"`
	Role      string        `json:"role"`
	Status    string        `json:"status"`
	InvitedBy *iogate.Actor `json:"invitedBy,omitempty"`
	CreatedAt time.Time     `json:"createdAt"`
	ExpiresAt time.Time     `json:"expiresAt"`
}

// newInvitationView returns the view of l with status.
func newInvitationView(l *iogate.UserLink, status string) invitationView {
	v := invitationView{ID: l.ID, AccountID: l.AccountID, Email: l.Email, Role: string(l.Role), Status: status, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt}
	if l.CreatedBy.Type != "" {
		v.InvitedBy = &l.CreatedBy
	}
	return v
}

// invitedByText returns the creator of an invitation as the user list shows it: type:id,
// or "-" when it is unknown.
func invitedByText(v invitationView) string {
	if v.InvitedBy == nil {
		return "-"
	}
	return actorText(*v.InvitedBy)
}

func newUserUninviteCommand(g *globals) *cobra.Command {
	var accountID, email string
	cmd := &cobra.Command{
		Use:   "uninvite --account ID --email EMAIL",
		Short: "Cancel the pending invitations of an email address to an account",
		Long: "Cancel every pending invitation of an email address to an account. Their links then fail as used\n" +
			"or expired links do. Each cancellation is recorded in the audit log as user.invitation_cancelled.\n" +
			"iogate user list shows the pending invitations.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, users, err := g.openAccountUsers(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			defer e.Close()
			cancelled, err := users.CancelInvitationsTo(operatorContext(cmd, g), accountID, email)
			if err != nil {
				return err
			}
			views := make([]invitationView, 0, len(cancelled))
			for _, l := range cancelled {
				views = append(views, newInvitationView(l, "cancelled"))
			}
			return g.printResult(map[string]any{"data": views}, func(w io.Writer) {
				for _, v := range views {
					fmt.Fprintf(w, "Cancelled the invitation of %s as %s to account %s (ID %s). Its link no longer works.\n", v.Email, v.Role, v.AccountID, v.ID)
				}
			})
		},
	}
	cmd.Flags().StringVar(&accountID, "account", "", "ID of the account the invitations are for (required)")
	cmd.Flags().StringVar(&email, "email", "", "email address the invitations were sent to (required)")
	cmd.MarkFlagRequired("account")
	cmd.MarkFlagRequired("email")
	return cmd
}

func newUserListCommand(g *globals) *cobra.Command {
	var accountID string
	cmd := &cobra.Command{
		Use:   "list --account ID",
		Short: "List an account's dashboard users and pending invitations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, users, err := g.openAccountUsers(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			defer e.Close()
			list, err := users.ListUsers(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			pending, err := users.ListPendingInvitations(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			views := make([]userView, 0, len(list))
			for _, u := range list {
				views = append(views, userView{ID: u.ID, AccountID: u.AccountID, Email: u.Email, Role: string(u.Role), TOTPEnabled: u.TOTPEnabled, CreatedAt: u.CreatedAt})
			}
			invitations := make([]invitationView, 0, len(pending))
			for _, l := range pending {
				invitations = append(invitations, newInvitationView(l, "pending"))
			}
			return g.printResult(map[string]any{"data": views, "invitations": invitations}, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tROLE\tSTATUS\tTWO-FACTOR\tCREATED\tINVITATION EXPIRES\tINVITED BY")
				for _, v := range views {
					fmt.Fprintf(tw, "%s\t%s\tjoined\t%t\t%s\t-\t-\n", v.Email, v.Role, v.TOTPEnabled, v.CreatedAt.Format(time.RFC3339))
				}
				for _, v := range invitations {
					fmt.Fprintf(tw, "%s\t%s\t%s\t-\t%s\t%s\t%s\n", v.Email, v.Role, v.Status, v.CreatedAt.Format(time.RFC3339),
						v.ExpiresAt.Format(time.RFC3339), invitedByText(v))
				}
				tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&accountID, "account", "", "account ID (required)")
	cmd.MarkFlagRequired("account")
	return cmd
}

// operatorContext returns the command's context with the operator as the audit actor, for
// the changes whose records commit with them.
func operatorContext(cmd *cobra.Command, g *globals) context.Context {
	return iogate.WithActor(cmd.Context(), operatorActor(g.getenv))
}
