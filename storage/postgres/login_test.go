package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func user(key string) *storage.User {
	return &storage.User{
		ID: "zzd_" + key, Upstream: "zzd", ExternalID: key,
		Claims:    []byte(`{"name":"张三","groups":["ops"]}`),
		CreatedAt: t0, UpdatedAt: t0, LastLoginAt: t0,
	}
}

func session(userID, name string) *storage.Session {
	return &storage.Session{
		IDHash: sum("session:" + name), UserID: userID, Upstream: "zzd",
		AuthTime: t0, AMR: []string{"qr"}, ExpiresAt: t0.Add(12 * time.Hour),
		LoginStateHash: sum("state:" + name), CreatedAt: t0,
	}
}

func grant(userID, name string) *storage.Grant {
	return &storage.Grant{
		ID: "grant-" + name, ClientID: "grafana", UserID: userID, SessionID: sum("session:" + name),
		Scopes: []string{"openid", "profile", "offline_access"}, Audience: []string{"grafana"},
		AuthTime: t0, AMR: []string{"qr"}, CodeHash: sum("code:" + name),
		RefreshID: "refresh-" + name, RefreshHash: sum("refresh:" + name + ":0"),
		CreatedAt: t0, ExpiresAt: t0.Add(720 * time.Hour),
	}
}

func rotation(name string, from int64, now time.Time) storage.Rotation {
	return storage.Rotation{
		RefreshID: "refresh-" + name, FromGeneration: from,
		FromHash: sum(fmt.Sprintf("refresh:%s:%d", name, from)),
		NewHash:  sum(fmt.Sprintf("refresh:%s:%d", name, from+1)),
		Now:      now, ExpiresAt: now.Add(720 * time.Hour),
	}
}

// login runs the storage side of one login, as idp's callback does it, and
// one token refresh.
func login(ctx context.Context, s storage.Store, key, name string) error {
	u, err := s.UpsertUserAndCreateSession(ctx, user(key), session("", name))
	if err != nil {
		return fmt.Errorf("upsert user and create session: %w", err)
	}
	if _, _, err := s.GetSession(ctx, sum("session:"+name), t0); err != nil {
		return err
	}
	if _, err := s.CreateGrant(ctx, grant(u.ID, name)); err != nil {
		return err
	}
	_, err = s.RotateRefresh(ctx, rotation(name, 0, t0.Add(time.Minute)))
	return err
}

