package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/fechatter/fechatter/adapters/textcheck"
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/domain/errs"
)

// Client frame types.
const (
	framePing        = "ping"
	frameSend        = "message.send"
	frameTyping      = "typing"
	frameDelivered   = "delivered"
	frameRead        = "read"
	framePresence    = "presence"
	maxRefBytes      = 128
	maxTypeQuoteRune = 40
)

// Server frame types that are not events.
const (
	frameHello = "hello"
	frameAck   = "ack"
	frameError = "error"
	framePong  = "pong"
)

// clientFrame is a decoded client frame: its type and the fields that type
// uses, already checked for presence, type and range.
type clientFrame struct {
	Type string
	// Ref is the client's correlation value, a JSON string or number,
	// echoed verbatim in the ack or error that answers the frame.
	Ref            json.RawMessage
	ChatID         int64
	Content        string
	IdempotencyKey string
	ReplyToID      int64
	AttachmentIDs  []int64
	IsTyping       bool
	Seq            int64
	Status         string
}

// frameDecoders decode the fields of each client frame type. A new frame
// type (and its handler in handlers.go) slots in here.
var frameDecoders = map[string]func(data []byte, f *clientFrame) error{
	framePing:      func([]byte, *clientFrame) error { return nil },
	frameSend:      decodeSend,
	frameTyping:    decodeTyping,
	frameDelivered: decodePointer,
	frameRead:      decodePointer,
	framePresence:  decodePresence,
}

// decodeFrame decodes one client text frame. On error the returned frame
// still carries Ref when it could be read, so the error frame can name the
// request it answers. Unknown fields are ignored, as in REST.
func decodeFrame(data []byte) (clientFrame, error) {
	var f clientFrame
	if !utf8.Valid(data) {
		return f, errs.Invalidf("frame is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return f, errs.Invalidf("frame must be a JSON object")
	}
	var env struct {
		Type json.RawMessage `json:"type"`
		Ref  json.RawMessage `json:"ref"`
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return f, errs.Invalidf("frame is not valid JSON: %v", err)
	}
	if ref := env.Ref; len(ref) > 0 && string(ref) != "null" {
		if !validRef(ref) {
			return f, errs.Invalidf("field \"ref\" must be a string or a number of at most %d bytes", maxRefBytes)
		}
		f.Ref = append(json.RawMessage(nil), ref...)
	}
	if err := textcheck.JSON(trimmed); err != nil {
		return f, err // after Ref, so the error frame names its request
	}
	if len(env.Type) == 0 || string(env.Type) == "null" {
		return f, errs.Invalidf("field \"type\" is required")
	}
	if err := json.Unmarshal(env.Type, &f.Type); err != nil {
		return f, errs.Invalidf("field \"type\" must be a string")
	}
	decode, ok := frameDecoders[f.Type]
	if !ok {
		return f, errs.Invalidf("unknown frame type %q", clip(f.Type))
	}
	if err := decode(trimmed, &f); err != nil {
		return f, err
	}
	return f, nil
}

// validRef accepts a JSON string or number (already valid JSON) that is
// short enough to echo.
func validRef(ref json.RawMessage) bool {
	if len(ref) > maxRefBytes {
		return false
	}
	c := ref[0]
	return c == '"' || c == '-' || (c >= '0' && c <= '9')
}

func decodeSend(data []byte, f *clientFrame) error {
	var b struct {
		ChatID         *int64  `json:"chat_id"`
		Content        *string `json:"content"`
		IdempotencyKey *string `json:"idempotency_key"`
		ReplyToID      *int64  `json:"reply_to_id"`
		AttachmentIDs  []int64 `json:"attachment_ids"`
	}
	if err := decodeFields(data, &b); err != nil {
		return err
	}
	if f.Ref == nil {
		return errs.Invalidf("field \"ref\" is required")
	}
	if err := positive("chat_id", b.ChatID); err != nil {
		return err
	}
	if b.Content == nil && len(b.AttachmentIDs) > 0 {
		b.Content = new(string) // a message of files alone
	}
	if b.Content == nil {
		return errs.Invalidf("field \"content\" is required")
	}
	f.AttachmentIDs = b.AttachmentIDs
	if b.IdempotencyKey != nil && *b.IdempotencyKey == "" {
		return errs.Invalidf("idempotency_key must be 1..64 characters")
	}
	if b.ReplyToID != nil && *b.ReplyToID <= 0 {
		return errs.Invalidf("field \"reply_to_id\" must be a positive integer")
	}
	f.ChatID, f.Content = *b.ChatID, *b.Content
	if b.IdempotencyKey != nil {
		f.IdempotencyKey = *b.IdempotencyKey
	}
	if b.ReplyToID != nil {
		f.ReplyToID = *b.ReplyToID
	}
	return nil
}

func decodeTyping(data []byte, f *clientFrame) error {
	var b struct {
		ChatID   *int64 `json:"chat_id"`
		IsTyping *bool  `json:"is_typing"`
	}
	if err := decodeFields(data, &b); err != nil {
		return err
	}
	if err := positive("chat_id", b.ChatID); err != nil {
		return err
	}
	if b.IsTyping == nil {
		return errs.Invalidf("field \"is_typing\" is required")
	}
	f.ChatID, f.IsTyping = *b.ChatID, *b.IsTyping
	return nil
}

// decodePointer decodes delivered and read.
func decodePointer(data []byte, f *clientFrame) error {
	var b struct {
		ChatID *int64 `json:"chat_id"`
		Seq    *int64 `json:"seq"`
	}
	if err := decodeFields(data, &b); err != nil {
		return err
	}
	if err := positive("chat_id", b.ChatID); err != nil {
		return err
	}
	if err := positive("seq", b.Seq); err != nil {
		return err
	}
	f.ChatID, f.Seq = *b.ChatID, *b.Seq
	return nil
}

func decodePresence(data []byte, f *clientFrame) error {
	var b struct {
		Status *string `json:"status"`
	}
	if err := decodeFields(data, &b); err != nil {
		return err
	}
	if b.Status == nil {
		return errs.Invalidf("field \"status\" is required")
	}
	if *b.Status != "online" && *b.Status != "away" {
		return errs.Invalidf("field \"status\" must be \"online\" or \"away\"")
	}
	f.Status = *b.Status
	return nil
}

// decodeFields decodes the frame's fields into v, a struct of pointers,
// naming the field of a type mismatch.
func decodeFields(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errs.Invalidf("field %q must be %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return errs.Invalidf("frame is not valid JSON: %v", err)
	}
	return nil
}

func positive(name string, v *int64) error {
	if v == nil {
		return errs.Invalidf("field %q is required", name)
	}
	if *v <= 0 {
		return errs.Invalidf("field %q must be a positive integer", name)
	}
	return nil
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int64":
		return "an integer"
	case "bool":
		return "a boolean"
	default:
		return "of the documented type"
	}
}

// clip shortens a client-supplied string quoted in an error message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxTypeQuoteRune {
		return s
	}
	return string([]rune(s)[:maxTypeQuoteRune]) + "..."
}

// serverFrame is every frame the server sends.
type serverFrame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// encodeFrame encodes a server frame. Data that does not encode is a bug
// in this package, reported as an error.
func encodeFrame(typ string, data any) ([]byte, error) {
	return json.Marshal(serverFrame{Type: typ, Data: data})
}

// The data of the frames this package builds, defined once in package api.
type (
	helloData = api.Hello
	helloChat = api.HelloChat
	ackData   = api.Ack
	errorData = api.ErrorFrame
)

// pongFrame answers ping.
var pongFrame = []byte(`{"type":"pong","data":{}}`)
