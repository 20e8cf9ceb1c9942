package http

import (
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/utils"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/textcheck"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// BodyLimit is the largest request body accepted (API.md: 64 KiB).
const BodyLimit = 64 * 1024

// readLimit is what the server reads before giving up on a body. It is
// above BodyLimit so that a body somewhat too large is read whole and
// answered 413 on a healthy connection; refused unread, the client may see
// its connection reset instead of the answer.
const readLimit = 1 << 20

// ReadinessCheck reports whether a dependency is ready; nil means yes.
type ReadinessCheck func(ctx context.Context) error

// Options configure the server.
type Options struct {
	// Ready are the checks behind /health/ready, by name.
	Ready map[string]ReadinessCheck
	// ProxyHeader names the header with the client address when behind a
	// trusted proxy (e.g. X-Forwarded-For); empty uses the peer address.
	ProxyHeader string
	// Health produces the report of GET /health; nil answers 503.
	Health HealthReporter
	// Metrics serves GET /metrics (the Prometheus text format); nil
	// answers 404.
	Metrics nethttp.Handler
	// Requests is told of every answered request; may be nil.
	Requests RequestObserver
}

// HealthReporter produces the health report (query.Health).
type HealthReporter interface {
	Handle(ctx context.Context) query.HealthReport
}

// RequestObserver is told of every answered request, for metrics. route is
// the pattern of the route that answered (/api/v1/chats/:id), or
// UnmatchedRoute, never the raw path, so that labels stay few; userID is 0
// for an anonymous request.
type RequestObserver interface {
	RequestServed(method, route string, status int, took time.Duration, userID int64)
}

// UnmatchedRoute is the route reported for a request no route answered.
const UnmatchedRoute = "unmatched"

// HeaderRequestID carries the request id, both ways.
const HeaderRequestID = "X-Request-Id"

// Server is the REST adapter.
type Server struct {
	app    application.App
	tokens ports.TokenIssuer
	log    *zap.Logger
	opts   Options
	routes []route
	fiber  *fiber.App

	metricsHandler fiber.Handler // opts.Metrics adapted to Fiber; nil without
}

// NewServer builds the Fiber app with every route of API.md.
func NewServer(app application.App, tokens ports.TokenIssuer, log *zap.Logger, opts Options) *Server {
	s := &Server{app: app, tokens: tokens, log: log, opts: opts}
	if opts.Metrics != nil {
		s.metricsHandler = adaptor.HTTPHandler(opts.Metrics)
	}
	s.fiber = fiber.New(fiber.Config{
		AppName:               "fechatter",
		BodyLimit:             readLimit,
		ErrorHandler:          errorHandler(log),
		DisableStartupMessage: true,
		ProxyHeader:           opts.ProxyHeader,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// Bodies over readLimit arrive as a stream: the upload route reads
		// it as it comes; limitBody refuses it everywhere else unread.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	recovery := recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		log.Error("panic in handler", zap.Any("panic", e), zap.String("request_id", RequestID(c)),
			zap.String("path", c.Path()), zap.Stack("stack"))
	}})
	// The outer recovery guards the middleware itself; the inner one turns a
	// handler's panic into an error that requestLog logs and counts (500)
	// with the request id, like any other.
	s.fiber.Use(recovery)
	s.fiber.Use(requestID)
	s.fiber.Use(s.requestLog)
	s.fiber.Use(recovery)
	s.fiber.Use(limitBody)
	s.fiber.Use(cleanQuery)
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

// requestID gives every request an id, logged with it and returned in
// X-Request-Id. A client's own id is kept when it is sane (1..64 of
// [A-Za-z0-9_-]), so a trace can span services; anything else is replaced.
func requestID(c *fiber.Ctx) error {
	id := c.Get(HeaderRequestID)
	if saneRequestID(id) {
		id = strings.Clone(id) // the header's bytes are reused after the request
	} else {
		id = utils.UUIDv4()
	}
	c.Locals(requestIDKey, id)
	c.Set(HeaderRequestID, id)
	return c.Next()
}

const requestIDKey = "fechatter.request_id"

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

// RequestID returns the id of the request c is handling.
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	took := time.Since(start)
	status := c.Response().StatusCode()
	a, authenticated := c.Locals(actorKey).(command.Actor)
	if s.opts.Requests != nil {
		s.opts.Requests.RequestServed(stableMethod(c), routePattern(c, err), status, took, a.UserID)
	}
	if status < 500 && !s.log.Core().Enabled(zap.DebugLevel) {
		return nil
	}
	fields := []zap.Field{
		zap.String("request_id", RequestID(c)),
		zap.String("method", c.Method()),
		zap.String("path", c.Path()),
		zap.Int("status", status),
		zap.Duration("took", took),
	}
	if authenticated {
		fields = append(fields, zap.Int64("user_id", a.UserID))
	}
	if status >= 500 {
		s.log.Warn("request", fields...)
	} else {
		s.log.Debug("request", fields...)
	}
	return nil
}

// stableMethod is the request's method as a string that outlives the
// request (c.Method() aliases a buffer fasthttp reuses), for metric labels.
func stableMethod(c *fiber.Ctx) string {
	m := c.Method()
	for _, known := range c.App().Config().RequestMethods {
		if known == m {
			return known
		}
	}
	return "OTHER"
}

// routePattern is the pattern of the route that answered c, given the
// error the handlers returned. Routes answer "not found" with domain errors
// (errs.NotFound), so a Fiber 404 or 405 comes from the router or from the
// catch-all of NotFound: no route took the request, and its raw path must
// not become a label.
func routePattern(c *fiber.Ctx, err error) string {
	var fe *fiber.Error
	if errors.As(err, &fe) && (fe.Code == fiber.StatusNotFound || fe.Code == fiber.StatusMethodNotAllowed) {
		return UnmatchedRoute
	}
	return c.Route().Path
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

// limitBody answers 413 for bodies over BodyLimit, except the upload's,
// which is streamed (files.go). A declared length over the limit is
// refused before the body is read; an undeclared (chunked) one is read up
// to the limit only.
func limitBody(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodPost && c.Path() == uploadPath {
		return c.Next()
	}
	tooLarge := errs.New(errs.TooLarge, "request body is larger than 64 KiB")
	if n := c.Request().Header.ContentLength(); n > readLimit {
		return tooLarge
	}
	if stream := c.Context().RequestBodyStream(); stream != nil && c.Request().Header.ContentLength() < 0 {
		b, err := io.ReadAll(io.LimitReader(stream, BodyLimit+1))
		if err != nil {
			return errs.Invalidf("request body could not be read")
		}
		if len(b) > BodyLimit {
			return tooLarge
		}
		c.Request().SetBody(b)
	}
	if len(c.Request().Body()) > BodyLimit {
		return tooLarge
	}
	return c.Next()
}

// cleanQuery refuses query parameters that are not text Postgres and
// clients can hold (NUL, invalid UTF-8, encoded surrogates); bodies get the
// same check in decodeBody.
func cleanQuery(c *fiber.Ctx) error {
	var err error
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if err == nil {
			if err = textcheck.String("query parameter", string(k)); err == nil {
				err = textcheck.String(string(k), string(v))
			}
		}
	})
	if err != nil {
		return err
	}
	return c.Next()
}
