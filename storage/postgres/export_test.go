package postgres

import "testing"

// TransactionIsolation returns the isolation level of the store's sessions.
func TransactionIsolation(s *Store, t testing.TB) string {
	t.Helper()
	var level string
	if err := s.pool.QueryRow(t.Context(), `SHOW transaction_isolation`).Scan(&level); err != nil {
		t.Fatal(err)
	}
	return level
}
