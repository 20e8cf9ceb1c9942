// Package chat holds the Chat aggregate: its type, members and roles, and the
// rules for who may rename, add, remove, delete and join.
package chat

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fechatter/fechatter/domain/errs"
)

// Type is the kind of chat.
type Type string

const (
	Direct         Type = "direct"
	Group          Type = "group"
	PrivateChannel Type = "private_channel"
	PublicChannel  Type = "public_channel"
)

// ParseType validates a chat type given by a client.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case Direct, Group, PrivateChannel, PublicChannel:
		return t, nil
	}
	return "", errs.Invalidf("type must be one of direct, group, private_channel, public_channel")
}

// IsChannel reports whether the chat is a private or public channel.
func (t Type) IsChannel() bool { return t == PrivateChannel || t == PublicChannel }

// Role is a member's standing in a chat.
type Role string

const (
	Owner  Role = "owner"
	Admin  Role = "admin"
	Member Role = "member"
)

// ParseRole validates a role given by a client.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Owner, Admin, Member:
		return r, nil
	}
	return "", errs.Invalidf("role must be one of owner, admin, member")
}

// Limits bound the number of members per chat type.
type Limits struct {
	Group   int
	Channel int
}

// DefaultLimits are the sizes API.md documents.
var DefaultLimits = Limits{Group: 50, Channel: 1000}

func (l Limits) max(t Type) int {
	switch t {
	case Direct:
		return 2
	case Group:
		return l.Group
	default:
		return l.Channel
	}
}

// Text limits.
const (
	MaxNameLen        = 80
	MaxDescriptionLen = 500
)

// Membership is one user's place in a chat.
type Membership struct {
	UserID           int64
	Role             Role
	JoinedAt         time.Time
	LastDeliveredSeq int64
	LastReadSeq      int64
}

// Chat is the aggregate root. Members are loaded with it.
type Chat struct {
	id          int64
	workspaceID int64
	typ         Type
	name        string
	description string
	ownerID     int64
	members     []Membership
	lastSeq     int64
	createdAt   time.Time
	updatedAt   time.Time
	limits      Limits
}

// New validates and builds a chat created by creatorID. memberIDs are the
// other members; the creator is always added, as owner except in direct chats.
func New(workspaceID, creatorID int64, typ Type, name, description string, memberIDs []int64, limits Limits, now time.Time) (*Chat, error) {
	if workspaceID <= 0 || creatorID <= 0 {
		return nil, errs.Invalidf("workspace and creator are required")
	}
	others, err := cleanIDs(memberIDs, creatorID)
	if err != nil {
		return nil, err
	}
	c := &Chat{workspaceID: workspaceID, typ: typ, createdAt: now, updatedAt: now, limits: limits}
	switch typ {
	case Direct:
		if len(others) != 1 {
			return nil, errs.Invalidf("a direct chat is between exactly 2 users: member_ids must name one other user")
		}
	case Group:
		if len(others) < 1 {
			return nil, errs.Invalidf("a group needs at least 2 members, creator included")
		}
	case PrivateChannel, PublicChannel:
	default:
		return nil, errs.Invalidf("type must be one of direct, group, private_channel, public_channel")
	}
	if typ != Direct {
		if c.name, err = validName(name, typ.IsChannel()); err != nil {
			return nil, err
		}
		if c.description, err = validDescription(description); err != nil {
			return nil, err
		}
	}
	if max := limits.max(typ); 1+len(others) > max {
		return nil, errs.Invalidf("a %s has at most %d members", typ, max)
	}
	creatorRole := Owner
	if typ == Direct {
		creatorRole = Member
	} else {
		c.ownerID = creatorID
	}
	c.members = append(c.members, Membership{UserID: creatorID, Role: creatorRole, JoinedAt: now})
	for _, id := range others {
		c.members = append(c.members, Membership{UserID: id, Role: Member, JoinedAt: now})
	}
	return c, nil
}

// UnmarshalFromDatabase rebuilds a chat from storage. It trusts its input.
func UnmarshalFromDatabase(id, workspaceID int64, typ Type, name, description string, ownerID int64,
	members []Membership, lastSeq int64, createdAt, updatedAt time.Time, limits Limits) *Chat {
	return &Chat{id: id, workspaceID: workspaceID, typ: typ, name: name, description: description,
		ownerID: ownerID, members: members, lastSeq: lastSeq, createdAt: createdAt,
		updatedAt: updatedAt, limits: limits}
}

