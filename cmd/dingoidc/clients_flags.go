package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/storage"
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
	AllowedGroups          []string  `json:"allowed_groups"`  // empty: everyone
	AllowedTenants         []string  `json:"allowed_tenants"` // empty: every tenant
	LegacyAPI              bool      `json:"legacy_api"`
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
		AllowedGroups:          nonNil(cl.AllowedGroups),
		AllowedTenants:         nonNil(cl.AllowedTenants),
		LegacyAPI:              cl.LegacyAPI,
		Static:                 cl.Static,
		CreatedAt:              cl.CreatedAt.UTC(),
		UpdatedAt:              cl.UpdatedAt.UTC(),
	}
}

// clientFlags are the flags of client create and client update.
type clientFlags struct {
	id, name, format         *string
	public, legacy           *bool
	redirects, postLogout, u *stringList
	groups, tenants          *stringList
}

func addClientFlags(fs *flagSet, withID bool) *clientFlags {
	f := &clientFlags{redirects: &stringList{}, postLogout: &stringList{}, u: &stringList{}, groups: &stringList{}, tenants: &stringList{}}
	if withID {
		f.id = fs.String("id", "", "client `ID` (letters, digits, - . _ ~); generated if absent")
	}
	f.name = fs.String("name", "", "display `NAME` (default: the id)")
	fs.Var(f.redirects, "redirect-uri", "redirect `URI` (repeatable; absolute, no fragment)")
	fs.Var(f.postLogout, "post-logout-redirect-uri", "post-logout redirect `URI` (repeatable)")
	f.public = fs.Bool("public", false, "public client (no secret; PKCE required), e.g. a SPA or CLI")
	fs.Var(f.u, "upstream", "allowed upstream `ID` (repeatable; none: all upstreams)")
	fs.Var(f.groups, "allowed-group", "only members of `GROUP` may use the app (repeatable; none: everyone)")
	fs.Var(f.tenants, "allowed-tenant", "only people of Zhezhengding `TENANT` may use the app (repeatable; none: every tenant)")
	f.legacy = fs.Bool("legacy-api", false, "allow the app the legacy DingTalk SSO endpoints (<issuer>/dingtalk/...)")
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
	if set["allowed-group"] && !slices.Equal(f.groups.values, cl.AllowedGroups) {
		cl.AllowedGroups = f.groups.values
		changed = append(changed, "allowed_groups")
	}
	if set["allowed-tenant"] && !slices.Equal(f.tenants.values, cl.AllowedTenants) {
		cl.AllowedTenants = f.tenants.values
		changed = append(changed, "allowed_tenants")
	}
	if set["legacy-api"] && *f.legacy != cl.LegacyAPI {
		cl.LegacyAPI = *f.legacy
		changed = append(changed, "legacy_api")
	}
	if set["access-token-format"] && *f.format != cl.AccessTokenFormat {
		cl.AccessTokenFormat = *f.format
		changed = append(changed, "access_token_format")
	}
	return changed
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
	fmt.Fprintf(tw, "ALLOWED GROUPS\t%s\n", allOr(v.AllowedGroups))
	fmt.Fprintf(tw, "ALLOWED TENANTS\t%s\n", allOr(v.AllowedTenants))
	fmt.Fprintf(tw, "LEGACY API\t%t\n", v.LegacyAPI)
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

// allOr joins a policy list, "all" when it is empty (no restriction).
func allOr(list []string) string {
	if len(list) == 0 {
		return "all"
	}
	return strings.Join(list, ", ")
}
