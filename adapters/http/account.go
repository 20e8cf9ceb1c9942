package http

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/application/command"
)

type passwordBody struct {
	OldPassword *string `json:"old_password"`
	NewPassword *string `json:"new_password"`
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	var b passwordBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if err := required("old_password", b.OldPassword, "new_password", b.NewPassword); err != nil {
		return err
	}
	if err := s.app.Commands.Sessions.ChangePassword(c.UserContext(), command.ChangePassword{Actor: actor(c),
		OldPassword: *b.OldPassword, NewPassword: *b.NewPassword}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) logoutAll(c *fiber.Ctx) error {
	if err := s.app.Commands.Sessions.LogoutAll(c.UserContext(), command.LogoutAll{Actor: actor(c)}); err != nil {
		return err
	}
	clearWebSession(c)
	return c.SendStatus(fiber.StatusNoContent)
}
