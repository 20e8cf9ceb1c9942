// Package errs defines the kinds of error the domain and application return.
// Inbound adapters map a Kind to a transport status in one place each.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for the caller.
type Kind int

const (
	Internal Kind = iota
	Invalid
	NotFound
	Conflict
	Forbidden
	Unauthenticated
	RateLimited
	Unavailable
	TooLarge
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid_argument"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case Forbidden:
		return "forbidden"
	case Unauthenticated:
		return "unauthenticated"
	case RateLimited:
		return "rate_limited"
	case Unavailable:
		return "unavailable"
	case TooLarge:
		return "payload_too_large"
	default:
		return "internal"
	}
}

// Error is an error with a kind and a message meant for the user.
type Error struct {
	Kind       Kind
	Message    string
	RetryAfter time.Duration // set with RateLimited
	Err        error         // optional cause, never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind.
func New(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the given kind with a cause.
func Wrap(kind Kind, cause error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: cause}
}

func Invalidf(format string, args ...any) error   { return New(Invalid, format, args...) }
func NotFoundf(format string, args ...any) error  { return New(NotFound, format, args...) }
func Conflictf(format string, args ...any) error  { return New(Conflict, format, args...) }
func Forbiddenf(format string, args ...any) error { return New(Forbidden, format, args...) }
func Unauthenticatedf(format string, args ...any) error {
	return New(Unauthenticated, format, args...)
}

// RateLimitedf returns a RateLimited error telling the caller when to retry.
func RateLimitedf(retryAfter time.Duration, format string, args ...any) error {
	return &Error{Kind: RateLimited, Message: fmt.Sprintf(format, args...), RetryAfter: retryAfter}
}

// KindOf reports the kind of err, Internal when it carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is of the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }
