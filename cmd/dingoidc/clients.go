package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
)

// Audit actors.
const (
	actorCLI    = "cli"
	actorConfig = "config"
)

// clientView is a client as the CLI shows it: never a secret or its hash.
type clientView struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	Public                 bool      `json:"public"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Upstreams              []string  `json:"upstreams"` // empty: all
	AccessTokenFormat      string    `json:"access_token_format,omitempty"`
	Static                 bool      `json:"static"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

func viewClient(cl *storage.Client) clientView {
	return clientView{
		ID:                     cl.ID,
		Name:                   cl.Name,
		Public:                 cl.Public,
		RedirectURIs:           nonNil(cl.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(cl.PostLogoutRedirectURIs),
		Upstreams:              nonNil(cl.Upstreams),
		AccessTokenFormat:      cl.AccessTokenFormat,
		Static:                 cl.Static,
		CreatedAt:              cl.CreatedAt.UTC(),
		UpdatedAt:              cl.UpdatedAt.UTC(),
	}
}

// clientFlags are the flags of client create and client update.
type clientFlags struct {
	id, name, format         *string
	public                   *bool
	redirects, postLogout, u *stringList
}

func addClientFlags(fs *flagSet, withID bool) *clientFlags {
	f := &clientFlags{redirects: &stringList{}, postLogout: &stringList{}, u: &stringList{}}
	if withID {
		f.id = fs.String("id", "", "client `ID` (letters, digits, - . _ ~); generated if absent")
	}
	f.name = fs.String("name", "", "display `NAME` (default: the id)")
	fs.Var(f.redirects, "redirect-uri", "redirect `URI` (repeatable; absolute, no fragment)")
	fs.Var(f.postLogout, "post-logout-redirect-uri", "post-logout redirect `URI` (repeatable)")
	f.public = fs.Bool("public", false, "public client (no secret; PKCE required), e.g. a SPA or CLI")
	fs.Var(f.u, "upstream", "allowed upstream `ID` (repeatable; none: all upstreams)")
	f.format = fs.String("access-token-format", "", "access token `FORMAT`: jwt or opaque (default: the config's)")
	return f
}

// apply sets the flags that were given on cl and returns the names of the
// fields that changed. A repeatable flag given replaces the whole list; an
// empty value (--upstream=) clears it.
func (f *clientFlags) apply(fs *flagSet, cl *storage.Client) []string {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var changed []string
	if set["name"] && *f.name != cl.Name {
		cl.Name = *f.name
		changed = append(changed, "name")
	}
	if set["redirect-uri"] && !slices.Equal(f.redirects.values, cl.RedirectURIs) {
		cl.RedirectURIs = f.redirects.values
		changed = append(changed, "redirect_uris")
	}
	if set["post-logout-redirect-uri"] && !slices.Equal(f.postLogout.values, cl.PostLogoutRedirectURIs) {
		cl.PostLogoutRedirectURIs = f.postLogout.values
		changed = append(changed, "post_logout_redirect_uris")
	}
	if set["public"] && *f.public != cl.Public {
		cl.Public = *f.public
		changed = append(changed, "public")
	}
	if set["upstream"] && !slices.Equal(f.u.values, cl.Upstreams) {
		cl.Upstreams = f.u.values
		changed = append(changed, "upstreams")
	}
	if set["access-token-format"] && *f.format != cl.AccessTokenFormat {
		cl.AccessTokenFormat = *f.format
		changed = append(changed, "access_token_format")
	}
	return changed
}

// checkClient validates a client built from flags; problems name the flag.
func checkClient(cfg *FileConfig, cl *storage.Client) error {
	var errs []error
	if err := checkClientID(cl.ID); err != nil {
		errs = append(errs, fmt.Errorf("--id: %w", err))
	}
	if len(cl.RedirectURIs) == 0 {
		errs = append(errs, errors.New("--redirect-uri: at least one is required"))
	}
	for _, u := range cl.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("--redirect-uri %q: %w", u, err))
		}
	}
	for _, u := range cl.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("--post-logout-redirect-uri %q: %w", u, err))
		}
	}
	if !idp.ValidAccessTokenFormat(cl.AccessTokenFormat) {
		errs = append(errs, fmt.Errorf("--access-token-format: unknown format %q (want jwt or opaque)", cl.AccessTokenFormat))
	}
	if len(cfg.Upstreams) > 0 {
		for _, u := range cl.Upstreams {
			if !slices.ContainsFunc(cfg.Upstreams, func(e UpstreamEntry) bool { return e.ID == u }) {
				errs = append(errs, fmt.Errorf("--upstream: unknown upstream %q", u))
			}
		}
	}
	return errors.Join(errs...)
}

