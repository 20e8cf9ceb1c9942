package porttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// RunMessageSender checks MessageSender. It uses Env.Sender, Env.Messages,
// Env.Chats and Env.OutboxStore; newEnv is called once per case.
func RunMessageSender(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	setup := func(t *testing.T, env Env) (*chat.Chat, []int64) {
		t.Helper()
		ws := env.NewWorkspace(t)
		ids := userIDs(env.NewUsers(t, ws.ID, 4))
		// us[3] is in the workspace but not in the chat.
		return env.NewChat(t, ws.ID, ids[0], chat.Group, ids[1:3], Now().Add(-time.Hour)), ids
	}
	newMsg := func(t *testing.T, chatID, sender int64, content, key string, reply int64) *message.Message {
		t.Helper()
		m, err := message.New(chatID, sender, content, key, reply, Now())
		if err != nil {
			t.Fatalf("message.New: %v", err)
		}
		return m
	}
	// events builds one event per message, as the send command does, and
	// records the id it gave each message's event.
	type eventLog struct {
		mu  sync.Mutex
		ids map[int64]string // message id -> event id
	}
	newEvents := func(log *eventLog, ws int64) ports.MessageEvents {
		return func(m *message.Message) []ports.Event {
			id := UUID()
			log.mu.Lock()
			log.ids[m.ID()] = id
			log.mu.Unlock()
			return []ports.Event{{ID: id, Type: ports.EventMessageCreated, Version: ports.EventVersion,
				OccurredAt: Now(), WorkspaceID: ws, ChatID: m.ChatID(),
				Data: []byte(fmt.Sprintf(`{"id":%d,"seq":%d}`, m.ID(), m.Seq()))}}
		}
	}
	pendingIDs := func(t *testing.T, env Env) map[string]bool {
		t.Helper()
		entries, err := env.OutboxStore.Pending(ctx, 1_000_000)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		ids := make(map[string]bool, len(entries))
		for _, e := range entries {
			ids[e.Event.ID] = true
		}
		return ids
	}

	t.Run("send stores the next seq, moves the sender's pointers and adds the events", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		log := &eventLog{ids: map[int64]string{}}
		var sent []*message.Message
		for i := range 3 {
			m := newMsg(t, c.ID(), us[i], fmt.Sprintf("hello %d", i), Unique("k-"), 0)
			got, err := env.Sender.Send(ctx, m, newEvents(log, c.WorkspaceID()))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got.Replay || got.Message != m || m.Seq() != int64(i+1) || m.ID() <= 0 {
				t.Fatalf("Send = %+v with seq %d id %d; want m itself, seq %d, a new id", got, m.Seq(), m.ID(), i+1)
			}
			stored, err := env.Messages.ByID(ctx, m.ID())
			if err != nil {
				t.Fatalf("ByID: %v", err)
			}
			checkMessage(t, stored, m)
			sent = append(sent, m)
		}
		if last := env.MustGetChat(t, c.ID()).LastSeq(); last != 3 {
			t.Fatalf("chat last seq %d, want 3", last)
		}
		for i, uid := range us[:3] {
			mb, err := env.Chats.Membership(ctx, c.ID(), uid)
			if err != nil {
				t.Fatal(err)
			}
			if mb.LastReadSeq != int64(i+1) || mb.LastDeliveredSeq != int64(i+1) {
				t.Fatalf("sender %d pointers read %d delivered %d; want %d", i, mb.LastReadSeq, mb.LastDeliveredSeq, i+1)
			}
		}
		pending := pendingIDs(t, env)
		for _, m := range sent {
			if !pending[log.ids[m.ID()]] {
				t.Fatalf("the event of message %d is not in the outbox", m.ID())
			}
		}
	})

	t.Run("a taken key replays the original whatever the content, writing nothing", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		log := &eventLog{ids: map[int64]string{}}
		key := Unique("k-")
		first := newMsg(t, c.ID(), us[1], "original", key, 0)
		if _, err := env.Sender.Send(ctx, first, newEvents(log, c.WorkspaceID())); err != nil {
			t.Fatalf("Send: %v", err)
		}
		for _, content := range []string{"original", "something else"} {
			again := newMsg(t, c.ID(), us[1], content, key, 0)
			got, err := env.Sender.Send(ctx, again, newEvents(log, c.WorkspaceID()))
			if err != nil {
				t.Fatalf("Send repeat: %v", err)
			}
			if !got.Replay || got.Message.ID() != first.ID() || got.Message.Content() != "original" || again.ID() != 0 {
				t.Fatalf("repeat = %+v (%s); want the original replayed, the repeat unassigned", got, describe(got.Message))
			}
		}
		if last := env.MustGetChat(t, c.ID()).LastSeq(); last != 1 {
			t.Fatalf("chat last seq %d after replays, want 1", last)
		}
		if len(log.ids) != 1 {
			t.Fatalf("events built for %d messages, want 1", len(log.ids))
		}
	})

	t.Run("a non-member, a missing chat and a foreign reply write nothing", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env)
		other, _ := setup(t, env)
		log := &eventLog{ids: map[int64]string{}}
		foreign := newMsg(t, other.ID(), other.OwnerID(), "elsewhere", "", 0)
		if _, err := env.Sender.Send(ctx, foreign, newEvents(log, other.WorkspaceID())); err != nil {
			t.Fatalf("Send: %v", err)
		}
		cases := []struct {
			name string
			m    *message.Message
			kind errs.Kind
		}{
			{"non-member", newMsg(t, c.ID(), us[3], "let me in", Unique("k-"), 0), errs.NotFound},
			{"missing chat", newMsg(t, 1<<50, us[0], "anyone?", "", 0), errs.NotFound},
			{"reply to another chat's message", newMsg(t, c.ID(), us[0], "re", "", foreign.ID()), errs.Invalid},
			{"reply to a missing message", newMsg(t, c.ID(), us[0], "re", "", 1<<50), errs.Invalid},
		}
		for _, tc := range cases {
			_, err := env.Sender.Send(ctx, tc.m, newEvents(log, c.WorkspaceID()))
			if !errs.Is(err, tc.kind) {
				t.Fatalf("%s: err %v, want %v", tc.name, err, tc.kind)
			}
			if tc.m.ID() != 0 {
				t.Fatalf("%s: message got id %d", tc.name, tc.m.ID())
			}
		}
		if last := env.MustGetChat(t, c.ID()).LastSeq(); last != 0 {
			t.Fatalf("chat last seq %d after rejected sends, want 0", last)
		}
		if len(log.ids) != 1 {
			t.Fatalf("events built for %d messages, want only the foreign one", len(log.ids))
		}
		reply := newMsg(t, c.ID(), us[0], "hello", "", 0)
		if _, err := env.Sender.Send(ctx, reply, newEvents(log, c.WorkspaceID())); err != nil {
			t.Fatal(err)
		}
		re := newMsg(t, c.ID(), us[1], "re: hello", "", reply.ID())
		if _, err := env.Sender.Send(ctx, re, newEvents(log, c.WorkspaceID())); err != nil || re.Seq() != 2 {
			t.Fatalf("reply in the chat: err %v seq %d; want stored as seq 2", err, re.Seq())
		}
	})

	t.Run("concurrent sends: gapless seqs, one message per key, each caller its own answer", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c1, us := setup(t, env)
		c2 := env.NewChat(t, c1.WorkspaceID(), us[0], chat.Group, us[1:3], Now())
		log := &eventLog{ids: map[int64]string{}}
		const keys = 40 // each sent 3 times at once, to one of two chats
		type answer struct {
			chat, sender int64
			key          string
			sent         ports.Sent
			err          error
		}
		answers := make(chan answer, keys*3+20)
		var wg sync.WaitGroup
		for k := range keys {
			chatID := []int64{c1.ID(), c2.ID()}[k%2]
			sender := us[k%3]
			key := Unique("k-")
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := newMsg(t, chatID, sender, "content of "+key, key, 0)
					s, err := env.Sender.Send(ctx, m, newEvents(log, c1.WorkspaceID()))
					answers <- answer{chatID, sender, key, s, err}
				}()
			}
		}
		for range 20 { // non-members, no key
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := newMsg(t, c1.ID(), us[3], "outsider", "", 0)
				s, err := env.Sender.Send(ctx, m, newEvents(log, c1.WorkspaceID()))
				answers <- answer{c1.ID(), us[3], "", s, err}
			}()
		}
		wg.Wait()
		close(answers)
		byKey := map[string]map[int64]bool{} // key -> message ids answered
		fresh := map[string]int{}
		for a := range answers {
			if a.sender == us[3] {
				if !errs.Is(a.err, errs.NotFound) {
					t.Fatalf("non-member answered %+v, %v; want NotFound", a.sent, a.err)
				}
				continue
			}
			if a.err != nil {
				t.Fatalf("send with key %s: %v", a.key, a.err)
			}
			m := a.sent.Message
			if m.IdempotencyKey() != a.key || m.ChatID() != a.chat || m.SenderID() != a.sender {
				t.Fatalf("caller with key %s got someone else's message %s", a.key, describe(m))
			}
			if byKey[a.key] == nil {
				byKey[a.key] = map[int64]bool{}
			}
			byKey[a.key][m.ID()] = true
			if !a.sent.Replay {
				fresh[a.key]++
			}
		}
		for key, ids := range byKey {
			if len(ids) != 1 || fresh[key] != 1 {
				t.Fatalf("key %s: %d messages, %d fresh answers; want 1 and 1", key, len(ids), fresh[key])
			}
		}
		for _, c := range []*chat.Chat{c1, c2} {
			last := env.MustGetChat(t, c.ID()).LastSeq()
			if last != keys/2 {
				t.Fatalf("chat %d last seq %d, want %d", c.ID(), last, keys/2)
			}
			for seq := int64(1); seq <= last; seq++ {
				if _, err := env.Messages.BySeq(ctx, c.ID(), seq); err != nil {
					t.Fatalf("chat %d seq %d: %v (a gap)", c.ID(), seq, err)
				}
			}
		}
		entries, err := env.OutboxStore.Pending(ctx, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		events := 0
		for _, e := range entries {
			if e.Event.ChatID == c1.ID() || e.Event.ChatID == c2.ID() {
				events++
			}
		}
		if events != keys {
			t.Fatalf("the outbox holds %d events of the two chats, want one per message: %d", events, keys)
		}
	})
}
