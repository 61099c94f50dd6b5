package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/migrations"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

// TestTwoServeInstancesOnePostgres starts two `serve` instances on one
// PostgreSQL database at the same moment, behind one issuer: the schema is
// migrated once, both publish the same JWKS, and a code issued by one is
// redeemed at the other.
func TestTwoServeInstancesOnePostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	master := keys.GenerateMasterKey()
	pa, pb := freePort(t), freePort(t)
	issuer := "http://127.0.0.1:" + strconv.Itoa(pa)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 2)
	logs := make([]*lockedBuffer, 2)
	for i, port := range []int{pa, pb} {
		env := map[string]string{
			"DINGOIDC_STORAGE_DRIVER": "postgres", "DINGOIDC_STORAGE_DSN": dsn, "DINGOIDC_SECRET_KEY": master,
			"DINGOIDC_ISSUER": issuer, "DINGOIDC_LISTEN": "127.0.0.1:" + strconv.Itoa(port), "DINGOIDC_DATA_DIR": t.TempDir(),
		}
		logs[i] = &lockedBuffer{}
		go func() {
			done <- run(ctx, []string{"serve", "--dev"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, logs[i])
		}()
	}
	for i, port := range []int{pa, pb} {
		waitHealthy(t, "http://127.0.0.1:"+strconv.Itoa(port), done, logs[i])
	}

	// Migrated exactly once.
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())
	files, err := fs.Glob(migrations.Postgres(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Errorf("%d migration rows, want %d (each migration applied once)", applied, len(files))
	}

	// An app registered once, seen by both.
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const secret = "replica-test-secret-0123456789"
	sum := sha256.Sum256([]byte(secret))
	redirect := "https://app.example.test/cb"
	now := time.Now()
	if err := st.CreateClient(t.Context(), &storage.Client{ID: "app", SecretHash: sum[:], RedirectURIs: []string{redirect}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	// Log in through instance A.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	verifier := strings.Repeat("v", 50)
	ch := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {"app"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid profile"},
		"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(ch[:])}, "code_challenge_method": {"S256"}}
	resp, _ := devLogin(t, browser, issuer+"/authorize?"+q.Encode(), "dingtalk")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Redeem it at instance B.
	b := "http://127.0.0.1:" + strconv.Itoa(pb)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, b+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", secret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	idToken, _ := tok["id_token"].(string)
	if resp.StatusCode != http.StatusOK || idToken == "" {
		t.Fatalf("redeem at B: %d %v", resp.StatusCode, tok)
	}
	// Verified with A's JWKS; both JWKS the same.
	ks := oidc.NewRemoteKeySet(t.Context(), issuer+"/keys")
	if _, err := oidc.NewVerifier(issuer, ks, &oidc.Config{ClientID: "app"}).Verify(t.Context(), idToken); err != nil {
		t.Fatalf("B's ID token does not verify with A's keys: %v", err)
	}
	if ja, jb := fetch(t, issuer+"/keys"), fetch(t, b+"/keys"); ja != jb {
		t.Errorf("JWKS differ:\n%s\n%s", ja, jb)
	}

	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

func waitHealthy(t *testing.T, base string, done <-chan error, logs *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up:\n%s", base, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fetch(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
