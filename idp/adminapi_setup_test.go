package idp

import (
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/storage"
)

// TestSetupText: every guide in docs/integrations gives a snippet in which
// the guide's example issuer, app address and client id became this
// server's and this client's.
func TestSetupText(t *testing.T) {
	const iss = "https://id.corp.test/sso"
	for app := range setupApps {
		c := &storage.Client{ID: "my-" + app, RedirectURIs: []string{"https://apps.corp.test/" + app + "/cb"}}
		text, ok := setupText(app, c, iss)
		if !ok || text == "" {
			t.Errorf("%s: no snippet", app)
			continue
		}
		if strings.Contains(text, docIssuer) {
			t.Errorf("%s: the guide's issuer is left:\n%s", app, text)
		}
		if !strings.Contains(text, iss) {
			t.Errorf("%s: the issuer is missing:\n%s", app, text)
		}
		if !strings.Contains(text, c.ID) {
			t.Errorf("%s: the client id is missing:\n%s", app, text)
		}
		if strings.Contains(text, app+".example.gov.cn") {
			t.Errorf("%s: the guide's app address is left:\n%s", app, text)
		}
	}
}