func cleanIDs(ids []int64, creatorID int64) ([]int64, error) {
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id <= 0 {
			return nil, errs.Invalidf("member ids must be positive")
		}
		if id == creatorID || slices.Contains(out, id) {
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

func validName(name string, required bool) (string, error) {
	n := strings.TrimSpace(name)
	if !utf8.ValidString(n) {
		return "", errs.Invalidf("name must be valid UTF-8")
	}
	if required && n == "" {
		return "", errs.Invalidf("a channel needs a name")
	}
	if utf8.RuneCountInString(n) > MaxNameLen {
		return "", errs.Invalidf("name must be at most %d characters", MaxNameLen)
	}
	return n, nil
}

func validDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > MaxDescriptionLen {
		return "", errs.Invalidf("description must be at most %d characters of valid UTF-8", MaxDescriptionLen)
	}
	return d, nil
}

func (c *Chat) ID() int64             { return c.id }
func (c *Chat) WorkspaceID() int64    { return c.workspaceID }
func (c *Chat) Type() Type            { return c.typ }
func (c *Chat) Name() string          { return c.name }
func (c *Chat) Description() string   { return c.description }
func (c *Chat) OwnerID() int64        { return c.ownerID }
func (c *Chat) LastSeq() int64        { return c.lastSeq }
func (c *Chat) CreatedAt() time.Time  { return c.createdAt }
func (c *Chat) UpdatedAt() time.Time  { return c.updatedAt }
func (c *Chat) Members() []Membership { return slices.Clone(c.members) }
func (c *Chat) MemberCount() int      { return len(c.members) }
func (c *Chat) SetID(id int64)        { c.id = id }
func (c *Chat) MemberIDs() []int64 {
	ids := make([]int64, len(c.members))
	for i, m := range c.members {
		ids[i] = m.UserID
	}
	return ids
}

// DirectKey identifies a direct chat by its two users, smaller id first.
func (c *Chat) DirectKey() string {
	if c.typ != Direct || len(c.members) != 2 {
		return ""
	}
	return DirectKeyOf(c.members[0].UserID, c.members[1].UserID)
}

// DirectKeyOf is the key of the direct chat between a and b.
func DirectKeyOf(a, b int64) string {
	if a > b {
		a, b = b, a
	}
	return strconv.FormatInt(a, 10) + ":" + strconv.FormatInt(b, 10)
}

// Member returns userID's membership.
func (c *Chat) Member(userID int64) (Membership, bool) {
	for _, m := range c.members {
		if m.UserID == userID {
			return m, true
		}
	}
	return Membership{}, false
}

// IsMember reports whether userID belongs to the chat.
func (c *Chat) IsMember(userID int64) bool { _, ok := c.Member(userID); return ok }

// VisibleTo reports whether userID may see the chat at all: members see it,
// and so does anyone of the workspace for a public channel.
func (c *Chat) VisibleTo(userID int64) bool { return c.typ == PublicChannel || c.IsMember(userID) }

func (c *Chat) roleOf(userID int64) Role {
	m, _ := c.Member(userID)
	return m.Role
}

func (c *Chat) canManage(userID int64) bool {
	r := c.roleOf(userID)
	return r == Owner || r == Admin
}

// Update renames the chat or changes its description; nil leaves a field as is.
func (c *Chat) Update(by int64, name, description *string, now time.Time) error {
	if c.typ == Direct {
		return errs.Forbiddenf("a direct chat cannot be renamed")
	}
	if !c.canManage(by) {
		return errs.Forbiddenf("only the owner or an admin may change chat %d", c.id)
	}
	// Validate both fields before touching either, so a refused update
	// leaves the chat as it was. Only channels must keep a name.
	n, d := c.name, c.description
	if name != nil {
		var err error
		if n, err = validName(*name, c.typ.IsChannel()); err != nil {
			return err
		}
	}
	if description != nil {
		var err error
		if d, err = validDescription(*description); err != nil {
			return err
		}
	}
	c.name, c.description = n, d
	c.updatedAt = now
	return nil
}

// AddMembers adds users by an owner or admin. Users already in are skipped;
// the returned slice holds only the new memberships.
func (c *Chat) AddMembers(by int64, userIDs []int64, now time.Time) ([]Membership, error) {
	if c.typ == Direct {
		return nil, errs.Forbiddenf("a direct chat cannot have more members")
	}
	if !c.canManage(by) {
		return nil, errs.Forbiddenf("only the owner or an admin may add members to chat %d", c.id)
	}
	if len(userIDs) == 0 {
		return nil, errs.Invalidf("user_ids must name at least one user")
	}
	var added []Membership
	for _, id := range userIDs {
		if id <= 0 {
			return nil, errs.Invalidf("user ids must be positive")
		}
		if c.IsMember(id) || slices.ContainsFunc(added, func(m Membership) bool { return m.UserID == id }) {
			continue
		}
		added = append(added, Membership{UserID: id, Role: Member, JoinedAt: now})
	}
	if max := c.limits.max(c.typ); len(c.members)+len(added) > max {
		return nil, errs.Conflictf("chat %d would have %d members; a %s has at most %d", c.id, len(c.members)+len(added), c.typ, max)
	}
	c.members = append(c.members, added...)
	if len(added) > 0 {
		c.updatedAt = now
	}
	return added, nil
}

// RemoveMember removes target. Owners and admins remove others (only the owner
// removes an admin; nobody removes the owner); anyone may leave, except the
// owner, who must hand over ownership first.
func (c *Chat) RemoveMember(by, target int64, now time.Time) (Membership, error) {
	t, ok := c.Member(target)
	if !ok {
		return Membership{}, errs.NotFoundf("user %d is not a member of chat %d", target, c.id)
	}
	if c.typ == Direct {
		return Membership{}, errs.Forbiddenf("nobody can leave or be removed from a direct chat")
	}
	switch {
	case by == target:
		if t.Role == Owner {
			return Membership{}, errs.Conflictf("the owner must hand over ownership before leaving chat %d", c.id)
		}
	case t.Role == Owner:
		return Membership{}, errs.Forbiddenf("the owner of chat %d cannot be removed", c.id)
	case t.Role == Admin && c.roleOf(by) != Owner:
		return Membership{}, errs.Forbiddenf("only the owner may remove an admin")
	case !c.canManage(by):
		return Membership{}, errs.Forbiddenf("only the owner or an admin may remove members of chat %d", c.id)
	}
	c.members = slices.DeleteFunc(c.members, func(m Membership) bool { return m.UserID == target })
	c.updatedAt = now
	return t, nil
}

// ChangeRole sets target's role; owner only. Giving owner hands the chat
// over: the old owner becomes an admin. It returns every changed membership.
func (c *Chat) ChangeRole(by, target int64, role Role, now time.Time) ([]Membership, error) {
	if c.typ == Direct {
		return nil, errs.Forbiddenf("a direct chat has no roles")
	}
	if !c.IsMember(target) {
		return nil, errs.NotFoundf("user %d is not a member of chat %d", target, c.id)
	}
	if c.roleOf(by) != Owner {
		return nil, errs.Forbiddenf("only the owner may change roles in chat %d", c.id)
	}
	if target == by {
		if role == Owner {
			return nil, nil
		}
		return nil, errs.Conflictf("the owner must hand ownership to another member instead")
	}
	var changed []Membership
	for i := range c.members {
		m := &c.members[i]
		switch {
		case m.UserID == target && m.Role != role:
			m.Role = role
			changed = append(changed, *m)
		case role == Owner && m.UserID == by:
			m.Role = Admin
			changed = append(changed, *m)
		}
	}
	if role == Owner {
		c.ownerID = target
	}
	if len(changed) > 0 {
		c.updatedAt = now
	}
	return changed, nil
}

// CanDelete reports whether by may delete the chat: its owner only.
func (c *Chat) CanDelete(by int64) error {
	if c.typ == Direct || c.ownerID != by {
		return errs.Forbiddenf("only the owner may delete chat %d", c.id)
	}
	return nil
}

// Join adds userID to a public channel. Joining twice is not an error; the
// second call reports added false.
func (c *Chat) Join(userID int64, now time.Time) (m Membership, added bool, err error) {
	if c.typ != PublicChannel {
		if c.IsMember(userID) {
			return Membership{}, false, errs.Forbiddenf("only public channels can be joined; chat %d is a %s", c.id, c.typ)
		}
		return Membership{}, false, errs.NotFoundf("chat %d not found", c.id)
	}
	if existing, ok := c.Member(userID); ok {
		return existing, false, nil
	}
	if len(c.members)+1 > c.limits.max(c.typ) {
		return Membership{}, false, errs.Conflictf("chat %d is full", c.id)
	}
	m = Membership{UserID: userID, Role: Member, JoinedAt: now}
	c.members = append(c.members, m)
	c.updatedAt = now
	return m, true, nil
}
