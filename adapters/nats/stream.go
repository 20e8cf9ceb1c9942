package nats

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	// DefaultStreamName is the JetStream stream that holds every domain event.
	DefaultStreamName = "FECHATTER"
	// DefaultSubjectPrefix is the first token of every event subject.
	DefaultSubjectPrefix = "fechatter"
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id (the
	// event id): a relay retry within it is stored once.
	DuplicateWindow = 2 * time.Minute
	// DefaultMaxAge is how long the stream keeps events. Postgres stays the
	// source of truth; the stream only has to outlive consumer outages.
	DefaultMaxAge = 7 * 24 * time.Hour
)

// StreamConfig names the event stream and its subjects; tests set their own
// Name and Prefix to stay isolated on a shared server.
type StreamConfig struct {
	Name     string        // default DefaultStreamName
	Prefix   string        // default DefaultSubjectPrefix
	MaxAge   time.Duration // default DefaultMaxAge
	MaxBytes int64         // 0: no limit but MaxAge
	Replicas int           // default 1
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = DefaultStreamName
	}
	if c.Prefix == "" {
		c.Prefix = DefaultSubjectPrefix
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = -1
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	return c
}

// StreamSubjects are the subjects the stream captures under prefix:
// <prefix>.chat.<id>.<a>.<b> and <prefix>.user.<id>.<a>.<b>, the subjects of
// events whose type is "<a>.<b>" (message.created, chat.member_added, ...).
// The exact token count keeps ephemeral chat traffic such as
// <prefix>.chat.<id>.typing out of the stream, while a chat subscription
// (<prefix>.chat.<id>.>) still receives it.
func StreamSubjects(prefix string) []string {
	return []string{prefix + ".chat.*.*.*", prefix + ".user.*.*.*"}
}

// EnsureStream creates the event stream or updates it to cfg; running it
// again with the same cfg changes nothing. It uses only what NATS Server 2.9
// supports.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	cfg = cfg.withDefaults()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: "Fechatter domain events",
		Subjects:    StreamSubjects(cfg.Prefix),
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		MaxMsgs:     -1,
		// Per-subject limits stay off: a subject is a chat's event type,
		// and every event of it is kept.
		MaxMsgsPerSubject: -1,
		MaxConsumers:      -1,
		Replicas:          cfg.Replicas,
		Duplicates:        DuplicateWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}
