package dingtalksim

import (
	"net/http"

	"github.com/dingoidc/dingoidc/upstream/simkit"
)

// handleJSAPI serves the DingTalk JSAPI stand-in under /simulator/jsapi/.
func (d *Server) handleJSAPI(w http.ResponseWriter, r *http.Request) {
	if simkit.ServeJSAPIScript(w, r) {
		return
	}
	if !simkit.JSAPICode(w, r) {
		http.NotFound(w, r)
		return
	}
	_ = r.ParseForm()
	if r.Form.Get("unionId") == "" {
		corpID := r.Form.Get("corpId")
		pick := ""
		if p := d.union[d.autoApprove]; p != nil && internal(p, corpID) {
			pick = p.UnionID
		}
		for _, p := range d.people {
			if pick == "" && internal(p, corpID) {
				pick = p.UnionID
			}
		}
		r.Form.Set("unionId", pick)
	}
	d.handleInApp(w, r)
}
