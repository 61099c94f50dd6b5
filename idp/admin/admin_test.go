package admin

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/sqlite"
)

func TestCheckClient(t *testing.T) {
	ok := &storage.Client{ID: "app", Name: "App", RedirectURIs: []string{"https://app.example/cb"}}
	if errs := CheckClient(ok, Rules{Upstreams: []string{"dt"}}); len(errs) != 0 {
		t.Fatalf("valid client: %v", Join(errs))
	}
	many := make([]string, MaxListEntries+1)
	for i := range many {
		many[i] = "g"
	}
	cases := []struct {
		name  string
		edit  func(c *storage.Client)
		field string
	}{
		{"bad id", func(c *storage.Client) { c.ID = "a b" }, "id"},
		{"no redirect", func(c *storage.Client) { c.RedirectURIs = nil }, "redirect_uris"},
		{"relative redirect", func(c *storage.Client) { c.RedirectURIs = []string{"/cb"} }, "redirect_uris"},
		{"fragment", func(c *storage.Client) { c.PostLogoutRedirectURIs = []string{"https://a/#x"} }, "post_logout_redirect_uris"},
		{"unknown upstream", func(c *storage.Client) { c.Upstreams = []string{"zz"} }, "upstreams"},
		{"too many groups", func(c *storage.Client) { c.AllowedGroups = many }, "allowed_groups"},
		{"long tenant", func(c *storage.Client) { c.AllowedTenants = []string{strings.Repeat("t", MaxEntryLen+1)} }, "allowed_tenants"},
		{"empty group", func(c *storage.Client) { c.AllowedGroups = []string{""} }, "allowed_groups"},
		{"format", func(c *storage.Client) { c.AccessTokenFormat = "paseto" }, "access_token_format"},
	}
	for _, tc := range cases {
		c := *ok
		tc.edit(&c)
		errs := CheckClient(&c, Rules{Upstreams: []string{"dt"}})
		if len(errs) != 1 || errs[0].Field != tc.field {
			t.Errorf("%s: got %v, want one error on %s", tc.name, Join(errs), tc.field)
		}
	}
}

func TestSecrets(t *testing.T) {
	s := NewSecret()
	if len(s) != 43 || !IsUnreserved(s) || CheckClientSecret(s) != nil {
		t.Fatalf("secret %q", s)
	}
	c := &storage.Client{SecretHash: HashSecret(s)}
	if !SecretMatches(c, s) || SecretMatches(c, s+"x") {
		t.Fatal("SecretMatches")
	}
	c.Public = true
	if SecretMatches(c, s) {
		t.Fatal("public client matched a secret")
	}
	if id := NewClientID(); len(id) != 16 || CheckClientID(id) != nil {
		t.Fatalf("id %q", id)
	}
}

// TestReconcile: creates, updates (keeping CreatedAt, moving Version),
// takes over a non-static client, deletes a removed one, audits each.
func TestReconcile(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cli := &storage.Client{ID: "cli", Name: "cli", RedirectURIs: []string{"https://c/cb"}, CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateClient(ctx, cli); err != nil {
		t.Fatal(err)
	}
	want := []storage.Client{
		{ID: "a", RedirectURIs: []string{"https://a/cb"}, SecretHash: HashSecret("s1"), AllowedGroups: []string{"ops"}, LegacyAPI: true},
		{ID: "cli", RedirectURIs: []string{"https://c/cb"}, Public: true},
	}
	if err := Reconcile(ctx, st, want, t0, log); err != nil {
		t.Fatal(err)
	}
	a, err := st.GetClient(ctx, "a")
	if err != nil || !a.Static || a.Name != "a" || !a.LegacyAPI || len(a.AllowedGroups) != 1 {
		t.Fatalf("a = %+v, %v", a, err)
	}
	c, _ := st.GetClient(ctx, "cli")
	if !c.Static || !c.Public || !c.CreatedAt.Equal(t0) {
		t.Fatalf("cli not taken over: %+v", c)
	}
	// Second run, same input: nothing changes (the version stays).
	v := a.Version
	if err := Reconcile(ctx, st, want, t0.Add(time.Hour), log); err != nil {
		t.Fatal(err)
	}
	if a2, _ := st.GetClient(ctx, "a"); a2.Version != v {
		t.Fatalf("unchanged client rewritten: version %d → %d", v, a2.Version)
	}
	// Drop "cli", change a's groups.
	want = want[:1]
	want[0].AllowedGroups = []string{"ops", "dev"}
	if err := Reconcile(ctx, st, want, t0.Add(2*time.Hour), log); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetClient(ctx, "cli"); err == nil {
		t.Fatal("removed static client still there")
	}
	a3, _ := st.GetClient(ctx, "a")
	if len(a3.AllowedGroups) != 2 || !a3.CreatedAt.Equal(t0) || a3.Version == v {
		t.Fatalf("a after update: %+v", a3)
	}
	evs, err := st.ListAuditFiltered(ctx, storage.AuditFilter{Actor: ActorConfig})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+":"+e.Target)
	}
	got := strings.Join(actions, " ")
	if got != "client.delete:cli client.update:a client.update:cli client.create:a" {
		t.Fatalf("audit: %s", got)
	}
}
