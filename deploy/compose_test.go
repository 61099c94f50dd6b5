package deploy_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// root is the repository root; go test runs in deploy/.
const root = ".."

const (
	composeFile   = "docker-compose.yml"
	configExample = "deploy/config.example.yaml"
)

func TestCompose(t *testing.T) {
	raw := readFile(t, composeFile)
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", composeFile, err)
	}
	var c compose
	if err := doc.Decode(&c); err != nil {
		t.Fatalf("decode %s: %v", composeFile, err)
	}
	image := runtimeStage(t)

	pg, app := c.Services["postgres"], c.Services["dingoidc"]
	if pg == nil || app == nil {
		t.Fatalf("%s must define services postgres and dingoidc, has %v", composeFile, slices.Sorted(maps.Keys(c.Services)))
	}

	t.Run("postgres healthcheck", func(t *testing.T) {
		hc := pg.Healthcheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Fatal("postgres has no healthcheck: dingoidc's depends_on condition service_healthy would never be met")
		}
		if !strings.Contains(strings.Join(hc.Test, " "), "pg_isready") {
			t.Errorf("postgres healthcheck test %q does not run pg_isready", hc.Test)
		}
		for name, d := range map[string]string{"interval": hc.Interval, "timeout": hc.Timeout} {
			if d == "" {
				t.Errorf("postgres healthcheck has no %s", name)
			} else if v, err := time.ParseDuration(d); err != nil || v <= 0 {
				t.Errorf("postgres healthcheck %s %q is not a positive duration", name, d)
			}
		}
		if hc.Retries <= 0 {
			t.Errorf("postgres healthcheck retries = %d, want > 0", hc.Retries)
		}
	})

	t.Run("dingoidc waits for healthy postgres", func(t *testing.T) {
		dep, ok := app.DependsOn["postgres"]
		if !ok {
			t.Fatal("dingoidc does not depend on postgres")
		}
		if dep.Condition != "service_healthy" {
			t.Errorf("dingoidc depends on postgres with condition %q, want service_healthy", dep.Condition)
		}
	})

	t.Run("dingoidc build", func(t *testing.T) {
		if app.Build.Context != "." {
			t.Errorf("dingoidc build context = %q, want \".\"", app.Build.Context)
		}
		dockerfile := cmp.Or(app.Build.Dockerfile, "Dockerfile")
		if _, err := os.Stat(filepath.Join(root, app.Build.Context, dockerfile)); err != nil {
			t.Errorf("dingoidc build: %v", err)
		}
	})

	t.Run("variables", func(t *testing.T) {
		comments := commentLines(raw)
		defaults := map[string]string{}
		walkScalars(&doc, func(n *yaml.Node) {
			refs, err := varRefs(n.Value)
			if err != nil {
				t.Errorf("%s:%d: %v", composeFile, n.Line, err)
			}
			for _, r := range refs {
				switch r.op {
				case ":-", "-":
					if prev, seen := defaults[r.name]; seen && prev != r.arg {
						t.Errorf("%s:%d: ${%s} defaults to %q here and to %q elsewhere", composeFile, n.Line, r.name, r.arg, prev)
					}
					defaults[r.name] = r.arg
				default:
					if !mentions(comments, r.name) {
						t.Errorf("%s:%d: ${%s} has no default and no comment in %s explains it", composeFile, n.Line, r.name, composeFile)
					}
				}
			}
		})
	})

	t.Run("storage DSN reaches the postgres service", func(t *testing.T) {
		if d := app.Environment["DINGOIDC_STORAGE_DRIVER"]; d != "postgres" {
			t.Errorf("dingoidc DINGOIDC_STORAGE_DRIVER = %q, want postgres", d)
		}
		dsn := interpolate(app.Environment["DINGOIDC_STORAGE_DSN"])
		u, err := url.Parse(dsn)
		if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
			t.Fatalf("dingoidc DINGOIDC_STORAGE_DSN %q is not a postgres:// URL (err %v)", dsn, err)
		}
		if _, ok := app.DependsOn[u.Hostname()]; !ok || c.Services[u.Hostname()] != pg {
			t.Errorf("DSN host %q is not the postgres service dingoidc depends on", u.Hostname())
		}
		if p := u.Port(); p != "" && p != "5432" {
			t.Errorf("DSN port %s, postgres listens on 5432", p)
		}
		user := cmp.Or(interpolate(pg.Environment["POSTGRES_USER"]), "postgres")
		password := interpolate(pg.Environment["POSTGRES_PASSWORD"])
		db := cmp.Or(interpolate(pg.Environment["POSTGRES_DB"]), user)
		if got := u.User.Username(); got != user {
			t.Errorf("DSN user %q, postgres creates %q", got, user)
		}
		if got, _ := u.User.Password(); got != password {
			t.Errorf("DSN password %q, postgres is given %q", got, password)
		}
		if got := strings.TrimPrefix(u.Path, "/"); got != db {
			t.Errorf("DSN database %q, postgres creates %q", got, db)
		}
	})

	t.Run("bind mounts", func(t *testing.T) {
		for name, s := range c.Services {
			for _, m := range s.Volumes {
				if !m.bind() {
					continue
				}
				rel, err := repoPath(m.Source)
				if err != nil {
					t.Errorf("service %s mounts %s: %v", name, m.Source, err)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, m.Source, err)
				}
				if !m.ReadOnly {
					t.Errorf("service %s mounts %s read-write: a container must not write into the checkout (add :ro)", name, m.Source)
				}
			}
		}
		config := configPath(image)
		if config != "" && !slices.ContainsFunc(app.Volumes, func(m mount) bool { return m.bind() && m.Target == config }) {
			t.Errorf("the image runs with --config %s, but dingoidc mounts no file there", config)
		}
	})

	t.Run("named volumes", func(t *testing.T) {
		for name, s := range c.Services {
			for _, m := range s.Volumes {
				if m.bind() || m.Source == "" {
					continue
				}
				if _, ok := c.Volumes[m.Source]; !ok {
					t.Errorf("service %s uses volume %q, which the top-level volumes do not declare", name, m.Source)
				}
			}
		}
	})

	t.Run("secrets", func(t *testing.T) {
		gitignore, dockerignore := readLines(t, ".gitignore"), readLines(t, ".dockerignore")
		comments := commentLines(raw)
		for name, s := range c.Services {
			for _, ref := range s.Secrets {
				if _, ok := c.Secrets[ref.Source]; !ok {
					t.Errorf("service %s uses secret %q, which the top-level secrets do not declare", name, ref.Source)
				}
			}
		}
		for name, sec := range c.Secrets {
			if sec.File == "" {
				if sec.Environment == "" && !sec.External {
					t.Errorf("secret %s has no file, environment or external source", name)
				}
				continue
			}
			rel, err := repoPath(sec.File)
			if err != nil {
				t.Errorf("secret %s: %v", name, err)
				continue
			}
			if _, err := os.Stat(filepath.Join(root, rel)); err == nil {
				continue // a committed file, e.g. a non-secret placeholder
			}
			// Not in the repository: the operator creates it, so git must
			// never pick it up, docker build must never send it, and the
			// compose file must say how to make it.
			if !ignored(gitignore, rel) {
				t.Errorf("secret %s file %s is not listed in .gitignore", name, rel)
			}
			if !ignored(dockerignore, rel) {
				t.Errorf("secret %s file %s is not listed in .dockerignore: docker build would copy it into the build context", name, rel)
			}
			if !mentions(comments, rel) {
				t.Errorf("secret %s file %s is not created by the repository and no comment in %s says how to make it", name, rel, composeFile)
			}
		}
		keyFile := app.Environment["DINGOIDC_SECRET_KEY_FILE"]
		if !slices.ContainsFunc(app.Secrets, func(s secretRef) bool { return s.mountPath() == keyFile }) {
			t.Errorf("DINGOIDC_SECRET_KEY_FILE=%q is not where any of dingoidc's secrets is mounted", keyFile)
		}
	})

	t.Run("ports", func(t *testing.T) {
		for name, s := range c.Services {
			for _, p := range s.Ports {
				if p.err != nil {
					t.Errorf("service %s: %v", name, p.err)
				}
			}
		}
		if len(app.Ports) == 0 {
			t.Fatal("dingoidc publishes no port")
		}
		for _, p := range app.Ports {
			if ports, _ := exposed(image); p.err == nil && !slices.Contains(ports, p.container) {
				t.Errorf("dingoidc publishes container port %d, the Dockerfile EXPOSEs %v", p.container, ports)
			}
		}
	})

	t.Run("docker compose config", func(t *testing.T) {
		composeConfig(t, raw, c)
	})
}

