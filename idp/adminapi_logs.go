package idp

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
)

// signInFilter reads the sign-in filters of the query.
func signInFilter(r *http.Request) (storage.SignInFilter, error) {
	q := r.URL.Query()
	f := storage.SignInFilter{
		UserID: q.Get("user"), ClientID: q.Get("client"), Upstream: q.Get("upstream"),
		Result: q.Get("result"), ClientIP: q.Get("ip"),
	}
	var err error
	if f.From, err = timeParam(r, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(r, "to"); err != nil {
		return f, err
	}
	return f, nil
}

func signInJSON(e *storage.SignInEvent) map[string]any {
	return map[string]any{
		"id": strconv.FormatInt(e.ID, 10), "time": apiTime(e.Time), "user_id": e.UserID, "client_id": e.ClientID,
		"upstream": e.Upstream, "result": e.Result, "reason": e.Reason, "client_ip": e.ClientIP, "user_agent": e.UserAgent,
	}
}

func (s *Server) apiListSignIns(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	cursor, limit, err := page(r, 50, 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := signInFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Before, err = idCursor(cursor); err != nil {
		s.fail(w, r, err)
		return
	}
	f.Limit = limit + 1
	list, err := s.store.ListSignIns(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = strconv.FormatInt(list[limit-1].ID, 10)
	}
	items := make([]map[string]any, 0, len(list))
	for i := range list {
		items = append(items, signInJSON(&list[i]))
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

// maxCSVRows bounds one export; csvBatch is read per statement.
const (
	maxCSVRows = 100000
	csvBatch   = 1000
)

// apiSignInsCSV exports the filtered sign-in log as CSV (UTF-8 with a BOM,
// so Excel reads Chinese names), newest first, in batches.
func (s *Server) apiSignInsCSV(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	f, err := signInFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	first, err := s.store.ListSignIns(r.Context(), withBatch(f))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="signins.csv"`)
	_, _ = w.Write([]byte("\uFEFF"))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "time", "user_id", "client_id", "upstream", "result", "reason", "client_ip", "user_agent"})
	batch, rows := first, 0
	for len(batch) > 0 && rows < maxCSVRows {
		for _, e := range batch {
			_ = cw.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), csvSafe(e.UserID),
				csvSafe(e.ClientID), csvSafe(e.Upstream), csvSafe(e.Result), csvSafe(e.Reason), csvSafe(e.ClientIP), csvSafe(e.UserAgent)})
			rows++
		}
		if len(batch) < csvBatch {
			break
		}
		f.Before = batch[len(batch)-1].ID
		if batch, err = s.store.ListSignIns(r.Context(), withBatch(f)); err != nil {
			s.log.ErrorContext(r.Context(), "admin API: sign-in export cut short", "err", err)
			break
		}
	}
	cw.Flush()
}

func withBatch(f storage.SignInFilter) storage.SignInFilter { f.Limit = csvBatch; return f }

// csvSafe keeps a spreadsheet from running a cell as a formula (a user
// agent is chosen by whoever sends it).
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func (s *Server) apiListAudit(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	cursor, limit, err := page(r, 50, 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := storage.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Limit: limit + 1}
	if f.From, err = timeParam(r, "from"); err == nil {
		f.To, err = timeParam(r, "to")
	}
	if err == nil {
		f.Before, err = idCursor(cursor)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.store.ListAuditFiltered(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = strconv.FormatInt(list[limit-1].ID, 10)
	}
	items := make([]map[string]any, 0, len(list))
	for _, e := range list {
		details := map[string]any{}
		_ = json.Unmarshal(e.Details, &details)
		items = append(items, map[string]any{
			"id": strconv.FormatInt(e.ID, 10), "time": apiTime(e.Time), "actor": e.Actor, "action": e.Action,
			"target": e.Target, "details": details,
		})
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

func (s *Server) apiListKeys(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	list, err := s.keys.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]map[string]any, 0, len(list))
	for _, k := range list {
		state := "current"
		switch k.State {
		case keys.StateNext:
			state = "next"
		case keys.StateRetired:
			state = "retiring"
		}
		items = append(items, map[string]any{
			"kid": k.ID, "algorithm": k.Algorithm, "created_at": apiTime(k.CreatedAt),
			"active_from": apiTime(k.ActiveFrom), "retire_at": apiTime(k.RetireAt), "state": state,
		})
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{"items": items})
}

// apiRotateKeys adds a key that signs after the publish-ahead period (the
// planned way; `dingoidc keys rotate --now` is for a compromised key).
func (s *Server) apiRotateKeys(w http.ResponseWriter, r *http.Request, p *adminPrincipal) {
	if _, err := s.keys.RotateAs(r.Context(), false, p.Actor); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiListUpstreams(w http.ResponseWriter, _ *http.Request, _ *adminPrincipal) {
	items := make([]map[string]any, 0, len(s.order))
	for _, id := range s.order {
		u := s.upstreams[id]
		st := s.health.get(id)
		var age any
		if a, ok := u.Provider.(appTokenAger); ok {
			if d, held := a.AppTokenAge(); held {
				age = int64(d.Seconds())
			}
		}
		items = append(items, map[string]any{
			"id": id, "type": u.Provider.Type(), "name": u.Name,
			"last_success": apiTime(st.LastSuccess), "last_failure": apiTime(st.LastFailure),
			"last_failure_kind": st.LastFailureKind, "app_token_age_seconds": age,
		})
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{"items": items})
}
