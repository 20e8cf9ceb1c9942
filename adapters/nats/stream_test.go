package nats_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// forEachServer runs test against the embedded server and the external one.
func forEachServer(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("Embedded", func(t *testing.T) {
		t.Parallel()
		srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
		test(t, srv.ClientURL())
	})
	t.Run("External", func(t *testing.T) {
		t.Parallel()
		test(t, externalURL(t))
	})
}

func TestEventBusEnsureStreamIsIdempotent(t *testing.T) {
	forEachServer(t, func(t *testing.T, url string) {
		js := jetStream(t, connect(t, url))
		cfg := uniqueStream()
		ensureStream(t, js, cfg)
		s, err := natsadapter.EnsureStream(ctxFor(t), js, cfg)
		if err != nil {
			t.Fatalf("second EnsureStream: %v", err)
		}
		info, err := s.Info(ctxFor(t))
		if err != nil {
			t.Fatalf("Info: %v", err)
		}
		c := info.Config
		if !slices.Equal(c.Subjects, natsadapter.StreamSubjects(cfg.Prefix)) {
			t.Errorf("subjects %v, want %v", c.Subjects, natsadapter.StreamSubjects(cfg.Prefix))
		}
		if c.Storage != jetstream.FileStorage || c.Duplicates != natsadapter.DuplicateWindow || c.MaxAge != cfg.MaxAge {
			t.Errorf("storage %v, duplicates %v, max age %v; want file, %v, %v",
				c.Storage, c.Duplicates, c.MaxAge, natsadapter.DuplicateWindow, cfg.MaxAge)
		}

		// A changed limit is applied to the existing stream.
		cfg.MaxAge = 2 * time.Hour
		s, err = natsadapter.EnsureStream(ctxFor(t), js, cfg)
		if err != nil {
			t.Fatalf("EnsureStream with a new MaxAge: %v", err)
		}
		if info, err = s.Info(ctxFor(t)); err != nil || info.Config.MaxAge != 2*time.Hour {
			t.Fatalf("after update: max age %v (err %v), want 2h", info.Config.MaxAge, err)
		}
	})
}

