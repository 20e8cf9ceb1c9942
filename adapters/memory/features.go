package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.ReactionRepository = (*ReactionRepo)(nil)
	_ ports.FileRepository     = (*FileRepo)(nil)
)

// ReactionRepo is a ports.ReactionRepository in memory. It has a lock of
// its own: the transaction guarantees of the Store do not cover it.
type ReactionRepo struct {
	mu   sync.Mutex
	rows map[int64][]message.Reaction
}

// NewReactionRepo returns an empty repository.
func NewReactionRepo() *ReactionRepo { return &ReactionRepo{rows: make(map[int64][]message.Reaction)} }

func (r *ReactionRepo) Load(_ context.Context, messageID int64) (*message.Reactions, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := make([]message.Reaction, len(r.rows[messageID]))
	for i, x := range r.rows[messageID] {
		list[i] = message.Reaction{Emoji: x.Emoji, UserIDs: slices.Clone(x.UserIDs)}
	}
	return message.NewReactions(list), nil
}

func (r *ReactionRepo) Add(_ context.Context, messageID, userID int64, emoji string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.rows[messageID]
	i := slices.IndexFunc(list, func(x message.Reaction) bool { return x.Emoji == emoji })
	switch {
	case i < 0:
		list = append(list, message.Reaction{Emoji: emoji, UserIDs: []int64{userID}})
	case !slices.Contains(list[i].UserIDs, userID):
		list[i].UserIDs = append(list[i].UserIDs, userID)
	}
	r.rows[messageID] = list
	return nil
}

func (r *ReactionRepo) Remove(_ context.Context, messageID, userID int64, emoji string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := message.NewReactions(r.rows[messageID])
	_, _ = set.Remove(userID, emoji)
	r.rows[messageID] = set.List()
	return nil
}

func (r *ReactionRepo) RemoveAll(_ context.Context, messageID int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.rows, messageID)
	return nil
}

// FileRepo is a ports.FileRepository in memory. Access by chat membership
// asks the Store.
type FileRepo struct {
	s     *Store
	mu    sync.Mutex
	ids   int64
	files map[int64]file.Stored
	used  map[int64]int64
}

// NewFileRepo returns an empty repository over the Store's chats. It
// becomes the Store's: sends attach its files and search documents name
// them.
func NewFileRepo(s *Store) *FileRepo {
	r := &FileRepo{s: s, files: make(map[int64]file.Stored), used: make(map[int64]int64)}
	s.mu.Lock()
	s.files = r
	s.mu.Unlock()
	return r
}

// attach attaches the files ids to message m, all or none, as a send's
// write does: someone else's or a deleted file is not found, a file
// attached already is a conflict. Inside the send's transaction (the
// store's lock held, taken before r.mu); a rollback detaches them.
func (r *FileRepo) attach(t *tx, m *message.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var done []file.Stored
	for _, id := range m.AttachmentIDs() {
		st, ok := r.files[id]
		if !ok {
			return errs.NotFoundf("file %d not found", id)
		}
		f := file.UnmarshalFromDatabase(st)
		if err := f.AttachTo(m.SenderID(), m.ChatID(), m.ID()); err != nil {
			return err
		}
		r.files[id] = stored(f)
		done = append(done, st)
	}
	t.onRollback(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, st := range done {
			r.files[st.ID] = st
		}
	})
	return nil
}

