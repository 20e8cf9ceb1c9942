package nats

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// An outage's missed heartbeats are a warning; other async errors stay
// errors.
func TestAsyncErrorsDuringAnOutageAreWarnings(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	h := asyncErrorHandler(zap.New(core))
	h(nil, &nats.Subscription{Subject: "$KV.presence.>"}, nats.ErrConsumerNotActive)
	h(nil, nil, nats.ErrSlowConsumer)
	h(nil, nil, errors.New("something else"))
	got := logs.All()
	if len(got) != 3 || got[0].Level != zapcore.WarnLevel || got[1].Level != zapcore.ErrorLevel || got[2].Level != zapcore.ErrorLevel {
		t.Fatalf("levels %v", got)
	}
	if got[0].ContextMap()["subject"] != "$KV.presence.>" {
		t.Errorf("the subject is not logged: %v", got[0].ContextMap())
	}
}