// The statements each method sends: the login path and a rotation are one
// statement each.
func TestStatementBudget(t *testing.T) {
	s := openStore(t, pgtest.NewDatabase(t))
	ctx := t.Context()
	steps := []struct {
		name       string
		statements int64
		writes     int64
		run        func() error
	}{
		{"UpsertUser (create)", 1, 1, func() error { _, err := s.UpsertUser(ctx, user("1")); return err }},
		{"UpsertUser (update)", 1, 1, func() error { _, err := s.UpsertUser(ctx, user("1")); return err }},
		{"CreateSession", 1, 1, func() error { return s.CreateSession(ctx, session("zzd_1", "a")) }},
		{"GetSession", 1, 0, func() error { _, _, err := s.GetSession(ctx, sum("session:a"), t0); return err }},
		{"CreateGrant", 1, 1, func() error { _, err := s.CreateGrant(ctx, grant("zzd_1", "a")); return err }},
		{"CreateGrant (code reused)", 1, 0, func() error {
			g := grant("zzd_1", "b")
			g.CodeHash = sum("code:a")
			g.SessionID = sum("session:a")
			if _, err := s.CreateGrant(ctx, g); !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("err = %v, want ErrConflict", err)
			}
			return nil
		}},
		{"GetGrant", 1, 0, func() error { _, _, err := s.GetGrant(ctx, "grant-a", t0); return err }},
		{"GetGrantByRefreshID", 1, 0, func() error { _, _, err := s.GetGrantByRefreshID(ctx, "refresh-a", t0); return err }},
		{"RotateRefresh", 1, 1, func() error { _, err := s.RotateRefresh(ctx, rotation("a", 0, t0)); return err }},
		{"RotateRefresh (stale)", 2, 0, func() error {
			if _, err := s.RotateRefresh(ctx, rotation("a", 0, t0)); !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("err = %v, want ErrConflict", err)
			}
			return nil
		}},
		{"RevokeGrant", 1, 1, func() error { return s.RevokeGrant(ctx, "grant-a", t0) }},
		{"DeleteSession", 1, 1, func() error { return s.DeleteSession(ctx, sum("session:a"), t0) }},
		{"SetUserDisabled", 5, 1, func() error { return s.SetUserDisabled(ctx, "zzd_1", true, t0) }},
		{"SwapKeySet (2 keys)", 7, 3, func() error {
			_, err := s.SwapKeySet(ctx, 0, []storage.SigningKey{
				{ID: "k1", Algorithm: "RS256", PrivateEnc: []byte{1}, PublicJWK: []byte(`{}`), CreatedAt: t0},
				{ID: "k2", Algorithm: "RS256", PrivateEnc: []byte{2}, PublicJWK: []byte(`{}`), CreatedAt: t0},
			})
			return err
		}},
		{"GetKeySet", 1, 0, func() error { _, err := s.GetKeySet(ctx); return err }},
		{"DeleteExpired", 6, 0, func() error { _, err := s.DeleteExpired(ctx, t0); return err }},
		{"ClaimLoginState", 1, 1, func() error { return s.ClaimLoginState(ctx, sum("state"), t0.Add(time.Minute)) }},
		{"ReleaseLoginState", 1, 1, func() error { return s.ReleaseLoginState(ctx, sum("state")) }},
		{"CreateClient", 1, 1, func() error {
			return s.CreateClient(ctx, &storage.Client{ID: "app", CreatedAt: t0, UpdatedAt: t0})
		}},
		{"UpdateClientIf", 1, 1, func() error {
			return s.UpdateClientIf(ctx, &storage.Client{ID: "app", UpdatedAt: t0}, 1)
		}},
		{"UpdateClientIf (stale)", 1, 0, func() error {
			if err := s.UpdateClientIf(ctx, &storage.Client{ID: "app", UpdatedAt: t0}, 1); !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("err = %v, want ErrConflict", err)
			}
			return nil
		}},
		{"AppendSignIns (3 events)", 1, 3, func() error {
			e := storage.SignInEvent{Time: t0, UserID: "zzd_1", ClientID: "app", Result: "success"}
			return s.AppendSignIns(ctx, []storage.SignInEvent{e, e, e})
		}},
		{"AppendSignIns (none)", 0, 0, func() error { return s.AppendSignIns(ctx, nil) }},
		{"ListSignIns", 1, 0, func() error {
			_, err := s.ListSignIns(ctx, storage.SignInFilter{UserID: "zzd_1", From: t0, Limit: 50})
			return err
		}},
		{"RevokeUserSessions", 1, 0, func() error { _, err := s.RevokeUserSessions(ctx, "zzd_1", t0); return err }},
		{"CreateAdminToken", 1, 1, func() error {
			return s.CreateAdminToken(ctx, &storage.AdminToken{ID: "t1", Hash: sum("token"), Scope: "read", CreatedAt: t0})
		}},
		{"GetAdminTokenByHash", 1, 0, func() error { _, err := s.GetAdminTokenByHash(ctx, sum("token"), t0); return err }},
		{"UpsertUserAndCreateSession", 1, 2, func() error {
			_, err := s.UpsertUserAndCreateSession(ctx, user("2"), session("", "c"))
			return err
		}},
		{"UpsertUserAndCreateSession (login state used)", 1, 0, func() error {
			sess := session("", "e")
			sess.LoginStateHash = sum("state:c")
			if _, err := s.UpsertUserAndCreateSession(ctx, user("3"), sess); !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("err = %v, want ErrConflict", err)
			}
			return nil
		}},
		{"SetUserDisabled (one session)", 5, 2, func() error { return s.SetUserDisabled(ctx, "zzd_2", true, t0) }},
		{"UpsertUserAndCreateSession (disabled user)", 1, 1, func() error {
			u, err := s.UpsertUserAndCreateSession(ctx, user("2"), session("", "d"))
			if err == nil && !u.Disabled {
				err = errors.New("user not disabled")
			}
			return err
		}},
	}
	for _, st := range steps {
		before := s.Stats()
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		after := s.Stats()
		stmts, writes := after.Statements-before.Statements, after.RowWrites-before.RowWrites
		if stmts != st.statements || writes != st.writes {
			t.Errorf("%s: %d statements, %d row writes; want %d, %d", st.name, stmts, writes, st.statements, st.writes)
		}
	}
}

// Many logins at once, many of them for the same people, never fail.
func TestConcurrentLogins(t *testing.T) {
	s := openStore(t, pgtest.NewDatabase(t))
	const workers, perWorker, people = 32, 25, 8
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("%d-%d", w, i)
				if err := login(t.Context(), s, fmt.Sprint((w+i)%people), name); err != nil {
					failures.Add(1)
					t.Errorf("login %s: %v", name, err)
				}
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d logins failed", n, workers*perWorker)
	}
	users, err := s.ListUsers(t.Context(), storage.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != people {
		t.Errorf("%d users, want %d", len(users), people)
	}
}

