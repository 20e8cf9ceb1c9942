package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/adapters/textcheck"
	"github.com/fechatter/fechatter/domain/errs"
)

// decodeBody reads the JSON object of the request into v. Unknown fields are
// ignored; invalid UTF-8, non-objects and wrong types are Invalid.
func decodeBody(c *fiber.Ctx, v any) error {
	body := c.Body()
	if !utf8.Valid(body) {
		return errs.Invalidf("request body is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errs.Invalidf("request body must be a JSON object")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errs.Invalidf("field %q must be %s, not %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)
		}
		return errs.Invalidf("request body is not valid JSON: %v", err)
	}
	return textcheck.JSON(trimmed)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "ptr":
		return "a value of the documented type"
	default:
		return "of the documented type"
	}
}

// required fails with Invalid naming the first field that is missing.
func required(fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		name := fields[i].(string)
		switch v := fields[i+1].(type) {
		case *string:
			if v == nil {
				return errs.Invalidf("field %q is required", name)
			}
		case *int64:
			if v == nil {
				return errs.Invalidf("field %q is required", name)
			}
		case *bool:
			if v == nil {
				return errs.Invalidf("field %q is required", name)
			}
		case []int64:
			if v == nil {
				return errs.Invalidf("field %q is required", name)
			}
		default:
			panic(fmt.Sprintf("required: unsupported type %T", v))
		}
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// pathID parses a positive int64 path parameter.
func pathID(c *fiber.Ctx, name string) (int64, error) {
	raw := c.Params(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, errs.Invalidf("%s %q is not an integer", name, raw)
	}
	return id, nil
}

// pathIDs parses the chat id and a second id parameter (seq, user_id) of
// routes under /chats/:id.
func pathIDs(c *fiber.Ctx, second string) (chatID, id int64, err error) {
	if chatID, err = pathID(c, "id"); err != nil {
		return 0, 0, err
	}
	id, err = pathID(c, second)
	return chatID, id, err
}

// queryInt parses an optional integer query parameter; absent is 0.
func queryInt(c *fiber.Ctx, name string) (int64, bool, error) {
	raw := c.Query(name)
	if raw == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, false, errs.Invalidf("query parameter %s=%q is not an integer", name, raw)
	}
	return n, true, nil
}
