package dingtalk_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
)

const simZhangsan = "QY7vA9rRRxK4nQcn6zdha8MiEiE"

// TestThrottledAgainstSimulator: a call DingTalk throttles is retried once
// after a pause; throttled again, the login fails as unavailable saying
// so, never as a missing permission (docs/upstreams.md §2, Errors).
func TestThrottledAgainstSimulator(t *testing.T) {
	cases := []struct {
		name      string
		api, oapi int
		wantErr   bool
	}{
		{"api once", 1, 0, false},
		{"oapi once", 0, 1, false},
		{"api twice", 2, 0, true},
		{"oapi twice", 0, 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, simApp)
			cb := e.scan(t, "/simulator/scan", simZhangsan)
			e.sim.Throttle(c.api, c.oapi)
			id, err := e.p.Exchange(t.Context(), cb, simCallback)
			if !c.wantErr {
				if err != nil || id.ExternalID != simZhangsan {
					t.Fatalf("identity %+v, err %v", id, err)
				}
				return
			}
			if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "throttling") ||
				strings.Contains(err.Error(), "permission") || errors.Is(err, upstream.ErrMisconfigured) {
				t.Errorf("err %v, want ErrUnavailable about throttling", err)
			}
		})
	}
}

// TestMissingGetMemberPermission: without qyapi_get_member, getbyunionid
// answers 88/60011 and the error names the permission.
func TestMissingGetMemberPermission(t *testing.T) {
	e := newSimEnvWith(t, simApp, func(o *dingtalksim.Options) {
		a := o.Apps[simApp]
		a.Permissions = slices.DeleteFunc(slices.Clone(a.Permissions), func(p string) bool { return p == "qyapi_get_member" })
		o.Apps[simApp] = a
	}, nil)
	_, err := e.p.Exchange(t.Context(), e.scan(t, "/simulator/scan", simZhangsan), simCallback)
	if !errors.Is(err, upstream.ErrMisconfigured) || !errors.Is(err, upstream.ErrUnavailable) ||
		!strings.Contains(err.Error(), "app lacks the permission for look up unionid in corp "+simCorp+", qyapi_get_member") {
		t.Errorf("err %v, want ErrUnavailable naming qyapi_get_member", err)
	}
}

// TestUsedCodeAgainstSimulator: the simulator answers a used code as
// DingTalk does (400 invalidParameter.authCode.notFound), which is a
// code problem: scanning again helps.
func TestUsedCodeAgainstSimulator(t *testing.T) {
	e := newSimEnv(t, simApp)
	cb := e.scan(t, "/simulator/scan", simZhangsan)
	if _, err := e.p.Exchange(t.Context(), cb, simCallback); err != nil {
		t.Fatal(err)
	}
	_, err := e.p.Exchange(t.Context(), cb, simCallback)
	if !errors.Is(err, upstream.ErrCodeInvalid) || !strings.Contains(err.Error(), "invalidParameter.authCode.notFound") {
		t.Errorf("err %v, want ErrCodeInvalid", err)
	}
}
