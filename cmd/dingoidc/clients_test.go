package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/sqlite"
)

// openTestStore opens the SQLite store of a storeEnv.
func openTestStore(t *testing.T, env fakeEnv) storage.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(env["DINGOIDC_DATA_DIR"], sqliteFileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// secretRE finds the secret row of a created client.
var secretRE = regexp.MustCompile(`(?m)^SECRET\s+(\S+)$`)

// createdSecret returns the secret printed by client create or
// rotate-secret and checks that it is printed exactly once, with the
// warning.
func createdSecret(t *testing.T, r result) string {
	t.Helper()
	m := secretRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no secret in the output:\n%s", r.stdout)
	}
	secret := m[1]
	if n := strings.Count(r.stdout+r.stderr, secret); n != 1 {
		t.Errorf("secret printed %d times", n)
	}
	if !strings.Contains(r.stderr, "shown only this once") {
		t.Errorf("no warning on stderr: %q", r.stderr)
	}
	if len(secret) != 43 || !admin.IsUnreserved(secret) {
		t.Errorf("secret %q is not 32 bytes of base64url", secret)
	}
	return secret
}

// lastAudit returns the newest audit events, newest first.
func lastAudit(t *testing.T, st storage.Store, n int) []storage.AuditEvent {
	t.Helper()
	evs, err := st.ListAudit(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestClientCreate(t *testing.T) {
	env := storeEnv(t)
	r := mustRun(t, env, "client", "create", "--id", "grafana", "--name", "Grafana",
		"--redirect-uri", "https://grafana.example/login/generic_oauth",
		"--redirect-uri", "https://grafana.example/alt",
		"--post-logout-redirect-uri", "https://grafana.example/login",
		"--access-token-format", "opaque")
	secret := createdSecret(t, r)

	st := openTestStore(t, env)
	cl, err := st.GetClient(t.Context(), "grafana")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cl.SecretHash, sha(secret)) {
		t.Error("the stored hash is not SHA-256 of the printed secret")
	}
	if cl.Name != "Grafana" || cl.Public || cl.Static || cl.AccessTokenFormat != "opaque" ||
		!slices.Equal(cl.RedirectURIs, []string{"https://grafana.example/login/generic_oauth", "https://grafana.example/alt"}) ||
		!slices.Equal(cl.PostLogoutRedirectURIs, []string{"https://grafana.example/login"}) {
		t.Errorf("stored client %+v", cl)
	}
	ev := lastAudit(t, st, 1)[0]
	if ev.Actor != "cli" || ev.Action != "client.create" || ev.Target != "grafana" || bytes.Contains(ev.Details, []byte(secret)) {
		t.Errorf("audit %+v %s", ev, ev.Details)
	}

	// show and list never show the secret or its hash.
	hashHex := hex.EncodeToString(cl.SecretHash)
	hashB64 := base64.StdEncoding.EncodeToString(cl.SecretHash)
	for _, args := range [][]string{
		{"client", "show", "grafana"},
		{"client", "show", "grafana", "--json"},
		{"client", "list"},
		{"client", "list", "--json"},
	} {
		r := mustRun(t, env, args...)
		out := r.stdout + r.stderr
		if strings.Contains(out, secret) || strings.Contains(out, hashHex) || strings.Contains(out, hashB64) || strings.Contains(strings.ToLower(out), "hash") {
			t.Errorf("%v shows the secret:\n%s", args, out)
		}
		if !strings.Contains(out, "grafana") {
			t.Errorf("%v does not show the client:\n%s", args, out)
		}
	}
	list := decodeJSON[[]map[string]any](t, mustRun(t, env, "client", "list", "--json").stdout)
	if len(list) != 1 || list[0]["id"] != "grafana" {
		t.Errorf("list --json %v", list)
	}
	for k := range list[0] {
		if strings.Contains(k, "secret") {
			t.Errorf("list --json has key %q", k)
		}
	}

	// The same id twice is a conflict.
	r = runCLI(t, env, "client", "create", "--id", "grafana", "--redirect-uri", "https://x.example/cb")
	if r.err == nil || !strings.Contains(r.err.Error(), `client "grafana" already exists`) {
		t.Errorf("duplicate create: %v", r.err)
	}
}

func TestClientCreateJSONAndGeneratedID(t *testing.T) {
	env := storeEnv(t)
	r := mustRun(t, env, "client", "create", "--redirect-uri", "https://app.example/cb", "--json")
	out := decodeJSON[struct {
		Client       clientView `json:"client"`
		ClientSecret string     `json:"client_secret"`
	}](t, r.stdout)
	if len(out.Client.ID) != 16 || !admin.IsUnreserved(out.Client.ID) || out.Client.Name != out.Client.ID {
		t.Errorf("generated id %q, name %q", out.Client.ID, out.Client.Name)
	}
	if strings.Count(r.stdout, out.ClientSecret) != 1 || len(out.ClientSecret) != 43 {
		t.Errorf("secret %q in %s", out.ClientSecret, r.stdout)
	}
	cl, err := openTestStore(t, env).GetClient(t.Context(), out.Client.ID)
	if err != nil || !bytes.Equal(cl.SecretHash, sha(out.ClientSecret)) {
		t.Errorf("stored %+v, %v", cl, err)
	}
}

func TestClientCreatePublic(t *testing.T) {
	env := storeEnv(t)
	r := mustRun(t, env, "client", "create", "--id", "spa", "--public", "--redirect-uri", "http://127.0.0.1:3000/cb")
	if secretRE.MatchString(r.stdout) || strings.Contains(r.stderr, "shown only") {
		t.Errorf("a public client got a secret:\n%s%s", r.stdout, r.stderr)
	}
	cl, err := openTestStore(t, env).GetClient(t.Context(), "spa")
	if err != nil || !cl.Public || len(cl.SecretHash) != 0 {
		t.Errorf("stored %+v, %v", cl, err)
	}
}

func TestClientCreateInvalid(t *testing.T) {
	upstreamCfg := writeFile(t, "dingoidc.yaml", "upstreams: [{id: dev, type: dev}]\nclients:\n  - {id: static, public: true, redirect_uris: [\"https://s.example/cb\"]}\n")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no redirect", []string{"--id", "a"}, []string{"--redirect-uri: at least one is required"}},
		{"every problem", []string{"--id", "a b", "--redirect-uri", "/cb", "--redirect-uri", "https://x.example/cb#f",
			"--post-logout-redirect-uri", "nope", "--access-token-format", "xml"}, []string{
			`--id: "a b" may only use`,
			`--redirect-uri "/cb": must be absolute`,
			`--redirect-uri "https://x.example/cb#f": must not have a fragment`,
			`--post-logout-redirect-uri "nope": must be absolute`,
			`--access-token-format: unknown format "xml"`,
		}},
		{"unknown upstream", []string{"--config", upstreamCfg, "--id", "a", "--redirect-uri", "https://a.example/cb", "--upstream", "zzd"},
			[]string{`--upstream: unknown upstream "zzd"`}},
		{"static id", []string{"--config", upstreamCfg, "--id", "static", "--redirect-uri", "https://a.example/cb"},
			[]string{`client "static" comes from the config file`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, storeEnv(t), append([]string{"client", "create"}, tt.args...)...)
			if r.err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, r.err)
				}
			}
		})
	}
}

