package http

import (
	"context"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

type healthAnswer struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func (s *Server) live(c *fiber.Ctx) error {
	return c.JSON(healthAnswer{Status: "ok"})
}

// ready runs every readiness check under a short timeout: 200 when all
// pass, 503 naming the ones that failed.
func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	names := make([]string, 0, len(s.opts.Ready))
	for n := range s.opts.Ready {
		names = append(names, n)
	}
	sort.Strings(names)
	ans := healthAnswer{Status: "ok", Checks: map[string]string{}}
	for _, n := range names {
		if err := s.opts.Ready[n](ctx); err != nil {
			ans.Status = "unavailable"
			ans.Checks[n] = err.Error()
		} else {
			ans.Checks[n] = "ok"
		}
	}
	if ans.Status != "ok" {
		return c.Status(fiber.StatusServiceUnavailable).JSON(ans)
	}
	return c.JSON(ans)
}

// health answers GET /health: 200 while the service serves (healthy, or
// degraded with search down), 503 when the database or NATS is down. The
// report's checks are bounded by their own timeouts.
func (s *Server) health(c *fiber.Ctx) error {
	if s.opts.Health == nil { // a test configuration: nothing is known to be up
		return c.Status(fiber.StatusServiceUnavailable).JSON(query.HealthReport{Status: query.HealthUnhealthy,
			DatabaseStatus: "down", NATSConnectionStatus: "down", SearchStatus: "down"})
	}
	r := s.opts.Health.Handle(c.UserContext())
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !r.Serving() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(r)
	}
	return c.JSON(r)
}

// metrics answers GET /metrics in the Prometheus text format.
func (s *Server) metrics(c *fiber.Ctx) error {
	if s.metricsHandler == nil {
		return errs.NotFoundf("metrics are not enabled")
	}
	return s.metricsHandler(c)
}
