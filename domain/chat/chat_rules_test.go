package chat_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
)

var t1 = t0.Add(time.Hour)

// Users of a seeded chat.
const (
	owner    int64 = 1
	admin    int64 = 2
	admin2   int64 = 3
	member   int64 = 4
	member2  int64 = 5
	outsider int64 = 9
)

// seeded rebuilds a stored chat with an owner, two admins and two members.
// A direct chat holds only users 1 and 2, both members, and no owner.
func seeded(typ chat.Type, limits chat.Limits) *chat.Chat {
	at := t0.Add(-24 * time.Hour)
	if typ == chat.Direct {
		return chat.UnmarshalFromDatabase(42, ws, typ, "", "", 0, []chat.Membership{
			{UserID: 1, Role: chat.Member, JoinedAt: at},
			{UserID: 2, Role: chat.Member, JoinedAt: at},
		}, 10, at, at, limits)
	}
	return chat.UnmarshalFromDatabase(42, ws, typ, "old name", "old description", owner, []chat.Membership{
		{UserID: owner, Role: chat.Owner, JoinedAt: at},
		{UserID: admin, Role: chat.Admin, JoinedAt: at},
		{UserID: admin2, Role: chat.Admin, JoinedAt: at},
		{UserID: member, Role: chat.Member, JoinedAt: at, LastReadSeq: 3, LastDeliveredSeq: 4},
		{UserID: member2, Role: chat.Member, JoinedAt: at},
	}, 10, at, at, limits)
}

func ptr[T any](v T) *T { return &v }

func TestUpdate(t *testing.T) {
	tests := []struct {
		name     string
		typ      chat.Type
		by       int64
		newName  *string
		newDesc  *string
		wantErr  errs.Kind
		wantName string
		wantDesc string
	}{
		{name: "owner renames", typ: chat.Group, by: owner, newName: ptr("  new  "), wantName: "new", wantDesc: "old description"},
		{name: "admin changes description", typ: chat.PrivateChannel, by: admin, newDesc: ptr("new d"), wantName: "old name", wantDesc: "new d"},
		{name: "both at once", typ: chat.PublicChannel, by: owner, newName: ptr("n"), newDesc: ptr("d"), wantName: "n", wantDesc: "d"},
		{name: "nil leaves both", typ: chat.Group, by: owner, wantName: "old name", wantDesc: "old description"},
		{name: "description may be cleared", typ: chat.PublicChannel, by: owner, newDesc: ptr(""), wantName: "old name", wantDesc: ""},
		{name: "group name may be cleared", typ: chat.Group, by: owner, newName: ptr(" "), wantName: "", wantDesc: "old description"},
		{name: "channel name may not be cleared", typ: chat.PrivateChannel, by: owner, newName: ptr(" \u00a0"), wantErr: errs.Invalid},
		{name: "name of 80 characters", typ: chat.Group, by: admin, newName: ptr(strings.Repeat("ß", 80)),
			wantName: strings.Repeat("ß", 80), wantDesc: "old description"},
		{name: "name of 81 characters", typ: chat.Group, by: admin, newName: ptr(strings.Repeat("ß", 81)), wantErr: errs.Invalid},
		{name: "description of 501 characters", typ: chat.Group, by: admin, newDesc: ptr(strings.Repeat("x", 501)), wantErr: errs.Invalid},
		{name: "invalid UTF-8 name", typ: chat.Group, by: owner, newName: ptr("\xff"), wantErr: errs.Invalid},
		{name: "bad description keeps a good name out", typ: chat.Group, by: owner, newName: ptr("fine"), newDesc: ptr("\xff"), wantErr: errs.Invalid},
		{name: "member may not", typ: chat.Group, by: member, newName: ptr("x"), wantErr: errs.Forbidden},
		{name: "outsider may not", typ: chat.PublicChannel, by: outsider, newName: ptr("x"), wantErr: errs.Forbidden},
		{name: "direct chat cannot be renamed", typ: chat.Direct, by: 1, newName: ptr("x"), wantErr: errs.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := seeded(tt.typ, chat.DefaultLimits)
			beforeName, beforeDesc, beforeUpdated := c.Name(), c.Description(), c.UpdatedAt()
			err := c.Update(tt.by, tt.newName, tt.newDesc, t1)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if c.Name() != beforeName || c.Description() != beforeDesc || !c.UpdatedAt().Equal(beforeUpdated) {
					t.Errorf("refused update changed the chat: %q, %q, %v", c.Name(), c.Description(), c.UpdatedAt())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.Name() != tt.wantName || c.Description() != tt.wantDesc {
				t.Errorf("name, description = %q, %q; want %q, %q", c.Name(), c.Description(), tt.wantName, tt.wantDesc)
			}
			if !c.UpdatedAt().Equal(t1) {
				t.Errorf("UpdatedAt = %v, want %v", c.UpdatedAt(), t1)
			}
		})
	}
}

