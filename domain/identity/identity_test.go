package identity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
)

var t0 = time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC)

func TestNormalizeEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	// 64 + 1 + 189 = 254 bytes, the longest accepted.
	long := local64 + "@" + strings.Repeat("b", 185) + ".com"
	tests := []struct {
		name  string
		email string
		want  string // "" means invalid
	}{
		{"plain", "alice@example.com", "alice@example.com"},
		{"upper case is lowered", "Alice@Example.COM", "alice@example.com"},
		{"surrounding space is trimmed", "  bob@example.com\t\n", "bob@example.com"},
		{"plus and dots", "first.last+tag@sub.example.org", "first.last+tag@sub.example.org"},
		{"254 characters", long, long},
		{"255 characters", "x" + long, ""},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"no at sign", "alice.example.com", ""},
		{"no local part", "@example.com", ""},
		{"no domain", "alice@", ""},
		{"two at signs", "a@b@example.com", ""},
		{"display name form", "Alice <alice@example.com>", ""},
		{"angle brackets only", "<alice@example.com>", ""},
		{"inner space", "ali ce@example.com", ""},
		{"two addresses", "a@example.com, b@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := identity.NormalizeEmail(tt.email)
			if tt.want == "" {
				if !errs.Is(err, errs.Invalid) {
					t.Errorf("NormalizeEmail(%q) = %q, %v; want invalid", tt.email, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.email, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeEmailMakesCaseVariantsEqual(t *testing.T) {
	a, errA := identity.NormalizeEmail("Carol@Example.com")
	b, errB := identity.NormalizeEmail(" carol@EXAMPLE.COM ")
	if errA != nil || errB != nil || a != b {
		t.Errorf("%q (%v) != %q (%v)", a, errA, b, errB)
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"empty", "", false},
		{"7 characters", strings.Repeat("p", 7), false},
		{"8 characters", strings.Repeat("p", 8), true},
		{"128 characters", strings.Repeat("p", 128), true},
		{"129 characters", strings.Repeat("p", 129), false},
		{"7 multi-byte characters (14 bytes)", strings.Repeat("ü", 7), false},
		{"8 multi-byte characters", strings.Repeat("ü", 8), true},
		{"128 emoji (512 bytes)", strings.Repeat("🔑", 128), true},
		{"129 emoji", strings.Repeat("🔑", 129), false},
		{"spaces count", "        ", true},
		{"invalid UTF-8", "password\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := identity.ValidatePassword(tt.password)
			if tt.ok && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if !tt.ok && !errs.Is(err, errs.Invalid) {
				t.Errorf("err = %v, want invalid", err)
			}
		})
	}
}

func TestValidateFullnameAndWorkspaceName(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // "" means invalid
	}{
		{"plain", "Ada Lovelace", "Ada Lovelace"},
		{"trimmed", "  Ada  ", "Ada"},
		{"100 characters", strings.Repeat("é", 100), strings.Repeat("é", 100)},
		{"101 characters", strings.Repeat("é", 101), ""},
		{"blank", " \t ", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for what, fn := range map[string]func(string) (string, error){
				"fullname":  identity.ValidateFullname,
				"workspace": identity.ValidateWorkspaceName,
			} {
				got, err := fn(tt.input)
				if tt.want == "" {
					if !errs.Is(err, errs.Invalid) {
						t.Errorf("%s(%q) = %q, %v; want invalid", what, tt.input, got, err)
					}
					continue
				}
				if err != nil || got != tt.want {
					t.Errorf("%s(%q) = %q, %v; want %q", what, tt.input, got, err, tt.want)
				}
			}
		})
	}
}

func intp(v int) *int { return &v }