// composeConfig runs `docker compose config --quiet`, which needs the docker
// client and its compose plugin but no engine. It runs on a copy of the compose
// file, with a placeholder for every file the compose file names that does not
// exist in a fresh checkout (the master key), and without the caller's
// variables, so that the defaults are what is checked.
func composeConfig(t *testing.T, raw []byte, c compose) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker client is not installed; the checks above still ran")
	}
	if out, err := exec.CommandContext(t.Context(), docker, "compose", "version").CombinedOutput(); err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		t.Skipf("`docker compose` is not available (%v: %s); the checks above still ran", err, first)
	}
	dir := t.TempDir()
	files := []string{}
	for _, s := range c.Services {
		if s.Build.Context != "" {
			files = append(files, path.Join(s.Build.Context, cmp.Or(s.Build.Dockerfile, "Dockerfile")))
		}
		for _, m := range s.Volumes {
			if m.bind() {
				files = append(files, m.Source)
			}
		}
	}
	for _, s := range c.Secrets {
		if s.File != "" {
			files = append(files, s.File)
		}
	}
	for _, f := range files {
		rel, err := repoPath(f)
		if err != nil {
			continue // reported by the subtests above
		}
		content, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			content = []byte("placeholder\n")
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, composeFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	refs, _ := varRefs(string(raw))
	profiles := map[string]bool{}
	for _, s := range c.Services {
		for _, p := range s.Profiles {
			profiles[p] = true
		}
	}
	for _, profile := range slices.Sorted(maps.Keys(profiles)) {
		cmd := exec.CommandContext(t.Context(), docker, "compose", "--file", composeFile, "--profile", profile, "config", "--quiet")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			used := slices.ContainsFunc(refs, func(r varRef) bool { return r.name == name })
			if !used && !strings.HasPrefix(name, "COMPOSE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker compose --profile %s config: %v\n%s", profile, err, out)
		}
	}
}

