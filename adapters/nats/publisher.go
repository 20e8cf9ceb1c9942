package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.EventBatchPublisher = (*Publisher)(nil)

// DefaultPublishTimeout bounds the wait for JetStream's ack.
const DefaultPublishTimeout = 5 * time.Second

// Publisher publishes events to the JetStream stream and waits for the ack.
// The whole ports.Event envelope is the JSON body; the event id is the
// Nats-Msg-Id, so a republished event is stored once within
// DuplicateWindow.
type Publisher struct {
	js      jetstream.JetStream
	stream  string
	prefix  string
	timeout time.Duration
}

// NewPublisher returns a publisher to the stream named by cfg. A timeout of
// 0 means DefaultPublishTimeout.
func NewPublisher(js jetstream.JetStream, cfg StreamConfig, timeout time.Duration) (*Publisher, error) {
	if js == nil {
		return nil, errs.New(errs.Internal, "nats publisher: nil JetStream")
	}
	if timeout <= 0 {
		timeout = DefaultPublishTimeout
	}
	cfg = cfg.withDefaults()
	return &Publisher{js: js, stream: cfg.Name, prefix: cfg.Prefix, timeout: timeout}, nil
}

// Publish returns nil only once the stream has acknowledged e (or already
// held it). Without an ack it returns an errs.Unavailable error; a malformed
// event is errs.Invalid.
func (p *Publisher) Publish(ctx context.Context, e ports.Event) error {
	if err := checkEvent(e); err != nil {
		return err
	}
	msg, err := p.message(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, msg,
		jetstream.WithMsgID(e.ID),
		jetstream.WithExpectStream(p.stream),
	); err != nil {
		return errs.Wrap(errs.Unavailable, err, "publish event %s to %s", e.ID, msg.Subject)
	}
	return nil
}

// message encodes e as the NATS message of its subject.
func (p *Publisher) message(e ports.Event) (*nats.Msg, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep Data as written: "<" stays "<"
	if err := enc.Encode(e); err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "encode event %s", e.ID)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return &nats.Msg{Subject: e.Subject(p.prefix), Data: data}, nil
}

// PublishBatch publishes events asynchronously, in order on one
// connection (so the stream stores them in that order), and waits for every
// ack within the publish timeout. It returns how many leading events were
// acknowledged. A malformed event is reported as errs.Invalid at its index,
// before anything after it is sent.
func (p *Publisher) PublishBatch(ctx context.Context, events []ports.Event) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	var sendErr error
	for i, e := range events {
		if err := checkEvent(e); err != nil {
			sendErr = err
			break
		}
		msg, err := p.message(e)
		if err != nil {
			sendErr = err
			break
		}
		f, err := p.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(p.stream))
		if err != nil {
			sendErr = errs.Wrap(errs.Unavailable, err, "publish event %s to %s", events[i].ID, msg.Subject)
			break
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return i, errs.Wrap(errs.Unavailable, err, "publish event %s", events[i].ID)
		case <-ctx.Done():
			return i, errs.Wrap(errs.Unavailable, ctx.Err(), "publish event %s: no ack", events[i].ID)
		}
	}
	return len(futures), sendErr
}

// checkEvent refuses events whose subject the stream would not capture.
func checkEvent(e ports.Event) error {
	if e.ID == "" {
		return errs.Invalidf("event has no id")
	}
	if e.ChatID == 0 && e.UserID == 0 {
		return errs.Invalidf("event %s has neither chat nor user", e.ID)
	}
	a, b, ok := strings.Cut(e.Type, ".")
	if !ok || !subjectToken(a) || !subjectToken(b) {
		return errs.Invalidf("event %s: type %q is not <noun>.<verb>", e.ID, e.Type)
	}
	return nil
}

func subjectToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}
