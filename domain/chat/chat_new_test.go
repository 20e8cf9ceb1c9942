package chat_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
)

var t0 = time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC)

const (
	ws      int64 = 7
	creator int64 = 1
)

// ids returns n distinct user ids starting at from.
func ids(from int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

func roles(c *chat.Chat) map[int64]chat.Role {
	out := map[int64]chat.Role{}
	for _, m := range c.Members() {
		out[m.UserID] = m.Role
	}
	return out
}

func TestNew(t *testing.T) {
	small := chat.Limits{Group: 4, Channel: 6}
	tests := []struct {
		name        string
		typ         chat.Type
		chatName    string
		description string
		members     []int64
		limits      chat.Limits
		wantErr     errs.Kind // errs.Internal means no error expected
		wantRoles   map[int64]chat.Role
		wantName    string
		wantDesc    string
	}{
		// direct
		{name: "direct with one other user", typ: chat.Direct, members: []int64{2}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Member, 2: chat.Member}},
		{name: "direct listing the creator too", typ: chat.Direct, members: []int64{1, 2}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Member, 2: chat.Member}},
		{name: "direct with the other user twice", typ: chat.Direct, members: []int64{2, 2}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Member, 2: chat.Member}},
		{name: "direct ignores name and description", typ: chat.Direct, chatName: "x", description: "y", members: []int64{2},
			limits: chat.DefaultLimits, wantRoles: map[int64]chat.Role{1: chat.Member, 2: chat.Member}},
		{name: "direct with nobody", typ: chat.Direct, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "direct with only the creator", typ: chat.Direct, members: []int64{1}, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "direct with two others", typ: chat.Direct, members: []int64{2, 3}, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "direct with a zero id", typ: chat.Direct, members: []int64{0}, limits: chat.DefaultLimits, wantErr: errs.Invalid},

		// group
		{name: "group of two", typ: chat.Group, members: []int64{2}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Owner, 2: chat.Member}},
		{name: "group without a name is fine", typ: chat.Group, chatName: "   ", members: []int64{2}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Owner, 2: chat.Member}, wantName: ""},
		{name: "group name and description are trimmed", typ: chat.Group, chatName: "  team  ", description: "\tabout\n",
			members: []int64{2}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Owner, 2: chat.Member}, wantName: "team", wantDesc: "about"},
		{name: "group dedupes creator and repeats", typ: chat.Group, members: []int64{1, 2, 2, 3, 1}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Owner, 2: chat.Member, 3: chat.Member}},
		{name: "group of creator only", typ: chat.Group, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "group listing only the creator", typ: chat.Group, members: []int64{1, 1}, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "group at custom limit", typ: chat.Group, members: ids(2, 3), limits: small,
			wantRoles: map[int64]chat.Role{1: chat.Owner, 2: chat.Member, 3: chat.Member, 4: chat.Member}},
		{name: "group one over custom limit", typ: chat.Group, members: ids(2, 4), limits: small, wantErr: errs.Invalid},
		{name: "group at default limit of 50", typ: chat.Group, members: ids(2, 49), limits: chat.DefaultLimits},
		{name: "group of 51 with defaults", typ: chat.Group, members: ids(2, 50), limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "group limit counts distinct ids", typ: chat.Group, members: append(ids(2, 3), 2, 3, 1), limits: small},
		{name: "group with a negative id", typ: chat.Group, members: []int64{2, -3}, limits: chat.DefaultLimits, wantErr: errs.Invalid},

		// channels
		{name: "private channel alone", typ: chat.PrivateChannel, chatName: "ops", limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Owner}, wantName: "ops"},
		{name: "public channel with members", typ: chat.PublicChannel, chatName: "general", members: []int64{2, 3}, limits: chat.DefaultLimits,
			wantRoles: map[int64]chat.Role{1: chat.Owner, 2: chat.Member, 3: chat.Member}, wantName: "general"},
		{name: "private channel without a name", typ: chat.PrivateChannel, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "public channel with a blank name", typ: chat.PublicChannel, chatName: " \t\u00a0\u3000", limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "channel at custom limit", typ: chat.PublicChannel, chatName: "c", members: ids(2, 5), limits: small, wantName: "c"},
		{name: "channel one over custom limit", typ: chat.PrivateChannel, chatName: "c", members: ids(2, 6), limits: small, wantErr: errs.Invalid},
		{name: "channel limit is not the group limit", typ: chat.PublicChannel, chatName: "c", members: ids(2, 60), limits: chat.DefaultLimits, wantName: "c"},
		{name: "channel at default limit of 1000", typ: chat.PublicChannel, chatName: "c", members: ids(2, 999), limits: chat.DefaultLimits, wantName: "c"},
		{name: "channel of 1001 with defaults", typ: chat.PublicChannel, chatName: "c", members: ids(2, 1000), limits: chat.DefaultLimits, wantErr: errs.Invalid},

		// text limits, counted in characters
		{name: "name of 80 multi-byte characters", typ: chat.PublicChannel, chatName: strings.Repeat("é", 80), limits: chat.DefaultLimits,
			wantName: strings.Repeat("é", 80)},
		{name: "name of 81 characters", typ: chat.PublicChannel, chatName: strings.Repeat("a", 81), limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "name of 81 emoji", typ: chat.Group, chatName: strings.Repeat("🙂", 81), members: []int64{2}, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "80 characters plus surrounding space", typ: chat.PublicChannel, chatName: "  " + strings.Repeat("z", 80) + "  ",
			limits: chat.DefaultLimits, wantName: strings.Repeat("z", 80)},
		{name: "name with invalid UTF-8", typ: chat.PublicChannel, chatName: "bad\xff", limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "optional group name with invalid UTF-8", typ: chat.Group, chatName: "\xc3", members: []int64{2}, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "description of 500 multi-byte characters", typ: chat.PrivateChannel, chatName: "c", description: strings.Repeat("ü", 500),
			limits: chat.DefaultLimits, wantName: "c", wantDesc: strings.Repeat("ü", 500)},
		{name: "description of 501 characters", typ: chat.PrivateChannel, chatName: "c", description: strings.Repeat("d", 501), limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "description with invalid UTF-8", typ: chat.Group, description: "\xff\xfe", members: []int64{2}, limits: chat.DefaultLimits, wantErr: errs.Invalid},

		// type
		{name: "unknown type", typ: chat.Type("forum"), chatName: "f", members: []int64{2}, limits: chat.DefaultLimits, wantErr: errs.Invalid},
		{name: "empty type", typ: chat.Type(""), members: []int64{2}, limits: chat.DefaultLimits, wantErr: errs.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := chat.New(ws, creator, tt.typ, tt.chatName, tt.description, tt.members, tt.limits, t0)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v (kind %v), want kind %v", err, errs.KindOf(err), tt.wantErr)
				}
				if c != nil {
					t.Fatalf("got a chat alongside error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.WorkspaceID() != ws || c.Type() != tt.typ {
				t.Errorf("workspace, type = %d, %q; want %d, %q", c.WorkspaceID(), c.Type(), ws, tt.typ)
			}
			if !c.CreatedAt().Equal(t0) || !c.UpdatedAt().Equal(t0) {
				t.Errorf("created, updated = %v, %v; want %v", c.CreatedAt(), c.UpdatedAt(), t0)
			}
			if c.ID() != 0 || c.LastSeq() != 0 {
				t.Errorf("id, last seq = %d, %d; want 0, 0 before storage", c.ID(), c.LastSeq())
			}
			if c.Name() != tt.wantName || c.Description() != tt.wantDesc {
				t.Errorf("name, description = %q, %q; want %q, %q", c.Name(), c.Description(), tt.wantName, tt.wantDesc)
			}
			if !c.IsMember(creator) {
				t.Errorf("creator is not a member")
			}
			wantOwner := creator
			wantCreatorRole := chat.Owner
			if tt.typ == chat.Direct {
				wantOwner, wantCreatorRole = 0, chat.Member
			}
			if c.OwnerID() != wantOwner {
				t.Errorf("OwnerID = %d, want %d", c.OwnerID(), wantOwner)
			}
			got := roles(c)
			if got[creator] != wantCreatorRole {
				t.Errorf("creator role = %q, want %q", got[creator], wantCreatorRole)
			}
			if c.MemberCount() != len(got) {
				t.Errorf("MemberCount = %d but %d distinct members", c.MemberCount(), len(got))
			}
			if tt.wantRoles != nil {
				if len(got) != len(tt.wantRoles) {
					t.Errorf("members = %v, want %v", got, tt.wantRoles)
				}
				for id, r := range tt.wantRoles {
					if got[id] != r {
						t.Errorf("role of %d = %q, want %q", id, got[id], r)
					}
				}
			}
			owners := 0
			for _, m := range c.Members() {
				if m.Role == chat.Owner {
					owners++
				}
				if !m.JoinedAt.Equal(t0) || m.LastReadSeq != 0 || m.LastDeliveredSeq != 0 {
					t.Errorf("member %d = %+v, want joined at %v with zero pointers", m.UserID, m, t0)
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tt.typ == chat.Direct]; owners != want {
				t.Errorf("%d owners, want %d", owners, want)
			}
		})
	}
}

