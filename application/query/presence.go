package query

import (
	"context"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
)

// MaxPresenceUsers bounds the user ids of one GET /presence.
const MaxPresenceUsers = 200

// PresenceOf is the Presence of userID given their merged entry.
func PresenceOf(userID int64, e presence.Entry) Presence {
	p := Presence{UserID: userID, Status: string(e.Status), Platform: e.Platform}
	if p.Status == "" {
		p.Status = string(presence.Offline)
	}
	if !e.LastSeen.IsZero() {
		t := e.LastSeen.UTC()
		p.LastSeen = &t
	}
	return p
}

// PresenceView is this instance's view of everyone's live presence, kept
// from the presence store by the presence watcher.
type PresenceView interface {
	// Presence returns what the view knows of userIDs: users with a
	// connection somewhere, and users seen going offline since the view
	// started. Others are left out.
	Presence(userIDs []int64) map[int64]Presence
}

// WorkspaceUsers tells which users belong to a workspace.
type WorkspaceUsers interface {
	// InWorkspace returns which of ids are users of the workspace.
	InWorkspace(ctx context.Context, workspaceID int64, ids []int64) ([]int64, error)
}

// GetPresence answers GET /presence?user_ids=.
type GetPresence struct {
	users    WorkspaceUsers
	view     PresenceView
	lastSeen ports.LastSeenRepository
}

// NewGetPresence builds the handler.
func NewGetPresence(users WorkspaceUsers, view PresenceView, lastSeen ports.LastSeenRepository) GetPresence {
	mustHave(users, view, lastSeen)
	return GetPresence{users: users, view: view, lastSeen: lastSeen}
}

// Handle returns the presence of those of userIDs that are users of the
// caller's workspace, in the order asked, each once; others are left out.
// A user with no connection is offline, with the last seen time stored
// (null if never seen). 1..MaxPresenceUsers positive ids, else Invalid.
func (h GetPresence) Handle(ctx context.Context, v Viewer, userIDs []int64) ([]Presence, error) {
	if len(userIDs) == 0 {
		return nil, errs.Invalidf("user_ids must list 1..%d user ids", MaxPresenceUsers)
	}
	ids := make([]int64, 0, len(userIDs))
	seen := make(map[int64]bool, len(userIDs))
	for _, id := range userIDs {
		if id <= 0 {
			return nil, errs.Invalidf("user_ids must be positive integers")
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > MaxPresenceUsers {
		return nil, errs.Invalidf("user_ids must list at most %d user ids", MaxPresenceUsers)
	}
	members, err := h.users.InWorkspace(ctx, v.WorkspaceID, ids)
	if err != nil {
		return nil, err
	}
	in := make(map[int64]bool, len(members))
	for _, id := range members {
		in[id] = true
	}
	ids = keepIDs(ids, in)
	if len(ids) == 0 {
		return []Presence{}, nil
	}
	live := h.view.Presence(ids)
	var offline []int64
	for _, id := range ids {
		if p, ok := live[id]; !ok || p.Status == string(presence.Offline) {
			offline = append(offline, id)
		}
	}
	stored := map[int64]ports.LastSeen{}
	if len(offline) > 0 {
		rows, err := h.lastSeen.LastSeen(ctx, offline)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			stored[r.UserID] = r
		}
	}
	out := make([]Presence, 0, len(ids))
	for _, id := range ids {
		p, ok := live[id]
		if !ok {
			p = PresenceOf(id, presence.Entry{Status: presence.Offline})
		}
		// The database may know a later activity than the view: one
		// before the view started, or a REST write without a connection.
		if r, ok := stored[id]; ok && (p.LastSeen == nil || r.At.After(*p.LastSeen)) {
			at := r.At.UTC()
			p.LastSeen = &at
			if r.Platform != "" {
				p.Platform = r.Platform
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func keepIDs(ids []int64, keep map[int64]bool) []int64 {
	out := ids[:0]
	for _, id := range ids {
		if keep[id] {
			out = append(out, id)
		}
	}
	return out
}
