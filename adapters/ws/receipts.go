package ws

import (
	"context"

	"github.com/fechatter/fechatter/application/command"
)

// onReceipt moves the caller's delivered or read pointer. API.md defines
// no answer to these frames: success is silent (the members hear
// receipt.updated when a pointer moved), a failure is an error frame with
// the frame's ref, if it had one.
//
// For presence, read is activity and delivered is not (API.md, WebSocket,
// Activity: a device acknowledging in the background must not keep its
// user online); that is decided before dispatch (touchActivity), not here.
func (c *conn) onReceipt(ctx context.Context, f clientFrame) {
	var err error
	switch f.Type {
	case frameDelivered:
		_, err = c.g.app.Commands.MarkDelivered.Handle(ctx, command.MarkDelivered{Actor: c.actor, ChatID: f.ChatID, Seq: f.Seq})
	case frameRead:
		_, err = c.g.app.Commands.MarkRead.Handle(ctx, command.MarkRead{Actor: c.actor, ChatID: f.ChatID, Seq: f.Seq})
	}
	if err != nil {
		c.sendError(f.Ref, err)
	}
}
