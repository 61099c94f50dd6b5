package idp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/dingoidc/dingoidc/storage"
)

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func storageClient(id string) storage.Client {
	return storage.Client{ID: id, RedirectURIs: []string{testRedirect}}
}

func getBody(t *testing.T, e *env, path string) string {
	t.Helper()
	resp, err := e.ts.Client().Get(e.issuer + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