// checkClientID accepts 1–128 RFC 3986 unreserved characters.
func checkClientID(id string) error {
	switch {
	case id == "":
		return errors.New("required")
	case len(id) > 128:
		return fmt.Errorf("%d characters; at most 128", len(id))
	case !isUnreserved(id):
		return fmt.Errorf("%q may only use letters, digits and - . _ ~", id)
	}
	return nil
}

// isUnreserved reports whether s has only RFC 3986 unreserved characters.
func isUnreserved(s string) bool {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9',
			r == '-', r == '.', r == '_', r == '~':
		default:
			return false
		}
	}
	return true
}

// checkRedirectURI accepts an absolute URI without a fragment; http(s)
// URIs need a host.
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URI: %w", err)
	case !u.IsAbs():
		return errors.New("must be absolute (scheme and host)")
	case strings.Contains(s, "#"):
		return errors.New("must not have a fragment")
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return errors.New("must have a host")
	}
	return nil
}

// newClientID returns a random id: 16 lowercase base32 characters (never a
// leading '-', so it reads well as a command argument).
func newClientID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// newClientSecret returns 32 random bytes as unpadded base64url: only
// unreserved characters, so the raw and the URL-decoded forms of HTTP
// Basic credentials agree whichever way an app sends them.
func newClientSecret() Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return Secret(base64.RawURLEncoding.EncodeToString(b))
}

// hashSecret is how client secrets are stored: SHA-256.
func hashSecret(s Secret) []byte {
	h := sha256.Sum256([]byte(s.Value()))
	return h[:]
}

