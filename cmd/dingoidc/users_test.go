package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func TestUsers(t *testing.T) {
	env := storeEnv(t)
	st := openTestStore(t, env)
	ctx := t.Context()
	now := time.Now().UTC()
	for _, u := range []storage.User{
		{ID: "zzd_1001", Upstream: "zzd", ExternalID: "1001", Claims: []byte(`{"name":"张三"}`), LastLoginAt: now},
		{ID: "zzd_1002", Upstream: "zzd", ExternalID: "1002", Claims: []byte(`{"preferred_username":"lisi"}`), LastLoginAt: now},
		{ID: "dt_u3", Upstream: "dt", ExternalID: "u3", Claims: []byte(`{}`), LastLoginAt: now},
	} {
		u.CreatedAt, u.UpdatedAt = now, now
		if _, err := st.UpsertUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}

	r := mustRun(t, env, "user", "list")
	for _, want := range []string{"zzd_1001", "张三", "lisi", "dt_u3", "active"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("user list does not show %q:\n%s", want, r.stdout)
		}
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{"dt_u3", "zzd_1001", "zzd_1002"}},
		{"by upstream", []string{"--upstream", "zzd"}, []string{"zzd_1001", "zzd_1002"}},
		{"limited", []string{"--limit", "1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, env, append([]string{"user", "list", "--json"}, tt.args...)...)
			users := decodeJSON[[]userView](t, r.stdout)
			var ids []string
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			if tt.want == nil {
				if len(ids) != 1 {
					t.Errorf("users %q, want 1", ids)
				}
				return
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tt.want) {
				t.Errorf("users %q, want %q", ids, tt.want)
			}
		})
	}

	r = mustRun(t, env, "user", "disable", "zzd_1001")
	if !strings.Contains(r.stdout, `user "zzd_1001" disabled`) {
		t.Errorf("output %q", r.stdout)
	}
	u, err := st.GetUser(ctx, "zzd_1001")
	if err != nil || !u.Disabled {
		t.Fatalf("after disable: %+v, %v", u, err)
	}
	if ev := lastAudit(t, st, 1)[0]; ev.Actor != "cli" || ev.Action != "user.disable" || ev.Target != "zzd_1001" {
		t.Errorf("audit %+v", ev)
	}
	if r := mustRun(t, env, "user", "list", "--upstream", "zzd"); !strings.Contains(r.stdout, "disabled") {
		t.Errorf("list does not show the disabled user:\n%s", r.stdout)
	}

	mustRun(t, env, "user", "enable", "zzd_1001", "--json")
	if u, err := st.GetUser(ctx, "zzd_1001"); err != nil || u.Disabled {
		t.Fatalf("after enable: %+v, %v", u, err)
	}
	if ev := lastAudit(t, st, 1)[0]; ev.Action != "user.enable" || ev.Target != "zzd_1001" {
		t.Errorf("audit %+v", ev)
	}

	r = runCLI(t, env, "user", "disable", "nobody")
	if r.err == nil || !strings.Contains(r.err.Error(), `user "nobody" not found`) {
		t.Errorf("disable a missing user: %v", r.err)
	}
	if r := runCLI(t, env, "user", "list", "--limit", "-1"); r.err == nil {
		t.Error("negative limit accepted")
	}
}
