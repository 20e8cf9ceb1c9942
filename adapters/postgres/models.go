package postgres

import (
	"time"

	"github.com/uptrace/bun"
)

// Rows of the tables, as bun sees them. They never leave this package:
// repositories map them to and from domain types. nullzero turns Go zero
// values into NULL and back.

type workspaceRow struct {
	bun.BaseModel `bun:"table:workspaces"`

	ID        int64     `bun:"id,pk,autoincrement"`
	Name      string    `bun:"name,notnull"`
	OwnerID   int64     `bun:"owner_id,nullzero"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

type userRow struct {
	bun.BaseModel `bun:"table:users"`

	ID           int64     `bun:"id,pk,autoincrement"`
	WorkspaceID  int64     `bun:"workspace_id,notnull"`
	Email        string    `bun:"email,notnull"`
	Fullname     string    `bun:"fullname,notnull"`
	PasswordHash string    `bun:"password_hash,notnull"`
	Role         string    `bun:"role,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
}

type refreshTokenRow struct {
	bun.BaseModel `bun:"table:refresh_tokens"`

	ID        int64     `bun:"id,pk,autoincrement"`
	UserID    int64     `bun:"user_id,notnull"`
	FamilyID  string    `bun:"family_id,notnull"`
	Hash      string    `bun:"hash,notnull"`
	ExpiresAt time.Time `bun:"expires_at,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UsedAt    time.Time `bun:"used_at,nullzero"`
	RevokedAt time.Time `bun:"revoked_at,nullzero"`
}

type inviteRow struct {
	bun.BaseModel `bun:"table:invites"`

	Code        string    `bun:"code,pk"`
	WorkspaceID int64     `bun:"workspace_id,notnull"`
	CreatedBy   int64     `bun:"created_by,notnull"`
	MaxUses     int       `bun:"max_uses,notnull"`
	Uses        int       `bun:"uses,notnull"`
	ExpiresAt   time.Time `bun:"expires_at,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
}

type chatRow struct {
	bun.BaseModel `bun:"table:chats"`

	ID          int64     `bun:"id,pk,autoincrement"`
	WorkspaceID int64     `bun:"workspace_id,notnull"`
	Type        string    `bun:"type,notnull"`
	Name        string    `bun:"name,notnull"`
	Description string    `bun:"description,notnull"`
	OwnerID     int64     `bun:"owner_id,nullzero"`
	DirectKey   string    `bun:"direct_key,nullzero"`
	LastSeq     int64     `bun:"last_seq,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
	UpdatedAt   time.Time `bun:"updated_at,notnull"`
}

type memberRow struct {
	bun.BaseModel `bun:"table:chat_members"`

	ChatID           int64     `bun:"chat_id,pk"`
	UserID           int64     `bun:"user_id,pk"`
	Role             string    `bun:"role,notnull"`
	JoinedAt         time.Time `bun:"joined_at,notnull"`
	LastDeliveredSeq int64     `bun:"last_delivered_seq,notnull"`
	LastReadSeq      int64     `bun:"last_read_seq,notnull"`
}

type messageRow struct {
	bun.BaseModel `bun:"table:messages"`

	ID             int64     `bun:"id,pk,autoincrement"`
	ChatID         int64     `bun:"chat_id,notnull"`
	Seq            int64     `bun:"seq,notnull"`
	SenderID       int64     `bun:"sender_id,notnull"`
	Content        string    `bun:"content,notnull"`
	ReplyToID      int64     `bun:"reply_to_id,nullzero"`
	IdempotencyKey string    `bun:"idempotency_key,nullzero"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
	EditedAt       time.Time `bun:"edited_at,nullzero"`
	DeletedAt      time.Time `bun:"deleted_at,nullzero"`
	ThreadRootID   int64     `bun:"thread_root_id,nullzero"`
	Mentions       []int64   `bun:"mentions,array"`
	MentionsAll    bool      `bun:"mentions_all"`
}

type outboxRow struct {
	bun.BaseModel `bun:"table:outbox"`

	Position  int64     `bun:"position,pk,autoincrement"`
	ID        string    `bun:"id,notnull,type:uuid"`
	Type      string    `bun:"type,notnull"`
	Payload   string    `bun:"payload,notnull"`
	CreatedAt time.Time `bun:"created_at,nullzero,notnull,default:current_timestamp"`
}

// utc returns t in UTC; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
