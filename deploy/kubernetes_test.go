package deploy_test

import (
	"bytes"
	"errors"
	"io"
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

	"gopkg.in/yaml.v3"
)

const kustomizeDir = "deploy/kubernetes"

// k8sObject is the part of a Kubernetes object the checks read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec yaml.Node         `yaml:"spec"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Env   []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				SecretKeyRef *struct {
					Name string `yaml:"name"`
					Key  string `yaml:"key"`
				} `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		ReadinessProbe  *probe `yaml:"readinessProbe"`
		LivenessProbe   *probe `yaml:"livenessProbe"`
		SecurityContext struct {
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name      string                 `yaml:"name"`
		ConfigMap *struct{ Name string } `yaml:"configMap"`
		Secret    *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
		EmptyDir any `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type probe struct {
	HTTPGet struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

// renderKustomize renders the base with `kubectl kustomize`; without
// kubectl (locally only) it reads the listed resources itself, which is
// what kustomize does to this base apart from the ConfigMap name's hash.
func renderKustomize(t *testing.T) []k8sObject {
	t.Helper()
	var raw []byte
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.CommandContext(t.Context(), kubectl, "kustomize", filepath.Join(root, kustomizeDir))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if raw, err = cmd.Output(); err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", kustomizeDir, err, stderr.String())
		}
	} else {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl is not installed (CI installs it: apt-get install kubernetes-client)")
		}
		t.Log("kubectl is not installed (apt-get install kubernetes-client): reading the resources without kustomize")
		var k struct {
			Resources          []string `yaml:"resources"`
			ConfigMapGenerator []struct {
				Name  string   `yaml:"name"`
				Files []string `yaml:"files"`
			} `yaml:"configMapGenerator"`
		}
		if err := yaml.Unmarshal(readFile(t, path.Join(kustomizeDir, "kustomization.yaml")), &k); err != nil {
			t.Fatal(err)
		}
		for _, r := range k.Resources {
			raw = append(raw, "\n---\n"...)
			raw = append(raw, readFile(t, path.Join(kustomizeDir, r))...)
		}
		for _, g := range k.ConfigMapGenerator {
			cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": g.Name}, "data": map[string]string{}}
			for _, f := range g.Files {
				cm["data"].(map[string]string)[path.Base(f)] = string(readFile(t, path.Join(kustomizeDir, f)))
			}
			b, _ := yaml.Marshal(cm)
			raw = append(append(raw, "\n---\n"...), b...)
		}
	}
	var objs []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifests: %v", err)
		}
		if o.Kind != "" {
			objs = append(objs, o)
		}
	}
	return objs
}

// binaryEnv returns the DINGOIDC_* variables the binary reads: the string
// literals of cmd/dingoidc.
func binaryEnv(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "cmd/dingoidc/*.go"))
	re := regexp.MustCompile(`"(DINGOIDC_[A-Z0-9_]+)"`)
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, m := range re.FindAllSubmatch(b, -1) {
			names = append(names, string(m[1]))
		}
	}
	if len(names) == 0 {
		t.Fatal("found no DINGOIDC_ variable in cmd/dingoidc")
	}
	return names
}

