package zhezhengding_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// TestGatewayClockSkew: a gateway whose clock is 10 minutes ahead refuses
// the signed timestamps; the error names the timestamp and clock_offset,
// and clock_offset: 10m makes logins work (docs/upstreams.md §1).
func TestGatewayClockSkew(t *testing.T) {
	ahead := func(o *zzdsim.Options) { o.Now = func() time.Time { return time.Now().Add(10 * time.Minute) } }

	e := newSimEnv(t, nil, nil, ahead)
	_, err := e.p.Exchange(t.Context(), e.scan(t, "71453920"), callback)
	var ge *zhezhengding.GatewayError
	if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, upstream.ErrMisconfigured) || !errors.As(err, &ge) ||
		!strings.Contains(err.Error(), "this call was stamped ") || !strings.Contains(err.Error(), "clock_offset 0s") {
		t.Errorf("err %v, want ErrUnavailable naming the timestamp and clock_offset", err)
	}

	e = newSimEnv(t, func(c *zhezhengding.Config) { c.ClockOffset = 10 * time.Minute }, nil, ahead)
	if _, err := e.p.Exchange(t.Context(), e.scan(t, "71453920"), callback); err != nil {
		t.Errorf("with clock_offset 10m: %v", err)
	}
}

func TestClockOffsetValidated(t *testing.T) {
	c := zhezhengding.Config{
		LoginHost: "https://login.example", APIHost: "https://api.example", AppCode: "a_dingoa", AppKey: "k", AppSecret: "s",
		ClockOffset: -2 * time.Hour,
	}
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "clock_offset: must be within an hour either way") {
		t.Errorf("Validate() = %v", err)
	}
}
