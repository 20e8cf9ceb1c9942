package api

import (
	"reflect"
	"strings"
	"time"
)

// Schemas accumulates the JSON Schemas (OpenAPI 3.0 dialect) of Go types:
// named exported structs become components referenced by $ref, everything
// else is inlined.
//
// The rules, which are the whole of the mapping:
//   - a field without omitempty is required; a pointer is nullable;
//   - time.Time is a date-time string, integers are int64;
//   - a tag enum:"a,b" lists a string's values (of each item, on a list
//     of strings); schema:"ref" is a string or
//     a number (WebSocket refs);
//   - a named struct is closed (additionalProperties false), so an answer
//     with an undocumented field fails validation; unexported (request
//     body) structs stay open, since unknown request fields are ignored.
type Schemas map[string]any

var timeType = reflect.TypeOf(time.Time{})

// Of returns the schema of v's type.
func (s Schemas) Of(v any) map[string]any { return s.schemaOf(reflect.TypeOf(v)) }

func (s Schemas) schemaOf(t reflect.Type) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var out map[string]any
	switch {
	case t == timeType:
		out = map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		out = map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		out = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		out = map[string]any{"type": "integer", "format": "int64"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		out = map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice:
		out = map[string]any{"type": "array", "items": s.schemaOf(t.Elem())}
	case t.Kind() == reflect.Map:
		out = map[string]any{"type": "object", "additionalProperties": s.schemaOf(t.Elem())}
	case t.Kind() == reflect.Struct:
		name := componentName(t)
		if s != nil && name != "" {
			if _, done := s[name]; !done {
				s[name] = map[string]any{} // guards recursion
				st := s.structSchema(t)
				st["additionalProperties"] = false
				s[name] = st
			}
			ref := map[string]any{"$ref": "#/components/schemas/" + name}
			if nullable {
				return map[string]any{"allOf": []any{ref}, "nullable": true}
			}
			return ref
		}
		out = s.structSchema(t)
	default:
		out = map[string]any{}
	}
	if nullable {
		out["nullable"] = true
	}
	return out
}

func componentName(t reflect.Type) string {
	n := t.Name()
	if n == "" || strings.ToLower(n[:1]) == n[:1] {
		return "" // unexported request/answer wrappers are inlined
	}
	return n
}

func (s Schemas) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	req := []string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			var fs map[string]any
			if f.Tag.Get("schema") == "ref" {
				fs = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
			} else {
				fs = s.schemaOf(f.Type)
			}
			if e := f.Tag.Get("enum"); e != "" {
				var vals []any
				for _, v := range strings.Split(e, ",") {
					vals = append(vals, v)
				}
				target := fs
				if items, ok := fs["items"].(map[string]any); ok && fs["type"] == "array" {
					target = items // a list of such strings
				}
				if _, isRef := target["$ref"]; !isRef {
					target["enum"] = vals
				}
			}
			props[name] = fs
			if !strings.Contains(opts, "omitempty") {
				req = append(req, name)
			}
		}
	}
	walk(t)
	out := map[string]any{"type": "object", "properties": props}
	if len(req) > 0 {
		out["required"] = req
	}
	return out
}

// FrameComponents adds the schema of every WebSocket frame to s, as
// "ws.server.<type>" ({type, data}) and "ws.client.<type>" ({type,
// ...fields}), and returns the names by direction, for the document's
// x-websocket section.
func (s Schemas) FrameComponents() (server, client map[string]string) {
	server, client = map[string]string{}, map[string]string{}
	for _, f := range ServerFrames {
		name := "ws.server." + f.Type
		s[name] = map[string]any{
			"type": "object", "description": f.Doc, "required": []string{"type", "data"},
			"properties": map[string]any{
				"type": map[string]any{"type": "string", "enum": []any{f.Type}},
				"data": s.Of(f.Data),
			},
			"additionalProperties": false,
		}
		server[f.Type] = "#/components/schemas/" + name
	}
	for _, f := range ClientFrames {
		name := "ws.client." + f.Type
		st := s.structSchema(reflect.TypeOf(f.Data))
		props := st["properties"].(map[string]any)
		props["type"] = map[string]any{"type": "string", "enum": []any{f.Type}}
		st["required"] = append([]string{"type"}, asStrings(st["required"])...)
		st["description"] = f.Doc
		s[name] = st
		client[f.Type] = "#/components/schemas/" + name
	}
	return server, client
}

func asStrings(v any) []string {
	s, _ := v.([]string)
	return s
}
