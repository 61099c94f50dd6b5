package sqlite

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

var benchNow = time.Date(2026, 11, 21, 10, 0, 0, 123456000, time.UTC)

// benchHash stands in for a SHA-256 hash of a token: distinct for each n.
func benchHash(kind byte, n int64) []byte {
	var in [9]byte
	in[0] = kind
	binary.BigEndian.PutUint64(in[1:], uint64(n))
	h := sha256.Sum256(in[:])
	return h[:]
}

func benchStore(b *testing.B) (*Store, *storage.User) {
	b.Helper()
	s := openTest(b)
	ctx := b.Context()
	if err := s.CreateClient(ctx, &storage.Client{
		ID: "grafana", Name: "Grafana", RedirectURIs: []string{"https://grafana.example.com/cb"},
		CreatedAt: benchNow, UpdatedAt: benchNow,
	}); err != nil {
		b.Fatal(err)
	}
	u, err := s.UpsertUser(ctx, benchUser(benchNow))
	if err != nil {
		b.Fatal(err)
	}
	// The SSO session the grants name (CreateGrant checks it is live).
	if err := s.CreateSession(ctx, &storage.Session{
		IDHash: benchHash('s', 0), UserID: u.ID, Upstream: "zzd", AuthTime: benchNow, AMR: []string{"qr"},
		ExpiresAt: benchNow.Add(12 * time.Hour), LoginStateHash: benchHash('l', 0), CreatedAt: benchNow,
	}); err != nil {
		b.Fatal(err)
	}
	return s, u
}

func benchUser(now time.Time) *storage.User {
	return &storage.User{
		ID: "zzd_1001", Upstream: "zzd", ExternalID: "1001",
		Claims:    []byte(`{"name":"张三","preferred_username":"zhangsan","email":"zhangsan@example.gov.cn","groups":["ops","dev"]}`),
		CreatedAt: now, UpdatedAt: now, LastLoginAt: now,
	}
}

func benchGrant(userID string, n int64) *storage.Grant {
	id := strconv.FormatInt(n, 10)
	return &storage.Grant{
		ID: "grant-" + id, ClientID: "grafana", UserID: userID, SessionID: benchHash('s', 0),
		Scopes: []string{"openid", "profile", "email", "offline_access"}, Audience: []string{"grafana"},
		AuthTime: benchNow, AMR: []string{"qr"}, CodeHash: benchHash('c', n),
		RefreshID: "refresh-" + id, RefreshHash: benchHash('r', n),
		CreatedAt: benchNow, ExpiresAt: benchNow.Add(720 * time.Hour),
	}
}

// BenchmarkUpsertUser measures the returning login: the user exists and its
// claims and last login are refreshed.
func BenchmarkUpsertUser(b *testing.B) {
	s, _ := benchStore(b)
	ctx := b.Context()
	u := benchUser(benchNow)
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		u.UpdatedAt = benchNow.Add(time.Duration(i) * time.Second)
		u.LastLoginAt = u.UpdatedAt
		if _, err := s.UpsertUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateGrant measures redeeming a fresh authorization code.
func BenchmarkCreateGrant(b *testing.B) {
	s, u := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		if _, err := s.CreateGrant(ctx, benchGrant(u.ID, i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotateRefresh measures one refresh-token rotation.
func BenchmarkRotateRefresh(b *testing.B) {
	s, u := benchStore(b)
	ctx := b.Context()
	if _, err := s.CreateGrant(ctx, benchGrant(u.ID, 0)); err != nil {
		b.Fatal(err)
	}
	r := storage.Rotation{RefreshID: "refresh-0", FromHash: benchHash('r', 0)}
	b.ReportAllocs()
	var gen int64
	for b.Loop() {
		r.FromGeneration = gen
		r.NewHash = benchHash('r', gen+1)
		r.Now = benchNow.Add(time.Duration(gen) * time.Second)
		r.ExpiresAt = r.Now.Add(720 * time.Hour)
		if _, err := s.RotateRefresh(ctx, r); err != nil {
			b.Fatal(err)
		}
		r.FromHash = r.NewHash
		gen++
	}
}

// BenchmarkAppendSignIns: one flush of the sign-in queue (one statement).
func BenchmarkAppendSignIns(b *testing.B) {
	s := openTest(b)
	for _, n := range []int{1, 100, 1000} {
		events := make([]storage.SignInEvent, n)
		for i := range events {
			events[i] = storage.SignInEvent{
				Time: benchNow.Add(time.Duration(i) * time.Millisecond), UserID: "zzd_" + strconv.Itoa(i%1000),
				ClientID: "grafana", Upstream: "zzd", Result: "success", ClientIP: "10.1.2.3",
				UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) DingTalk/7.6.0",
			}
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
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
