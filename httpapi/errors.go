package httpapi

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/wireerr"
)

// errorHandler writes every REST error body: wireerr decides the code and
// status, fiber's own errors included; internal ones are logged with the
// request id and answered `internal`.
func errorHandler(m *metrics.Metrics, logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) && fe.Code == fiber.StatusRequestTimeout {
			// fasthttp's read timeout on a keep-alive connection that simply
			// went quiet: nobody is waiting for an answer, and it is no bug.
			return c.SendStatus(fiber.StatusRequestTimeout)
		}
		pe := toProtocolError(err)
		if pe.Code == protocol.CodeInternal {
			logger.Error("rest: request failed", "method", c.Method(), "path", c.Path(),
				"requestId", c.Locals(requestIDKey), "err", err)
		}
		m.Errors.WithLabelValues(string(pe.Code)).Inc()
		return c.Status(protocol.HTTPStatus(pe.Code)).JSON(protocol.RESTError{Detail: pe.Message, Code: pe.Code})
	}
}

func toProtocolError(err error) *protocol.Error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if pe, ok := wireerr.FromHTTP(fe.Code, fe.Message); ok {
			return pe
		}
	}
	return wireerr.Reply(err)
}
