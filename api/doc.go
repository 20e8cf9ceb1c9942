// Package api is the wire contract of Fechatter: one Go definition of every
// object the REST API and the WebSocket exchange (API.md), the catalog of
// WebSocket frames, and the JSON Schema generator that turns these types
// into the components of openapi.json.
//
// Every other package uses these types (application/query and the event
// payloads of application/command alias them, client re-exports them, the
// HTTP adapter's route table names them), so a field is added once, here,
// and is born in the document at the same time. The package is standard
// library only: the client SDK imports it without pulling in the server.
package api