func TestNewInvite(t *testing.T) {
	ownerUser := identity.User{ID: 3, WorkspaceID: 9, Role: identity.WorkspaceOwner}
	adminUser := identity.User{ID: 4, WorkspaceID: 9, Role: identity.WorkspaceAdmin}
	memberUser := identity.User{ID: 5, WorkspaceID: 9, Role: identity.WorkspaceMember}
	noRole := identity.User{ID: 6, WorkspaceID: 9}
	tests := []struct {
		name     string
		by       identity.User
		maxUses  *int
		hours    *int
		wantErr  errs.Kind
		wantUses int
		wantLife time.Duration
	}{
		{name: "owner with defaults", by: ownerUser, wantUses: 1, wantLife: 168 * time.Hour},
		{name: "admin with defaults", by: adminUser, wantUses: 1, wantLife: 168 * time.Hour},
		{name: "member may not", by: memberUser, wantErr: errs.Forbidden},
		{name: "user without a role may not", by: noRole, wantErr: errs.Forbidden},
		{name: "member with valid options still may not", by: memberUser, maxUses: intp(5), hours: intp(5), wantErr: errs.Forbidden},
		{name: "1 use", by: ownerUser, maxUses: intp(1), wantUses: 1, wantLife: 168 * time.Hour},
		{name: "10000 uses", by: ownerUser, maxUses: intp(10000), wantUses: 10000, wantLife: 168 * time.Hour},
		{name: "0 uses", by: ownerUser, maxUses: intp(0), wantErr: errs.Invalid},
		{name: "negative uses", by: ownerUser, maxUses: intp(-1), wantErr: errs.Invalid},
		{name: "10001 uses", by: ownerUser, maxUses: intp(10001), wantErr: errs.Invalid},
		{name: "1 hour", by: adminUser, hours: intp(1), wantUses: 1, wantLife: time.Hour},
		{name: "720 hours", by: adminUser, hours: intp(720), wantUses: 1, wantLife: 720 * time.Hour},
		{name: "0 hours", by: adminUser, hours: intp(0), wantErr: errs.Invalid},
		{name: "negative hours", by: adminUser, hours: intp(-24), wantErr: errs.Invalid},
		{name: "721 hours", by: adminUser, hours: intp(721), wantErr: errs.Invalid},
		// 24 + 2^51 hours is 24h modulo 2^64 nanoseconds: it must not wrap into range.
		{name: "huge hours that overflow a duration", by: adminUser, hours: intp(24 + 1<<51), wantErr: errs.Invalid},
		{name: "huge negative hours", by: adminUser, hours: intp(-(1 << 62)), wantErr: errs.Invalid},
		{name: "both options", by: ownerUser, maxUses: intp(25), hours: intp(48), wantUses: 25, wantLife: 48 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := identity.NewInvite("code-1", tt.by, tt.maxUses, tt.hours, t0)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if inv.Code != "code-1" || inv.WorkspaceID != tt.by.WorkspaceID || inv.CreatedBy != tt.by.ID {
				t.Errorf("invite = %+v, want code-1 for workspace %d by %d", inv, tt.by.WorkspaceID, tt.by.ID)
			}
			if inv.MaxUses != tt.wantUses || inv.Uses != 0 {
				t.Errorf("MaxUses, Uses = %d, %d; want %d, 0", inv.MaxUses, inv.Uses, tt.wantUses)
			}
			if !inv.CreatedAt.Equal(t0) || !inv.ExpiresAt.Equal(t0.Add(tt.wantLife)) {
				t.Errorf("created %v expires %v; want %v and %v", inv.CreatedAt, inv.ExpiresAt, t0, t0.Add(tt.wantLife))
			}
			if !inv.Usable(t0) {
				t.Errorf("a new invite is not usable")
			}
		})
	}
}

func TestInviteUsable(t *testing.T) {
	expires := t0.Add(time.Hour)
	tests := []struct {
		name    string
		maxUses int
		uses    int
		at      time.Time
		want    bool
	}{
		{"unused, fresh", 1, 0, t0, true},
		{"last use left", 3, 2, t0, true},
		{"used up", 1, 1, t0, false},
		{"over used", 2, 5, t0, false},
		{"a nanosecond before expiry", 1, 0, expires.Add(-time.Nanosecond), true},
		{"at expiry", 1, 0, expires, false},
		{"after expiry", 10, 0, expires.Add(time.Minute), false},
		{"used up and expired", 1, 1, expires.Add(time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := identity.Invite{Code: "c", WorkspaceID: 9, MaxUses: tt.maxUses, Uses: tt.uses, ExpiresAt: expires, CreatedAt: t0}
			if got := inv.Usable(tt.at); got != tt.want {
				t.Errorf("Usable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCanInvite(t *testing.T) {
	tests := []struct {
		role identity.WorkspaceRole
		want bool
	}{
		{identity.WorkspaceOwner, true},
		{identity.WorkspaceAdmin, true},
		{identity.WorkspaceMember, false},
		{"", false},
	}
	for _, tt := range tests {
		if got := (identity.User{Role: tt.role}).CanInvite(); got != tt.want {
			t.Errorf("CanInvite(%q) = %v, want %v", tt.role, got, tt.want)
		}
	}
}
