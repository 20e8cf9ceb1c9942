package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.PresenceStore = (*PresenceKV)(nil)

// DefaultPresenceBucket is the key-value bucket of presence entries.
const DefaultPresenceBucket = "FECHATTER_PRESENCE"

// PresenceKVConfig names the presence bucket and sets its TTLs.
type PresenceKVConfig struct {
	Bucket string // default DefaultPresenceBucket
	// TTL is how long an instance counts as alive after its last beat.
	// Required.
	TTL time.Duration
	// EntryTTL is the bucket's MaxAge: a key not rewritten within it is
	// removed (a bucket-wide age, which NATS Server 2.9 has; per-key TTLs
	// need 2.11). Default DefaultPresenceEntryTTL, and at least 3 TTL.
	EntryTTL time.Duration
	Replicas int // default 1
}

// DefaultPresenceEntryTTL is how long a presence entry outlives its last
// put by default: instances rewrite their users' entries every third of
// it, so a connected user who does nothing costs a write every 40 minutes.
const DefaultPresenceEntryTTL = 2 * time.Hour

// PresenceKV is the presence store on a JetStream key-value bucket: one
// key <user_id>.<instance> per user and instance, its value the entry as
// JSON, and one key beat.<instance> per instance, rewritten at every beat.
// Watching uses an ordered consumer on the bucket, which NATS Server 2.9
// supports.
type PresenceKV struct {
	kv       jetstream.KeyValue
	ttl      time.Duration
	entryTTL time.Duration
	log      *zap.Logger
}

// EnsurePresenceKV creates the bucket, or updates it to cfg; running it
// again with the same cfg changes nothing.
func EnsurePresenceKV(ctx context.Context, js jetstream.JetStream, cfg PresenceKVConfig, log *zap.Logger) (*PresenceKV, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultPresenceBucket
	}
	if cfg.TTL <= 0 {
		return nil, errs.Invalidf("presence bucket %s: TTL must be positive", cfg.Bucket)
	}
	if cfg.EntryTTL <= 0 {
		cfg.EntryTTL = DefaultPresenceEntryTTL
	}
	cfg.EntryTTL = max(cfg.EntryTTL, 3*cfg.TTL)
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if log == nil {
		log = zap.NewNop()
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "Fechatter presence: per user and server instance, what its connections say; per instance, its beat",
		History:     1,
		TTL:         cfg.EntryTTL,
		// File storage: the bucket survives a NATS restart, so live
		// instances' entries do not all vanish at once.
		Storage:  jetstream.FileStorage,
		Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure presence bucket %s: %w", cfg.Bucket, err)
	}
	return &PresenceKV{kv: kv, ttl: cfg.TTL, entryTTL: cfg.EntryTTL, log: log}, nil
}

// TTL is how long an instance counts as alive after its last beat.
func (p *PresenceKV) TTL() time.Duration { return p.ttl }

// EntryTTL is how long an entry lives after its last put.
func (p *PresenceKV) EntryTTL() time.Duration { return p.entryTTL }

// beatPrefix starts the key of an instance's beat (no user id does).
const beatPrefix = "beat."

// Beat rewrites instance's beat key.
func (p *PresenceKV) Beat(ctx context.Context, instance string) error {
	if !instanceName.MatchString(instance) {
		return errs.Invalidf("presence instance must be 1..64 of [A-Za-z0-9_-]")
	}
	if _, err := p.kv.Put(ctx, beatPrefix+instance, nil); err != nil {
		return errs.Wrap(errs.Unavailable, err, "put presence beat of %s", instance)
	}
	return nil
}

var instanceName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func presenceKey(instance string, userID int64) (string, error) {
	if !instanceName.MatchString(instance) {
		return "", errs.Invalidf("presence instance must be 1..64 of [A-Za-z0-9_-]")
	}
	if userID <= 0 {
		return "", errs.Invalidf("presence user id must be positive")
	}
	return strconv.FormatInt(userID, 10) + "." + instance, nil
}

// presenceValue is an entry as stored.
type presenceValue struct {
	Status   presence.Status `json:"status"`
	Platform string          `json:"platform"`
	LastSeen time.Time       `json:"last_seen"`
}

