// Package ws is the WebSocket gateway: GET /api/v1/ws authenticates a
// client, greets it with hello, turns its frames into application commands
// and fans out the events of its chats, delivered by the event bus, to
// every local connection of every member. Each server instance subscribes
// only to the chats that have a member connected to it (first local member
// in, last out), so several instances behind a load balancer deliver to each
// other's clients.
//
// A connection has one goroutine, its reader (its frames, in order); a
// writer runs only while there is something to send, and a client that
// falls too far behind (bytes queued or unread, learnt from its pongs) is
// closed with 1008 instead of slowing anyone down.
package ws
