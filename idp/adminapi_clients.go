package idp

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// clientInput is the body of POST and PUT /clients(/{id}).
type clientInput struct {
	ID                     string   `json:"id,omitempty"`
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	Public                 bool     `json:"public"`
	Upstreams              []string `json:"upstreams"`
	AllowedGroups          []string `json:"allowed_groups"`
	AllowedTenants         []string `json:"allowed_tenants"`
	LegacyAPI              bool     `json:"legacy_api"`
	AccessTokenFormat      string   `json:"access_token_format"`
	Secret                 string   `json:"secret,omitempty"` // POST only: import a config-style secret
}

// apply sets the input's fields on c (all but id and secret).
func (in *clientInput) apply(c *storage.Client) {
	c.Name = in.Name
	c.RedirectURIs = in.RedirectURIs
	c.PostLogoutRedirectURIs = in.PostLogoutRedirectURIs
	c.Public = in.Public
	c.Upstreams = in.Upstreams
	c.AllowedGroups = in.AllowedGroups
	c.AllowedTenants = in.AllowedTenants
	c.LegacyAPI = in.LegacyAPI
	c.AccessTokenFormat = in.AccessTokenFormat
	if c.Name == "" {
		c.Name = c.ID
	}
}

// clientView is a client as the API shows it (never its secret hash).
type clientView struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	Public                 bool     `json:"public"`
	Upstreams              []string `json:"upstreams"`
	AllowedGroups          []string `json:"allowed_groups"`
	AllowedTenants         []string `json:"allowed_tenants"`
	LegacyAPI              bool     `json:"legacy_api"`
	AccessTokenFormat      string   `json:"access_token_format"`
	Static                 bool     `json:"static"`
	CreatedAt              any      `json:"created_at"`
	UpdatedAt              any      `json:"updated_at"`
	Secret                 string   `json:"secret,omitempty"`
}

func (s *Server) viewClient(c *storage.Client) clientView {
	f := c.AccessTokenFormat
	if f == "" {
		f = s.cfg.DefaultAccessTokenFormat
	}
	return clientView{
		ID: c.ID, Name: c.Name,
		RedirectURIs:           admin.NonNil(c.RedirectURIs),
		PostLogoutRedirectURIs: admin.NonNil(c.PostLogoutRedirectURIs),
		Public:                 c.Public,
		Upstreams:              admin.NonNil(c.Upstreams),
		AllowedGroups:          admin.NonNil(c.AllowedGroups),
		AllowedTenants:         admin.NonNil(c.AllowedTenants),
		LegacyAPI:              c.LegacyAPI,
		AccessTokenFormat:      f,
		Static:                 c.Static,
		CreatedAt:              apiTime(c.CreatedAt),
		UpdatedAt:              apiTime(c.UpdatedAt),
	}
}

// clientRules are the validation rules of this server (idp/admin).
func (s *Server) clientRules() admin.Rules {
	return admin.Rules{Upstreams: slices.Clone(s.order)}
}

// checkClientInput validates c; the first problem becomes the answer.
func (s *Server) checkClientInput(c *storage.Client) error {
	if errs := admin.CheckClient(c, s.clientRules()); len(errs) > 0 {
		return badInput(errs[0].Field, "%s", admin.Join(errs))
	}
	return nil
}

func etag(c *storage.Client) string { return `"` + strconv.FormatInt(c.Version, 10) + `"` }

// ifMatch parses If-Match: the version it names, or ok=false when absent.
// A value that names no version can never match (-1).
func ifMatch(r *http.Request) (v int64, ok bool) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, false
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil {
		return -1, true
	}
	return n, true
}

var errStaticClient = &apiError{status: http.StatusConflict, code: "static_client",
	desc: "this client comes from the config file (clients:); change it there", field: "static"}

func (s *Server) apiListClients(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	list, err := s.store.ListClients(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]clientView, 0, len(list))
	for i := range list {
		items = append(items, s.viewClient(&list[i]))
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) apiGetClient(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	c, err := s.store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(c))
	writeAPIJSON(w, http.StatusOK, s.viewClient(c))
}