func TestAddMembers(t *testing.T) {
	tight := chat.Limits{Group: 7, Channel: 7} // seeded chats hold 5
	tests := []struct {
		name      string
		typ       chat.Type
		limits    chat.Limits
		by        int64
		add       []int64
		wantErr   errs.Kind
		wantAdded []int64
	}{
		{name: "owner adds", typ: chat.Group, limits: chat.DefaultLimits, by: owner, add: []int64{10, 11}, wantAdded: []int64{10, 11}},
		{name: "admin adds", typ: chat.PrivateChannel, limits: chat.DefaultLimits, by: admin, add: []int64{10}, wantAdded: []int64{10}},
		{name: "existing members are skipped", typ: chat.Group, limits: chat.DefaultLimits, by: owner, add: []int64{owner, member, 10}, wantAdded: []int64{10}},
		{name: "duplicates are added once", typ: chat.Group, limits: chat.DefaultLimits, by: owner, add: []int64{10, 10, 11, 10}, wantAdded: []int64{10, 11}},
		{name: "only existing members adds nothing", typ: chat.Group, limits: chat.DefaultLimits, by: owner, add: []int64{member, admin}, wantAdded: nil},
		{name: "up to the limit", typ: chat.Group, limits: tight, by: owner, add: []int64{10, 11}, wantAdded: []int64{10, 11}},
		{name: "skipped ids do not count towards the limit", typ: chat.Group, limits: tight, by: owner, add: []int64{10, member, 11, 10}, wantAdded: []int64{10, 11}},
		{name: "over the group limit", typ: chat.Group, limits: tight, by: owner, add: []int64{10, 11, 12}, wantErr: errs.Conflict},
		{name: "over the channel limit", typ: chat.PublicChannel, limits: tight, by: admin, add: []int64{10, 11, 12}, wantErr: errs.Conflict},
		{name: "member may not add", typ: chat.Group, limits: chat.DefaultLimits, by: member, add: []int64{10}, wantErr: errs.Forbidden},
		{name: "outsider may not add", typ: chat.PublicChannel, limits: chat.DefaultLimits, by: outsider, add: []int64{10}, wantErr: errs.Forbidden},
		{name: "direct chat cannot grow", typ: chat.Direct, limits: chat.DefaultLimits, by: 1, add: []int64{10}, wantErr: errs.Forbidden},
		{name: "empty list", typ: chat.Group, limits: chat.DefaultLimits, by: owner, add: nil, wantErr: errs.Invalid},
		{name: "zero id", typ: chat.Group, limits: chat.DefaultLimits, by: owner, add: []int64{10, 0}, wantErr: errs.Invalid},
		{name: "negative id", typ: chat.Group, limits: chat.DefaultLimits, by: owner, add: []int64{-10}, wantErr: errs.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := seeded(tt.typ, tt.limits)
			before := c.Members()
			added, err := c.AddMembers(tt.by, tt.add, t1)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if !slices.Equal(c.Members(), before) {
					t.Errorf("refused add changed members: %v", c.Members())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var got []int64
			for _, m := range added {
				got = append(got, m.UserID)
				if m.Role != chat.Member || !m.JoinedAt.Equal(t1) {
					t.Errorf("added %+v, want role member joined at %v", m, t1)
				}
			}
			if !slices.Equal(got, tt.wantAdded) {
				t.Errorf("added = %v, want %v", got, tt.wantAdded)
			}
			if c.MemberCount() != len(before)+len(tt.wantAdded) {
				t.Errorf("MemberCount = %d, want %d", c.MemberCount(), len(before)+len(tt.wantAdded))
			}
			for _, id := range tt.wantAdded {
				if !c.IsMember(id) {
					t.Errorf("%d is not a member after being added", id)
				}
			}
			// Existing members keep their role and pointers.
			for _, m := range before {
				if now, _ := c.Member(m.UserID); now != m {
					t.Errorf("existing member changed: %+v -> %+v", m, now)
				}
			}
			wantUpdated := t0.Add(-24 * time.Hour)
			if len(tt.wantAdded) > 0 {
				wantUpdated = t1
			}
			if !c.UpdatedAt().Equal(wantUpdated) {
				t.Errorf("UpdatedAt = %v, want %v", c.UpdatedAt(), wantUpdated)
			}
		})
	}
}

