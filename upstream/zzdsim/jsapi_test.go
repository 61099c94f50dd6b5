package zzdsim

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
	base := newEnv(t).srv.URL
	status, hdr, body := getJSAPI(t, base, "/simulator/jsapi/dd.js?unionId=x")
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(string(body), "window.dd = {") || !strings.Contains(string(body), "getAuthCode") {
		t.Errorf("%d %v %.100s", status, hdr, body)
	}
	if status, _, _ := getJSAPI(t, base, "/simulator/jsapi/other.js"); status != http.StatusNotFound {
		t.Errorf("other path %d", status)
	}
}

func TestJSAPIZhezhengdingCode(t *testing.T) {
	e := newEnv(t)
	var ids []int64
	for id := range e.sim.accounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	cases := []struct {
		name, query string
		status      int
		wantAccount int64
	}{
		{"defaults", "", http.StatusOK, ids[0]},
		{"chosen account", "?account=" + itoa(ids[len(ids)-1]), http.StatusOK, ids[len(ids)-1]},
		{"scan app is no in-app app", "?app=" + key, http.StatusBadRequest, 0},
		{"unknown account", "?account=1", http.StatusBadRequest, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := getJSAPI(t, e.srv.URL, "/simulator/jsapi/code"+c.query)
			if status != c.status || hdr.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%d %v %s", status, hdr, body)
			}
			if c.wantAccount == 0 {
				return
			}
			var out struct {
				Code     string `json:"code"`
				AuthCode string `json:"auth_code"`
			}
			if err := json.Unmarshal(body, &out); err != nil || out.Code == "" || out.AuthCode != out.Code {
				t.Fatalf("%s: %v", body, err)
			}
			e.sim.mu.Lock()
			got := e.sim.codes[out.Code]
			e.sim.mu.Unlock()
			if got.accountID != c.wantAccount || got.appKey != inKey {
				t.Errorf("code stands for %+v, want account %d of %s", got, c.wantAccount, inKey)
			}
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