// audit appends an audit event; details must hold no secret.
func audit(ctx context.Context, st storage.Store, now time.Time, actor, action, target string, details any) error {
	var d []byte
	if details != nil {
		var err error
		if d, err = json.Marshal(details); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	} else {
		d = []byte("{}")
	}
	err := st.AppendAudit(ctx, &storage.AuditEvent{
		Time: now.UTC(), Actor: actor, Action: action, Target: target, Details: d,
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// clientDetails is what the audit log records of a client.
func clientDetails(cl *storage.Client) map[string]any {
	return map[string]any{
		"name":                      cl.Name,
		"public":                    cl.Public,
		"redirect_uris":             nonNil(cl.RedirectURIs),
		"post_logout_redirect_uris": nonNil(cl.PostLogoutRedirectURIs),
		"upstreams":                 nonNil(cl.Upstreams),
		"access_token_format":       cl.AccessTokenFormat,
		"static":                    cl.Static,
	}
}

// getClient loads a client, translating ErrNotFound.
func getClient(ctx context.Context, st storage.Store, id string) (*storage.Client, error) {
	cl, err := st.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("client %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get client %q: %w", id, err)
	}
	return cl, nil
}

// errStatic refuses a CLI change to a client from the config file.
func errStatic(id string) error {
	return fmt.Errorf("client %q comes from the config file (clients:); change it there", id)
}

// printClient writes one client as a two-column table, then the extra
// rows.
func printClient(w io.Writer, cl *storage.Client, extra ...[2]string) error {
	v := viewClient(cl)
	kind := "confidential"
	if v.Public {
		kind = "public (PKCE)"
	}
	ups := "all"
	if len(v.Upstreams) > 0 {
		ups = strings.Join(v.Upstreams, ", ")
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "ID\t%s\n", v.ID)
	fmt.Fprintf(tw, "NAME\t%s\n", v.Name)
	fmt.Fprintf(tw, "TYPE\t%s\n", kind)
	for i, u := range v.RedirectURIs {
		fmt.Fprintf(tw, "%s\t%s\n", label(i, "REDIRECT URIS"), u)
	}
	for i, u := range v.PostLogoutRedirectURIs {
		fmt.Fprintf(tw, "%s\t%s\n", label(i, "POST-LOGOUT URIS"), u)
	}
	fmt.Fprintf(tw, "UPSTREAMS\t%s\n", ups)
	fmt.Fprintf(tw, "ACCESS TOKEN\t%s\n", orDash(v.AccessTokenFormat))
	fmt.Fprintf(tw, "STATIC\t%t\n", v.Static)
	fmt.Fprintf(tw, "CREATED\t%s\n", formatTime(v.CreatedAt))
	fmt.Fprintf(tw, "UPDATED\t%s\n", formatTime(v.UpdatedAt))
	for _, row := range extra {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

// label returns name for the first row of a list and "" for the others.
func label(i int, name string) string {
	if i == 0 {
		return name
	}
	return ""
}

// printSecret shows a new secret once, with the warning on stderr.
func (c *cli) printSecret(o *cmdOptions, cl *storage.Client, secret Secret) error {
	fmt.Fprintf(c.stderr, "WARNING: the client secret of %q is shown only this once and cannot be shown again; store it now (if lost: dingoidc client rotate-secret %s)\n", cl.ID, cl.ID)
	if o.json {
		return writeJSON(c.stdout, struct {
			Client       clientView `json:"client"`
			ClientSecret string     `json:"client_secret,omitempty"`
		}{viewClient(cl), secret.Value()})
	}
	return printClient(c.stdout, cl, [2]string{"SECRET", secret.Value()})
}

func (c *cli) clientCreate(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Register a client (an OIDC relying party). A confidential client gets a\n"+
		"random secret (32 bytes, base64url), printed once; only its SHA-256 is\n"+
		"stored. Use --public for apps that cannot keep a secret (PKCE).")
	f := addClientFlags(fs, true)
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, o, func(cfg *FileConfig, st storage.Store) error {
		now := c.now().UTC()
		cl := &storage.Client{ID: *f.id, CreatedAt: now, UpdatedAt: now}
		if cl.ID == "" {
			cl.ID = newClientID()
		}
		f.apply(fs, cl)
		if cl.Name == "" {
			cl.Name = cl.ID
		}
		if err := checkClient(cfg, cl); err != nil {
			return fmt.Errorf("%s:\n%w", name, err)
		}
		if slices.ContainsFunc(cfg.Clients, func(sc StaticClient) bool { return sc.ID == cl.ID }) {
			return errStatic(cl.ID)
		}
		var secret Secret
		if !cl.Public {
			secret = newClientSecret()
			cl.SecretHash = hashSecret(secret)
		}
		if err := st.CreateClient(ctx, cl); errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("client %q already exists", cl.ID)
		} else if err != nil {
			return fmt.Errorf("create client: %w", err)
		}
		if err := audit(ctx, st, now, actorCLI, "client.create", cl.ID, clientDetails(cl)); err != nil {
			return err
		}
		if cl.Public {
			if o.json {
				return writeJSON(c.stdout, struct {
					Client clientView `json:"client"`
				}{viewClient(cl)})
			}
			return printClient(c.stdout, cl)
		}
		return c.printSecret(o, cl, secret)
	})
}

func (c *cli) clientList(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "List the registered clients (never their secrets).")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cls, err := st.ListClients(ctx)
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		if o.json {
			out := make([]clientView, 0, len(cls))
			for i := range cls {
				out = append(out, viewClient(&cls[i]))
			}
			return writeJSON(c.stdout, out)
		}
		tw := newTable(c.stdout)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tSTATIC\tUPSTREAMS\tREDIRECT URIS")
		for _, cl := range cls {
			kind := "confidential"
			if cl.Public {
				kind = "public"
			}
			ups := "all"
			if len(cl.Upstreams) > 0 {
				ups = strings.Join(cl.Upstreams, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\n", cl.ID, cl.Name, kind, cl.Static, ups,
				strings.Join(cl.RedirectURIs, " "))
		}
		return tw.Flush()
	})
}

