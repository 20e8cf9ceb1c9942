// Package identity holds workspaces, their users and invites, and the rules
// for signing up into them.
package identity

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fechatter/fechatter/domain/errs"
)

// WorkspaceRole is a user's standing in the workspace itself.
type WorkspaceRole string

const (
	WorkspaceOwner  WorkspaceRole = "owner"
	WorkspaceAdmin  WorkspaceRole = "admin"
	WorkspaceMember WorkspaceRole = "member"
)

// Workspace is one company's space; every user belongs to exactly one.
type Workspace struct {
	ID        int64
	Name      string
	OwnerID   int64
	CreatedAt time.Time
}

// User is a person in a workspace.
type User struct {
	ID           int64
	WorkspaceID  int64
	Email        string
	Fullname     string
	PasswordHash string
	Role         WorkspaceRole
	CreatedAt    time.Time
}

// CanInvite reports whether the user may create invite codes.
func (u User) CanInvite() bool { return u.Role == WorkspaceOwner || u.Role == WorkspaceAdmin }

// NormalizeEmail validates an address and returns it lower-cased. Unicode
// look-alikes (NFD, full-width letters) are folded by the inbound adapters
// before this (adapters/textcheck.FoldEmail), as the domain uses the
// standard library only.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || len(e) > 254 {
		return "", errs.Invalidf("email must be 1..254 characters")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e {
		return "", errs.Invalidf("email %q is not a valid address", email)
	}
	return e, nil
}

// ValidatePassword checks the length rules for a new password.
func ValidatePassword(password string) error {
	if !utf8.ValidString(password) {
		return errs.Invalidf("password must be valid UTF-8")
	}
	n := utf8.RuneCountInString(password)
	if n < 8 || n > 128 {
		return errs.Invalidf("password must be 8..128 characters")
	}
	return nil
}

// ValidateFullname trims and checks a display name.
func ValidateFullname(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || utf8.RuneCountInString(n) > 100 {
		return "", errs.Invalidf("fullname must be 1..100 characters, not blank")
	}
	return n, nil
}

// ValidateWorkspaceName trims and checks a workspace name.
func ValidateWorkspaceName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || utf8.RuneCountInString(n) > 100 {
		return "", errs.Invalidf("workspace must be 1..100 characters, not blank")
	}
	return n, nil
}

// Invite lets people join an existing workspace.
type Invite struct {
	Code        string
	WorkspaceID int64
	CreatedBy   int64
	MaxUses     int
	Uses        int
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

// Invite limits.
const (
	DefaultInviteUses     = 1
	MaxInviteUses         = 10000
	DefaultInviteLifetime = 168 * time.Hour
	MaxInviteLifetime     = 720 * time.Hour
)

// NewInvite validates the options of a new invite. Nil options take defaults;
// given ones must be in range (0 is refused, not defaulted).
func NewInvite(code string, by User, maxUses, expiresInHours *int, now time.Time) (Invite, error) {
	if !by.CanInvite() {
		return Invite{}, errs.Forbiddenf("only the workspace owner or an admin may create invites")
	}
	uses := DefaultInviteUses
	if maxUses != nil {
		if *maxUses < 1 || *maxUses > MaxInviteUses {
			return Invite{}, errs.Invalidf("max_uses must be 1..%d", MaxInviteUses)
		}
		uses = *maxUses
	}
	life := DefaultInviteLifetime
	if expiresInHours != nil {
		// Compare in hours: multiplying first could overflow a Duration and
		// wrap a huge value back into range.
		if *expiresInHours < 1 || *expiresInHours > int(MaxInviteLifetime/time.Hour) {
			return Invite{}, errs.Invalidf("expires_in_hours must be 1..720")
		}
		life = time.Duration(*expiresInHours) * time.Hour
	}
	return Invite{Code: code, WorkspaceID: by.WorkspaceID, CreatedBy: by.ID, MaxUses: uses,
		ExpiresAt: now.Add(life), CreatedAt: now}, nil
}

// Usable reports whether the invite can still admit someone at now.
func (i Invite) Usable(now time.Time) bool { return i.Uses < i.MaxUses && now.Before(i.ExpiresAt) }
