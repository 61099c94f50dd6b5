package deploy_test

import (
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeProfiles: docker-compose.yml has two profiles that never run
// together by accident: postgres (a deployment's starting point, checked by
// TestCompose) and demo (serve --dev, reachable from the host's browser).
func TestComposeProfiles(t *testing.T) {
	var c compose
	if err := yaml.Unmarshal(readFile(t, composeFile), &c); err != nil {
		t.Fatal(err)
	}
	byProfile := map[string][]string{}
	for name, s := range c.Services {
		if len(s.Profiles) == 0 {
			t.Errorf("service %s has no profile: it would start with every profile", name)
		}
		for _, p := range s.Profiles {
			byProfile[p] = append(byProfile[p], name)
		}
		for dep := range s.DependsOn {
			if d := c.Services[dep]; d != nil && !slices.ContainsFunc(s.Profiles, func(p string) bool { return slices.Contains(d.Profiles, p) }) {
				t.Errorf("service %s depends on %s, which is in none of its profiles", name, dep)
			}
		}
	}
	for p := range byProfile {
		slices.Sort(byProfile[p])
	}
	want := map[string][]string{"postgres": {"dingoidc", "postgres"}, "demo": {"demo"}}
	if !maps.EqualFunc(byProfile, want, slices.Equal) {
		t.Fatalf("profiles %v, want %v", byProfile, want)
	}

	demo := c.Services["demo"]
	t.Run("demo runs serve --dev", func(t *testing.T) {
		cmd := []string(demo.Command)
		if len(cmd) == 1 {
			cmd = strings.Fields(cmd[0])
		}
		if !slices.Equal(cmd, []string{"serve", "--dev"}) {
			t.Errorf("demo command %q, want serve --dev", cmd)
		}
		if len(demo.Secrets) > 0 || demo.Environment["DINGOIDC_SECRET_KEY_FILE"] != "" {
			t.Error("the demo needs no secret: serve --dev generates its master key")
		}
	})

	t.Run("the host's browser reaches the demo at its issuer", func(t *testing.T) {
		// serve --dev listens on 127.0.0.1:8080 unless told otherwise, and a
		// loopback listener inside the container is unreachable through a
		// published port.
		listen := demo.Environment["DINGOIDC_LISTEN"]
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			t.Fatalf("demo DINGOIDC_LISTEN=%q: %v (serve --dev would listen on the container's loopback)", listen, err)
		}
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			t.Errorf("demo listens on %s: unreachable through the published port", listen)
		}
		if len(demo.Ports) != 1 {
			t.Fatalf("demo publishes %d ports, want 1", len(demo.Ports))
		}
		if strconv.Itoa(demo.Ports[0].container) != port {
			t.Errorf("demo publishes container port %d, listens on %s", demo.Ports[0].container, port)
		}
		issuer, err := url.Parse(demo.Environment["DINGOIDC_ISSUER"])
		if err != nil || issuer.Scheme != "http" || issuer.Hostname() != "127.0.0.1" {
			t.Fatalf("demo issuer %q, want http://127.0.0.1:<published port>", demo.Environment["DINGOIDC_ISSUER"])
		}
		// The same port on both sides: the demo app and the simulators call
		// the issuer from inside the container, the browser from the host.
		var short struct {
			Services map[string]struct {
				Ports []string `yaml:"ports"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(readFile(t, composeFile), &short); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(short.Services["demo"].Ports[0], ":")
		if len(parts) != 3 || parts[0] != "127.0.0.1" || parts[1] != issuer.Port() || parts[2] != port {
			t.Errorf("demo ports %q, want \"127.0.0.1:%s:%s\" (host loopback only, the issuer's port)", short.Services["demo"].Ports[0], issuer.Port(), port)
		}
	})

	t.Run("demo data in a volume the image's user owns", func(t *testing.T) {
		image := runtimeStage(t)
		var dataDir string
		var owned []string
		for _, in := range image.body {
			f := strings.Fields(in.args)
			if in.cmd == "ENV" {
				for _, kv := range f {
					if v, ok := strings.CutPrefix(kv, "DINGOIDC_DATA_DIR="); ok {
						dataDir = v
					}
				}
			}
			if in.cmd == "COPY" && slices.Contains(f, "--chown=65532:65532") {
				owned = append(owned, f[len(f)-1])
			}
		}
		if dataDir == "" || !slices.Contains(owned, dataDir) {
			t.Fatalf("the image sets DINGOIDC_DATA_DIR=%q and creates %v owned by 65532: the non-root user could not write its data", dataDir, owned)
		}
		if !slices.ContainsFunc(demo.Volumes, func(m mount) bool { return !m.bind() && m.Target == dataDir }) {
			t.Errorf("demo mounts no named volume at %s", dataDir)
		}
	})
}
