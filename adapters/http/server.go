package http

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// BodyLimit is the largest request body accepted (API.md: 64 KiB).
const BodyLimit = 64 * 1024

// ReadinessCheck reports whether a dependency is ready; nil means yes.
type ReadinessCheck func(ctx context.Context) error

// Options configure the server.
type Options struct {
	// Ready are the checks behind /health/ready, by name.
	Ready map[string]ReadinessCheck
	// ProxyHeader names the header with the client address when behind a
	// trusted proxy (e.g. X-Forwarded-For); empty uses the peer address.
	ProxyHeader string
}

// Server is the REST adapter.
type Server struct {
	app    application.App
	tokens ports.TokenIssuer
	log    *zap.Logger
	opts   Options
	routes []route
	fiber  *fiber.App
}

// NewServer builds the Fiber app with every route of API.md.
func NewServer(app application.App, tokens ports.TokenIssuer, log *zap.Logger, opts Options) *Server {
	s := &Server{app: app, tokens: tokens, log: log, opts: opts}
	s.fiber = fiber.New(fiber.Config{
		AppName:               "fechatter",
		BodyLimit:             BodyLimit,
		ErrorHandler:          errorHandler(log),
		DisableStartupMessage: true,
		ProxyHeader:           opts.ProxyHeader,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	s.fiber.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		log.Error("panic in handler", zap.Any("panic", e), zap.String("path", c.Path()), zap.Stack("stack"))
	}}))
	s.fiber.Use(requestid.New(requestid.Config{Header: "X-Request-Id", ContextKey: "requestid"}))
	s.fiber.Use(s.requestLog)
	s.routes = s.routeTable()
	for _, r := range s.routes {
		h := r.handler
		if r.auth {
			s.fiber.Add(r.method, r.path, s.authenticate, h)
		} else {
			s.fiber.Add(r.method, r.path, h)
		}
	}
	return s
}

// Fiber returns the underlying app (to mount more routes, e.g. WebSocket,
// or to serve with Listen / Test).
func (s *Server) Fiber() *fiber.App { return s.fiber }

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.fiber.Listen(addr) }

// Shutdown stops accepting and waits for in-flight requests.
func (s *Server) Shutdown(ctx context.Context) error { return s.fiber.ShutdownWithContext(ctx) }

// NotFound answers unknown routes with the error shape; mount it last.
func (s *Server) NotFound() {
	s.fiber.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	})
}

func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	fields := []zap.Field{
		zap.String("request_id", c.GetRespHeader("X-Request-Id")),
		zap.String("method", c.Method()),
		zap.String("path", c.Path()),
		zap.Int("status", status),
		zap.Duration("took", time.Since(start)),
	}
	if a, ok := c.Locals(actorKey).(command.Actor); ok {
		fields = append(fields, zap.Int64("user_id", a.UserID))
	}
	if status >= 500 {
		s.log.Warn("request", fields...)
	} else {
		s.log.Debug("request", fields...)
	}
	return nil
}

const actorKey = "fechatter.actor"

// authenticate checks the Bearer access token.
func (s *Server) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return errs.Unauthenticatedf("missing Authorization: Bearer <access_token>")
	}
	claims, err := s.tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		return err
	}
	c.Locals(actorKey, command.Actor{UserID: claims.UserID, WorkspaceID: claims.WorkspaceID, SessionID: claims.SessionID})
	return c.Next()
}

func actor(c *fiber.Ctx) command.Actor {
	a, _ := c.Locals(actorKey).(command.Actor)
	return a
}

func viewer(c *fiber.Ctx) query.Viewer {
	a := actor(c)
	return query.Viewer{UserID: a.UserID, WorkspaceID: a.WorkspaceID}
}
