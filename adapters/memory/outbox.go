package memory

import (
	"context"
	"slices"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.Outbox      = (*Outbox)(nil)
	_ ports.OutboxStore = (*Outbox)(nil)
)

// Outbox is both sides of a Store's outbox: Add for the commands, Pending,
// Remove and Notify for the relay.
type Outbox struct{ s *Store }

// Add queues events in the caller's transaction; outside one it fails, as
// the port requires one.
func (o *Outbox) Add(ctx context.Context, events ...ports.Event) error {
	s := o.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if t == nil {
		return errs.New(errs.Internal, "Outbox.Add must run inside a transaction")
	}
	if len(events) == 0 {
		return nil
	}
	n := len(s.outbox)
	for _, e := range events {
		s.ids.outbox++
		e.Data = slices.Clone(e.Data)
		s.outbox = append(s.outbox, ports.OutboxEntry{Position: s.ids.outbox, Event: e})
	}
	t.events = true
	t.onRollback(func() {
		clear(s.outbox[n:])
		s.outbox = s.outbox[:n]
	})
	return nil
}

// Pending returns copies of the oldest limit entries.
func (o *Outbox) Pending(ctx context.Context, limit int) ([]ports.OutboxEntry, error) {
	s := o.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	n := min(max(limit, 0), len(s.outbox))
	out := make([]ports.OutboxEntry, n)
	for i, e := range s.outbox[:n] {
		e.Event.Data = slices.Clone(e.Event.Data)
		out[i] = e
	}
	return out, nil
}

// Remove deletes the entries at positions; unknown positions are ignored.
func (o *Outbox) Remove(ctx context.Context, positions []int64) error {
	s := o.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if len(positions) == 0 {
		return nil
	}
	drop := make(map[int64]struct{}, len(positions))
	for _, p := range positions {
		drop[p] = struct{}{}
	}
	old := s.outbox
	kept := make([]ports.OutboxEntry, 0, len(old))
	for _, e := range old {
		if _, ok := drop[e.Position]; !ok {
			kept = append(kept, e)
		}
	}
	s.outbox = kept
	t.onRollback(func() { s.outbox = old })
	return nil
}

// Notify receives a value after a commit that added events.
func (o *Outbox) Notify() <-chan struct{} { return o.s.notify }
