package dingtalksim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// internal reports whether p is an internal member (contact_type 0) of corpID.
func internal(p *Person, corpID string) bool {
	m, ok := p.Orgs[corpID]
	return ok && m.ContactType == 0
}

// checkTree walks from id to the root, catching missing parents and cycles.
func checkTree(depts map[int64]Department, id int64) error {
	for steps := 0; ; steps++ {
		if steps > len(depts) {
			return errors.New("parent chain has a cycle")
		}
		dep := depts[id]
		if dep.ParentID == 0 {
			if dep.ID != 1 {
				return errors.New("only department 1 may be the root (parent_id 0)")
			}
			return nil
		}
		if _, ok := depts[dep.ParentID]; !ok {
			return fmt.Errorf("unknown parent %d", dep.ParentID)
		}
		id = dep.ParentID
	}
}

func clonePerson(p Person) *Person {
	orgs := make(map[string]Member, len(p.Orgs))
	for id, m := range p.Orgs {
		m.DeptIDList = slices.Clone(m.DeptIDList)
		m.RoleList = slices.Clone(m.RoleList)
		orgs[id] = m
	}
	p.Orgs = orgs
	return &p
}

// newToken is a fresh code or token: 32 lowercase hex, like DingTalk's.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// writeJSON writes v with Chinese and & < > left as they are.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ttlStore is a bounded table of expiring entries. Callers hold DingTalk.mu.
type ttlStore[T any] struct {
	m   map[string]ttlEntry[T]
	max int
}

type ttlEntry[T any] struct {
	v       T
	expires time.Time
}

func (s *ttlStore[T]) put(now time.Time, key string, v T, expires time.Time) {
	if s.m == nil {
		s.m = map[string]ttlEntry[T]{}
	}
	if len(s.m) >= s.max {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
	}
	for len(s.m) >= s.max {
		var oldest string
		var at time.Time
		for k, e := range s.m {
			if oldest == "" || e.expires.Before(at) {
				oldest, at = k, e.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[key] = ttlEntry[T]{v: v, expires: expires}
}

// get returns a live entry, dropping it if expired.
func (s *ttlStore[T]) get(now time.Time, key string) (T, bool) {
	e, ok := s.m[key]
	if ok && !now.Before(e.expires) {
		delete(s.m, key)
		ok = false
	}
	if !ok {
		var zero T
		return zero, false
	}
	return e.v, true
}

func (s *ttlStore[T]) del(key string) { delete(s.m, key) }

func (s *ttlStore[T]) len() int { return len(s.m) }
