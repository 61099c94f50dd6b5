package deploy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerfileClosedNetwork: every place the image build fetches from can
// be pointed at a mirror with --build-arg, nothing is fetched behind the
// operator's back (no GOTOOLCHAIN=auto), and README.md shows how.
func TestDockerfileClosedNetwork(t *testing.T) {
	src := string(readFile(t, "Dockerfile"))
	var code []string // instructions without comments, continuations joined
	var cur strings.Builder
	for line := range strings.Lines(src) {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		code = append(code, cur.String())
		cur.Reset()
	}
	var froms []string
	globalArgs := map[string]bool{}
	stageArgs := map[string]bool{}
	for _, in := range code {
		f := strings.Fields(in)
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, in)
		case "ARG":
			name, _, _ := strings.Cut(f[1], "=")
			if len(froms) == 0 {
				globalArgs[name] = true
			} else {
				stageArgs[name] = true
			}
		}
		if strings.Contains(in, "GOTOOLCHAIN=auto") {
			t.Errorf("Dockerfile: %q lets go download a toolchain; a closed network cannot", in)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d FROM lines, want a build and a runtime stage", len(froms))
	}
	for i, want := range map[int]string{0: "BUILDER_IMAGE", len(froms) - 1: "BASE_IMAGE"} {
		if !globalArgs[want] || !strings.Contains(froms[i], "${"+want+"}") {
			t.Errorf("Dockerfile: %q does not take its image from ARG %s (declared before the first FROM)", froms[i], want)
		}
	}
	for _, arg := range []string{"GOPROXY", "GOSUMDB", "VERSION"} {
		if !stageArgs[arg] {
			t.Errorf("Dockerfile: the build stage declares no ARG %s", arg)
		}
	}
	if !slices.ContainsFunc(code, func(in string) bool {
		return strings.HasPrefix(in, "ENV ") && strings.Contains(in, "GOPROXY=${GOPROXY}") && strings.Contains(in, "GOTOOLCHAIN=local")
	}) {
		t.Error("Dockerfile: no ENV GOPROXY=${GOPROXY} with GOTOOLCHAIN=local in the build stage")
	}
	if !slices.ContainsFunc(code, func(in string) bool {
		return strings.Contains(in, "go build") && strings.Contains(in, "-X github.com/dingoidc/dingoidc/buildinfo.version=${VERSION}")
	}) {
		t.Error("Dockerfile: go build does not stamp the version (-X github.com/dingoidc/dingoidc/buildinfo.version=${VERSION})")
	}

	// The builder image's Go is at least go.mod's major.minor.
	goMod := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(readFile(t, "go.mod")))
	builder := parseDockerfile(src)[0].base
	if goMod == nil || !strings.Contains(builder, ":"+goMod[1]) {
		t.Errorf("the default builder image %s is not Go %v (go.mod)", builder, goMod)
	}

	// README.md shows a build from mirrors.
	readme := string(readFile(t, "README.md"))
	for _, want := range []string{"--build-arg BUILDER_IMAGE=", "--build-arg BASE_IMAGE=", "--build-arg GOPROXY="} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not show %s (building the image from a domestic mirror)", want)
		}
	}
}
