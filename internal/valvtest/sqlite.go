package valvtest

import (
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // the SQLite driver, for tests
)

// SQLitePath returns the path of a new SQLite database file in a temporary
// directory that is removed when the test ends.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "valv.db")
}