// names returns the names of the live files attached to each of
// messageIDs, in upload order.
func (r *FileRepo) names(messageIDs []int64) map[int64][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := make(map[int64]bool, len(messageIDs))
	for _, id := range messageIDs {
		want[id] = true
	}
	var ids []int64
	for id, st := range r.files {
		if want[st.MessageID] && st.DeletedAt.IsZero() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make(map[int64][]string)
	for _, id := range ids {
		st := r.files[id]
		out[st.MessageID] = append(out[st.MessageID], st.Name)
	}
	return out
}

func stored(f *file.File) file.Stored {
	return file.Stored{ID: f.ID(), MessageID: f.MessageID(), ChatID: f.ChatID(), DeletedAt: f.DeletedAt(),
		Upload: file.Upload{WorkspaceID: f.WorkspaceID(), UploaderID: f.UploaderID(), Name: f.Name(), ContentType: f.ContentType(),
			Size: f.Size(), SHA256: f.SHA256(), Width: f.Width(), Height: f.Height(), Key: f.Key(), ThumbKey: f.ThumbKey(),
			ThumbType: f.ThumbType(), ThumbSize: f.ThumbSize(), CreatedAt: f.CreatedAt()}}
}

func (r *FileRepo) Add(_ context.Context, f *file.File, quota int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := f.Size() + f.ThumbSize()
	if r.used[f.WorkspaceID()]+n > quota {
		return errs.New(errs.TooLarge, "the workspace's storage quota of %d bytes would be exceeded", quota)
	}
	r.used[f.WorkspaceID()] += n
	r.ids++
	f.Assign(r.ids)
	r.files[r.ids] = stored(f)
	return nil
}

func (r *FileRepo) ByID(_ context.Context, id int64) (*file.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.files[id]
	if !ok {
		return nil, errs.NotFoundf("file %d not found", id)
	}
	return file.UnmarshalFromDatabase(s), nil
}

func (r *FileRepo) Attach(_ context.Context, files []*file.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range files {
		r.files[f.ID()] = stored(f)
	}
	return nil
}

func (r *FileRepo) ByMessage(_ context.Context, messageID int64) ([]*file.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*file.File
	for _, s := range r.files {
		if s.MessageID == messageID && s.DeletedAt.IsZero() {
			out = append(out, file.UnmarshalFromDatabase(s))
		}
	}
	slices.SortFunc(out, func(a, b *file.File) int { return int(a.ID() - b.ID()) })
	return out, nil
}

func (r *FileRepo) MarkDeleted(_ context.Context, files []*file.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range files {
		s := r.files[f.ID()]
		if s.DeletedAt.IsZero() {
			s.DeletedAt = f.DeletedAt()
			r.files[f.ID()] = s
			r.used[s.WorkspaceID] -= s.Size + s.ThumbSize
		}
	}
	return nil
}

func (r *FileRepo) Orphans(ctx context.Context, cutoff time.Time, limit int) ([]*file.File, error) {
	t, err := r.s.enter(ctx)
	if err != nil {
		return nil, err
	}
	profiles := r.s.profiles
	r.s.leave(t)
	var avatars map[int64]bool // nil without profiles: no avatars
	if profiles != nil {
		avatars = profiles.avatarFiles()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*file.File
	for _, s := range r.files {
		if s.MessageID == 0 && !avatars[s.ID] && s.DeletedAt.IsZero() && s.CreatedAt.Before(cutoff) && len(out) < limit {
			out = append(out, file.UnmarshalFromDatabase(s))
		}
	}
	return out, nil
}

func (r *FileRepo) StorageUsed(_ context.Context, workspaceID int64) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.used[workspaceID], nil
}

func (r *FileRepo) CanRead(ctx context.Context, f *file.File, userID int64) (bool, error) {
	if f.UploaderID() == userID {
		return true, nil
	}
	if f.MessageID() == 0 {
		return false, nil
	}
	m, err := r.s.Messages().ByID(ctx, f.MessageID())
	if err != nil || m.Deleted() {
		return false, nil
	}
	_, err = r.s.Chats().Membership(ctx, m.ChatID(), userID)
	return err == nil, nil
}

var (
	_ ports.ThreadRepository = (*ThreadRepo)(nil)
	_ query.ThreadReadModel  = (*MessageReadModel)(nil)
)

// ThreadRepo is the ports.ThreadRepository of a Store.
type ThreadRepo struct{ s *Store }

// Recount sets the root's reply count and latest reply from its live
// replies.
func (r *ThreadRepo) Recount(ctx context.Context, rootID int64) (message.ThreadState, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return message.ThreadState{}, err
	}
	defer s.leave(t)
	root, ok := s.messages[rootID]
	if !ok {
		return message.ThreadState{RootID: rootID}, nil
	}
	old := *root
	root.replyCount, root.lastReplyAt = 0, time.Time{}
	if c, ok := s.chats[root.chatID]; ok {
		for _, id := range c.msgs[root.seq:] {
			if m := s.messages[id]; m.threadRootID == rootID && m.deletedAt.IsZero() {
				root.replyCount++
				if m.createdAt.After(root.lastReplyAt) {
					root.lastReplyAt = m.createdAt
				}
			}
		}
	}
	if t != nil {
		t.onRollback(func() { root.replyCount, root.lastReplyAt = old.replyCount, old.lastReplyAt })
	}
	return message.ThreadState{RootID: root.id, RootSeq: root.seq, ReplyCount: root.replyCount, LastReplyAt: root.lastReplyAt}, nil
}

