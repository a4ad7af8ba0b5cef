package main

import (
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// serve runs the bare stack: fiber and gofiber/contrib/websocket,
// with 1 KB read and write buffers, and nothing else.
func serve(addr string) error {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", websocket.New(func(c *websocket.Conn) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}, websocket.Config{ReadBufferSize: 1024, WriteBufferSize: 1024}))
	return app.Listen(addr)
}
