package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

// Each benchmark runs serially (latency of one call) and in parallel
// (throughput with parallelism×GOMAXPROCS callers on the default pool; the
// callers mostly wait for the database, so more of them than CPUs).
const parallelism = 8

func BenchmarkUpsertUser(b *testing.B) {
	s := openStore(b, pgtest.NewDatabase(b))
	const people = 1000 // mostly updates, as in steady state
	var n atomic.Int64
	upsert := func(b *testing.B) {
		if _, err := s.UpsertUser(b.Context(), user(fmt.Sprint(n.Add(1)%people))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			upsert(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				upsert(b)
			}
		})
	})
}

// benchGrant is a grant of the SSO session "bench" (which CreateGrant
// checks is live).
func benchGrant(b *testing.B, userID, name string) *storage.Grant {
	b.Helper()
	g := grant(userID, name)
	g.SessionID = sum("session:bench")
	return g
}

func benchSession(b *testing.B, s *postgres.Store, userID string) {
	b.Helper()
	if err := s.CreateSession(b.Context(), session(userID, "bench")); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCreateGrant(b *testing.B) {
	s := openStore(b, pgtest.NewDatabase(b))
	u, err := s.UpsertUser(b.Context(), user("1"))
	if err != nil {
		b.Fatal(err)
	}
	benchSession(b, s, u.ID)
	var n atomic.Int64
	create := func(b *testing.B) {
		if _, err := s.CreateGrant(b.Context(), benchGrant(b, u.ID, fmt.Sprint(n.Add(1)))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			create(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				create(b)
			}
		})
	})
}

func BenchmarkRotateRefresh(b *testing.B) {
	s := openStore(b, pgtest.NewDatabase(b))
	u, err := s.UpsertUser(b.Context(), user("1"))
	if err != nil {
		b.Fatal(err)
	}
	benchSession(b, s, u.ID)
	// families hands every caller a refresh family of its own and rotates it
	// from generation to generation.
	var n atomic.Int64
	newFamily := func(b *testing.B) string {
		name := fmt.Sprint(n.Add(1))
		if _, err := s.CreateGrant(b.Context(), benchGrant(b, u.ID, name)); err != nil {
			b.Fatal(err)
		}
		return name
	}
	rotate := func(b *testing.B, name string, gen int64) {
		if _, err := s.RotateRefresh(b.Context(), rotation(name, gen, t0.Add(time.Minute))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		name := newFamily(b)
		var gen int64
		for b.Loop() {
			rotate(b, name, gen)
			gen++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			name := newFamily(b)
			var gen int64
			for pb.Next() {
				rotate(b, name, gen)
				gen++
			}
		})
	})
}

// BenchmarkLogin is the storage side of one login: UpsertUser, CreateSession,
// GetSession, CreateGrant and one RotateRefresh.
func BenchmarkLogin(b *testing.B) {
	s := openStore(b, pgtest.NewDatabase(b))
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if err := login(b.Context(), s, fmt.Sprint(i%1000), fmt.Sprint(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchSignIns is a batch of n sign-in events as the log's queue flushes it.
func benchSignIns(n int) []storage.SignInEvent {
	events := make([]storage.SignInEvent, n)
	for i := range events {
		events[i] = storage.SignInEvent{
			Time: t0.Add(time.Duration(i) * time.Millisecond), UserID: fmt.Sprintf("zzd_%d", i%1000),
			ClientID: "grafana", Upstream: "zzd", Result: "success", ClientIP: "10.1.2.3",
			UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) DingTalk/7.6.0",
		}
	}
	return events
}

// BenchmarkAppendSignIns: one flush of the sign-in queue (one statement).
func BenchmarkAppendSignIns(b *testing.B) {
	s := openStore(b, pgtest.NewDatabase(b))
	for _, n := range []int{1, 100, 1000} {
		events := benchSignIns(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.AppendSignIns(b.Context(), events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/event")
		})
	}
}
