package http

import (
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// openAPI serves an OpenAPI 3 document built from the route table, so it
// lists exactly the routes that exist.
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

// OpenAPI returns the document.
func (s *Server) OpenAPI() map[string]any {
	schemas := map[string]any{
		"Error": schemaOf(reflect.TypeOf(ErrorBody{}), nil),
	}
	paths := map[string]any{}
	for _, r := range s.routes {
		p := openAPIPath(r.path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{"summary": r.summary, "operationId": strings.ToLower(r.method) + strings.ReplaceAll(strings.ReplaceAll(p, "/", "_"), "{", "")}
		var params []any
		for _, pa := range r.params {
			params = append(params, map[string]any{"name": pa.name, "in": pa.in, "required": pa.in == "path",
				"description": pa.doc, "schema": map[string]any{"type": pa.typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(r.body), schemas)}}}
		}
		okResp := map[string]any{"description": "success"}
		if r.answer != nil {
			okResp["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(r.answer), schemas)}}
		}
		errResp := func(d string) map[string]any {
			return map[string]any{"description": d, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		}
		responses := map[string]any{strconv.Itoa(r.status): okResp}
		if strings.HasPrefix(r.path, v1) {
			responses["400"] = errResp("invalid_argument")
			responses["413"] = errResp("payload_too_large")
			if r.auth {
				responses["401"] = errResp("unauthenticated")
				responses["404"] = errResp("not_found (also for what the caller may not see)")
			}
		}
		op["responses"] = responses
		if r.auth {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
		}
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Fechatter API", "version": "1", "description": receiptRule},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
	}
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

var timeType = reflect.TypeOf(time.Time{})

// schemaOf describes t as a JSON schema. Named structs go to components
// (when schemas is not nil) and are referenced.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer", "format": "int64"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice:
		s = map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Map:
		s = map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Struct:
		name := schemaName(t)
		if schemas != nil && name != "" {
			if _, done := schemas[name]; !done {
				schemas[name] = map[string]any{} // guards recursion
				schemas[name] = structSchema(t, schemas)
			}
			s = map[string]any{"$ref": "#/components/schemas/" + name}
			if nullable {
				return map[string]any{"allOf": []any{s}, "nullable": true}
			}
			return s
		}
		s = structSchema(t, schemas)
	default:
		s = map[string]any{}
	}
	if nullable {
		s["nullable"] = true
	}
	return s
}

func schemaName(t reflect.Type) string {
	n := t.Name()
	if n == "" || strings.ToLower(n[:1]) == n[:1] {
		return "" // unexported request/answer wrappers are inlined
	}
	return n
}

func structSchema(t reflect.Type, schemas map[string]any) map[string]any {
	props := map[string]any{}
	var req []string
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, schemas)
			if !strings.Contains(opts, "omitempty") {
				req = append(req, name)
			}
		}
	}
	walk(t)
	s := map[string]any{"type": "object", "properties": props}
	if len(req) > 0 {
		s["required"] = req
	}
	return s
}
