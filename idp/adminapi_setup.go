package idp

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/dingoidc/dingoidc/docs"
	"github.com/dingoidc/dingoidc/storage"
)

// setupApps are the apps with a guide in docs/integrations/, and their
// titles.
var setupApps = map[string]string{
	"grafana": "Grafana", "gitlab": "GitLab", "gitea": "Gitea", "argocd": "Argo CD", "harbor": "Harbor",
	"jenkins": "Jenkins", "jumpserver": "JumpServer", "kubernetes": "Kubernetes", "oauth2-proxy": "oauth2-proxy",
}

// docIssuer is the example issuer the guides use.
const docIssuer = "https://sso.example.gov.cn"

var (
	fenceRE    = regexp.MustCompile("(?ms)^```[a-z]*\n(.*?)^```")
	docIDRE    = regexp.MustCompile(`dingoidc client create --id (\S+)`)
	docRedirRE = regexp.MustCompile(`--redirect-uri (\S+)`)
)

// setupText derives an app's settings snippet from its guide: the first
// code block that is neither the `dingoidc client create` command nor the
// config file's `clients:` entry, with the guide's example issuer, app
// address and client id replaced by this server's and this client's.
func setupText(app string, c *storage.Client, issuer string) (string, bool) {
	b, err := docs.Integrations.ReadFile("integrations/" + app + ".md")
	if err != nil {
		return "", false
	}
	doc := string(b)
	var block string
	for _, m := range fenceRE.FindAllStringSubmatch(doc, -1) {
		body := m[1]
		if strings.Contains(body, "dingoidc client create") || strings.HasPrefix(body, "clients:") || strings.TrimSpace(body) == "" {
			continue
		}
		block = body
		break
	}
	if block == "" {
		return "", false
	}
	// The guide's app address → this client's.
	if len(c.RedirectURIs) > 0 {
		if m := docRedirRE.FindStringSubmatch(doc); m != nil {
			block = strings.ReplaceAll(block, m[1], c.RedirectURIs[0])
			if from, to := originOf(m[1]), originOf(c.RedirectURIs[0]); from != "" && to != "" {
				block = strings.ReplaceAll(block, url.QueryEscape(from), url.QueryEscape(to))
				block = strings.ReplaceAll(block, from, to)
			}
		}
	}
	block = strings.ReplaceAll(block, url.QueryEscape(docIssuer), url.QueryEscape(issuer))
	block = strings.ReplaceAll(block, docIssuer, issuer)
	if m := docIDRE.FindStringSubmatch(doc); m != nil && m[1] != c.ID {
		// The id where a setting holds it: after = : " ' [ or a space, before
		// a quote, comma, bracket, a line continuation or the line's end.
		re := regexp.MustCompile(`([=:"'\[ ])` + regexp.QuoteMeta(m[1]) + `(["',\]]| \\$|$)`)
		lines := strings.Split(block, "\n")
		for i, l := range lines {
			lines[i] = re.ReplaceAllString(l, "${1}"+c.ID+"${2}")
		}
		block = strings.Join(lines, "\n")
	}
	return block, true
}

func (s *Server) apiClientSetup(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	app := r.URL.Query().Get("app")
	title, ok := setupApps[app]
	if !ok {
		s.fail(w, r, badInput("app", "app must be one of grafana, gitlab, gitea, argocd, harbor, jenkins, jumpserver, kubernetes, oauth2-proxy"))
		return
	}
	c, err := s.store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	text, _ := setupText(app, c, s.cfg.Issuer)
	iss := s.cfg.Issuer
	secret := "CLIENT_SECRET (shown once when the client was created; POST /clients/{id}/secret makes a new one)"
	if c.Public {
		secret = "(none: public client, PKCE)"
	}
	settings := []map[string]string{
		{"name": "issuer", "value": iss},
		{"name": "discovery_url", "value": iss + "/.well-known/openid-configuration"},
		{"name": "authorization_endpoint", "value": iss + "/authorize"},
		{"name": "token_endpoint", "value": iss + "/oauth/token"},
		{"name": "userinfo_endpoint", "value": iss + "/userinfo"},
		{"name": "end_session_endpoint", "value": iss + "/end_session"},
		{"name": "client_id", "value": c.ID},
		{"name": "client_secret", "value": secret},
		{"name": "redirect_uri", "value": strings.Join(c.RedirectURIs, " ")},
		{"name": "scopes", "value": "openid profile email groups"},
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{
		"app": app, "title": title, "settings": settings, "text": text, "doc": "docs/integrations/" + app + ".md",
	})
}
