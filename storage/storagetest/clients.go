package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func clientTests() []subtest {
	return []subtest{
		{"CreateGet", testClientCreateGet},
		{"CreateDuplicate", testClientCreateDuplicate},
		{"GetMissing", testClientGetMissing},
		{"ListOrderedByID", testClientList},
		{"Update", testClientUpdate},
		{"UpdateMissing", testClientUpdateMissing},
		{"Delete", testClientDelete},
		{"DeleteRevokesGrants", testClientDeleteRevokesGrants},
		{"VersionSetByStore", testClientVersion},
		{"UpdateIf", testClientUpdateIf},
		{"UpdateIfMissing", testClientUpdateIfMissing},
		{"UpdateIfRace", testClientUpdateIfRace},
	}
}

func testClientCreateGet(t *testing.T, s storage.Store) {
	tests := []struct {
		name   string
		client *storage.Client
	}{
		{"confidential", newClient("grafana")},
		{"public", &storage.Client{
			ID:                "cli",
			Name:              "命令行",
			RedirectURIs:      []string{"http://127.0.0.1/callback"},
			Public:            true,
			AccessTokenFormat: "opaque",
			Static:            true,
			CreatedAt:         base,
			UpdatedAt:         base,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noErr(t, "CreateClient", s.CreateClient(t.Context(), tt.client))
			got, err := s.GetClient(t.Context(), tt.client.ID)
			noErr(t, "GetClient", err)
			check(t, "client", tt.client, got)
		})
	}
}

func testClientCreateDuplicate(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	other := newClient("grafana")
	other.Name = "impostor"
	wantErr(t, "CreateClient(duplicate)", s.CreateClient(t.Context(), other), storage.ErrConflict)

	got, err := s.GetClient(t.Context(), "grafana")
	noErr(t, "GetClient", err)
	if got.Name != "Client grafana" {
		t.Errorf("the duplicate overwrote the client: name %q", got.Name)
	}
}

func testClientGetMissing(t *testing.T, s storage.Store) {
	_, err := s.GetClient(t.Context(), "nobody")
	wantErr(t, "GetClient(missing)", err, storage.ErrNotFound)
}

func testClientList(t *testing.T, s storage.Store) {
	got, err := s.ListClients(t.Context())
	noErr(t, "ListClients(empty)", err)
	if len(got) != 0 {
		t.Fatalf("ListClients on an empty store returned %d clients", len(got))
	}

	want := map[string]*storage.Client{}
	for _, id := range []string{"jenkins", "argocd", "grafana", "gitlab"} {
		want[id] = mustClient(t, s, id)
	}
	got, err = s.ListClients(t.Context())
	noErr(t, "ListClients", err)
	var ids []string
	for i := range got {
		ids = append(ids, got[i].ID)
		if w := want[got[i].ID]; w != nil {
			check(t, "listed client "+got[i].ID, w, &got[i])
		}
	}
	if wantIDs := []string{"argocd", "gitlab", "grafana", "jenkins"}; !slices.Equal(ids, wantIDs) {
		t.Errorf("ListClients ids = %q, want %q", ids, wantIDs)
	}
}

func testClientUpdate(t *testing.T, s storage.Store) {
	c := mustClient(t, s, "grafana")
	c.Name = "Grafana (prod)"
	c.SecretHash = hash("new secret")
	c.RedirectURIs = []string{"https://grafana.example.gov.cn/login/generic_oauth"}
	c.PostLogoutRedirectURIs = nil
	c.Upstreams = []string{"zzd", "dt"}
	c.AccessTokenFormat = "opaque"
	c.Static = true
	c.AllowedGroups = []string{"jenkins-admins"}
	c.AllowedTenants = nil
	c.LegacyAPI = true
	c.UpdatedAt = base.Add(time.Minute)
	noErr(t, "UpdateClient", s.UpdateClient(t.Context(), c))
	if c.Version != 2 {
		t.Errorf("UpdateClient set Version %d, want 2", c.Version)
	}

	got, err := s.GetClient(t.Context(), "grafana")
	noErr(t, "GetClient", err)
	check(t, "updated client", c, got)
}

func testClientUpdateMissing(t *testing.T, s storage.Store) {
	wantErr(t, "UpdateClient(missing)", s.UpdateClient(t.Context(), newClient("nobody")), storage.ErrNotFound)
	_, err := s.GetClient(t.Context(), "nobody")
	wantErr(t, "GetClient after UpdateClient(missing)", err, storage.ErrNotFound)
}

func testClientDelete(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	mustClient(t, s, "gitlab")
	noErr(t, "DeleteClient", s.DeleteClient(t.Context(), "grafana", base))

	_, err := s.GetClient(t.Context(), "grafana")
	wantErr(t, "GetClient after DeleteClient", err, storage.ErrNotFound)
	wantErr(t, "DeleteClient again", s.DeleteClient(t.Context(), "grafana", base), storage.ErrNotFound)
	if _, err := s.GetClient(t.Context(), "gitlab"); err != nil {
		t.Errorf("GetClient(gitlab) after deleting grafana: %v", err)
	}
}