func TestNewRequiresWorkspaceAndCreator(t *testing.T) {
	tests := []struct {
		name             string
		workspace, maker int64
	}{
		{"no workspace", 0, 1},
		{"negative workspace", -1, 1},
		{"no creator", 1, 0},
		{"negative creator", 1, -5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := chat.New(tt.workspace, tt.maker, chat.Group, "g", "", []int64{2, 3}, chat.DefaultLimits, t0)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}

func TestDirectKey(t *testing.T) {
	tests := []struct {
		name           string
		creator, other int64
		want           string
	}{
		{"creator smaller", 3, 12, "3:12"},
		{"creator larger", 12, 3, "3:12"},
		{"multi-digit ids", 1234567890123, 9, "9:1234567890123"},
		{"tens", 10, 100, "10:100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := chat.New(ws, tt.creator, chat.Direct, "", "", []int64{tt.other}, chat.DefaultLimits, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.DirectKey(); got != tt.want {
				t.Errorf("DirectKey = %q, want %q", got, tt.want)
			}
			if a, b := chat.DirectKeyOf(tt.creator, tt.other), chat.DirectKeyOf(tt.other, tt.creator); a != tt.want || b != tt.want {
				t.Errorf("DirectKeyOf = %q / %q, want %q both ways", a, b, tt.want)
			}
			// The chat the other user would create is the same chat.
			mirror, err := chat.New(ws, tt.other, chat.Direct, "", "", []int64{tt.creator}, chat.DefaultLimits, t0)
			if err != nil {
				t.Fatal(err)
			}
			if mirror.DirectKey() != c.DirectKey() {
				t.Errorf("mirror key %q != %q", mirror.DirectKey(), c.DirectKey())
			}
		})
	}
}