func (c *cli) clientShow(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Show one client (never its secret).")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if o.json {
			return writeJSON(c.stdout, viewClient(cl))
		}
		return printClient(c.stdout, cl)
	})
}

func (c *cli) clientUpdate(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Change a client. Only the flags given change; a repeatable flag given\n"+
		"replaces the whole list, and an empty value clears it (--upstream=\n"+
		"allows every upstream). Making a public client confidential\n"+
		"(--public=false) gives it a secret, shown once.")
	f := addClientFlags(fs, false)
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(cfg *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if cl.Static {
			return errStatic(cl.ID)
		}
		wasPublic := cl.Public
		changed := f.apply(fs, cl)
		if cl.Name == "" {
			cl.Name = cl.ID
		}
		if err := checkClient(cfg, cl); err != nil {
			return fmt.Errorf("%s:\n%w", name, err)
		}
		if len(changed) == 0 {
			fmt.Fprintf(c.stderr, "client %q unchanged\n", cl.ID)
			if o.json {
				return writeJSON(c.stdout, struct {
					Client clientView `json:"client"`
				}{viewClient(cl)})
			}
			return printClient(c.stdout, cl)
		}
		var secret Secret
		switch {
		case wasPublic && !cl.Public:
			secret = newClientSecret()
			cl.SecretHash = hashSecret(secret)
		case !wasPublic && cl.Public:
			cl.SecretHash = nil
		}
		cl.UpdatedAt = c.now().UTC()
		if err := st.UpdateClient(ctx, cl); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("client %q not found", cl.ID)
		} else if err != nil {
			return fmt.Errorf("update client: %w", err)
		}
		details := clientDetails(cl)
		details["changed"] = changed
		if err := audit(ctx, st, cl.UpdatedAt, actorCLI, "client.update", cl.ID, details); err != nil {
			return err
		}
		if secret != "" {
			return c.printSecret(o, cl, secret)
		}
		if o.json {
			return writeJSON(c.stdout, struct {
				Client  clientView `json:"client"`
				Changed []string   `json:"changed"`
			}{viewClient(cl), changed})
		}
		return printClient(c.stdout, cl)
	})
}

func (c *cli) clientDelete(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Delete a client and revoke every grant it holds.")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if cl.Static {
			return errStatic(cl.ID)
		}
		if err := st.DeleteClient(ctx, cl.ID, c.now()); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("client %q not found", cl.ID)
		} else if err != nil {
			return fmt.Errorf("delete client: %w", err)
		}
		if err := audit(ctx, st, c.now(), actorCLI, "client.delete", cl.ID, map[string]any{"name": cl.Name}); err != nil {
			return err
		}
		if o.json {
			return writeJSON(c.stdout, map[string]any{"id": cl.ID, "deleted": true})
		}
		_, err = fmt.Fprintf(c.stdout, "client %q deleted; its grants are revoked\n", cl.ID)
		return err
	})
}

func (c *cli) clientRotateSecret(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Give a confidential client a new random secret, printed once. The old\n"+
		"secret stops working at once; grants already issued stay valid.")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if cl.Static {
			return errStatic(cl.ID)
		}
		if cl.Public {
			return fmt.Errorf("client %q is public: it has no secret", cl.ID)
		}
		secret := newClientSecret()
		cl.SecretHash = hashSecret(secret)
		cl.UpdatedAt = c.now().UTC()
		if err := st.UpdateClient(ctx, cl); err != nil {
			return fmt.Errorf("rotate client secret: %w", err)
		}
		if err := audit(ctx, st, cl.UpdatedAt, actorCLI, "client.rotate_secret", cl.ID, nil); err != nil {
			return err
		}
		return c.printSecret(o, cl, secret)
	})
}

