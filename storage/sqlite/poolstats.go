package sqlite

import "github.com/dingoidc/dingoidc/storage"

var _ storage.PoolStatser = (*Store)(nil)

// PoolStats reports database/sql's figures.
func (s *Store) PoolStats() storage.PoolStats {
	st := s.db.Stats()
	return storage.PoolStats{
		MaxOpen:      st.MaxOpenConnections,
		Open:         st.OpenConnections,
		InUse:        st.InUse,
		Idle:         st.Idle,
		WaitCount:    st.WaitCount,
		WaitDuration: st.WaitDuration,
	}
}
