package main

import (
	"slices"
	"strings"
	"testing"
)

// TestAdminAndPolicyKeys: admin: reaches the provider's config; a static
// client's policy keys are read and checked with the rules of idp/admin.
func TestAdminAndPolicyKeys(t *testing.T) {
	yml := validConfig(t.TempDir()) + `    allowed_groups: [运维组]
    allowed_tenants: [t1]
    legacy_api: true
admin:
  subjects: [dev_10001]
  groups: [运维组]
`
	cfg, err := loadConfig(writeFile(t, "dingoidc.yaml", yml), fakeEnv{}.getenv, loadOptions{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Clients[0].client()
	if !slices.Equal(sc.AllowedGroups, []string{"运维组"}) || !slices.Equal(sc.AllowedTenants, []string{"t1"}) || !sc.LegacyAPI {
		t.Fatalf("static client %+v", sc)
	}
	ic, err := cfg.IDPConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ic.Admin.Subjects, []string{"dev_10001"}) || !slices.Equal(ic.Admin.Groups, []string{"运维组"}) {
		t.Fatalf("admin config %+v", ic.Admin)
	}

	bad := validConfig(t.TempDir()) + `    allowed_groups: ["", ` + strings.Repeat("x", 300) + `]
admin:
  groups: [""]
`
	_, err = loadConfig(writeFile(t, "dingoidc.yaml", bad), fakeEnv{}.getenv, loadOptions{Serve: true})
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{"clients[0] (grafana).allowed_groups[0]: empty", "clients[0] (grafana).allowed_groups[1]: 300 bytes", "admin.groups[0]"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}