// A grant created while an admin disables its user never survives the
// disable: CreateGrant either sees the user disabled or its grant is revoked.
func TestDisableRacesCreateGrant(t *testing.T) {
	s := openStore(t, pgtest.NewDatabase(t))
	ctx := t.Context()
	for round := range 20 {
		key := fmt.Sprint(round)
		u, err := s.UpsertUser(ctx, user(key))
		if err != nil {
			t.Fatal(err)
		}
		const grants = 8
		var wg sync.WaitGroup
		created := make([]bool, grants)
		for i := range grants {
			wg.Go(func() {
				g := grant(u.ID, fmt.Sprintf("%s-%d", key, i))
				g.SessionID = nil // no SSO session in this test
				_, err := s.CreateGrant(ctx, g)
				switch {
				case err == nil:
					created[i] = true
				case !errors.Is(err, storage.ErrUserDisabled):
					t.Errorf("CreateGrant: %v", err)
				}
			})
		}
		wg.Go(func() {
			if err := s.SetUserDisabled(ctx, u.ID, true, t0); err != nil {
				t.Errorf("SetUserDisabled: %v", err)
			}
		})
		wg.Wait()
		for i, ok := range created {
			if !ok {
				continue
			}
			g, _, err := s.GetGrant(ctx, fmt.Sprintf("grant-%s-%d", key, i), t0)
			if err != nil {
				t.Fatalf("GetGrant: %v", err)
			}
			if !g.Revoked() {
				t.Errorf("round %d: grant %d outlived the disable of its user", round, i)
			}
		}
	}
}

// Admin changes, logouts, rotations and the collector running over the same
// rows at once wait for each other; none fails (no deadlock).
func TestConcurrentRevocations(t *testing.T) {
	s := openStore(t, pgtest.NewDatabase(t))
	ctx := t.Context()
	const people, perPerson = 4, 12
	for p := range people {
		u, err := s.UpsertUser(ctx, user(fmt.Sprint(p)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range perPerson {
			name := fmt.Sprintf("%d-%d", p, i)
			if err := s.CreateSession(ctx, session(u.ID, name)); err != nil {
				t.Fatal(err)
			}
			g := grant(u.ID, name)
			if i%2 == 0 {
				g.ClientID = "gitlab"
			}
			if i%3 == 0 {
				g.ExpiresAt = t0.Add(-time.Hour) // collected by DeleteExpired
			}
			if _, err := s.CreateGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.CreateClient(ctx, &storage.Client{ID: "gitlab", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SwapKeySet(ctx, 0, []storage.SigningKey{
		{ID: "old", Algorithm: "RS256", PrivateEnc: []byte{1}, PublicJWK: []byte(`{}`), CreatedAt: t0, RetireAt: t0.Add(-time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}

	var ops []func() error
	for p := range people {
		ops = append(ops, func() error { return s.SetUserDisabled(ctx, fmt.Sprintf("zzd_%d", p), true, t0) })
		for i := range perPerson {
			name := fmt.Sprintf("%d-%d", p, i)
			ops = append(ops, func() error {
				err := s.DeleteSession(ctx, sum("session:"+name), t0)
				if errors.Is(err, storage.ErrNotFound) {
					err = nil // deleted by the disable or the collector first
				}
				return err
			})
			ops = append(ops, func() error {
				_, err := s.RotateRefresh(ctx, rotation(name, 0, t0))
				for _, expected := range []error{storage.ErrRevoked, storage.ErrUserDisabled, storage.ErrNotFound} {
					if errors.Is(err, expected) {
						return nil
					}
				}
				return err
			})
		}
	}
	ops = append(ops,
		func() error { return s.DeleteClient(ctx, "gitlab", t0) },
		func() error { _, err := s.DeleteExpired(ctx, t0); return err },
		func() error { _, err := s.DeleteExpired(ctx, t0); return err },
		func() error {
			_, err := s.SwapKeySet(ctx, 1, []storage.SigningKey{
				{ID: "new", Algorithm: "RS256", PrivateEnc: []byte{2}, PublicJWK: []byte(`{}`), CreatedAt: t0},
			})
			if errors.Is(err, storage.ErrConflict) {
				err = nil // the collector moved the version first
			}
			return err
		},
	)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, op := range ops {
		wg.Go(func() {
			<-start
			if err := op(); err != nil {
				t.Errorf("op %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()

	// Every grant left is revoked (its user was disabled).
	for p := range people {
		for i := range perPerson {
			g, _, err := s.GetGrant(ctx, fmt.Sprintf("grant-%d-%d", p, i), t0)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if !g.Revoked() {
				t.Errorf("grant %d-%d not revoked", p, i)
			}
		}
	}
}