func TestDockerfile(t *testing.T) {
	stages := loadDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a build stage and a runtime stage", len(stages))
	}
	final := stages[len(stages)-1]

	var builder stage
	var buildArgs []string
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.body {
			if f := strings.Fields(in.args); in.cmd == "RUN" && slices.Contains(f, "build") && slices.Contains(f, "./cmd/dingoidc") {
				builder, buildArgs = s, f
			}
		}
	}
	if buildArgs == nil {
		t.Fatal("no build stage of the Dockerfile runs go build ./cmd/dingoidc")
	}

	t.Run("static build", func(t *testing.T) {
		cgoOff := slices.Contains(buildArgs, "CGO_ENABLED=0")
		for _, in := range builder.body {
			if f := strings.Fields(in.args); in.cmd == "ENV" && (slices.Contains(f, "CGO_ENABLED=0") || slices.Equal(f, []string{"CGO_ENABLED", "0"})) {
				cgoOff = true
			}
		}
		if !cgoOff {
			t.Error("the Dockerfile builds without CGO_ENABLED=0: the binary would not be static")
		}
	})

	t.Run("runs the built binary", func(t *testing.T) {
		entrypoint, err := execForm(final, "ENTRYPOINT")
		if err != nil || len(entrypoint) == 0 {
			t.Fatalf("ENTRYPOINT must be in exec form (a JSON array) so that dingoidc itself gets SIGTERM: %v", err)
		}
		out := flagValue(buildArgs, "-o")
		copied := slices.ContainsFunc(final.body, func(in instruction) bool {
			f := strings.Fields(in.args)
			return in.cmd == "COPY" && len(f) == 3 && f[0] == "--from="+builder.name && f[1] == out && f[2] == entrypoint[0]
		})
		if out == "" || !copied {
			t.Errorf("the runtime stage does not COPY --from=%s the go build -o output %q to the ENTRYPOINT %s", builder.name, out, entrypoint[0])
		}
		cmd, err := execForm(final, "CMD")
		if err != nil {
			t.Fatal(err)
		}
		if len(cmd) == 0 || cmd[0] != "serve" || configPath(final) == "" {
			t.Errorf("CMD = %q, want serve --config <file>", cmd)
		}
	})

	t.Run("non-root", func(t *testing.T) {
		user := ""
		for _, in := range final.body {
			if in.cmd == "USER" {
				user, _, _ = strings.Cut(in.args, ":")
			}
		}
		switch user {
		case "":
			t.Error("the runtime stage sets no USER: dingoidc would run as root")
		case "root", "0":
			t.Errorf("the runtime stage runs as USER %s", user)
		}
	})

	t.Run("time zones", func(t *testing.T) {
		// Zhezhengding signs requests with Asia/Shanghai time.
		base := final.base
		if strings.HasPrefix(base, "gcr.io/distroless/static") || base == "scratch" {
			if !strings.Contains(flagValue(buildArgs, "-tags"), "timetzdata") {
				t.Errorf("go build has no -tags timetzdata, so on %s Asia/Shanghai may not load", base)
			}
			return
		}
		if !slices.ContainsFunc(final.body, func(in instruction) bool {
			return in.cmd == "RUN" && strings.Contains(in.args, "tzdata") && strings.Contains(in.args, "ca-certificates")
		}) {
			t.Errorf("the runtime image %s does not install tzdata and ca-certificates", base)
		}
	})

	t.Run("exposes a port", func(t *testing.T) {
		ports, bad := exposed(final)
		for _, b := range bad {
			t.Errorf("EXPOSE %s is not a TCP port", b)
		}
		if len(ports) == 0 {
			t.Error("the runtime stage EXPOSEs no port")
		}
	})
}

