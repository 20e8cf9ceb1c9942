package application_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

type fakeSend struct {
	msg    query.Message
	replay bool
	err    error
	got    []command.SendMessage
}

func (f *fakeSend) Handle(_ context.Context, cmd command.SendMessage) (query.Message, bool, error) {
	f.got = append(f.got, cmd)
	return f.msg, f.replay, f.err
}

type observed struct {
	took   time.Duration
	replay bool
	err    error
}

type fakeObserver struct{ seen []observed }

func (o *fakeObserver) SendHandled(took time.Duration, replay bool, err error) {
	o.seen = append(o.seen, observed{took, replay, err})
}

func TestMeasureSendsReportsEachSendAndPassesResultsThrough(t *testing.T) {
	t.Parallel()
	failure := errs.RateLimitedf(time.Second, "slow down")
	tests := []struct {
		name   string
		inner  fakeSend
		replay bool
		err    error
	}{
		{"sent", fakeSend{msg: query.Message{ID: 7, Seq: 3}}, false, nil},
		{"replayed", fakeSend{msg: query.Message{ID: 7, Seq: 3}, replay: true}, true, nil},
		{"failed", fakeSend{err: failure}, false, failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inner, obs := tt.inner, &fakeObserver{}
			h := application.MeasureSends(&inner, obs)
			cmd := command.SendMessage{ChatID: 5, Content: "hi"}
			msg, replay, err := h.Handle(context.Background(), cmd)
			if !reflect.DeepEqual(msg, inner.msg) || replay != tt.replay || !errors.Is(err, tt.err) {
				t.Fatalf("Handle = %+v, %v, %v; want the inner handler's %+v, %v, %v", msg, replay, err, inner.msg, tt.replay, tt.err)
			}
			if len(inner.got) != 1 || !reflect.DeepEqual(inner.got[0], cmd) {
				t.Fatalf("inner handler got %+v, want exactly %+v", inner.got, cmd)
			}
			if len(obs.seen) != 1 {
				t.Fatalf("observer told %d times, want 1", len(obs.seen))
			}
			if o := obs.seen[0]; o.replay != tt.replay || !errors.Is(o.err, tt.err) || o.took < 0 {
				t.Fatalf("observed %+v, want replay %v, err %v", o, tt.replay, tt.err)
			}
		})
	}
}

func TestMeasureSendsRefusesMissingParts(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"no handler":  func() { application.MeasureSends(nil, &fakeObserver{}) },
		"no observer": func() { application.MeasureSends(&fakeSend{}, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}
