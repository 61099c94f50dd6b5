package zhezhengding_test

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// lockedBuffer collects a logger's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEnrichPairs: the organisation lookups go with the in-app pair and
// ask for every position (main job first); with the scan pair only, the
// simulator refuses them as the real gateway does (300037), and the login
// goes on without groups, the log naming the code and the pair
// (docs/upstreams.md §1, More about the person).
func TestEnrichPairs(t *testing.T) {
	t.Run("in-app pair", func(t *testing.T) {
		e := newSimEnv(t, nil, nil)
		id, err := e.p.Exchange(t.Context(), e.scan(t, "71453920"), callback)
		if err != nil {
			t.Fatal(err)
		}
		if groups, _ := id.Attributes["groups"].([]string); !slices.Equal(groups, []string{"数据资源处", "数字化改革工作专班"}) {
			t.Errorf("groups %q, want the main job's then the other position's", groups)
		}
	})
	t.Run("scan pair only", func(t *testing.T) {
		e := newSimEnv(t, func(c *zhezhengding.Config) { c.InAppKey, c.InAppSecret = "", "" }, nil)
		var logs lockedBuffer
		p, err := zhezhengding.New(zhezhengding.Config{
			LoginHost: e.srv.URL, APIHost: e.srv.URL, AppCode: appCode, AppKey: appKey, AppSecret: secret, Enrich: true,
		}, e.srv.Client(), slog.New(slog.NewTextHandler(&logs, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		e.p = p
		id, err := p.Exchange(t.Context(), e.scan(t, "71453920"), callback)
		if err != nil {
			t.Fatalf("a refused lookup failed the login: %v", err)
		}
		if _, ok := id.Attributes["groups"]; ok {
			t.Errorf("groups %v with a refused lookup", id.Attributes["groups"])
		}
		if l := logs.String(); !strings.Contains(l, "organisations unavailable") || !strings.Contains(l, "upstream_code=300037") || !strings.Contains(l, "pair=scan") {
			t.Errorf("the log does not name the code and the pair:\n%s", l)
		}
	})
}
