package zzdsim

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/dingoidc/dingoidc/upstream/simkit"
)

// handleJSAPI serves the 浙政钉 JSAPI stand-in under /simulator/jsapi/.
func (z *Server) handleJSAPI(w http.ResponseWriter, r *http.Request) {
	if simkit.ServeJSAPIScript(w, r) {
		return
	}
	if !simkit.JSAPICode(w, r) {
		http.NotFound(w, r)
		return
	}
	_ = r.ParseForm()
	if r.Form.Get("app") == "" {
		var keys []string
		for k, c := range z.creds {
			if c.inApp {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		if len(keys) > 0 {
			r.Form.Set("app", keys[0])
		}
	}
	if r.Form.Get("account") == "" && z.autoApprove == 0 {
		var ids []int64
		for id := range z.accounts {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if len(ids) > 0 {
			r.Form.Set("account", strconv.FormatInt(ids[0], 10))
		}
	}
	z.inAppCode(w, r)
}
