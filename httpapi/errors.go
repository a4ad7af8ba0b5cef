package httpapi

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
)

// errorHandler is the one place REST errors meet the wire: reply errors keep
// their code and message, fiber's own errors map to codes, the rest is
// logged with the request id and answered `internal`.
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
		switch fe.Code {
		case fiber.StatusNotFound:
			return protocol.Errorf(protocol.CodeNotFound, "", "no such route")
		case fiber.StatusMethodNotAllowed:
			return protocol.Errorf(protocol.CodeNotFound, "", "method not allowed on this route")
		case fiber.StatusRequestEntityTooLarge:
			return protocol.Errorf(protocol.CodePayloadTooLarge, "", "request body too large")
		case fiber.StatusTooManyRequests:
			return protocol.Errorf(protocol.CodeRateLimited, "", "too many requests")
		case fiber.StatusBadRequest, fiber.StatusUnprocessableEntity:
			return protocol.Errorf(protocol.CodeInvalidPayload, "", "%s", fe.Message)
		}
	}
	return session.WireError(err)
}
