package porttest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// RunMessageRepository checks MessageRepository. It uses Env.Workspaces,
// Env.Users and Env.Chats to set up chats, Env.Messages, and Env.Tx (Append
// runs inside a transaction); newEnv is called once per case.
func RunMessageRepository(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	// setup makes a group of three users in a fresh workspace.
	setup := func(t *testing.T, env Env) (*chat.Chat, []int64) {
		t.Helper()
		ws := env.NewWorkspace(t)
		ids := userIDs(env.NewUsers(t, ws.ID, 3))
		return env.NewChat(t, ws.ID, ids[0], chat.Group, ids[1:], Now().Add(-time.Hour)), ids
	}

	t.Run("append assigns gapless seq and reads back", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		now := Now()
		var sent []*message.Message
		for i, content := range []string{"one", "two", "three"} {
			var reply int64
			if i == 2 {
				reply = sent[0].ID()
			}
			m, err := message.New(c.ID(), us[i%2], content, Unique("k-"), reply, now.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatalf("message.New: %v", err)
			}
			if err := env.Append(ctx, m); err != nil {
				t.Fatalf("Append: %v", err)
			}
			if m.ID() <= 0 || m.Seq() != int64(i+1) {
				t.Fatalf("Append set id %d seq %d; want id > 0 and seq %d", m.ID(), m.Seq(), i+1)
			}
			sent = append(sent, m)
		}
		for _, m := range sent {
			got, err := env.Messages.ByID(ctx, m.ID())
			if err != nil {
				t.Fatalf("ByID: %v", err)
			}
			checkMessage(t, got, m)
			got, err = env.Messages.BySeq(ctx, c.ID(), m.Seq())
			if err != nil {
				t.Fatalf("BySeq: %v", err)
			}
			checkMessage(t, got, m)
			got, err = env.Messages.ByIdempotencyKey(ctx, m.SenderID(), m.IdempotencyKey())
			if err != nil {
				t.Fatalf("ByIdempotencyKey: %v", err)
			}
			checkMessage(t, got, m)
		}
		if got := env.MustGetChat(t, c.ID()); got.LastSeq() != 3 {
			t.Fatalf("chat LastSeq = %d; want 3", got.LastSeq())
		}
	})

	t.Run("append moves the sender's pointers only", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		env.Send(t, c.ID(), us[1], "hello", Now())
		m := env.Send(t, c.ID(), us[0], "hi", Now())
		env.Send(t, c.ID(), us[1], "how are you", Now())
		want := map[int64][2]int64{us[0]: {m.Seq(), m.Seq()}, us[1]: {3, 3}, us[2]: {0, 0}}
		for uid, w := range want {
			got, err := env.Chats.Membership(ctx, c.ID(), uid)
			if err != nil {
				t.Fatalf("Membership: %v", err)
			}
			if got.LastReadSeq != w[0] || got.LastDeliveredSeq != w[1] {
				t.Fatalf("user %d pointers read %d delivered %d; want %d %d", uid, got.LastReadSeq, got.LastDeliveredSeq, w[0], w[1])
			}
		}
	})

	t.Run("seq is per chat", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		a, us := setup(t, env)
		b := env.NewChat(t, a.WorkspaceID(), us[0], chat.Group, us[1:], Now())
		env.Send(t, a.ID(), us[0], "a1", Now())
		env.Send(t, a.ID(), us[0], "a2", Now())
		if m := env.Send(t, b.ID(), us[0], "b1", Now()); m.Seq() != 1 {
			t.Fatalf("first message of another chat got seq %d; want 1", m.Seq())
		}
	})

	t.Run("concurrent appends are gapless", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		const senders = 20
		var wg sync.WaitGroup
		seqs := make([]int64, senders)
		fails := make([]error, senders)
		for i := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := message.New(c.ID(), us[i%3], "concurrent", "", 0, Now())
				if err != nil {
					fails[i] = err
					return
				}
				fails[i] = env.Append(ctx, m)
				seqs[i] = m.Seq()
			}()
		}
		wg.Wait()
		for _, err := range fails {
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		slices.Sort(seqs)
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("seqs = %v; want 1..%d", seqs, senders)
			}
		}
		if got := env.MustGetChat(t, c.ID()); got.LastSeq() != senders {
			t.Fatalf("chat LastSeq = %d; want %d", got.LastSeq(), senders)
		}
		for s := int64(1); s <= senders; s++ {
			if _, err := env.Messages.BySeq(ctx, c.ID(), s); err != nil {
				t.Fatalf("BySeq(%d): %v", s, err)
			}
		}
	})

	t.Run("append to a deleted chat is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		if err := env.Chats.Delete(ctx, c.ID()); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		m, _ := message.New(c.ID(), us[0], "anyone?", "", 0, Now())
		if err := env.Append(ctx, m); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Append to a deleted chat: err = %v; want NotFound", err)
		}
	})

	t.Run("duplicate idempotency key", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		other := env.NewChat(t, c.WorkspaceID(), us[0], chat.Group, us[1:], Now())
		key := Unique("key-")
		first := env.SendKey(t, c.ID(), us[0], "first", key, Now())

		for _, chatID := range []int64{c.ID(), other.ID()} {
			dup, _ := message.New(chatID, us[0], "again", key, 0, Now())
			var appendErr error
			txErr := env.Tx.InTx(ctx, func(ctx context.Context) error {
				appendErr = env.Messages.Append(ctx, dup)
				return appendErr
			})
			if !errors.Is(appendErr, ports.ErrDuplicateIdempotencyKey) || !errs.Is(appendErr, errs.Conflict) {
				t.Fatalf("Append with a taken key in chat %d: err = %v; want a Conflict wrapping ErrDuplicateIdempotencyKey", chatID, appendErr)
			}
			if txErr == nil {
				t.Fatalf("InTx returned nil after its fn failed")
			}
		}
		got, err := env.Messages.ByIdempotencyKey(ctx, us[0], key)
		if err != nil {
			t.Fatalf("ByIdempotencyKey: %v", err)
		}
		checkMessage(t, got, first)
		// No row and no seq gap were left behind.
		if _, err := env.Messages.BySeq(ctx, c.ID(), 2); !errs.Is(err, errs.NotFound) {
			t.Fatalf("BySeq(2) after the rolled-back duplicate: err = %v; want NotFound", err)
		}
		if got := env.MustGetChat(t, c.ID()); got.LastSeq() != 1 {
			t.Fatalf("LastSeq after the rolled-back duplicate = %d; want 1", got.LastSeq())
		}
		if m := env.Send(t, c.ID(), us[1], "next", Now()); m.Seq() != 2 {
			t.Fatalf("next message got seq %d; want 2", m.Seq())
		}
		if m := env.Send(t, other.ID(), us[1], "next", Now()); m.Seq() != 1 {
			t.Fatalf("first message of the other chat got seq %d; want 1", m.Seq())
		}
		// The key is unique per sender: another sender may use it.
		if m := env.SendKey(t, c.ID(), us[1], "mine", key, Now()); m.Seq() != 3 {
			t.Fatalf("another sender's message with the same key got seq %d; want 3", m.Seq())
		}
		// Messages without a key never conflict.
		env.Send(t, c.ID(), us[0], "no key", Now())
		env.Send(t, c.ID(), us[0], "no key", Now())
	})

	t.Run("concurrent duplicate keys make exactly one message", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		key := Unique("key-")
		const callers = 10
		var wg sync.WaitGroup
		fails := make([]error, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, _ := message.New(c.ID(), us[0], "retry", key, 0, Now())
				fails[i] = env.Append(ctx, m)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range fails {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ports.ErrDuplicateIdempotencyKey):
				t.Errorf("concurrent duplicate: err = %v; want ErrDuplicateIdempotencyKey", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent sends with one key succeeded; want 1", ok, callers)
		}
		if got := env.MustGetChat(t, c.ID()); got.LastSeq() != 1 {
			t.Fatalf("LastSeq = %d; want 1", got.LastSeq())
		}
	})

	t.Run("unknown is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		env.SendKey(t, c.ID(), us[0], "only", "k", Now())
		if _, err := env.Messages.ByID(ctx, 1<<60); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByID unknown: err = %v; want NotFound", err)
		}
		if _, err := env.Messages.BySeq(ctx, c.ID(), 2); !errs.Is(err, errs.NotFound) {
			t.Fatalf("BySeq past the end: err = %v; want NotFound", err)
		}
		if _, err := env.Messages.BySeq(ctx, 1<<60, 1); !errs.Is(err, errs.NotFound) {
			t.Fatalf("BySeq of an unknown chat: err = %v; want NotFound", err)
		}
		if _, err := env.Messages.ByIdempotencyKey(ctx, us[0], "other"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByIdempotencyKey unknown key: err = %v; want NotFound", err)
		}
		if _, err := env.Messages.ByIdempotencyKey(ctx, us[1], "k"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByIdempotencyKey of another sender: err = %v; want NotFound", err)
		}
	})

	t.Run("Save edits and tombstones", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		sent := Now().Add(-time.Minute)
		m := env.SendKey(t, c.ID(), us[0], "draft", Unique("k-"), sent)
		neighbour := env.Send(t, c.ID(), us[1], "unrelated", sent)

		edited := sent.Add(10 * time.Second)
		if err := m.Edit(us[0], "final", edited); err != nil {
			t.Fatalf("Edit: %v", err)
		}
		if err := env.Messages.Save(ctx, m); err != nil {
			t.Fatalf("Save edit: %v", err)
		}
		got, err := env.Messages.BySeq(ctx, c.ID(), m.Seq())
		if err != nil {
			t.Fatalf("BySeq: %v", err)
		}
		checkMessage(t, got, m)
		if got.Content() != "final" || !sameTime(got.EditedAt(), edited) || got.Deleted() {
			t.Fatalf("after edit: %q edited %v deleted %v", got.Content(), got.EditedAt(), got.Deleted())
		}

		deleted := edited.Add(10 * time.Second)
		if err := got.Delete(us[2], true, deleted); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := env.Messages.Save(ctx, got); err != nil {
			t.Fatalf("Save tombstone: %v", err)
		}
		tomb, err := env.Messages.ByID(ctx, m.ID())
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		checkMessage(t, tomb, got)
		if tomb.Content() != "" || !tomb.Deleted() || !sameTime(tomb.DeletedAt(), deleted) || tomb.Seq() != m.Seq() {
			t.Fatalf("tombstone: content %q deleted_at %v seq %d", tomb.Content(), tomb.DeletedAt(), tomb.Seq())
		}
		other, err := env.Messages.ByID(ctx, neighbour.ID())
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		checkMessage(t, other, neighbour)
	})

	t.Run("BySeq locks the message inside a transaction", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		m := env.Send(t, c.ID(), us[0], "x", Now())
		const writers = 10
		var wg sync.WaitGroup
		fails := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fails[i] = env.Tx.InTx(ctx, func(ctx context.Context) error {
					got, err := env.Messages.BySeq(ctx, c.ID(), m.Seq())
					if err != nil {
						return err
					}
					if err := got.Edit(us[0], got.Content()+"x", Now()); err != nil {
						return err
					}
					return env.Messages.Save(ctx, got)
				})
			}()
		}
		wg.Wait()
		for _, err := range fails {
			if err != nil {
				t.Fatalf("edit in transaction: %v", err)
			}
		}
		got, err := env.Messages.ByID(ctx, m.ID())
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		if want := strings.Repeat("x", writers+1); got.Content() != want {
			t.Fatalf("content = %q; want %q (lost updates)", got.Content(), want)
		}
	})
}

// checkMessage compares everything a MessageRepository stores.
func checkMessage(t *testing.T, got, want *message.Message) {
	t.Helper()
	if got.ID() != want.ID() || got.ChatID() != want.ChatID() || got.Seq() != want.Seq() ||
		got.SenderID() != want.SenderID() || got.Content() != want.Content() || got.ReplyToID() != want.ReplyToID() ||
		got.IdempotencyKey() != want.IdempotencyKey() || !sameTime(got.CreatedAt(), want.CreatedAt()) ||
		!sameTime(got.EditedAt(), want.EditedAt()) || !sameTime(got.DeletedAt(), want.DeletedAt()) {
		t.Fatalf("message = %s; want %s", describeMessage(got), describeMessage(want))
	}
}

func describeMessage(m *message.Message) string {
	return describe(struct {
		ID, ChatID, Seq, SenderID int64
		Content                   string
		ReplyToID                 int64
		Key                       string
		Created, Edited, Deleted  time.Time
	}{m.ID(), m.ChatID(), m.Seq(), m.SenderID(), m.Content(), m.ReplyToID(), m.IdempotencyKey(),
		m.CreatedAt(), m.EditedAt(), m.DeletedAt()})
}