// TestKustomize renders deploy/kubernetes and checks it against what the
// binary reads and serves: the config file, ports, probe paths, variables
// and the Secrets its README tells the operator to create.
func TestKustomize(t *testing.T) {
	objs := renderKustomize(t)
	find := func(kind string) *k8sObject {
		for i := range objs {
			if objs[i].Kind == kind {
				return &objs[i]
			}
		}
		t.Fatalf("the base renders no %s", kind)
		return nil
	}
	dep, svc, pdb, ing, cm := find("Deployment"), find("Service"), find("PodDisruptionBudget"), find("Ingress"), find("ConfigMap")

	var ds struct {
		Replicas int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	}
	if err := dep.Spec.Decode(&ds); err != nil {
		t.Fatal(err)
	}
	pod := ds.Template.Spec
	podLabels := ds.Template.Metadata.Labels
	matches := func(sel map[string]string) bool {
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	if ds.Replicas != 2 {
		t.Errorf("Deployment replicas %d, want 2", ds.Replicas)
	}
	if !matches(ds.Selector.MatchLabels) {
		t.Errorf("Deployment selector %v does not match its pods' labels %v", ds.Selector.MatchLabels, podLabels)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	t.Run("non-root, read-only root file system", func(t *testing.T) {
		if r := pod.SecurityContext.RunAsNonRoot; r == nil || !*r {
			t.Error("pod securityContext.runAsNonRoot is not true")
		}
		if u := pod.SecurityContext.RunAsUser; u == nil || *u == 0 {
			t.Error("pod securityContext.runAsUser is not a non-root uid")
		}
		if !c.SecurityContext.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if a := c.SecurityContext.AllowPrivilegeEscalation; a == nil || *a {
			t.Error("allowPrivilegeEscalation is not false")
		}
	})

	// volume name → what backs it; mount path → volume name.
	volumes := map[string]string{}
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			volumes[v.Name] = "configmap:" + v.ConfigMap.Name
		case v.Secret != nil:
			volumes[v.Name] = "secret:" + v.Secret.SecretName
		case v.EmptyDir != nil:
			volumes[v.Name] = "emptydir"
		}
	}
	// backing returns what backs a file path: the volume and the key in it.
	backing := func(p string) (string, string) {
		for _, m := range c.VolumeMounts {
			if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/"); ok {
				return volumes[m.Name], rel
			}
			if p == m.MountPath {
				return volumes[m.Name], ""
			}
		}
		return "", ""
	}

	// The config file the container is started with.
	configFile := flagValue(c.Args, "--config")
	if len(c.Args) == 0 || c.Args[0] != "serve" || configFile == "" {
		t.Fatalf("container args %q, want serve --config FILE", c.Args)
	}
	vol, key := backing(configFile)
	if vol != "configmap:"+cm.Metadata.Name || cm.Data[key] == "" {
		t.Fatalf("--config %s is not a key of the rendered ConfigMap %s (mounted: %s, key %q)", configFile, cm.Metadata.Name, vol, key)
	}
	var cfg struct {
		Issuer    string `yaml:"issuer"`
		Listen    string `yaml:"listen"`
		DataDir   string `yaml:"data_dir"`
		Upstreams []map[string]any
	}
	if err := yaml.Unmarshal([]byte(cm.Data[key]), &cfg); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}

	t.Run("ports and probes", func(t *testing.T) {
		_, listenPort, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			t.Fatalf("config listen %q: %v", cfg.Listen, err)
		}
		portByName := map[string]int{}
		for _, p := range c.Ports {
			portByName[p.Name] = p.ContainerPort
		}
		resolve := func(n yaml.Node) int {
			if p, err := strconv.Atoi(n.Value); err == nil {
				return p
			}
			return portByName[n.Value]
		}
		if len(c.Ports) != 1 || strconv.Itoa(c.Ports[0].ContainerPort) != listenPort {
			t.Errorf("container ports %+v, dingoidc listens on %s", c.Ports, listenPort)
		}
		routes := string(readFile(t, "idp/server.go"))
		for name, want := range map[string]struct {
			p    *probe
			path string
		}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}} {
			if want.p == nil {
				t.Errorf("no %s probe", name)
				continue
			}
			if want.p.HTTPGet.Path != want.path {
				t.Errorf("%s probe path %q, want %s", name, want.p.HTTPGet.Path, want.path)
			}
			if !strings.Contains(routes, `"GET `+want.p.HTTPGet.Path+`"`) {
				t.Errorf("%s probe path %s is not a route of idp/server.go", name, want.p.HTTPGet.Path)
			}
			if got := strconv.Itoa(resolve(want.p.HTTPGet.Port)); got != listenPort {
				t.Errorf("%s probe port %s is not the port dingoidc listens on (%s)", name, got, listenPort)
			}
		}

		var ss struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string    `yaml:"name"`
				Port       int       `yaml:"port"`
				TargetPort yaml.Node `yaml:"targetPort"`
			} `yaml:"ports"`
		}
		if err := svc.Spec.Decode(&ss); err != nil {
			t.Fatal(err)
		}
		if !matches(ss.Selector) {
			t.Errorf("Service selector %v does not match the pods", ss.Selector)
		}
		if len(ss.Ports) != 1 || strconv.Itoa(resolve(ss.Ports[0].TargetPort)) != listenPort {
			t.Errorf("Service ports %+v do not reach port %s", ss.Ports, listenPort)
		}

		var is struct {
			TLS []struct {
				Hosts      []string `yaml:"hosts"`
				SecretName string   `yaml:"secretName"`
			} `yaml:"tls"`
			Rules []struct {
				Host string `yaml:"host"`
				HTTP struct {
					Paths []struct {
						Backend struct {
							Service struct {
								Name string `yaml:"name"`
								Port struct {
									Name   string `yaml:"name"`
									Number int    `yaml:"number"`
								} `yaml:"port"`
							} `yaml:"service"`
						} `yaml:"backend"`
					} `yaml:"paths"`
				} `yaml:"http"`
			} `yaml:"rules"`
		}
		if err := ing.Spec.Decode(&is); err != nil {
			t.Fatal(err)
		}
		issuer, err := url.Parse(cfg.Issuer)
		if err != nil || issuer.Scheme != "https" {
			t.Fatalf("issuer %q is not https", cfg.Issuer)
		}
		if len(is.TLS) == 0 || is.TLS[0].SecretName == "" || !slices.Contains(is.TLS[0].Hosts, issuer.Hostname()) {
			t.Errorf("Ingress TLS %+v does not cover the issuer's host %s", is.TLS, issuer.Hostname())
		}
		if len(is.Rules) == 0 || is.Rules[0].Host != issuer.Hostname() || len(is.Rules[0].HTTP.Paths) == 0 {
			t.Fatalf("Ingress rules %+v do not route the issuer's host %s", is.Rules, issuer.Hostname())
		}
		b := is.Rules[0].HTTP.Paths[0].Backend.Service
		if b.Name != svc.Metadata.Name || b.Port.Name != ss.Ports[0].Name && b.Port.Number != ss.Ports[0].Port {
			t.Errorf("Ingress backend %+v is not the Service %s port %s", b, svc.Metadata.Name, ss.Ports[0].Name)
		}
	})

	t.Run("PodDisruptionBudget", func(t *testing.T) {
		var ps struct {
			MinAvailable *int `yaml:"minAvailable"`
			Selector     struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		}
		if err := pdb.Spec.Decode(&ps); err != nil {
			t.Fatal(err)
		}
		if pdb.APIVersion != "policy/v1" {
			t.Errorf("PodDisruptionBudget apiVersion %s, want policy/v1", pdb.APIVersion)
		}
		if ps.MinAvailable == nil || *ps.MinAvailable < 1 || *ps.MinAvailable >= ds.Replicas {
			t.Errorf("minAvailable %v: want at least 1 and fewer than the %d replicas (else a drain blocks)", ps.MinAvailable, ds.Replicas)
		}
		if !matches(ps.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget selector %v does not match the pods", ps.Selector.MatchLabels)
		}
	})

	// Secrets the manifests use: name → keys.
	used := map[string][]string{}
	t.Run("variables and secrets", func(t *testing.T) {
		known := binaryEnv(t)
		env := map[string]string{}
		for _, e := range c.Env {
			if !slices.Contains(known, e.Name) {
				t.Errorf("env %s is not a variable dingoidc reads (cmd/dingoidc knows %v)", e.Name, known)
			}
			env[e.Name] = e.Value
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				used[e.ValueFrom.SecretKeyRef.Name] = append(used[e.ValueFrom.SecretKeyRef.Name], e.ValueFrom.SecretKeyRef.Key)
			}
		}
		if env["DINGOIDC_STORAGE_DRIVER"] != "postgres" {
			t.Error("DINGOIDC_STORAGE_DRIVER is not postgres: replicas need one shared database")
		}
		for _, name := range []string{"DINGOIDC_SECRET_KEY_FILE", "DINGOIDC_STORAGE_DSN_FILE"} {
			if env[name] == "" {
				t.Errorf("%s is not set: the master key and the DSN come from Secrets", name)
			}
		}
		// Every file the pod is told to read: a key of a mounted Secret.
		files := []string{}
		for name, v := range env {
			if strings.HasSuffix(name, "_FILE") {
				files = append(files, v)
			}
		}
		for _, u := range cfg.Upstreams {
			for k, v := range u {
				if s, ok := v.(string); ok && strings.HasSuffix(k, "_file") {
					files = append(files, s)
				}
			}
		}
		for _, f := range files {
			vol, key := backing(f)
			secret, ok := strings.CutPrefix(vol, "secret:")
			if !ok || key == "" {
				t.Errorf("%s is not a key of a mounted Secret (%q)", f, vol)
				continue
			}
			used[secret] = append(used[secret], key)
		}
		// The data directory is writable although the root file system is not.
		if vol, _ := backing(cfg.DataDir); vol != "emptydir" {
			t.Errorf("data_dir %s is not an emptyDir mount (the root file system is read-only)", cfg.DataDir)
		}
		if vol, _ := backing("/tmp"); vol != "emptydir" {
			t.Error("/tmp is not an emptyDir mount")
		}
	})

	t.Run("the README creates every Secret", func(t *testing.T) {
		docs := string(readFile(t, path.Join(kustomizeDir, "README.md")))
		for secret, keys := range used {
			re := regexp.MustCompile(`create secret generic ` + regexp.QuoteMeta(secret) + `\b([^\n]*)`)
			m := re.FindStringSubmatch(docs)
			if m == nil {
				t.Errorf("%s/README.md does not create the Secret %s", kustomizeDir, secret)
				continue
			}
			for _, k := range keys {
				if !regexp.MustCompile(`--from-(file|literal)=` + regexp.QuoteMeta(k) + `=`).MatchString(m[1]) {
					t.Errorf("%s/README.md creates the Secret %s without the key %s", kustomizeDir, secret, k)
				}
			}
		}
		var is struct {
			TLS []struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"tls"`
		}
		_ = ing.Spec.Decode(&is)
		for _, tls := range is.TLS {
			if !strings.Contains(docs, "create secret tls "+tls.SecretName) {
				t.Errorf("%s/README.md does not create the Ingress's TLS Secret %s", kustomizeDir, tls.SecretName)
			}
		}
	})
}
