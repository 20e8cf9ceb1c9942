package ws

import (
	"encoding/json"
	"errors"
	"math"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/domain/errs"
)

// errorOf turns an error into the data of an error frame: the one place
// where the WebSocket adapter chooses what a client is told. Codes are the
// errs kinds, as in REST; anything without a kind is internal and logged.
func (g *Gateway) errorOf(ref json.RawMessage, err error) errorData {
	d := errorData{Ref: ref, Code: errs.Internal.String(), Message: "internal error"}
	var de *errs.Error
	if errors.As(err, &de) {
		d.Code, d.Message = de.Kind.String(), de.Message
		if de.Kind == errs.RateLimited {
			d.RetryAfterMs = max(1, int64(math.Ceil(float64(de.RetryAfter)/1e6)))
		}
	}
	switch errs.KindOf(err) {
	case errs.Internal:
		g.log.Error("websocket request failed", zap.Error(err))
	case errs.Unavailable:
		g.log.Warn("websocket request: dependency unavailable", zap.Error(err))
	}
	return d
}

// httpError is the REST error shape, for answers before the upgrade.
type httpError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// reject answers a request that is not upgraded, in the REST error shape.
func reject(c *fiber.Ctx, status int, kind errs.Kind, msg string) error {
	var body httpError
	body.Error.Code, body.Error.Message = kind.String(), msg
	return c.Status(status).JSON(body)
}
