package nats_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// newPresenceKV ensures a bucket of its own on the server at url (deleted
// when the test ends) and returns the store on a connection of its own.
func newPresenceKV(t *testing.T, url string, ttl, entryTTL time.Duration) ports.PresenceStore {
	t.Helper()
	js := jetStream(t, connect(t, url))
	bucket := "FECHATTER_PRESENCE_TEST_" + strings.ToUpper(porttest.Unique(""))
	var kv ports.PresenceStore
	err := retryStoreCreate(func() (err error) {
		kv, err = natsadapter.EnsurePresenceKV(ctxFor(t), js, natsadapter.PresenceKVConfig{Bucket: bucket, TTL: ttl, EntryTTL: entryTTL}, zap.NewNop())
		return err
	})
	if err != nil {
		t.Fatalf("EnsurePresenceKV: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteKeyValue(ctx, bucket)
	})
	return kv
}

func TestPresenceKVEmbedded(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	porttest.RunPresenceStore(t, func(t *testing.T, ttl, entryTTL time.Duration) ports.PresenceStore {
		return newPresenceKV(t, srv.ClientURL(), ttl, entryTTL)
	})
}

// TestPresenceKVExternal runs the contract against the NATS server outside
// the process (2.9 on the development machine), each case on a bucket of
// its own.
func TestPresenceKVExternal(t *testing.T) {
	url := externalURL(t)
	porttest.RunPresenceStore(t, func(t *testing.T, ttl, entryTTL time.Duration) ports.PresenceStore {
		return newPresenceKV(t, url, ttl, entryTTL)
	})
}

func TestEnsurePresenceKVIsIdempotent(t *testing.T) {
	forEachServer(t, func(t *testing.T, url string) {
		js := jetStream(t, connect(t, url))
		cfg := natsadapter.PresenceKVConfig{Bucket: "FECHATTER_PRESENCE_IDEM_" + strings.ToUpper(porttest.Unique("")), TTL: time.Minute}
		t.Cleanup(func() { _ = js.DeleteKeyValue(context.Background(), cfg.Bucket) })
		for i := range 2 {
			if err := retryStoreCreate(func() error {
				_, err := natsadapter.EnsurePresenceKV(ctxFor(t), js, cfg, nil)
				return err
			}); err != nil {
				t.Fatalf("EnsurePresenceKV #%d: %v", i+1, err)
			}
		}
		kv, err := js.KeyValue(ctxFor(t), cfg.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctxFor(t))
		if err != nil {
			t.Fatal(err)
		}
		// The bucket's age is the entries' TTL (the default), not the
		// beat's.
		if st.TTL() != natsadapter.DefaultPresenceEntryTTL || st.History() != 1 {
			t.Fatalf("bucket TTL %s history %d, want %s and 1", st.TTL(), st.History(), natsadapter.DefaultPresenceEntryTTL)
		}
		cfg.EntryTTL = 3 * time.Hour // a new setting updates the bucket
		if _, err := natsadapter.EnsurePresenceKV(ctxFor(t), js, cfg, nil); err != nil {
			t.Fatalf("EnsurePresenceKV with a new entry TTL: %v", err)
		}
		if st, _ = kv.Status(ctxFor(t)); st.TTL() != 3*time.Hour {
			t.Fatalf("bucket TTL %s after the update, want 3h", st.TTL())
		}
		cfg.EntryTTL = time.Minute // never under three beats' TTL
		store, err := natsadapter.EnsurePresenceKV(ctxFor(t), js, cfg, nil)
		if err != nil {
			t.Fatalf("EnsurePresenceKV with a short entry TTL: %v", err)
		}
		if st, _ = kv.Status(ctxFor(t)); st.TTL() != 3*time.Minute || store.EntryTTL() != 3*time.Minute || store.TTL() != time.Minute {
			t.Fatalf("bucket TTL %s, store TTLs %s and %s; want 3m, 3m and 1m", st.TTL(), store.EntryTTL(), store.TTL())
		}
		if _, err := natsadapter.EnsurePresenceKV(ctxFor(t), js, natsadapter.PresenceKVConfig{Bucket: cfg.Bucket}, nil); !errs.Is(err, errs.Invalid) {
			t.Fatalf("no TTL: err = %v, want invalid", err)
		}
	})
}

// Typing goes out with plain NATS on <prefix>.chat.<id>.typing: chat
// subscribers hear it, and the stream, which captures <prefix>.chat.*.*.*,
// does not store it.
func TestSignalsReachSubscribersButNotTheStream(t *testing.T) {
	forEachServer(t, func(t *testing.T, url string) {
		cfg := uniqueStream()
		js := jetStream(t, connect(t, url))
		stream := ensureStream(t, js, cfg)
		sigs, err := natsadapter.NewSignalPublisher(connect(t, url), cfg.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := natsadapter.NewSubscriber(connect(t, url), cfg.Prefix, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan ports.Event, 10)
		s, err := sub.SubscribeChat(ctxFor(t), 77, func(e ports.Event) { got <- e })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Unsubscribe() })

		data, _ := json.Marshal(api.TypingUpdate{ChatID: 77, UserID: 5, IsTyping: true, ExpiresAt: time.Now().UTC()})
		e := ports.Event{ID: uuid.NewString(), Type: ports.EventTyping, Version: ports.EventVersion,
			OccurredAt: time.Now().UTC(), WorkspaceID: 1, ChatID: 77, Data: data}
		if err := sigs.PublishSignal(ctxFor(t), e); err != nil {
			t.Fatalf("PublishSignal: %v", err)
		}
		select {
		case g := <-got:
			if g.ID != e.ID || g.Type != ports.EventTyping || string(g.Data) != string(data) {
				t.Fatalf("got %+v, want %+v", g, e)
			}
		case <-time.After(testWait):
			t.Fatal("the typing signal did not arrive")
		}
		// A stored event published after it is the stream's first.
		pub, err := natsadapter.NewPublisher(js, cfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored := ports.Event{ID: uuid.NewString(), Type: ports.EventMessageCreated, Version: ports.EventVersion,
			OccurredAt: time.Now().UTC(), WorkspaceID: 1, ChatID: 77, Data: json.RawMessage(`{}`)}
		if err := pub.Publish(ctxFor(t), stored); err != nil {
			t.Fatal(err)
		}
		info, err := stream.Info(ctxFor(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 1 || info.State.FirstSeq != 1 {
			t.Fatalf("stream holds %d messages from seq %d, want only the stored event", info.State.Msgs, info.State.FirstSeq)
		}

		for _, bad := range []ports.Event{
			{ID: "x", Type: ports.EventMessageCreated, ChatID: 77},
			{ID: "x", Type: ports.EventTyping},
			{Type: ports.EventTyping, ChatID: 77},
		} {
			if err := sigs.PublishSignal(ctxFor(t), bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("PublishSignal(%+v) = %v, want invalid", bad, err)
			}
		}
	})
}
