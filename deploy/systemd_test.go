package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	unitFile   = "deploy/systemd/dingoidc.service"
	nfpmConfig = "deploy/packaging/nfpm.yaml"
)

// unit is a systemd unit file: section → key → values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, name string) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(readFile(t, name))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: malformed line %q", name, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// TestSystemdUnit: the unit runs the packaged binary as its own user with
// the hardening docs/operations-backup.md and README.md promise, and
// systemd-analyze accepts it.
func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, unitFile)
	svc := "Service"
	for key, want := range map[string]string{
		"User":            "dingoidc",
		"Group":           "dingoidc",
		"StateDirectory":  "dingoidc",
		"ReadWritePaths":  "/var/lib/dingoidc",
		"ProtectSystem":   "strict",
		"NoNewPrivileges": "yes",
		"PrivateTmp":      "yes",
		"ProtectHome":     "yes",
		"Restart":         "on-failure",
		// Binding :443 for tls_cert_file is the only privilege it keeps.
		"CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
	} {
		if got := u.get(svc, key); got != want {
			t.Errorf("%s: %s=%q, want %q", unitFile, key, got, want)
		}
	}
	if got := u.get("Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("%s: WantedBy=%q, want multi-user.target", unitFile, got)
	}
	if got := u.get(svc, "ExecReload"); !strings.Contains(got, "-HUP") {
		t.Errorf("%s: ExecReload=%q does not send SIGHUP (which reloads the TLS certificate)", unitFile, got)
	}

	execStart := strings.Fields(u.get(svc, "ExecStart"))
	if len(execStart) < 4 || execStart[1] != "serve" || flagValue(execStart, "--config") != "/etc/dingoidc/config.yaml" {
		t.Fatalf("%s: ExecStart=%q, want <binary> serve --config /etc/dingoidc/config.yaml", unitFile, execStart)
	}

	t.Run("packages install what the unit names", func(t *testing.T) {
		var cfg struct {
			Contents []struct {
				Src  string `yaml:"src"`
				Dst  string `yaml:"dst"`
				Type string `yaml:"type"`
			} `yaml:"contents"`
		}
		if err := yaml.Unmarshal(readFile(t, nfpmConfig), &cfg); err != nil {
			t.Fatalf("%s: %v", nfpmConfig, err)
		}
		dst := map[string]string{} // dst → src
		types := map[string]string{}
		for _, c := range cfg.Contents {
			dst[c.Dst] = c.Src
			types[c.Dst] = c.Type
			if c.Src != "" && !strings.HasPrefix(c.Src, "${") {
				if _, err := os.Stat(filepath.Join(root, c.Src)); err != nil {
					t.Errorf("%s installs %s from %s: %v", nfpmConfig, c.Dst, c.Src, err)
				}
			}
		}
		if dst[execStart[0]] != "${BINARY}" {
			t.Errorf("ExecStart runs %s, which the packages do not install (the binary goes to one of %v)", execStart[0], slices.Sorted(func(yield func(string) bool) {
				for d, s := range dst {
					if s == "${BINARY}" && !yield(d) {
						return
					}
				}
			}))
		}
		if dst["/usr/lib/systemd/system/dingoidc.service"] != unitFile {
			t.Errorf("the packages do not install %s as /usr/lib/systemd/system/dingoidc.service", unitFile)
		}
		if src := dst["/etc/dingoidc/config.yaml"]; src == "" {
			t.Error("the packages install no /etc/dingoidc/config.yaml")
		} else if types["/etc/dingoidc/config.yaml"] != "config|noreplace" {
			t.Errorf("/etc/dingoidc/config.yaml has type %q, want config|noreplace (never overwritten on upgrade)", types["/etc/dingoidc/config.yaml"])
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("systemd-analyze is not installed (CI installs it: apt-get install systemd)")
			}
			t.Skip("systemd-analyze is not installed: apt-get install systemd")
		}
		// verify insists that ExecStart's binary exists: point it at a
		// stand-in (.ci/packages verifies the installed unit unchanged).
		dir := t.TempDir()
		bin := filepath.Join(dir, "dingoidc")
		if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		raw := strings.Replace(string(readFile(t, unitFile)), "ExecStart="+execStart[0]+" ", "ExecStart="+bin+" ", 1)
		path := filepath.Join(dir, "dingoidc.service")
		if err := os.WriteFile(path, []byte(raw), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(t.Context(), sa, "verify", path).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
		}
	})
}
