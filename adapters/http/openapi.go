package http

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/api"
)

// openAPI serves the OpenAPI 3 document built from the route table, so it
// lists exactly the routes that exist, each with every status it answers.
func (s *Server) openAPI(c *fiber.Ctx) error {
	return c.JSON(s.OpenAPI())
}

// receiptRule is how WebSocket receipt.updated frames are sent (README,
// "Receipts on the WebSocket").
const receiptRule = "WebSocket receipt.updated is coalesced per chat over 250 ms: at most one frame per chat per connection " +
	"per window, data = the last mover's {chat_id, user_id, last_delivered_seq, last_read_seq} plus receipts: every member " +
	"that moved in the window with its latest pointers. In chats of more than 50 members a connection gets only its own " +
	"user's moves and moves past messages its user sent (first move seen by an instance: the last 64 messages). " +
	"GET /api/v1/chats/{id}/messages/{seq}/receipts and the members list stay exact."

// errorCodes names the error code each error status carries (API.md).
var errorCodes = map[int]string{
	400: "invalid_argument: wrong types, missing or out-of-range fields, NUL or unpaired surrogates (naming the field)",
	401: "unauthenticated: missing, invalid, expired or revoked access token (or bad credentials)",
	403: "forbidden: the caller can see the resource but may not do this",
	404: "not_found: also for what the caller may not see",
	409: "conflict",
	413: "payload_too_large: body over 64 KiB",
	429: "rate_limited: retry after Retry-After seconds",
	500: "internal",
	503: "unavailable: a dependency is down; safe to retry",
}

// errorStatuses are the error statuses r answers: those of every route
// (400 for a bad query, 500), of every API route (503), of authenticated
// routes (401), of routes naming a resource in the path (404), of routes
// with a body (413), and the route's own fails.
func errorStatuses(r route) []int {
	st := []int{400, 500}
	if strings.HasPrefix(r.path, v1) {
		st = append(st, 503)
	}
	if r.auth {
		st = append(st, 401)
	}
	if strings.Contains(r.path, "/:") {
		st = append(st, 404)
	}
	if r.body != nil || r.multipart {
		st = append(st, 413)
	}
	st = append(st, r.fails...)
	slices.Sort(st)
	return slices.Compact(st)
}

// OpenAPI returns the document.
func (s *Server) OpenAPI() map[string]any { return buildOpenAPI(s.routes) }

var (
	docOnce sync.Once
	doc     map[string]any
)

// Document returns the OpenAPI document of the route table without a
// server (for tests and tools); it is the document GET /openapi.json
// serves.
func Document() map[string]any {
	docOnce.Do(func() {
		s := &Server{}
		doc = buildOpenAPI(s.routeTable())
	})
	return doc
}

func buildOpenAPI(routes []route) map[string]any {
	schemas := api.Schemas{}
	errRef := map[string]any{"$ref": "#/components/schemas/Error"}
	schemas.Of(api.Error{})
	paths := map[string]any{}
	for _, r := range routes {
		p := openAPIPath(r.path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{"summary": r.summary, "operationId": strings.ToLower(r.method) + strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(p, "/", "_"), "{", ""), "}", "")}
		var params []any
		for _, pa := range r.params {
			sch := map[string]any{"type": pa.typ}
			if pa.typ == "integer" {
				sch["format"] = "int64"
			}
			params = append(params, map[string]any{"name": pa.name, "in": pa.in, "required": pa.in == "path",
				"description": pa.doc, "schema": sch})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.multipart {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object", "required": []any{"file"},
					"properties": map[string]any{"file": map[string]any{"type": "string", "format": "binary"}}}}}}
		}
		if r.body != nil {
			op["requestBody"] = map[string]any{"required": !r.optionalBody, "content": map[string]any{
				"application/json": map[string]any{"schema": schemas.Of(r.body)}}}
		}
		okResp := map[string]any{"description": "success"}
		switch {
		case r.binary:
			okResp["content"] = map[string]any{"*/*": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
			okResp["headers"] = map[string]any{"Content-Disposition": map[string]any{"schema": map[string]any{"type": "string"}},
				"X-Content-Type-Options": map[string]any{"schema": map[string]any{"type": "string", "enum": []any{"nosniff"}}}}
		case r.text:
			okResp["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		case r.answer != nil:
			okResp["content"] = map[string]any{"application/json": map[string]any{"schema": schemas.Of(r.answer)}}
		}
		responses := map[string]any{strconv.Itoa(r.status): okResp}
		for _, st := range r.also {
			responses[strconv.Itoa(st)] = okResp
		}
		if r.binary {
			responses["206"] = map[string]any{"description": "the requested range", "headers": map[string]any{
				"Content-Range": map[string]any{"required": true, "schema": map[string]any{"type": "string"}}},
				"content": map[string]any{"*/*": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}
			responses["416"] = map[string]any{"description": "range not satisfiable", "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		}
		for _, st := range errorStatuses(r) {
			if _, ok := responses[strconv.Itoa(st)]; ok {
				continue
			}
			resp := map[string]any{"description": errorCodes[st], "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
			if st == 429 {
				resp["headers"] = map[string]any{"Retry-After": map[string]any{"required": true, "description": "seconds",
					"schema": map[string]any{"type": "integer"}}}
			}
			responses[strconv.Itoa(st)] = resp
		}
		op["responses"] = responses
		if r.auth {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
		}
		item[strings.ToLower(r.method)] = op
	}
	server, client := schemas.FrameComponents()
	paths[v1+"/ws"] = webSocketPath()
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Fechatter API", "version": "1", "description": receiptRule},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         map[string]any(schemas),
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
		"x-websocket": map[string]any{
			"path":          v1 + "/ws",
			"description":   "Text frames, one JSON object each. Server frames are {type, data}; client frames are {type, ...fields}. Each frame type's JSON Schema is the component named here.",
			"server_frames": server,
			"client_frames": client,
		},
	}
}

// webSocketPath documents the upgrade (the gateway mounts the route; the
// frames are in x-websocket).
func webSocketPath() map[string]any {
	errRef := map[string]any{"$ref": "#/components/schemas/Error"}
	errResp := func(st int) map[string]any {
		return map[string]any{"description": errorCodes[st], "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
	}
	return map[string]any{"get": map[string]any{
		"summary":     "WebSocket upgrade; frames are documented in x-websocket and components ws.server.* / ws.client.*",
		"operationId": "get_api_v1_ws",
		"parameters": []any{
			map[string]any{"name": "platform", "in": "query", "description": "web, ios, android, desktop, cli, ...", "schema": map[string]any{"type": "string"}},
			map[string]any{"name": "access_token", "in": "query", "description": "for browsers, instead of the Authorization header", "schema": map[string]any{"type": "string"}},
		},
		"responses": map[string]any{
			"101": map[string]any{"description": "switching protocols"},
			"400": errResp(400), "401": errResp(401), "426": map[string]any{"description": "not a WebSocket upgrade request"},
			"429": errResp(429), "500": errResp(500), "503": errResp(503),
		},
	}}
}

func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
