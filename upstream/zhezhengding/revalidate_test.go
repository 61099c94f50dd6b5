package zhezhengding_test

import (
	"errors"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
)

// TestRevalidateAgainstSimulator: an active employee is still allowed; an
// inactive or unknown one, or one of a tenant no longer allowed, is not;
// without the claims to look them up by, or with the gateway down, it
// cannot tell (issue 15 item 8).
func TestRevalidateAgainstSimulator(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	person := func(code, tenant string) upstream.Person {
		return upstream.Person{ExternalID: "x", Claims: map[string]any{"employee_code": code, "tenant_id": tenant}}
	}
	cases := []struct {
		name string
		p    upstream.Person
		want error
	}{
		{"active employee", person("GE_15c0f83f6f32cd110ddd43eb2b4759e2", "196729"), nil},
		{"inactive employee (status F)", person("GE_aff3cb9a85fb4d9fca206566308ddd4a", "12371"), upstream.ErrNotAllowed},
		{"no such employee", person("GE_00000000000000000000000000000000", "196729"), upstream.ErrNotAllowed},
		{"tenant no longer allowed", person("GE_15c0f83f6f32cd110ddd43eb2b4759e2", "50023"), upstream.ErrNotAllowed},
		{"no claims to look up by", upstream.Person{ExternalID: "100135", Claims: map[string]any{"tenant_id": "12371"}}, upstream.ErrUnavailable},
	}
	for _, c := range cases {
		err := e.p.Revalidate(t.Context(), c.p)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	e.sim.Faults().ServerError(true)
	err := e.p.Revalidate(t.Context(), person("GE_15c0f83f6f32cd110ddd43eb2b4759e2", "196729"))
	if !errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrNotAllowed) {
		t.Errorf("gateway down: err %v, want ErrUnavailable", err)
	}
}
