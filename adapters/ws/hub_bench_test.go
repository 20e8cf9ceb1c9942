package ws

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// benchBus keeps the handler of each subscription so that a benchmark can
// deliver events the way the NATS subscriber does, without NATS.
type benchBus struct {
	mu    sync.Mutex
	chats map[int64]func(ports.Event)
	all   func(ports.Event)
}

type benchSub struct{}

func (benchSub) Unsubscribe() error { return nil }

func (b *benchBus) SubscribeChat(_ context.Context, id int64, h func(ports.Event)) (ports.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.chats[id] = h
	return benchSub{}, nil
}

func (b *benchBus) SubscribeUser(context.Context, int64, func(ports.Event)) (ports.Subscription, error) {
	return benchSub{}, nil
}

func (b *benchBus) SubscribeAll(_ context.Context, h func(ports.Event)) (ports.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = h
	return benchSub{}, nil
}

func benchMessage() query.Message {
	key := "web-5f1c2a9e-81b4-4d7e-9c55-2f0e6b8d1a73"
	return query.Message{ID: 123456, ChatID: 1, Seq: 981, SenderID: 77,
		Content:        "the quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps over the lazy dog",
		IdempotencyKey: &key, CreatedAt: time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC)}
}

func benchMessageEvent(b *testing.B) ports.Event {
	data, err := json.Marshal(benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	return ports.Event{ID: "e1", Type: ports.EventMessageCreated, Version: ports.EventVersion, ChatID: 1, Data: data}
}

// BenchmarkEventFrame encodes a message.created event as the frame its
// connections get: once per event per instance.
func BenchmarkEventFrame(b *testing.B) {
	h := newHub(&benchBus{chats: map[int64]func(ports.Event){}}, zap.NewNop(), time.Second, nil)
	e := benchMessageEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if h.eventFrame(e) == nil {
			b.Fatal("frame not encoded")
		}
	}
}

// BenchmarkAckFrame encodes the ack of a message.send: once per send.
func BenchmarkAckFrame(b *testing.B) {
	ack := ackData{Ref: json.RawMessage(`"r42"`), Message: benchMessage()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeFrame(frameAck, ack); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHubFanout1000 delivers one message.created event to a chat with
// 1,000 local connections: the frame is encoded once and queued on each
// connection (the writers, which do the socket writes, are not running:
// this is the cost on the event's path, under the hub's lock). Queues are
// emptied between rounds, outside the timer.
func BenchmarkHubFanout1000(b *testing.B) {
	const conns = 1000
	const round = 200 // events per round; SendQueue holds them
	bus := &benchBus{chats: map[int64]func(ports.Event){}}
	g := &Gateway{log: zap.NewNop(), opts: Options{SendQueue: round + 1}.withDefaults()}
	g.hub = newHub(bus, g.log, time.Second, nil)
	cs := make([]*conn, conns)
	for i := range cs {
		cs[i] = socketless(g, command.Actor{UserID: int64(i + 1), WorkspaceID: 1, SessionID: "s"}, "bench")
		if err := g.hub.joinChats(context.Background(), cs[i], []int64{1}); err != nil {
			b.Fatal(err)
		}
	}
	deliver := bus.all
	e := benchMessageEvent(b)
	b.ReportAllocs()
	for i := range b.N {
		if i%round == 0 && i > 0 {
			b.StopTimer()
			for _, c := range cs {
				c.mu.Lock()
				if len(c.queue) != round || c.closing {
					b.Fatalf("connection %d: %d frames queued (closing %v), want %d", c.actor.UserID, len(c.queue), c.closing, round)
				}
				clear(c.queue)
				c.queue, c.queued = c.queue[:0], 0
				c.mu.Unlock()
			}
			b.StartTimer()
		}
		deliver(e)
	}
	b.ReportMetric(float64(b.N)*conns/b.Elapsed().Seconds(), "deliveries/s")
}
