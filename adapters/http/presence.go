package http

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

// typingBody is the body of POST /chats/{id}/typing.
type typingBody struct {
	IsTyping *bool `json:"is_typing"`
}

// typing answers 204 once the start or stop is taken (broadcast or
// throttled): the same as the WebSocket typing frame.
func (s *Server) typing(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var b typingBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.IsTyping == nil {
		return errs.Invalidf("field \"is_typing\" is required")
	}
	if err := s.app.Commands.SetTyping.Handle(c.UserContext(), command.SetTyping{Actor: actor(c), ChatID: id, IsTyping: *b.IsTyping}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// maxPresenceIDsText bounds the raw user_ids list before it is parsed.
const maxPresenceIDsText = 8 * 1024

// presence answers GET /presence?user_ids=1,2,3 for users of the caller's
// workspace (others are left out).
func (s *Server) presence(c *fiber.Ctx) error {
	raw := c.Query("user_ids")
	if strings.TrimSpace(raw) == "" {
		return errs.Invalidf("user_ids is required: a comma-separated list of 1..%d user ids", query.MaxPresenceUsers)
	}
	if len(raw) > maxPresenceIDsText {
		return errs.Invalidf("user_ids must list at most %d user ids", query.MaxPresenceUsers)
	}
	parts := strings.Split(raw, ",")
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || id <= 0 {
			return errs.Invalidf("user_ids must be positive integers separated by commas, got %q", clipText(p))
		}
		ids = append(ids, id)
	}
	ps, err := s.app.Queries.GetPresence.Handle(c.UserContext(), viewer(c), ids)
	if err != nil {
		return err
	}
	return c.JSON(api.PresenceList{Presence: ps})
}

func clipText(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// touchingWrites makes the successful authenticated writes of routes count
// as activity for presence (API.md: a REST write is activity), except
// those that are not a person acting: delivered (a device acknowledging in
// the background) and logout.
func (s *Server) touchingWrites(routes []route) []route {
	for i, r := range routes {
		if !r.auth || r.method == fiber.MethodGet || r.method == fiber.MethodHead ||
			strings.HasSuffix(r.path, "/delivered") || strings.HasSuffix(r.path, "/auth/logout") {
			continue
		}
		routes[i].handler = s.touchAfter(r.handler)
	}
	return routes
}

func (s *Server) touchAfter(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := next(c); err != nil {
			return err
		}
		if c.Response().StatusCode() >= fiber.StatusBadRequest {
			return nil
		}
		a := actor(c)
		if err := s.app.Commands.TouchPresence.Handle(c.UserContext(), command.TouchPresence{Actor: a}); err != nil {
			s.log.Warn("presence: REST activity not recorded", zap.Int64("user_id", a.UserID), zap.Error(err))
		}
		return nil
	}
}