func TestConfigExample(t *testing.T) {
	// Syntax and shape only: the config loader's own tests validate the content.
	var cfg struct {
		Issuer string `yaml:"issuer"`
		Listen string `yaml:"listen"`
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(readFile(t, configExample), &doc); err != nil {
		t.Fatalf("parse %s: %v", configExample, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s is not a YAML mapping", configExample)
	}
	if err := doc.Decode(&cfg); err != nil {
		t.Fatalf("decode %s: %v", configExample, err)
	}
	if cfg.Issuer == "" || strings.HasSuffix(cfg.Issuer, "/") {
		t.Errorf("%s: issuer %q must be set, without a trailing slash", configExample, cfg.Issuer)
	}
	_, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		t.Fatalf("%s: listen %q: %v", configExample, cfg.Listen, err)
	}
	ports, _ := exposed(runtimeStage(t))
	if n, _ := strconv.Atoi(port); !slices.Contains(ports, n) {
		t.Errorf("%s listens on %s, the Dockerfile EXPOSEs %v", configExample, port, ports)
	}
}

// ---- docker-compose.yml ----------------------------------------------------

// compose is the part of the Compose specification this repository uses; the
// short and long syntaxes are both accepted where Compose accepts both.
type compose struct {
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
	Secrets  map[string]secret   `yaml:"secrets"`
}

type service struct {
	Profiles    []string     `yaml:"profiles"`
	Command     stringList   `yaml:"command"`
	Build       build        `yaml:"build"`
	DependsOn   dependsOn    `yaml:"depends_on"`
	Environment environment  `yaml:"environment"`
	Ports       []port       `yaml:"ports"`
	Volumes     []mount      `yaml:"volumes"`
	Secrets     []secretRef  `yaml:"secrets"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
}

type healthcheck struct {
	Test     stringList `yaml:"test"`
	Interval string     `yaml:"interval"`
	Timeout  string     `yaml:"timeout"`
	Retries  int        `yaml:"retries"`
	Disable  bool       `yaml:"disable"`
}

type secret struct {
	File        string `yaml:"file"`
	Environment string `yaml:"environment"`
	External    bool   `yaml:"external"`
}

// stringList is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	return n.Decode((*[]string)(l))
}

// build is `build: <context>` or `build: {context, dockerfile}`.
type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *build) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain build
	return n.Decode((*plain)(b))
}

// dependsOn is a list of service names or a map of name to {condition}.
type dependsOn map[string]struct {
	Condition string `yaml:"condition"`
}

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		*d = dependsOn{}
		for _, name := range names {
			(*d)[name] = struct {
				Condition string `yaml:"condition"`
			}{"service_started"}
		}
		return nil
	}
	return n.Decode((*map[string]struct {
		Condition string `yaml:"condition"`
	})(d))
}

// environment is a map (values of any scalar type) or a list of NAME=value.
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	*e = environment{}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			name, value, _ := strings.Cut(item.Value, "=")
			(*e)[name] = value
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			(*e)[n.Content[i].Value] = n.Content[i+1].Value
		}
	default:
		return fmt.Errorf("line %d: environment must be a map or a list", n.Line)
	}
	return nil
}

// mount is a service volume, short ("src:dst[:ro]") or long syntax.
type mount struct {
	Type     string `yaml:"type"`
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only"`
}

func (m *mount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		type plain mount
		return n.Decode((*plain)(m))
	}
	parts := strings.Split(n.Value, ":")
	switch len(parts) {
	case 1:
		m.Type, m.Target = "volume", parts[0]
		return nil
	case 2, 3:
		m.Source, m.Target = parts[0], parts[1]
		m.Type = "volume"
		if strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, "~") {
			m.Type = "bind"
		}
		if len(parts) == 3 {
			m.ReadOnly = slices.Contains(strings.Split(parts[2], ","), "ro")
		}
		return nil
	}
	return fmt.Errorf("line %d: volume %q: want source:target[:mode]", n.Line, n.Value)
}

