package ws

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fasthttp/websocket"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

// handle answers one client frame. Bad frames get an error frame and the
// connection stays open; so does a panic, which is a bug reported as
// internal.
func (c *conn) handle(typ int, data []byte) {
	var ref json.RawMessage
	defer func() {
		if p := recover(); p != nil {
			c.sendError(ref, fmt.Errorf("panic handling a frame: %v", p))
			c.g.log.Error("websocket: panic handling a frame", zap.Any("panic", p), zap.Stack("stack"))
		}
	}()
	if typ != websocket.TextMessage {
		c.sendError(nil, errs.Invalidf("binary frames are not supported: send JSON text frames"))
		return
	}
	f, err := decodeFrame(data)
	ref = f.Ref
	if err != nil {
		c.sendError(f.Ref, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.g.ctx, c.g.opts.CommandTimeout)
	defer cancel()
	c.touchActivity(ctx, f) // presence.go
	switch f.Type {
	case framePing:
		c.send(pongFrame)
	case frameSend:
		c.onSend(ctx, f)
	case frameDelivered, frameRead:
		c.onReceipt(ctx, f) // receipts.go
	case frameTyping:
		c.onTyping(ctx, f) // presence.go
	case framePresence:
		c.onPresence(ctx, f) // presence.go
	default:
		// frameDecoders knows a type this switch does not: a bug.
		c.sendError(f.Ref, fmt.Errorf("frame type %q has no handler", f.Type))
	}
}

func (c *conn) onSend(ctx context.Context, f clientFrame) {
	m, replay, err := c.g.app.Commands.SendMessage.Handle(ctx, command.SendMessage{Actor: c.actor,
		ChatID: f.ChatID, Content: f.Content, IdempotencyKey: f.IdempotencyKey, ReplyToID: f.ReplyToID, AttachmentIDs: f.AttachmentIDs})
	if err != nil {
		c.sendError(f.Ref, err)
		return
	}
	c.sendFrame(frameAck, ackData{Ref: f.Ref, Message: m, Replay: replay})
}

func (c *conn) viewer() query.Viewer {
	return query.Viewer{UserID: c.actor.UserID, WorkspaceID: c.actor.WorkspaceID}
}

func (c *conn) sendError(ref json.RawMessage, err error) {
	c.sendFrame(frameError, c.g.errorOf(ref, err))
}

func (c *conn) sendFrame(typ string, data any) {
	b, err := encodeFrame(typ, data)
	if err != nil {
		c.g.log.Error("websocket: frame does not encode", zap.String("type", typ), zap.Error(err))
		return
	}
	c.send(b)
}