// Put writes instance's entry of userID.
func (p *PresenceKV) Put(ctx context.Context, instance string, userID int64, e presence.Entry) error {
	key, err := presenceKey(instance, userID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(presenceValue{Status: e.Status, Platform: e.Platform, LastSeen: e.LastSeen.UTC()})
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "encode presence entry")
	}
	if _, err := p.kv.Put(ctx, key, b); err != nil {
		return errs.Wrap(errs.Unavailable, err, "put presence %s", key)
	}
	return nil
}

// Delete removes instance's entry of userID.
func (p *PresenceKV) Delete(ctx context.Context, instance string, userID int64) error {
	key, err := presenceKey(instance, userID)
	if err != nil {
		return err
	}
	if err := p.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return errs.Wrap(errs.Unavailable, err, "delete presence %s", key)
	}
	return nil
}

// Watch calls handler with the live entries, then with every change.
func (p *PresenceKV) Watch(ctx context.Context, handler func(ports.PresenceChange)) (ports.Subscription, error) {
	if handler == nil {
		return nil, errs.Invalidf("watch presence: nil handler")
	}
	// The watcher's consumer is recreated with this context after a
	// reconnect, so it must outlive the call; Unsubscribe cancels it.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w, err := p.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, errs.Wrap(errs.Unavailable, err, "watch presence")
	}
	sub := &kvWatch{w: w, cancel: cancel}
	for initial := true; initial; {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				cancel()
				return nil, errs.New(errs.Unavailable, "watch presence: watcher closed while loading")
			}
			if e == nil { // every live entry has been delivered
				initial = false
				continue
			}
			if e.Operation() == jetstream.KeyValuePut && strings.HasPrefix(e.Key(), beatPrefix) && time.Since(e.Created()) >= p.ttl {
				continue // a dead instance's last beat
			}
			p.deliver(e, handler)
		case <-ctx.Done():
			_ = sub.Unsubscribe()
			return nil, errs.Wrap(errs.Unavailable, ctx.Err(), "watch presence")
		}
	}
	go func() {
		for e := range w.Updates() {
			if sub.closed.Load() {
				continue // drain until the library closes the channel
			}
			if e != nil {
				p.deliver(e, handler)
			}
		}
	}()
	return sub, nil
}

func (p *PresenceKV) deliver(e jetstream.KeyValueEntry, handler func(ports.PresenceChange)) {
	if instance, ok := strings.CutPrefix(e.Key(), beatPrefix); ok {
		if e.Operation() == jetstream.KeyValuePut && instanceName.MatchString(instance) {
			handler(ports.PresenceChange{Instance: instance, Beat: true, At: e.Created()})
		}
		return
	}
	user, instance, ok := strings.Cut(e.Key(), ".")
	id, err := strconv.ParseInt(user, 10, 64)
	if !ok || err != nil || id <= 0 || !instanceName.MatchString(instance) {
		p.log.Warn("presence: ignoring a key that is not <user_id>.<instance>", zap.String("key", e.Key()))
		return
	}
	c := ports.PresenceChange{Instance: instance, UserID: id, At: e.Created()}
	if e.Operation() != jetstream.KeyValuePut {
		c.Deleted = true
		handler(c)
		return
	}
	var v presenceValue
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		p.log.Warn("presence: ignoring an undecodable entry", zap.String("key", e.Key()), zap.Error(err))
		return
	}
	c.Entry = presence.Entry{Status: v.Status, Platform: v.Platform, LastSeen: v.LastSeen}
	handler(c)
}

type kvWatch struct {
	w      jetstream.KeyWatcher
	cancel context.CancelFunc
	closed atomic.Bool
	once   sync.Once
}

// Unsubscribe stops delivery at once. Stopping the watcher deletes its
// consumer with a request that, after a reconnect, can wait for the
// JetStream timeout (seconds); that happens in the background, so that a
// shutdown never waits for it (the server drops an idle consumer anyway).
func (s *kvWatch) Unsubscribe() error {
	s.once.Do(func() {
		s.closed.Store(true)
		go func() {
			_ = s.w.Stop()
			s.cancel()
		}()
	})
	return nil
}
