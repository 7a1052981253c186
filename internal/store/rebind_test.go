package store

import "testing"

func TestRebindSQLite(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT $1", "SELECT ?1"},
		{"UPDATE t SET a = $2 WHERE b = $1", "UPDATE t SET a = ?2 WHERE b = ?1"},
		{"SELECT '$1', \"$2\", $3", "SELECT '$1', \"$2\", ?3"},
		{"SELECT $12, $", "SELECT ?12, $"},
		{"SELECT 'it''s $1', $1", "SELECT 'it''s $1', ?1"},
	}
	for _, tt := range tests {
		if got := rebindSQLite(tt.in); got != tt.want {
			t.Errorf("rebindSQLite(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