// Replies pages through the thread of rootID by seq, deleted replies
// (tombstones) included, as the timeline shows them.
func (r *MessageReadModel) Replies(ctx context.Context, rootID, afterSeq int64, limit int) ([]query.Message, bool, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, false, err
	}
	defer s.leave(t)
	root, ok := s.messages[rootID]
	if !ok {
		return nil, false, nil
	}
	c, ok := s.chats[root.chatID]
	if !ok {
		return nil, false, nil
	}
	var out []query.Message
	for _, id := range c.msgs[min(max(afterSeq, root.seq), int64(len(c.msgs))):] {
		if m := s.messages[id]; m.threadRootID == rootID {
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, m.show())
		}
	}
	return out, false, nil
}

// Mentions scans every message for the live ones that mention userID or
// all, in the chats userID is a member of now, not sent by userID; newest
// first.
func (r *MessageReadModel) Mentions(ctx context.Context, userID, beforeID int64, limit int) ([]query.Message, bool, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, false, err
	}
	defer s.leave(t)
	var found []*messageRow
	for chatID := range s.userChats[userID] {
		c, ok := s.chats[chatID]
		if !ok {
			continue
		}
		for _, id := range c.msgs {
			m := s.messages[id]
			if (beforeID <= 0 || m.id < beforeID) && m.deletedAt.IsZero() && m.senderID != userID &&
				(m.mentionsAll || slices.Contains(m.mentions, userID)) {
				found = append(found, m)
			}
		}
	}
	slices.SortFunc(found, func(a, b *messageRow) int { return cmp.Compare(b.id, a.id) })
	more := len(found) > limit
	found = found[:min(len(found), max(limit, 0))]
	out := make([]query.Message, len(found))
	for i, m := range found {
		out[i] = m.show()
	}
	return out, more, nil
}

var _ ports.ProfileRepository = (*ProfileRepo)(nil)

// ProfileRepo is a ports.ProfileRepository over a Store: names go to its
// users, avatars to a map of its own.
type ProfileRepo struct {
	s       *Store
	mu      sync.Mutex
	avatars map[int64]int64
}

// NewProfileRepo returns a repository over s.
func NewProfileRepo(s *Store) *ProfileRepo {
	r := &ProfileRepo{s: s, avatars: make(map[int64]int64)}
	s.mu.Lock()
	s.profiles = r
	s.mu.Unlock()
	return r
}

// avatarFiles is the set of files some user has as avatar.
func (r *ProfileRepo) avatarFiles() map[int64]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int64]bool, len(r.avatars))
	for _, f := range r.avatars {
		out[f] = true
	}
	return out
}

func (r *ProfileRepo) SetProfile(ctx context.Context, userID int64, fullname string, avatarFileID int64) error {
	t, err := r.s.enter(ctx)
	if err != nil {
		return err
	}
	defer r.s.leave(t)
	u, ok := r.s.users[userID]
	if !ok {
		return errs.NotFoundf("user %d not found", userID)
	}
	old := u.Fullname
	u.Fullname = fullname
	t.onRollback(func() { u.Fullname = old })
	r.mu.Lock()
	defer r.mu.Unlock()
	if avatarFileID == 0 {
		delete(r.avatars, userID)
	} else {
		r.avatars[userID] = avatarFileID
	}
	return nil
}

func (r *ProfileRepo) Avatars(_ context.Context, userIDs []int64) (map[int64]int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int64]int64)
	for _, id := range userIDs {
		if a, ok := r.avatars[id]; ok {
			out[id] = a
		}
	}
	return out, nil
}

func (r *ProfileRepo) ChatsOf(ctx context.Context, userID int64) ([]int64, error) {
	t, err := r.s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer r.s.leave(t)
	var out []int64
	for id := range r.s.userChats[userID] {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}
