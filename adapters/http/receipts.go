package http

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/command"
)

// pointerBody is the body of POST /chats/{id}/delivered and /read.
type pointerBody struct {
	Seq *int64 `json:"seq"`
}

// markDelivered and markRead answer 200 with the caller's Member whether
// or not the pointer moved: a lower seq is ignored, not an error.
//
// Presence hook: API.md counts a REST write as activity but names
// delivered as not activity (a device acknowledging in the background is
// not a person at the keyboard). Whatever marks REST writes as activity
// should skip POST /chats/{id}/delivered; /read is activity.
func (s *Server) markDelivered(c *fiber.Ctx) error {
	id, seq, err := pointerRequest(c)
	if err != nil {
		return err
	}
	m, err := s.app.Commands.MarkDelivered.Handle(c.UserContext(), command.MarkDelivered{Actor: actor(c), ChatID: id, Seq: seq})
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Server) markRead(c *fiber.Ctx) error {
	id, seq, err := pointerRequest(c)
	if err != nil {
		return err
	}
	m, err := s.app.Commands.MarkRead.Handle(c.UserContext(), command.MarkRead{Actor: actor(c), ChatID: id, Seq: seq})
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func pointerRequest(c *fiber.Ctx) (chatID, seq int64, err error) {
	if chatID, err = pathID(c, "id"); err != nil {
		return 0, 0, err
	}
	var b pointerBody
	if err := decodeBody(c, &b); err != nil {
		return 0, 0, err
	}
	if err := required("seq", b.Seq); err != nil {
		return 0, 0, err
	}
	return chatID, *b.Seq, nil
}

func (s *Server) getReceipts(c *fiber.Ctx) error {
	id, seq, err := pathIDs(c, "seq")
	if err != nil {
		return err
	}
	rs, err := s.app.Queries.GetReceipts.Handle(c.UserContext(), viewer(c), id, seq)
	if err != nil {
		return err
	}
	return c.JSON(api.Receipts{Receipts: rs})
}
