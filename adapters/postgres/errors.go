package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
)

// dbError turns an error from the database into a domain error. what says
// what was being done ("load chat 42"); it ends up in the message.
func dbError(err error, what string) error {
	if err == nil {
		return nil
	}
	var de *errs.Error
	if errors.As(err, &de) {
		return err // already a domain error
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.Wrap(errs.NotFound, err, "%s: not found", what)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.Unavailable, err, "%s: %v", what, err)
	}
	switch sqlState(err) {
	case codeUniqueViolation:
		return errs.Wrap(errs.Conflict, err, "%s: already exists", what)
	case codeForeignKeyViolation:
		return errs.Wrap(errs.NotFound, err, "%s: what it refers to does not exist", what)
	case codeCheckViolation, codeNotNullViolation, codeInvalidText, codeStringTooLong:
		return errs.Wrap(errs.Invalid, err, "%s: rejected by the database", what)
	case codeSerialization, codeDeadlock, codeLockNotAvailable, codeQueryCanceled,
		codeTooManyConnections, codeCannotConnectNow, codeAdminShutdown:
		return errs.Wrap(errs.Unavailable, err, "%s: database busy, try again", what)
	case "":
	default:
		return errs.Wrap(errs.Internal, err, "%s", what)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sql.ErrConnDone) {
		return errs.Wrap(errs.Unavailable, err, "%s: database unavailable", what)
	}
	return errs.Wrap(errs.Internal, err, "%s", what)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// oneRow reports errs.NotFound when an UPDATE or DELETE touched no row.
func oneRow(res sql.Result, format string, args ...any) error {
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.New(errs.NotFound, format, args...)
	}
	return nil
}

// nullInt is nil for 0, so an unset id is stored as NULL.
func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// nullString is nil for "", so an unset string is stored as NULL.
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// nullTime is nil for the zero time, so an unset time is stored as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