func testClientDeleteRevokesGrants(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	mustClient(t, s, "grafana")
	mustClient(t, s, "gitlab")
	mustGrant(t, s, newGrant("grafana", u.ID, "a"))
	mustGrant(t, s, newGrant("grafana", u.ID, "b"))
	mustGrant(t, s, newGrant("gitlab", u.ID, "c"))

	deletedAt := base.Add(time.Minute)
	noErr(t, "DeleteClient", s.DeleteClient(t.Context(), "grafana", deletedAt))
	if g := mustGetGrant(t, s, "grant-a", base); !g.RevokedAt.Equal(deletedAt) {
		t.Errorf("grant of the deleted client revoked at %v, want %v", g.RevokedAt, deletedAt)
	}

	for _, tt := range []struct {
		id      string
		revoked bool
	}{
		{"grant-a", true},
		{"grant-b", true},
		{"grant-c", false},
	} {
		if g := mustGetGrant(t, s, tt.id, base); g.Revoked() != tt.revoked {
			t.Errorf("%s: Revoked() = %v, want %v", tt.id, g.Revoked(), tt.revoked)
		}
	}
	_, err := s.RotateRefresh(t.Context(), storage.Rotation{
		RefreshID: "refresh-a", FromGeneration: 0, FromHash: refreshHash("a", 0),
		NewHash: refreshHash("a", 1), Now: base, ExpiresAt: base.Add(time.Hour),
	})
	wantErr(t, "RotateRefresh for a deleted client", err, storage.ErrRevoked)
}

// The store owns Version: 1 at creation whatever the caller passed, one more
// at every update, written back into the caller's Client.
func testClientVersion(t *testing.T, s storage.Store) {
	c := newClient("grafana")
	c.Version = 42
	noErr(t, "CreateClient", s.CreateClient(t.Context(), c))
	if c.Version != 1 {
		t.Errorf("CreateClient set Version %d, want 1", c.Version)
	}
	for want := int64(2); want <= 3; want++ {
		c.Version = 0 // ignored by UpdateClient
		noErr(t, "UpdateClient", s.UpdateClient(t.Context(), c))
		got, err := s.GetClient(t.Context(), c.ID)
		noErr(t, "GetClient", err)
		if got.Version != want || c.Version != want {
			t.Errorf("after update: stored Version %d, returned %d, want %d", got.Version, c.Version, want)
		}
	}
	list, err := s.ListClients(t.Context())
	noErr(t, "ListClients", err)
	if len(list) != 1 || list[0].Version != 3 {
		t.Errorf("ListClients = %+v, want one client at version 3", list)
	}
}

func testClientUpdateIf(t *testing.T, s storage.Store) {
	c := mustClient(t, s, "grafana")

	edit := *c
	edit.Name = "Grafana (prod)"
	edit.AllowedGroups = []string{"sre"}
	edit.LegacyAPI = true
	edit.UpdatedAt = base.Add(time.Minute)
	noErr(t, "UpdateClientIf(current version)", s.UpdateClientIf(t.Context(), &edit, 1))
	if edit.Version != 2 {
		t.Errorf("UpdateClientIf set Version %d, want 2", edit.Version)
	}
	got, err := s.GetClient(t.Context(), c.ID)
	noErr(t, "GetClient", err)
	check(t, "client after UpdateClientIf", &edit, got)

	// A second edit made from the version-1 copy lost the race: nothing of
	// it is written.
	stale := *c
	stale.Name = "overwritten"
	stale.UpdatedAt = base.Add(2 * time.Minute)
	wantErr(t, "UpdateClientIf(stale version)", s.UpdateClientIf(t.Context(), &stale, 1), storage.ErrConflict)
	got, err = s.GetClient(t.Context(), c.ID)
	noErr(t, "GetClient", err)
	check(t, "client after a stale UpdateClientIf", &edit, got)

	wantErr(t, "UpdateClientIf(future version)", s.UpdateClientIf(t.Context(), &stale, 3), storage.ErrConflict)
	noErr(t, "UpdateClientIf(refreshed version)", s.UpdateClientIf(t.Context(), &stale, got.Version))
	if stale.Version != 3 {
		t.Errorf("UpdateClientIf set Version %d, want 3", stale.Version)
	}
}

func testClientUpdateIfMissing(t *testing.T, s storage.Store) {
	err := s.UpdateClientIf(t.Context(), newClient("nobody"), 1)
	wantErr(t, "UpdateClientIf(missing)", err, storage.ErrNotFound)
	_, err = s.GetClient(t.Context(), "nobody")
	wantErr(t, "GetClient after UpdateClientIf(missing)", err, storage.ErrNotFound)
}

// Concurrent edits from the same version: exactly one wins, the others get
// ErrConflict, and the stored client is the winner's.
func testClientUpdateIfRace(t *testing.T, s storage.Store) {
	c := mustClient(t, s, "grafana")
	const n = 8
	edits := make([]storage.Client, n)
	errs := race(n, func(i int) error {
		edits[i] = *c
		edits[i].Name = fmt.Sprintf("edit %d", i)
		edits[i].AllowedGroups = []string{fmt.Sprintf("group-%d", i)}
		return s.UpdateClientIf(t.Context(), &edits[i], c.Version)
	})
	w := exactlyOneWinner(t, "UpdateClientIf", errs, storage.ErrConflict)
	got, err := s.GetClient(t.Context(), c.ID)
	noErr(t, "GetClient", err)
	check(t, "client after the race", &edits[w], got)
	if got.Version != 2 {
		t.Errorf("Version after one winning edit = %d, want 2", got.Version)
	}
}