func TestAddMembersToANewGroupUpToItsLimit(t *testing.T) {
	limits := chat.Limits{Group: 3, Channel: 10}
	c, err := chat.New(ws, 1, chat.Group, "", "", []int64{2}, limits, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddMembers(1, []int64{3}, t1); err != nil {
		t.Fatalf("third member refused: %v", err)
	}
	if _, err := c.AddMembers(1, []int64{4}, t1); !errs.Is(err, errs.Conflict) {
		t.Fatalf("fourth member: err = %v, want conflict", err)
	}
	if c.MemberCount() != 3 {
		t.Errorf("MemberCount = %d, want 3", c.MemberCount())
	}
}

func TestRemoveMember(t *testing.T) {
	tests := []struct {
		name    string
		typ     chat.Type
		by      int64
		target  int64
		wantErr errs.Kind
	}{
		{name: "member leaves", typ: chat.Group, by: member, target: member},
		{name: "admin leaves", typ: chat.PrivateChannel, by: admin, target: admin},
		{name: "owner cannot leave", typ: chat.Group, by: owner, target: owner, wantErr: errs.Conflict},
		{name: "owner removes member", typ: chat.Group, by: owner, target: member},
		{name: "owner removes admin", typ: chat.PublicChannel, by: owner, target: admin},
		{name: "admin removes member", typ: chat.Group, by: admin, target: member2},
		{name: "admin cannot remove admin", typ: chat.Group, by: admin, target: admin2, wantErr: errs.Forbidden},
		{name: "admin cannot remove owner", typ: chat.Group, by: admin, target: owner, wantErr: errs.Forbidden},
		{name: "member cannot remove member", typ: chat.Group, by: member, target: member2, wantErr: errs.Forbidden},
		{name: "member cannot remove admin", typ: chat.Group, by: member, target: admin, wantErr: errs.Forbidden},
		{name: "member cannot remove owner", typ: chat.Group, by: member, target: owner, wantErr: errs.Forbidden},
		{name: "outsider cannot remove member", typ: chat.PublicChannel, by: outsider, target: member, wantErr: errs.Forbidden},
		{name: "target not a member", typ: chat.Group, by: owner, target: outsider, wantErr: errs.NotFound},
		{name: "outsider leaving", typ: chat.PublicChannel, by: outsider, target: outsider, wantErr: errs.NotFound},
		{name: "nobody leaves a direct chat", typ: chat.Direct, by: 1, target: 1, wantErr: errs.Forbidden},
		{name: "nobody is removed from a direct chat", typ: chat.Direct, by: 1, target: 2, wantErr: errs.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := seeded(tt.typ, chat.DefaultLimits)
			before := c.Members()
			want, _ := c.Member(tt.target)
			got, err := c.RemoveMember(tt.by, tt.target, t1)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if !slices.Equal(c.Members(), before) {
					t.Errorf("refused removal changed members: %v", c.Members())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != want {
				t.Errorf("removed membership = %+v, want %+v", got, want)
			}
			if c.IsMember(tt.target) {
				t.Errorf("%d is still a member", tt.target)
			}
			if c.MemberCount() != len(before)-1 {
				t.Errorf("MemberCount = %d, want %d", c.MemberCount(), len(before)-1)
			}
			if c.OwnerID() != owner || roles(c)[owner] != chat.Owner {
				t.Errorf("owner changed: OwnerID %d, roles %v", c.OwnerID(), roles(c))
			}
			if !c.UpdatedAt().Equal(t1) {
				t.Errorf("UpdatedAt = %v, want %v", c.UpdatedAt(), t1)
			}
		})
	}
}

func TestOwnerLeavesAfterHandingOver(t *testing.T) {
	c := seeded(chat.Group, chat.DefaultLimits)
	if _, err := c.RemoveMember(owner, owner, t1); !errs.Is(err, errs.Conflict) {
		t.Fatalf("leave before hand-over: err = %v, want conflict", err)
	}
	if _, err := c.ChangeRole(owner, member, chat.Owner, t1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveMember(owner, owner, t1); err != nil {
		t.Fatalf("leave after hand-over: %v", err)
	}
	if c.OwnerID() != member || roles(c)[member] != chat.Owner {
		t.Errorf("OwnerID %d, roles %v; want %d as owner", c.OwnerID(), roles(c), member)
	}
}

func TestChangeRole(t *testing.T) {
	type change struct {
		user int64
		role chat.Role
	}
	tests := []struct {
		name        string
		typ         chat.Type
		by, target  int64
		role        chat.Role
		wantErr     errs.Kind
		wantChanged []change
		wantOwner   int64
	}{
		{name: "owner promotes member to admin", typ: chat.Group, by: owner, target: member, role: chat.Admin,
			wantChanged: []change{{member, chat.Admin}}, wantOwner: owner},
		{name: "owner demotes admin", typ: chat.PrivateChannel, by: owner, target: admin, role: chat.Member,
			wantChanged: []change{{admin, chat.Member}}, wantOwner: owner},
		{name: "same role changes nothing", typ: chat.Group, by: owner, target: admin, role: chat.Admin,
			wantChanged: nil, wantOwner: owner},
		{name: "hand over to member", typ: chat.Group, by: owner, target: member, role: chat.Owner,
			wantChanged: []change{{owner, chat.Admin}, {member, chat.Owner}}, wantOwner: member},
		{name: "hand over to admin", typ: chat.PublicChannel, by: owner, target: admin2, role: chat.Owner,
			wantChanged: []change{{owner, chat.Admin}, {admin2, chat.Owner}}, wantOwner: admin2},
		{name: "owner stays owner", typ: chat.Group, by: owner, target: owner, role: chat.Owner,
			wantChanged: nil, wantOwner: owner},
		{name: "owner cannot demote self", typ: chat.Group, by: owner, target: owner, role: chat.Admin, wantErr: errs.Conflict},
		{name: "admin cannot change roles", typ: chat.Group, by: admin, target: member, role: chat.Admin, wantErr: errs.Forbidden},
		{name: "admin cannot take ownership", typ: chat.Group, by: admin, target: admin, role: chat.Owner, wantErr: errs.Forbidden},
		{name: "member cannot promote self", typ: chat.Group, by: member, target: member, role: chat.Admin, wantErr: errs.Forbidden},
		{name: "outsider cannot", typ: chat.PublicChannel, by: outsider, target: member, role: chat.Admin, wantErr: errs.Forbidden},
		{name: "target not a member", typ: chat.Group, by: owner, target: outsider, role: chat.Admin, wantErr: errs.NotFound},
		{name: "direct chat has no roles", typ: chat.Direct, by: 1, target: 2, role: chat.Owner, wantErr: errs.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := seeded(tt.typ, chat.DefaultLimits)
			before := c.Members()
			beforeOwner := c.OwnerID()
			changed, err := c.ChangeRole(tt.by, tt.target, tt.role, t1)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if !slices.Equal(c.Members(), before) || c.OwnerID() != beforeOwner {
					t.Errorf("refused change altered the chat: owner %d, %v", c.OwnerID(), c.Members())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			got := map[int64]chat.Role{}
			for _, m := range changed {
				got[m.UserID] = m.Role
			}
			if len(got) != len(changed) || len(got) != len(tt.wantChanged) {
				t.Errorf("changed = %+v, want %v", changed, tt.wantChanged)
			}
			for _, w := range tt.wantChanged {
				if got[w.user] != w.role {
					t.Errorf("changed role of %d = %q, want %q", w.user, got[w.user], w.role)
				}
			}
			if c.OwnerID() != tt.wantOwner {
				t.Errorf("OwnerID = %d, want %d", c.OwnerID(), tt.wantOwner)
			}
			// The chat agrees with what was returned, and has exactly one owner.
			now := roles(c)
			for id, r := range got {
				if now[id] != r {
					t.Errorf("chat says %d is %q, change said %q", id, now[id], r)
				}
			}
			owners := 0
			for id, r := range now {
				if r == chat.Owner {
					owners++
					if id != c.OwnerID() {
						t.Errorf("%d has role owner but OwnerID is %d", id, c.OwnerID())
					}
				}
			}
			if owners != 1 {
				t.Errorf("%d owners: %v", owners, now)
			}
			wantUpdated := t0.Add(-24 * time.Hour)
			if len(tt.wantChanged) > 0 {
				wantUpdated = t1
			}
			if !c.UpdatedAt().Equal(wantUpdated) {
				t.Errorf("UpdatedAt = %v, want %v", c.UpdatedAt(), wantUpdated)
			}
		})
	}
}

func TestOldOwnerLosesOwnerRights(t *testing.T) {
	c := seeded(chat.Group, chat.DefaultLimits)
	if _, err := c.ChangeRole(owner, member, chat.Owner, t1); err != nil {
		t.Fatal(err)
	}
	if err := c.CanDelete(owner); !errs.Is(err, errs.Forbidden) {
		t.Errorf("old owner CanDelete: err = %v, want forbidden", err)
	}
	if err := c.CanDelete(member); err != nil {
		t.Errorf("new owner CanDelete: %v", err)
	}
	if _, err := c.ChangeRole(owner, member2, chat.Admin, t1); !errs.Is(err, errs.Forbidden) {
		t.Errorf("old owner ChangeRole: err = %v, want forbidden", err)
	}
	// Now an admin, the old owner may still manage members.
	if _, err := c.AddMembers(owner, []int64{20}, t1); err != nil {
		t.Errorf("old owner, now admin, AddMembers: %v", err)
	}
}

func TestCanDelete(t *testing.T) {
	tests := []struct {
		name string
		typ  chat.Type
		by   int64
		ok   bool
	}{
		{"owner of group", chat.Group, owner, true},
		{"owner of private channel", chat.PrivateChannel, owner, true},
		{"owner of public channel", chat.PublicChannel, owner, true},
		{"admin", chat.Group, admin, false},
		{"member", chat.Group, member, false},
		{"outsider", chat.PublicChannel, outsider, false},
		{"direct chat member", chat.Direct, 1, false},
		{"direct chat, user 0 matches no owner", chat.Direct, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := seeded(tt.typ, chat.DefaultLimits).CanDelete(tt.by)
			if tt.ok && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if !tt.ok && !errs.Is(err, errs.Forbidden) {
				t.Errorf("err = %v, want forbidden", err)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	full := chat.Limits{Group: 5, Channel: 5} // seeded chats hold 5
	tests := []struct {
		name      string
		typ       chat.Type
		limits    chat.Limits
		user      int64
		wantErr   errs.Kind
		wantAdded bool
		wantRole  chat.Role
	}{
		{name: "outsider joins public channel", typ: chat.PublicChannel, limits: chat.DefaultLimits, user: outsider, wantAdded: true, wantRole: chat.Member},
		{name: "member joins again", typ: chat.PublicChannel, limits: chat.DefaultLimits, user: member, wantAdded: false, wantRole: chat.Member},
		{name: "owner joins again keeps owner", typ: chat.PublicChannel, limits: chat.DefaultLimits, user: owner, wantAdded: false, wantRole: chat.Owner},
		{name: "member of a full channel joins again", typ: chat.PublicChannel, limits: full, user: admin, wantAdded: false, wantRole: chat.Admin},
		{name: "full public channel", typ: chat.PublicChannel, limits: full, user: outsider, wantErr: errs.Conflict},
		{name: "outsider and private channel", typ: chat.PrivateChannel, limits: chat.DefaultLimits, user: outsider, wantErr: errs.NotFound},
		{name: "outsider and group", typ: chat.Group, limits: chat.DefaultLimits, user: outsider, wantErr: errs.NotFound},
		{name: "outsider and direct chat", typ: chat.Direct, limits: chat.DefaultLimits, user: outsider, wantErr: errs.NotFound},
		{name: "member of private channel", typ: chat.PrivateChannel, limits: chat.DefaultLimits, user: member, wantErr: errs.Forbidden},
		{name: "member of group", typ: chat.Group, limits: chat.DefaultLimits, user: admin, wantErr: errs.Forbidden},
		{name: "member of direct chat", typ: chat.Direct, limits: chat.DefaultLimits, user: 2, wantErr: errs.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := seeded(tt.typ, tt.limits)
			before := c.Members()
			prev, wasMember := c.Member(tt.user)
			m, added, err := c.Join(tt.user, t1)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if added || !slices.Equal(c.Members(), before) {
					t.Errorf("refused join changed members (added %v): %v", added, c.Members())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if added != tt.wantAdded {
				t.Errorf("added = %v, want %v", added, tt.wantAdded)
			}
			if m.UserID != tt.user || m.Role != tt.wantRole {
				t.Errorf("membership = %+v, want user %d role %q", m, tt.user, tt.wantRole)
			}
			if wasMember {
				if m != prev {
					t.Errorf("rejoin returned %+v, want the existing %+v", m, prev)
				}
				if !slices.Equal(c.Members(), before) {
					t.Errorf("rejoin changed members: %v", c.Members())
				}
				return
			}
			if !m.JoinedAt.Equal(t1) {
				t.Errorf("JoinedAt = %v, want %v", m.JoinedAt, t1)
			}
			if !c.IsMember(tt.user) || c.MemberCount() != len(before)+1 {
				t.Errorf("after join: member %v, count %d", c.IsMember(tt.user), c.MemberCount())
			}
			// A second join is a no-op.
			again, added, err := c.Join(tt.user, t1.Add(time.Minute))
			if err != nil || added || again != m || c.MemberCount() != len(before)+1 {
				t.Errorf("second join = %+v, %v, %v; count %d", again, added, err, c.MemberCount())
			}
		})
	}
}

func TestJoinFillsUpToTheChannelLimit(t *testing.T) {
	c, err := chat.New(ws, 1, chat.PublicChannel, "general", "", nil, chat.Limits{Group: 50, Channel: 3}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []int64{2, 3} {
		if _, added, err := c.Join(u, t1); err != nil || !added {
			t.Fatalf("join %d: added %v, err %v", u, added, err)
		}
	}
	if _, _, err := c.Join(4, t1); !errs.Is(err, errs.Conflict) {
		t.Fatalf("join of a full channel: err = %v, want conflict", err)
	}
	if _, err := c.RemoveMember(3, 3, t1); err != nil {
		t.Fatal(err)
	}
	if _, added, err := c.Join(4, t1); err != nil || !added {
		t.Fatalf("join after someone left: added %v, err %v", added, err)
	}
}
