package postgres

import "github.com/dingoidc/dingoidc/storage"

var _ storage.PoolStatser = (*Store)(nil)

// PoolStats reports pgxpool's figures.
func (s *Store) PoolStats() storage.PoolStats {
	st := s.pool.Stat()
	return storage.PoolStats{
		MaxOpen:      int(st.MaxConns()),
		Open:         int(st.TotalConns()),
		InUse:        int(st.AcquiredConns()),
		Idle:         int(st.IdleConns()),
		WaitCount:    st.EmptyAcquireCount(),
		WaitDuration: st.EmptyAcquireWaitTime(),
	}
}