func TestDirectKeyOnlyForDirectChats(t *testing.T) {
	for _, typ := range []chat.Type{chat.Group, chat.PrivateChannel, chat.PublicChannel} {
		t.Run(string(typ), func(t *testing.T) {
			c, err := chat.New(ws, 1, typ, "n", "", []int64{2}, chat.DefaultLimits, t0)
			if err != nil {
				t.Fatal(err)
			}
			if k := c.DirectKey(); k != "" {
				t.Errorf("DirectKey = %q, want empty for a %s", k, typ)
			}
		})
	}
}

func TestParseTypeAndRole(t *testing.T) {
	for _, s := range []string{"direct", "group", "private_channel", "public_channel"} {
		if got, err := chat.ParseType(s); err != nil || string(got) != s {
			t.Errorf("ParseType(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Group", "channel", "public"} {
		if _, err := chat.ParseType(s); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseType(%q) err = %v, want invalid", s, err)
		}
	}
	for _, s := range []string{"owner", "admin", "member"} {
		if got, err := chat.ParseRole(s); err != nil || string(got) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Owner", "guest"} {
		if _, err := chat.ParseRole(s); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseRole(%q) err = %v, want invalid", s, err)
		}
	}
}

func TestMembersReturnsACopy(t *testing.T) {
	c, err := chat.New(ws, 1, chat.Group, "", "", []int64{2}, chat.DefaultLimits, t0)
	if err != nil {
		t.Fatal(err)
	}
	ms := c.Members()
	ms[0].Role = chat.Member
	ms[1].UserID = 99
	if roles(c)[1] != chat.Owner || c.IsMember(99) {
		t.Errorf("changing Members() result changed the chat: %v", c.Members())
	}
	if got := c.MemberIDs(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("MemberIDs = %v, want [1 2]", got)
	}
}

func TestVisibleTo(t *testing.T) {
	tests := []struct {
		typ      chat.Type
		outsider bool
	}{
		{chat.Direct, false},
		{chat.Group, false},
		{chat.PrivateChannel, false},
		{chat.PublicChannel, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			c, err := chat.New(ws, 1, tt.typ, "n", "", []int64{2}, chat.DefaultLimits, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !c.VisibleTo(1) || !c.VisibleTo(2) {
				t.Errorf("members cannot see the chat")
			}
			if got := c.VisibleTo(3); got != tt.outsider {
				t.Errorf("VisibleTo(outsider) = %v, want %v", got, tt.outsider)
			}
		})
	}
}
