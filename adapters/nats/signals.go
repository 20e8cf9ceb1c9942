package nats

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.SignalPublisher = (*SignalPublisher)(nil)

// SignalPublisher publishes ephemeral events (typing) with plain NATS: the
// envelope as JSON on the event's subject, whose one-token type keeps it
// out of the stream, to whoever subscribes at that moment.
type SignalPublisher struct {
	nc     *nats.Conn
	prefix string
}

// NewSignalPublisher returns a publisher of signals under prefix ("" means
// DefaultSubjectPrefix).
func NewSignalPublisher(nc *nats.Conn, prefix string) (*SignalPublisher, error) {
	if nc == nil {
		return nil, errs.New(errs.Internal, "nats signal publisher: nil connection")
	}
	if prefix == "" {
		prefix = DefaultSubjectPrefix
	}
	return &SignalPublisher{nc: nc, prefix: prefix}, nil
}

// PublishSignal publishes e without waiting for anyone. It refuses events
// the stream would capture (a type of two tokens, such as message.created):
// those go through the outbox.
func (p *SignalPublisher) PublishSignal(_ context.Context, e ports.Event) error {
	if e.ID == "" {
		return errs.Invalidf("signal has no id")
	}
	if e.ChatID == 0 && e.UserID == 0 {
		return errs.Invalidf("signal %s has neither chat nor user", e.ID)
	}
	if !subjectToken(e.Type) {
		return errs.Invalidf("signal %s: type %q must be one subject token, so that the stream does not store it", e.ID, e.Type)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return errs.Wrap(errs.Invalid, err, "encode signal %s", e.ID)
	}
	if err := p.nc.Publish(e.Subject(p.prefix), bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); err != nil {
		return errs.Wrap(errs.Unavailable, err, "publish signal %s", e.ID)
	}
	return nil
}
