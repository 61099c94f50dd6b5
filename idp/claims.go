package idp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/dingoidc/dingoidc/upstream"
)

// Claims that belong to each scope. Everything not listed here that a
// mapping produces (the upstream's own identifiers) goes with "profile".
var (
	profileClaims = []string{"name", "nickname", "preferred_username", "picture", "given_name", "family_name", "locale", "zoneinfo", "updated_at", "website", "profile", "gender", "birthdate", "middle_name"}
	emailClaims   = []string{"email", "email_verified"}
	phoneClaims   = []string{"phone_number", "phone_number_verified"}
	groupsClaims  = []string{"groups"}
)

// listClaims are produced as JSON arrays: the template's output is split on
// newlines and blank entries dropped.
var listClaims = map[string]bool{"groups": true}

// boolClaims are produced as JSON booleans.
var boolClaims = map[string]bool{"email_verified": true, "phone_number_verified": true}

var claimNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// claimsMapper turns an upstream identity's attributes into claims.
type claimsMapper struct {
	templates map[string]*template.Template
	// syntheticDomain, when set, gives people without an e-mail one
	// (docs/relying-parties.md, I7: Grafana, oauth2-proxy and Rancher need one):
	// <preferred_username or upstream key>@<syntheticDomain>. A claims.email
	// template in the config takes precedence.
	syntheticDomain string
	// noEmail: the config mapped email to "" (no e-mail, not even synthetic).
	noEmail bool
}

func newClaimsMapper(defaults, overrides map[string]string) (*claimsMapper, error) {
	all := maps.Clone(defaults)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, overrides)
	m := &claimsMapper{templates: map[string]*template.Template{}}
	if v, ok := overrides["email"]; ok && v == "" {
		m.noEmail = true
	}
	var errs []string
	for _, name := range slices.Sorted(maps.Keys(all)) {
		if name == "sub" || name == "iss" || name == "aud" || !claimNameRE.MatchString(name) {
			errs = append(errs, fmt.Sprintf("claim %q cannot be mapped", name))
			continue
		}
		src := all[name]
		if src == "" {
			continue // an override of "" removes a default
		}
		t, err := template.New(name).Option("missingkey=zero").Funcs(upstream.TemplateFuncs()).Parse(src)
		if err != nil {
			errs = append(errs, fmt.Sprintf("claim %q: %v", name, err))
			continue
		}
		m.templates[name] = t
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("claims mapping: %s", strings.Join(errs, "; "))
	}
	return m, nil
}

// Map executes every template. Empty results are omitted (I10); an
// `email` makes `email_verified` true unless mapped otherwise (I6).
func (m *claimsMapper) Map(id *upstream.Identity) (map[string]any, error) {
	out := map[string]any{}
	var buf bytes.Buffer
	for name, t := range m.templates {
		buf.Reset()
		if err := t.Execute(cappedBuffer{&buf}, id.Attributes); err != nil {
			return nil, fmt.Errorf("map claim %s: %w", name, err)
		}
		v := strings.TrimSpace(strings.ReplaceAll(buf.String(), "<no value>", ""))
		switch {
		case v == "":
		case listClaims[name]:
			var list []string
			for _, item := range strings.Split(v, "\n") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			if len(list) > 0 {
				out[name] = list
			}
		case boolClaims[name]:
			out[name] = v == "true"
		default:
			out[name] = v
		}
	}
	if u, ok := out["preferred_username"].(string); ok {
		if u = upstream.ASCIISafe(u); u == "" {
			delete(out, "preferred_username")
		} else {
			out["preferred_username"] = u
		}
	}
	if _, ok := out["email"]; !ok && m.syntheticDomain != "" && !m.noEmail && id.ExternalID != "" {
		// From the stable key, never from a name: apps that link accounts
		// by e-mail must not merge two people.
		out["email"] = syntheticLocal(id.ExternalID) + "@" + m.syntheticDomain
		out["email_verified"] = true
	}
	if _, ok := out["email"]; ok {
		if _, set := out["email_verified"]; !set {
			out["email_verified"] = true
		}
	} else {
		delete(out, "email_verified")
	}
	return out, nil
}

func encodeClaims(c map[string]any) ([]byte, error) { return json.Marshal(c) }

// setUserinfo fills ui with the claims the scopes grant.
func setUserinfo(ui *oidc.UserInfo, sub string, claims map[string]any, scopes []string) {
	ui.Subject = sub
	granted := map[string]bool{}
	for _, s := range scopes {
		var names []string
		switch s {
		case oidc.ScopeProfile:
			names = profileClaims
			for k := range claims {
				if !slices.Contains(emailClaims, k) && !slices.Contains(phoneClaims, k) && !slices.Contains(groupsClaims, k) && !slices.Contains(profileClaims, k) {
					granted[k] = true
				}
			}
		case oidc.ScopeEmail:
			names = emailClaims
		case oidc.ScopePhone:
			names = phoneClaims
		case ScopeGroups:
			names = groupsClaims
		}
		for _, n := range names {
			granted[n] = true
		}
	}
	for name := range granted {
		v, ok := claims[name]
		if !ok {
			continue
		}
		switch name {
		case "name":
			ui.Name, _ = v.(string)
		case "nickname":
			ui.Nickname, _ = v.(string)
		case "preferred_username":
			ui.PreferredUsername, _ = v.(string)
		case "picture":
			ui.Picture, _ = v.(string)
		case "given_name":
			ui.GivenName, _ = v.(string)
		case "family_name":
			ui.FamilyName, _ = v.(string)
		case "email":
			ui.Email, _ = v.(string)
		case "email_verified":
			b, _ := v.(bool)
			ui.EmailVerified = oidc.Bool(b)
		case "phone_number":
			ui.PhoneNumber, _ = v.(string)
		case "phone_number_verified":
			b, _ := v.(bool)
			ui.PhoneNumberVerified = oidc.Bool(b)
		default:
			ui.AppendClaims(name, v)
		}
	}
}

// ScopeGroups asks for the `groups` claim.
const ScopeGroups = "groups"

// syntheticLocal is an e-mail local part for an upstream key: the key
// itself when it is lower-case ASCII-safe (浙政钉 accountIds), else its hex
// (DingTalk unionIds are case-sensitive; lower-casing could merge two).
func syntheticLocal(key string) string {
	if upstream.ASCIISafe(key) == key {
		return key
	}
	return hex.EncodeToString([]byte(key))
}
