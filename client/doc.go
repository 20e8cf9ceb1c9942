// Package client is a typed Go client of Fechatter's public API (API.md):
// REST calls on a Client, one per signed-in user, and a WebSocket Conn that
// decodes server frames and correlates message.send with its ack. The load
// generator (client/bench), the end-to-end tests and bots use it; it
// imports nothing else of this module, so it reads as an outside client.
package client
