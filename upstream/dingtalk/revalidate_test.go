package dingtalk_test

import (
	"errors"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
)

// TestRevalidateAgainstSimulator: a member with an active account is
// still allowed; someone not in the corp or with a disabled account is
// not; an unreachable DingTalk cannot tell; without corp_id there is
// nothing to check (issue 15 item 8).
func TestRevalidateAgainstSimulator(t *testing.T) {
	e := newSimEnv(t, simApp)
	cases := []struct {
		name, unionID string
		want          error
	}{
		{"member", simZhangsan, nil},
		{"inactive member", "x98Qkxy2A27F7ncYsAp71jziEiE", upstream.ErrNotAllowed},
		{"member of another corp only", "jT5Q7669tp1gWzEFPWYJ2CfiEiE", upstream.ErrNotAllowed},
		{"unknown", "nobodyAtAll0000000000000iE", upstream.ErrNotAllowed},
	}
	for _, c := range cases {
		err := e.p.Revalidate(t.Context(), upstream.Person{ExternalID: c.unionID})
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	e.sim.Faults().ServerError(true)
	err := e.p.Revalidate(t.Context(), upstream.Person{ExternalID: simZhangsan})
	if !errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrNotAllowed) {
		t.Errorf("DingTalk down: err %v, want ErrUnavailable", err)
	}
	e.sim.Faults().ServerError(false)

	anyone, err := dingtalk.New(dingtalk.Config{
		LoginHost: e.srv.URL, APIHost: e.srv.URL, OAPIHost: e.srv.URL,
		ClientID: simApp, ClientSecret: "any", AllowAnyDingTalkUser: true,
	}, e.srv.Client(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := anyone.Revalidate(t.Context(), upstream.Person{ExternalID: "nobodyAtAll0000000000000iE"}); err != nil {
		t.Errorf("without corp_id: %v, want nothing to check", err)
	}
}
