package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/valvhq/valv/internal/problem"
)

var (
	// ErrNotFound means no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness or foreign-key rule refused the change.
	ErrConflict = errors.New("store: conflict")
	// ErrClosed means the store is closed.
	ErrClosed = errors.New("store: closed")
)

// errUnavailable marks errors that mean the database cannot be reached or is
// read-only (a failover in progress). It is a problem so that the HTTP edge
// answers 503 with Retry-After instead of 500.
func unavailable(cause error) error {
	p := problem.Wrap(cause, problem.KindUnavailable, "storage_unavailable",
		"The database is unavailable. Try again shortly.")
	p.RetryAfter = 2
	return p
}

// IsUnavailable reports whether err means the database could not be reached.
func IsUnavailable(err error) bool {
	p, ok := problem.As(err)
	return ok && p.Code == "storage_unavailable"
}

// sqliteCoder is implemented by modernc.org/sqlite's error type.
type sqliteCoder interface{ Code() int }

// sqlStater is implemented by pgx's *pgconn.PgError.
type sqlStater interface{ SQLState() string }

// classify maps driver errors to the store's errors, keeping the driver
// error in the chain for the log.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || IsUnavailable(err) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sql.ErrConnDone) {
		return unavailable(err)
	}
	var sc sqliteCoder
	if errors.As(err, &sc) {
		switch code := sc.Code(); {
		case code == 2067 || code == 1555 || code == 787 || code == 2579: // UNIQUE, PRIMARYKEY, FOREIGNKEY, ROWID
			return fmt.Errorf("%w: %v", ErrConflict, err)
		case code&0xff == 5 || code&0xff == 6: // BUSY, LOCKED (after busy_timeout)
			return unavailable(err)
		case code&0xff == 10 || code&0xff == 13 || code&0xff == 14: // IOERR, FULL, CANTOPEN
			return unavailable(err)
		}
		return err
	}
	var ss sqlStater
	if errors.As(err, &ss) {
		state := ss.SQLState()
		switch {
		case state == "23505" || state == "23503":
			return fmt.Errorf("%w: %v", ErrConflict, err)
		case strings.HasPrefix(state, "08"), state == "57P01", state == "57P02", state == "57P03", state == "25006", state == "53300":
			return unavailable(err)
		}
		return err
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return unavailable(err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return unavailable(err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return unavailable(err)
	}
	if strings.Contains(err.Error(), "failed to connect") || strings.Contains(err.Error(), "conn closed") {
		return unavailable(err)
	}
	return err
}

// isRetryable reports whether a PostgreSQL transaction failed only because
// of concurrency (serialization failure, deadlock) and may simply be rerun.
func isRetryable(err error) bool {
	var ss sqlStater
	if errors.As(err, &ss) {
		switch ss.SQLState() {
		case "40001", "40P01":
			return true
		}
	}
	return false
}
