package idp

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/dingoidc/dingoidc/storage"
)

type userSummary struct {
	ID          string `json:"id"`
	Upstream    string `json:"upstream"`
	ExternalID  string `json:"external_id"`
	Name        string `json:"name"`
	Disabled    bool   `json:"disabled"`
	CreatedAt   any    `json:"created_at"`
	LastLoginAt any    `json:"last_login_at"`
}

func summarize(u *storage.User) userSummary {
	return userSummary{
		ID: u.ID, Upstream: u.Upstream, ExternalID: u.ExternalID, Name: claimString(u.Claims, "name"),
		Disabled: u.Disabled, CreatedAt: apiTime(u.CreatedAt), LastLoginAt: apiTime(u.LastLoginAt),
	}
}

func (s *Server) apiListUsers(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	cursor, limit, err := page(r, 50, 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	list, err := s.store.ListUsers(r.Context(), storage.UserFilter{
		Query: strings.TrimSpace(q.Get("q")), Upstream: q.Get("upstream"), After: cursor, Limit: limit + 1,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	items := make([]userSummary, 0, len(list))
	for i := range list {
		items = append(items, summarize(&list[i]))
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

func (s *Server) apiGetUser(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	ctx := r.Context()
	u, err := s.store.GetUser(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	grants, err := s.store.ListUserGrants(ctx, u.ID, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sessions, err := s.store.ListUserSessions(ctx, u.ID, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	claims := map[string]any{}
	_ = json.Unmarshal(u.Claims, &claims)
	gs := make([]map[string]any, 0, len(grants))
	for _, g := range grants {
		name := g.ClientID
		if c, err := s.clients.get(ctx, g.ClientID); err == nil {
			name = c.c.Name
		}
		gs = append(gs, map[string]any{
			"id": g.ID, "client_id": g.ClientID, "client_name": name, "scopes": nonNilStrings(g.Scopes),
			"auth_time": apiTime(g.AuthTime), "created_at": apiTime(g.CreatedAt), "expires_at": apiTime(g.ExpiresAt),
		})
	}
	ss := make([]map[string]any, 0, len(sessions))
	for _, se := range sessions {
		ss = append(ss, map[string]any{
			"id": sessionRef(se.IDHash), "upstream": se.Upstream, "auth_time": apiTime(se.AuthTime),
			"expires_at": apiTime(se.ExpiresAt), "created_at": apiTime(se.CreatedAt),
		})
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{
		"id": u.ID, "upstream": u.Upstream, "external_id": u.ExternalID, "claims": claims, "disabled": u.Disabled,
		"created_at": apiTime(u.CreatedAt), "last_login_at": apiTime(u.LastLoginAt), "grants": gs, "sessions": ss,
	})
}

// sessionRef names a session without revealing anything usable: a prefix
// of the hash of its cookie.
func sessionRef(idHash []byte) string {
	h := hex.EncodeToString(idHash)
	if len(h) > 16 {
		h = h[:16]
	}
	return h
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, p *adminPrincipal, disabled bool) {
	id := r.PathValue("id")
	if err := s.store.SetUserDisabled(r.Context(), id, disabled, s.now()); err != nil {
		s.fail(w, r, err)
		return
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	s.auditAPI(r, p, action, id, nil)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiDisableUser(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	s.setDisabled(w, r, p, true)
}

func (s *Server) apiEnableUser(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	s.setDisabled(w, r, p, false)
}

func (s *Server) apiRevokeUser(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	id := r.PathValue("id")
	n, err := s.store.RevokeUserSessions(r.Context(), id, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditAPI(r, p, "user.revoke", id, map[string]any{"ended": n})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiRevokeUserGrant(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	id, gid := r.PathValue("id"), r.PathValue("grant_id")
	g, _, err := s.store.GetGrant(r.Context(), gid, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if g.UserID != id {
		s.fail(w, r, storage.ErrNotFound)
		return
	}
	if err := s.store.RevokeGrant(r.Context(), gid, s.now()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditAPI(r, p, "grant.revoke", gid, map[string]any{"user_id": id, "client_id": g.ClientID})
	w.WriteHeader(http.StatusNoContent)
}
