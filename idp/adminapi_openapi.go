package idp

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"

	"gopkg.in/yaml.v3"
)

// adminOpenAPIYAML is the admin API's OpenAPI 3 document, written as YAML
// and served as JSON (adminapi_openapi_test.go holds it to the router and
// the handlers).
//
//go:embed adminapi_openapi.yaml
var adminOpenAPIYAML []byte

// AdminOpenAPI returns the OpenAPI document as YAML (for tests).
func AdminOpenAPI() []byte { return adminOpenAPIYAML }

var adminOpenAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(adminOpenAPIYAML, &doc); err != nil {
		return nil, err
	}
	return json.MarshalIndent(doc, "", "  ")
})

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request, _ *adminPrincipal) {
	b, err := adminOpenAPIJSON()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}