func TestClientUpdate(t *testing.T) {
	env := storeEnv(t)
	mustRun(t, env, "client", "create", "--id", "app", "--name", "App",
		"--redirect-uri", "https://app.example/a", "--redirect-uri", "https://app.example/b",
		"--upstream", "zzd", "--post-logout-redirect-uri", "https://app.example/bye")
	st := openTestStore(t, env)
	before, err := st.GetClient(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}

	// A repeatable flag replaces the list; flags not given stay; empty clears.
	r := mustRun(t, env, "client", "update", "app", "--redirect-uri", "https://app.example/c", "--upstream=", "--json")
	out := decodeJSON[struct {
		Client  clientView `json:"client"`
		Changed []string   `json:"changed"`
	}](t, r.stdout)
	if !slices.Equal(out.Changed, []string{"redirect_uris", "upstreams"}) {
		t.Errorf("changed %q", out.Changed)
	}
	cl, err := st.GetClient(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Name != "App" || !slices.Equal(cl.RedirectURIs, []string{"https://app.example/c"}) || len(cl.Upstreams) != 0 ||
		!slices.Equal(cl.PostLogoutRedirectURIs, []string{"https://app.example/bye"}) || !bytes.Equal(cl.SecretHash, before.SecretHash) {
		t.Errorf("after update: %+v", cl)
	}
	ev := lastAudit(t, st, 1)[0]
	var details map[string]any
	if err := json.Unmarshal(ev.Details, &details); err != nil {
		t.Fatal(err)
	}
	if ev.Action != "client.update" || ev.Actor != "cli" || ev.Target != "app" || details["changed"] == nil {
		t.Errorf("audit %+v %s", ev, ev.Details)
	}

	// Nothing to change: no audit event.
	r = mustRun(t, env, "client", "update", "app", "--name", "App")
	if !strings.Contains(r.stderr, "unchanged") || lastAudit(t, st, 1)[0].ID != ev.ID {
		t.Errorf("no-op update: %q", r.stderr)
	}

	// public drops the secret; confidential again gets a new one, shown once.
	mustRun(t, env, "client", "update", "app", "--public")
	if cl, _ := st.GetClient(t.Context(), "app"); !cl.Public || len(cl.SecretHash) != 0 {
		t.Errorf("public: %+v", cl)
	}
	r = mustRun(t, env, "client", "update", "app", "--public=false")
	secret := createdSecret(t, r)
	if cl, _ := st.GetClient(t.Context(), "app"); cl.Public || !bytes.Equal(cl.SecretHash, sha(secret)) {
		t.Errorf("confidential again: %+v", cl)
	}

	// Invalid values change nothing.
	r = runCLI(t, env, "client", "update", "app", "--redirect-uri", "relative")
	if r.err == nil || !strings.Contains(r.err.Error(), "must be absolute") {
		t.Errorf("invalid update: %v", r.err)
	}
	r = runCLI(t, env, "client", "update", "nope", "--name", "x")
	if r.err == nil || !strings.Contains(r.err.Error(), `client "nope" not found`) {
		t.Errorf("update of a missing client: %v", r.err)
	}
}

func TestClientRotateSecret(t *testing.T) {
	env := storeEnv(t)
	old := createdSecret(t, mustRun(t, env, "client", "create", "--id", "app", "--redirect-uri", "https://app.example/cb"))
	r := mustRun(t, env, "client", "rotate-secret", "app")
	secret := createdSecret(t, r)
	if secret == old {
		t.Fatal("same secret")
	}
	st := openTestStore(t, env)
	cl, err := st.GetClient(t.Context(), "app")
	if err != nil || !bytes.Equal(cl.SecretHash, sha(secret)) {
		t.Errorf("stored %+v, %v", cl, err)
	}
	ev := lastAudit(t, st, 1)[0]
	if ev.Action != "client.rotate_secret" || ev.Target != "app" || bytes.Contains(ev.Details, []byte(secret)) {
		t.Errorf("audit %+v %s", ev, ev.Details)
	}

	mustRun(t, env, "client", "create", "--id", "spa", "--public", "--redirect-uri", "https://spa.example/cb")
	if r := runCLI(t, env, "client", "rotate-secret", "spa"); r.err == nil || !strings.Contains(r.err.Error(), "public") {
		t.Errorf("rotate-secret of a public client: %v", r.err)
	}
}

func TestClientDelete(t *testing.T) {
	env := storeEnv(t)
	mustRun(t, env, "client", "create", "--id", "app", "--redirect-uri", "https://app.example/cb")
	r := mustRun(t, env, "client", "delete", "app")
	if !strings.Contains(r.stdout, `client "app" deleted`) {
		t.Errorf("output %q", r.stdout)
	}
	st := openTestStore(t, env)
	if _, err := st.GetClient(t.Context(), "app"); err == nil {
		t.Error("client still there")
	}
	if ev := lastAudit(t, st, 1)[0]; ev.Action != "client.delete" || ev.Target != "app" || ev.Actor != "cli" {
		t.Errorf("audit %+v", ev)
	}
	if r := runCLI(t, env, "client", "delete", "app"); r.err == nil || !strings.Contains(r.err.Error(), "not found") {
		t.Errorf("second delete: %v", r.err)
	}
}

func TestReconcileStaticClients(t *testing.T) {
	env := storeEnv(t)
	st := openTestStore(t, env)
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)
	secretFile := writeFile(t, "secret", "argocd-secret-from-file-0123\n")

	// A CLI client that must survive, and one the config takes over.
	mustRun(t, env, "client", "create", "--id", "cli-app", "--redirect-uri", "https://cli.example/cb")
	mustRun(t, env, "client", "create", "--id", "adopted", "--redirect-uri", "https://old.example/cb")

	clients := []StaticClient{
		{ID: "grafana", Name: "Grafana", Secret: "grafana-secret-0123456789", RedirectURIs: []string{"https://g.example/cb"}},
		{ID: "argocd", SecretFile: secretFile, RedirectURIs: []string{"https://argo.example/cb"}, Upstreams: []string{"zzd"}},
		{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example/cb"}},
		{ID: "adopted", Secret: "adopted-secret-0123456789", RedirectURIs: []string{"https://new.example/cb"}},
	}
	if err := reconcileStaticClients(ctx, st, clients, logger); err != nil {
		t.Fatal(err)
	}
	get := func(id string) *storage.Client {
		t.Helper()
		cl, err := st.GetClient(ctx, id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		return cl
	}
	if cl := get("grafana"); !cl.Static || cl.Name != "Grafana" || !bytes.Equal(cl.SecretHash, sha("grafana-secret-0123456789")) {
		t.Errorf("grafana %+v", cl)
	}
	if cl := get("argocd"); !cl.Static || cl.Name != "argocd" || !bytes.Equal(cl.SecretHash, sha("argocd-secret-from-file-0123")) ||
		!slices.Equal(cl.Upstreams, []string{"zzd"}) {
		t.Errorf("argocd %+v", cl)
	}
	if cl := get("spa"); !cl.Static || !cl.Public || len(cl.SecretHash) != 0 {
		t.Errorf("spa %+v", cl)
	}
	if cl := get("adopted"); !cl.Static || !slices.Equal(cl.RedirectURIs, []string{"https://new.example/cb"}) {
		t.Errorf("adopted %+v", cl)
	}
	if cl := get("cli-app"); cl.Static {
		t.Errorf("cli-app %+v", cl)
	}
	evs := lastAudit(t, st, 10)
	var actions []string
	for _, ev := range evs {
		if ev.Actor == "config" {
			actions = append(actions, ev.Action+" "+ev.Target)
		}
		if bytes.Contains(ev.Details, []byte("secret-")) {
			t.Errorf("audit details hold a secret: %s", ev.Details)
		}
	}
	slices.Sort(actions)
	want := []string{"client.create argocd", "client.create grafana", "client.create spa", "client.update adopted"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %q, want %q", actions, want)
	}

	// Static clients cannot be changed by the CLI.
	for _, args := range [][]string{
		{"client", "update", "grafana", "--name", "x"},
		{"client", "delete", "grafana"},
		{"client", "rotate-secret", "grafana"},
	} {
		if r := runCLI(t, env, args...); r.err == nil || !strings.Contains(r.err.Error(), "comes from the config file") {
			t.Errorf("%v: %v", args, r.err)
		}
	}

	// Again, unchanged: nothing happens.
	before := lastAudit(t, st, 1)[0].ID
	if err := reconcileStaticClients(ctx, st, clients, logger); err != nil {
		t.Fatal(err)
	}
	if after := lastAudit(t, st, 1)[0].ID; after != before {
		t.Errorf("an unchanged reconcile wrote audit event %d", after)
	}

	// Change one, drop two.
	clients = []StaticClient{
		{ID: "grafana", Name: "Grafana 11", Secret: "grafana-secret-rotated-01", RedirectURIs: []string{"https://g.example/cb"}},
		clients[3],
	}
	if err := reconcileStaticClients(ctx, st, clients, logger); err != nil {
		t.Fatal(err)
	}
	if cl := get("grafana"); cl.Name != "Grafana 11" || !bytes.Equal(cl.SecretHash, sha("grafana-secret-rotated-01")) {
		t.Errorf("grafana after change %+v", cl)
	}
	for _, id := range []string{"argocd", "spa"} {
		if _, err := st.GetClient(ctx, id); err == nil {
			t.Errorf("%s not deleted", id)
		}
	}
	get("cli-app")
	evs = lastAudit(t, st, 3)
	actions = nil
	for _, ev := range evs {
		actions = append(actions, ev.Actor+" "+ev.Action+" "+ev.Target)
	}
	slices.Sort(actions)
	want = []string{"config client.delete argocd", "config client.delete spa", "config client.update grafana"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %q, want %q", actions, want)
	}
	var details struct{ Changed []string }
	for _, ev := range evs {
		if ev.Target == "grafana" {
			_ = json.Unmarshal(ev.Details, &details)
		}
	}
	if !slices.Equal(details.Changed, []string{"name", "secret"}) {
		t.Errorf("changed %q", details.Changed)
	}
}