func (s *Server) apiCreateClient(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	var in clientInput
	if err := decodeBody(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	c := &storage.Client{ID: in.ID, CreatedAt: now, UpdatedAt: now}
	if c.ID == "" {
		c.ID = admin.NewClientID()
	}
	in.apply(c)
	if err := s.checkClientInput(c); err != nil {
		s.fail(w, r, err)
		return
	}
	secret := in.Secret
	switch {
	case c.Public && secret != "":
		s.fail(w, r, badInput("secret", "a public client has no secret"))
		return
	case c.Public:
	case secret != "":
		if err := admin.CheckClientSecret(secret); err != nil {
			s.fail(w, r, badInput("secret", "%v", err))
			return
		}
		c.SecretHash = admin.HashSecret(secret)
		secret = "" // the caller knows it
	default:
		secret = admin.NewSecret()
		c.SecretHash = admin.HashSecret(secret)
	}
	if err := s.store.CreateClient(r.Context(), c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			// Bad input like the others (docs/admin-api.md): nothing written.
			err = &apiError{status: http.StatusBadRequest, code: "client_exists", desc: "a client with this id exists; choose another id or leave it out", field: "id"}
		}
		s.fail(w, r, err)
		return
	}
	s.auditAPI(r, p, "client.create", c.ID, admin.Details(c))
	v := s.viewClient(c)
	v.Secret = secret
	w.Header().Set("ETag", etag(c))
	w.Header().Set("Location", s.cfg.Issuer+adminAPIBase+"/clients/"+c.ID)
	writeAPIJSON(w, http.StatusCreated, v)
}

func (s *Server) apiUpdateClient(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	id := r.PathValue("id")
	var in clientInput
	if err := decodeBody(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.ID != "" && in.ID != id {
		s.fail(w, r, badInput("id", "the id of a client cannot change (body %q, path %q)", in.ID, id))
		return
	}
	if in.Secret != "" {
		s.fail(w, r, badInput("secret", "set a new secret with POST /clients/{id}/secret"))
		return
	}
	cur, err := s.store.GetClient(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cur.Static {
		s.fail(w, r, errStaticClient)
		return
	}
	version := cur.Version
	if v, ok := ifMatch(r); ok {
		if v != cur.Version {
			s.fail(w, r, storage.ErrConflict)
			return
		}
		version = v
	}
	want := *cur
	in.apply(&want)
	if err := s.checkClientInput(&want); err != nil {
		s.fail(w, r, err)
		return
	}
	var secret string
	switch {
	case cur.Public && !want.Public:
		secret = admin.NewSecret()
		want.SecretHash = admin.HashSecret(secret)
	case want.Public:
		want.SecretHash = nil
	}
	changed := admin.Changes(cur, &want)
	if len(changed) > 0 {
		want.UpdatedAt = s.now().UTC()
		if err := s.store.UpdateClientIf(r.Context(), &want, version); err != nil {
			s.fail(w, r, err)
			return
		}
		details := admin.Details(&want)
		details["changed"] = changed
		s.auditAPI(r, p, "client.update", want.ID, details)
	}
	v := s.viewClient(&want)
	v.Secret = secret
	w.Header().Set("ETag", etag(&want))
	writeAPIJSON(w, http.StatusOK, v)
}

func (s *Server) apiDeleteClient(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	cur, err := s.store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cur.Static {
		s.fail(w, r, errStaticClient)
		return
	}
	if v, ok := ifMatch(r); ok && v != cur.Version {
		s.fail(w, r, storage.ErrConflict)
		return
	}
	if err := s.store.DeleteClient(r.Context(), cur.ID, s.now()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditAPI(r, p, "client.delete", cur.ID, map[string]any{"name": cur.Name})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiRotateClientSecret(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	cur, err := s.store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cur.Static {
		s.fail(w, r, errStaticClient)
		return
	}
	if cur.Public {
		s.fail(w, r, &apiError{status: http.StatusConflict, code: "public_client", desc: "a public client has no secret", field: "public"})
		return
	}
	secret := admin.NewSecret()
	want := *cur
	want.SecretHash = admin.HashSecret(secret)
	want.UpdatedAt = s.now().UTC()
	if err := s.store.UpdateClientIf(r.Context(), &want, cur.Version); err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditAPI(r, p, "client.rotate_secret", cur.ID, nil)
	w.Header().Set("ETag", etag(&want))
	writeAPIJSON(w, http.StatusOK, map[string]string{"secret": secret})
}