func (m mount) bind() bool { return m.Type == "bind" }

// secretRef is a service's use of a secret: a name or {source, target}.
type secretRef struct {
	Source string `yaml:"source"`
	Target string `yaml:"target"`
}

func (s *secretRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Source = n.Value
		return nil
	}
	type plain secretRef
	return n.Decode((*plain)(s))
}

func (s secretRef) mountPath() string {
	switch {
	case s.Target == "":
		return "/run/secrets/" + s.Source
	case path.IsAbs(s.Target):
		return s.Target
	}
	return "/run/secrets/" + s.Target
}

// port is a published port; a malformed one keeps its error for the test to
// report, so that one bad entry does not hide the rest of the file.
type port struct {
	container int
	err       error
}

func (p *port) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var long struct {
			Target    int    `yaml:"target"`
			Published string `yaml:"published"`
			Protocol  string `yaml:"protocol"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		p.container = long.Target
		if long.Target < 1 || long.Target > 65535 {
			p.err = fmt.Errorf("line %d: port target %d out of range", n.Line, long.Target)
		} else if long.Published != "" {
			_, _, p.err = portRange(long.Published)
		}
		return nil
	}
	p.container, p.err = parsePort(n.Value)
	if p.err != nil {
		p.err = fmt.Errorf("line %d: %w", n.Line, p.err)
	}
	return nil
}

// parsePort parses the short syntax [[ip:]published:]container[/protocol]
// and returns the (first) container port.
func parsePort(s string) (int, error) {
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return 0, fmt.Errorf("port %q: unknown protocol %q", s, proto)
	}
	rest, container := "", spec
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		rest, container = spec[:i], spec[i+1:]
	}
	first, n, err := portRange(container)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", s, err)
	}
	if rest == "" {
		return first, nil
	}
	ip, published := "", rest
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		ip, published = strings.Trim(rest[:i], "[]"), rest[i+1:]
		if net.ParseIP(ip) == nil {
			return 0, fmt.Errorf("port %q: %q is not an IP address", s, ip)
		}
	}
	if published != "" {
		_, m, err := portRange(published)
		if err != nil {
			return 0, fmt.Errorf("port %q: %w", s, err)
		}
		if m != n && m != 1 {
			return 0, fmt.Errorf("port %q: published and container ranges differ in size", s)
		}
	}
	return first, nil
}

// portRange parses "p" or "lo-hi", returning the first port and the count.
func portRange(s string) (first, count int, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	a, errA := strconv.Atoi(lo)
	b, errB := strconv.Atoi(hi)
	if errA != nil || errB != nil || a < 1 || b > 65535 || a > b {
		return 0, 0, fmt.Errorf("%q is not a port or port range in 1-65535", s)
	}
	return a, b - a + 1, nil
}

// ---- variables ---------------------------------------------------------------

// varRef is one ${NAME<op><arg>} or $NAME in a value of the compose file.
type varRef struct{ name, op, arg string }

var (
	refPattern   = regexp.MustCompile(`\$(\$|\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)`)
	bracedSyntax = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$`)
)

func varRefs(s string) ([]varRef, error) {
	var refs []varRef
	var errs []error
	for _, m := range refPattern.FindAllStringSubmatch(s, -1) {
		body := m[1]
		switch {
		case body == "$": // $$ is a literal $
		case strings.HasPrefix(body, "{"):
			parts := bracedSyntax.FindStringSubmatch(strings.Trim(body, "{}"))
			if parts == nil {
				errs = append(errs, fmt.Errorf("malformed variable reference %q", m[0]))
				continue
			}
			refs = append(refs, varRef{parts[1], parts[2], parts[3]})
		default:
			refs = append(refs, varRef{name: body})
		}
	}
	return refs, errors.Join(errs...)
}

// interpolate resolves variables as Compose does with none of them set:
// defaults apply, everything else becomes empty.
func interpolate(s string) string {
	return refPattern.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		refs, _ := varRefs(m)
		if len(refs) == 1 && (refs[0].op == ":-" || refs[0].op == "-") {
			return refs[0].arg
		}
		return ""
	})
}