func TestEventBusStreamStoresEachEventOnce(t *testing.T) {
	forEachServer(t, func(t *testing.T, url string) {
		nc := connect(t, url)
		js := jetStream(t, nc)
		cfg := uniqueStream()
		stream := ensureStream(t, js, cfg)
		pub, err := natsadapter.NewPublisher(js, cfg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxFor(t)

		chat := testEvent("e1", 5, ports.EventMessageCreated)
		user := ports.Event{ID: "e2", Type: ports.EventSessionRevoked, Version: ports.EventVersion, UserID: 9, Data: json.RawMessage(`{}`)}
		for _, e := range []ports.Event{chat, chat, user, chat, user} {
			if err := pub.Publish(ctx, e); err != nil {
				t.Fatalf("Publish(%s): %v", e.ID, err)
			}
		}
		// Ephemeral chat traffic reaches subscribers but not the stream.
		if err := nc.Publish(cfg.Prefix+".chat.5.typing", []byte(`{"user_id":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := nc.FlushWithContext(ctx); err != nil {
			t.Fatal(err)
		}

		got := streamEvents(t, stream)
		if ids := eventIDs(got); !slices.Equal(ids, []string{"e1", "e2"}) {
			t.Fatalf("stream holds %v, want [e1 e2]", ids)
		}
		if got[0].Subject != cfg.Prefix+".chat.5.message.created" || got[1].Subject != cfg.Prefix+".user.9.session.revoked" {
			t.Fatalf("subjects %q, %q", got[0].Subject, got[1].Subject)
		}
	})
}

func TestEventBusPublisherErrors(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	js := jetStream(t, connect(t, srv.ClientURL()))
	cfg := uniqueStream()
	ensureStream(t, js, cfg)
	pub, err := natsadapter.NewPublisher(js, cfg, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	for name, e := range map[string]ports.Event{
		"no id":             {Type: ports.EventMessageCreated, ChatID: 1},
		"no chat nor user":  {ID: "x", Type: ports.EventMessageCreated},
		"one-token type":    {ID: "x", Type: "typing", ChatID: 1},
		"three-token type":  {ID: "x", Type: "message.created.v2", ChatID: 1},
		"wildcard in type":  {ID: "x", Type: "message.*", ChatID: 1},
		"invalid Data JSON": {ID: "x", Type: ports.EventMessageCreated, ChatID: 1, Data: json.RawMessage(`{`)},
	} {
		if err := pub.Publish(ctxFor(t), e); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: got %v, want an Invalid error", name, err)
		}
	}

	// No stream captures the subject: no ack.
	other := uniqueStream()
	lost, err := natsadapter.NewPublisher(js, other, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := lost.Publish(ctxFor(t), testEvent("nostream", 1, ports.EventMessageCreated)); !errs.Is(err, errs.Unavailable) {
		t.Errorf("publish without a stream: got %v, want an Unavailable error", err)
	}
}

func TestEventBusPublisherUnavailableWhenServerDown(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	js := jetStream(t, connect(t, srv.ClientURL()))
	cfg := uniqueStream()
	if _, err := natsadapter.EnsureStream(ctxFor(t), js, cfg); err != nil {
		t.Fatal(err)
	}
	pub, err := natsadapter.NewPublisher(js, cfg, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	if err := pub.Publish(ctxFor(t), testEvent("down", 1, ports.EventMessageCreated)); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("publish while the server is down: got %v, want an Unavailable error", err)
	}
}

func TestEventBusSubscriberDropsUndecodable(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	nc := connect(t, srv.ClientURL())
	sub, err := natsadapter.NewSubscriber(nc, "undecodable", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan ports.Event, 10)
	s, err := sub.SubscribeChat(ctxFor(t), 3, func(e ports.Event) { got <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Unsubscribe() }()

	good, _ := json.Marshal(testEvent("good", 3, ports.EventMessageCreated))
	for _, data := range [][]byte{[]byte("not json"), []byte(`{"id":5}`), good} {
		if err := nc.Publish("undecodable.chat.3.message.created", data); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case e := <-got:
		if e.ID != "good" {
			t.Fatalf("first delivered event is %+v, want the valid one", e)
		}
	case <-time.After(testWait):
		t.Fatal("the valid event was not delivered")
	}
}

func TestEventBusStartEmbeddedRefuses(t *testing.T) {
	if _, err := natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{}, nil); err == nil {
		t.Error("started without a StoreDir")
	}
	if _, err := natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{StoreDir: t.TempDir(), Port: 4222}, nil); err == nil {
		t.Error("started on 4222, the port of an external NATS")
	}
}

func testEvent(id string, chatID int64, typ string) ports.Event {
	return ports.Event{
		ID:          id,
		Type:        typ,
		Version:     ports.EventVersion,
		OccurredAt:  time.Now().UTC(),
		WorkspaceID: 1,
		ChatID:      chatID,
		Data:        json.RawMessage(`{}`),
	}
}

// storedEvent is one message of the stream, decoded.
type storedEvent struct {
	Subject string
	Event   ports.Event
}

// streamEvents reads every message of the stream in stream order.
func streamEvents(t *testing.T, s jetstream.Stream) []storedEvent {
	t.Helper()
	ctx := ctxFor(t)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream Info: %v", err)
	}
	var out []storedEvent
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("GetMsg(%d): %v", seq, err)
		}
		var e ports.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatalf("message %d is not an event: %v", seq, err)
		}
		if id := m.Header.Get(jetstream.MsgIDHeader); id != e.ID {
			t.Fatalf("message %d: Nats-Msg-Id %q, event id %q", seq, id, e.ID)
		}
		out = append(out, storedEvent{Subject: m.Subject, Event: e})
	}
	if uint64(len(out)) != info.State.Msgs {
		t.Fatalf("read %d messages, stream reports %d", len(out), info.State.Msgs)
	}
	return out
}

func eventIDs(es []storedEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Event.ID
	}
	return out
}
