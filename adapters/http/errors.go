package http

import (
	"errors"
	"math"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/domain/errs"
)

// ErrorBody is the shape of every error answer; ErrorDetail says what went
// wrong (package api defines both).
type (
	ErrorBody   = api.Error
	ErrorDetail = api.ErrorDetail
)

// StatusOf maps an error kind to its HTTP status.
func StatusOf(k errs.Kind) int {
	switch k {
	case errs.Invalid:
		return fiber.StatusBadRequest
	case errs.Unauthenticated:
		return fiber.StatusUnauthorized
	case errs.Forbidden:
		return fiber.StatusForbidden
	case errs.NotFound:
		return fiber.StatusNotFound
	case errs.Conflict:
		return fiber.StatusConflict
	case errs.TooLarge:
		return fiber.StatusRequestEntityTooLarge
	case errs.RateLimited:
		return fiber.StatusTooManyRequests
	case errs.Unavailable:
		return fiber.StatusServiceUnavailable
	default:
		return fiber.StatusInternalServerError
	}
}

func kindOfStatus(status int) errs.Kind {
	switch status {
	case fiber.StatusBadRequest, fiber.StatusUnsupportedMediaType, fiber.StatusRequestHeaderFieldsTooLarge, fiber.StatusMethodNotAllowed:
		return errs.Invalid
	case fiber.StatusUnauthorized:
		return errs.Unauthenticated
	case fiber.StatusForbidden:
		return errs.Forbidden
	case fiber.StatusNotFound:
		return errs.NotFound
	case fiber.StatusConflict:
		return errs.Conflict
	case fiber.StatusRequestEntityTooLarge:
		return errs.TooLarge
	case fiber.StatusTooManyRequests:
		return errs.RateLimited
	case fiber.StatusServiceUnavailable, fiber.StatusRequestTimeout:
		return errs.Unavailable
	default:
		return errs.Internal
	}
}

// errorHandler is Fiber's ErrorHandler: the one place errors become answers.
func errorHandler(log *zap.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var (
			de   *errs.Error
			fe   *fiber.Error
			kind = errs.Internal
			msg  = "internal error"
		)
		switch {
		case errors.As(err, &de):
			kind, msg = de.Kind, de.Message
			if de.Kind == errs.RateLimited {
				secs := int(math.Ceil(de.RetryAfter.Seconds()))
				if secs < 1 {
					secs = 1
				}
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
			}
		case errors.As(err, &fe):
			kind, msg = kindOfStatus(fe.Code), fe.Message
			if fe.Code == fiber.StatusNotFound {
				msg = "no route " + c.Method() + " " + c.Path()
			}
			if fe.Code == fiber.StatusRequestEntityTooLarge {
				msg = "request body is larger than 64 KiB"
			}
		}
		status := StatusOf(kind)
		if kind == errs.Internal {
			log.Error("request failed", zap.String("method", c.Method()), zap.String("path", c.Path()), zap.Error(err))
		}
		if kind == errs.Unavailable {
			log.Warn("dependency unavailable", zap.String("path", c.Path()), zap.Error(err))
		}
		return c.Status(status).JSON(ErrorBody{Error: ErrorDetail{Code: kind.String(), Message: msg}})
	}
}