func walkScalars(n *yaml.Node, f func(*yaml.Node)) {
	if n.Kind == yaml.ScalarNode {
		f(n)
	}
	for _, c := range n.Content {
		walkScalars(c, f)
	}
}

// commentLines returns the whole-line comments of a YAML file.
func commentLines(raw []byte) []string {
	var out []string
	for line := range strings.Lines(string(raw)) {
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "#") {
			out = append(out, s)
		}
	}
	return out
}

func mentions(lines []string, word string) bool {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(word) + `($|[^A-Za-z0-9_])`)
	return slices.ContainsFunc(lines, re.MatchString)
}

// ---- Dockerfile ----------------------------------------------------------------

type instruction struct {
	line int
	cmd  string // upper case
	args string
}

type stage struct {
	base, name string
	body       []instruction
}

func loadDockerfile(t *testing.T) []stage {
	t.Helper()
	return parseDockerfile(string(readFile(t, "Dockerfile")))
}

// runtimeStage is the last stage of the Dockerfile: the image that runs.
func runtimeStage(t *testing.T) stage {
	t.Helper()
	stages := loadDockerfile(t)
	if len(stages) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return stages[len(stages)-1]
}

// exposed returns the TCP ports a stage EXPOSEs, and the entries that are not
// TCP ports.
func exposed(s stage) (ports []int, bad []string) {
	for _, in := range s.body {
		if in.cmd != "EXPOSE" {
			continue
		}
		for _, f := range strings.Fields(in.args) {
			n, err := strconv.Atoi(strings.TrimSuffix(f, "/tcp"))
			if err != nil || n < 1 || n > 65535 {
				bad = append(bad, f)
				continue
			}
			ports = append(ports, n)
		}
	}
	return ports, bad
}

// configPath returns the --config argument of the stage's CMD.
func configPath(s stage) string {
	cmd, _ := execForm(s, "CMD")
	return flagValue(cmd, "--config")
}

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments as docker build does. FROM
// lines get the defaults of the ARGs declared before the first FROM, as
// docker build without --build-arg would.
func parseDockerfile(src string) []stage {
	var stages []stage
	globalArgs := map[string]string{}
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "ARG" && len(stages) == 0 {
			name, value, _ := strings.Cut(in.args, "=")
			globalArgs[name] = strings.Trim(value, `"`)
			continue
		}
		if in.cmd == "FROM" {
			expanded := os.Expand(in.args, func(name string) string { return globalArgs[name] })
			f := slices.DeleteFunc(strings.Fields(expanded), func(s string) bool { return strings.HasPrefix(s, "--") })
			s := stage{name: strconv.Itoa(len(stages))}
			if len(f) > 0 {
				s.base = f[0]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
		}
	}
	return stages
}

// execForm returns the JSON array of the stage's last cmd instruction.
func execForm(s stage, cmd string) ([]string, error) {
	var args []string
	found := false
	for _, in := range s.body {
		if in.cmd == cmd {
			found = true
			args = nil
			if err := json.Unmarshal([]byte(in.args), &args); err != nil {
				return nil, fmt.Errorf("line %d: %s %s is not a JSON array", in.line, cmd, in.args)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("no %s in the final stage", cmd)
	}
	return args, nil
}

// flagValue returns the value of -flag v, -flag=v or --flag forms in args
// (quotes stripped), or "".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return strings.Trim(args[i+1], `"'`)
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// ---- files -------------------------------------------------------------------

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readLines(t *testing.T, name string) []string {
	t.Helper()
	return strings.Split(string(readFile(t, name)), "\n")
}

// repoPath turns a path from docker-compose.yml into a slash path relative to
// the repository root, refusing anything outside the repository.
func repoPath(p string) (string, error) {
	if path.IsAbs(p) || strings.HasPrefix(p, "~") {
		return "", fmt.Errorf("%s is outside the repository: a fresh checkout would not have it", p)
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%s is outside the repository: a fresh checkout would not have it", p)
	}
	return clean, nil
}

// ignored reports whether an ignore file (.gitignore, .dockerignore) lists
// rel: an exact or glob pattern, anchored or not. Negations are not used in
// this repository and are not supported.
func ignored(patterns []string, rel string) bool {
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
			continue
		}
		p, anywhere := strings.CutPrefix(p, "**/")
		anchored := !anywhere && strings.Contains(strings.TrimSuffix(p, "/"), "/")
		p = strings.TrimPrefix(p, "/")
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
		if ok, _ := path.Match(p, path.Base(rel)); ok && !anchored {
			return true
		}
	}
	return false
}