// reconcileStaticClients makes the store's static clients match the config
// file's `clients`: it creates the missing ones, updates those that
// differ (including their secret hash), deletes static clients no longer in
// the file, and records each change in the audit log (actor "config"). A
// client of the same id created by the CLI is taken over (marked static),
// with a warning. serve calls it at start.
func reconcileStaticClients(ctx context.Context, st storage.Store, clients []StaticClient, logger *slog.Logger) error {
	existing, err := st.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("reconcile static clients: %w", err)
	}
	byID := make(map[string]*storage.Client, len(existing))
	for i := range existing {
		byID[existing[i].ID] = &existing[i]
	}
	inFile := make(map[string]bool, len(clients))
	for _, sc := range clients {
		inFile[sc.ID] = true
		if err := reconcileClient(ctx, st, sc, byID[sc.ID], logger); err != nil {
			return fmt.Errorf("reconcile static client %q: %w", sc.ID, err)
		}
	}
	for _, cl := range existing {
		if !cl.Static || inFile[cl.ID] {
			continue
		}
		if err := st.DeleteClient(ctx, cl.ID, time.Now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("reconcile static client %q: delete: %w", cl.ID, err)
		}
		if err := audit(ctx, st, time.Now(), actorConfig, "client.delete", cl.ID, map[string]any{"name": cl.Name}); err != nil {
			return err
		}
		logger.InfoContext(ctx, "static client removed", "client_id", cl.ID)
	}
	return nil
}

func reconcileClient(ctx context.Context, st storage.Store, sc StaticClient, cur *storage.Client, logger *slog.Logger) error {
	now := time.Now().UTC()
	want := &storage.Client{
		ID:                     sc.ID,
		Name:                   sc.Name,
		RedirectURIs:           sc.RedirectURIs,
		PostLogoutRedirectURIs: sc.PostLogoutRedirectURIs,
		Public:                 sc.Public,
		Upstreams:              sc.Upstreams,
		AccessTokenFormat:      sc.AccessTokenFormat,
		Static:                 true,
		CreatedAt:              now,
		UpdatedAt:              now,
	}
	if want.Name == "" {
		want.Name = sc.ID
	}
	if !sc.Public {
		secret, err := sc.secret()
		if err != nil {
			return err
		}
		want.SecretHash = hashSecret(secret)
	}
	if cur == nil {
		if err := st.CreateClient(ctx, want); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		if err := audit(ctx, st, now, actorConfig, "client.create", want.ID, clientDetails(want)); err != nil {
			return err
		}
		logger.InfoContext(ctx, "static client created", "client_id", want.ID)
		return nil
	}
	changed := clientChanges(cur, want)
	if len(changed) == 0 {
		return nil
	}
	if !cur.Static {
		logger.WarnContext(ctx, "client created by the CLI is now managed by the config file", "client_id", want.ID)
	}
	want.CreatedAt = cur.CreatedAt
	if err := st.UpdateClient(ctx, want); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	details := clientDetails(want)
	details["changed"] = changed
	if err := audit(ctx, st, now, actorConfig, "client.update", want.ID, details); err != nil {
		return err
	}
	logger.InfoContext(ctx, "static client updated", "client_id", want.ID, "changed", changed)
	return nil
}

// clientChanges names the fields in which want differs from cur ("secret"
// for the secret hash; never a value).
func clientChanges(cur, want *storage.Client) []string {
	var changed []string
	eq := func(a, b []string) bool { return slices.Equal(nonNil(a), nonNil(b)) }
	if cur.Name != want.Name {
		changed = append(changed, "name")
	}
	if !eq(cur.RedirectURIs, want.RedirectURIs) {
		changed = append(changed, "redirect_uris")
	}
	if !eq(cur.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) {
		changed = append(changed, "post_logout_redirect_uris")
	}
	if cur.Public != want.Public {
		changed = append(changed, "public")
	}
	if !eq(cur.Upstreams, want.Upstreams) {
		changed = append(changed, "upstreams")
	}
	if cur.AccessTokenFormat != want.AccessTokenFormat {
		changed = append(changed, "access_token_format")
	}
	if !bytes.Equal(cur.SecretHash, want.SecretHash) {
		changed = append(changed, "secret")
	}
	if cur.Static != want.Static {
		changed = append(changed, "static")
	}
	return changed
}
