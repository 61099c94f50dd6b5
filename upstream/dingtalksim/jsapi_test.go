package dingtalksim

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func getJSAPI(t *testing.T, base, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestJSAPIScript(t *testing.T) {
	base := newEnv(t, nil).srv.URL
	status, hdr, body := getJSAPI(t, base, "/simulator/jsapi/dd.js?unionId=x")
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(string(body), "window.dd = {") || !strings.Contains(string(body), "getAuthCode") {
		t.Errorf("%d %v %.100s", status, hdr, body)
	}
	if status, _, _ := getJSAPI(t, base, "/simulator/jsapi/other.js"); status != http.StatusNotFound {
		t.Errorf("other path %d", status)
	}
}

func TestJSAPIDingTalkCode(t *testing.T) {
	e := newEnv(t, nil)
	var corps []string
	for id := range e.sim.corps {
		corps = append(corps, id)
	}
	slices.Sort(corps)
	corp := corps[0]
	var first string
	for _, p := range e.sim.people {
		if internal(p, corp) {
			first = p.UnionID
			break
		}
	}
	var outsider string
	for _, p := range e.sim.people {
		if !internal(p, corp) {
			outsider = p.UnionID
			break
		}
	}
	cases := []struct {
		name, query string
		status      int
		wantUnion   string
	}{
		{"default person", "?corpId=" + corp, http.StatusOK, first},
		{"chosen person", "?corpId=" + corp + "&unionId=" + first, http.StatusOK, first},
		{"not a member", "?corpId=" + corp + "&unionId=" + outsider, http.StatusBadRequest, ""},
		{"no corp", "", http.StatusBadRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := getJSAPI(t, e.srv.URL, "/simulator/jsapi/code"+c.query)
			if status != c.status || hdr.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%d %v %s", status, hdr, body)
			}
			if c.wantUnion == "" {
				return
			}
			var out struct{ Code string }
			if err := json.Unmarshal(body, &out); err != nil || out.Code == "" {
				t.Fatalf("%s: %v", body, err)
			}
			e.sim.mu.Lock()
			got, ok := e.sim.inapp.get(e.sim.now(), out.Code)
			e.sim.mu.Unlock()
			if !ok || got.unionID != c.wantUnion || got.corpID != corp {
				t.Errorf("code stands for %+v, want %s in %s", got, c.wantUnion, corp)
			}
		})
	}
}
