package clients

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// env is the running provider, shared by every test in the package.
var env struct {
	issuer  string // https://127.0.0.1:<port>, the TLS front
	caFile  string // PEM of the test CA
	tmp     string
	roots   *x509.CertPool
	certPEM []byte // server certificate and key for 127.0.0.1/localhost
	keyPEM  []byte
	ports   map[string]int // RPs that listen: their port, fixed before dingoidc starts
	log     *syncBuffer    // dingoidc's stderr
}

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/clients setup:", err)
		if env.log != nil {
			fmt.Fprintln(os.Stderr, "dingoidc log:\n"+env.log.String())
		}
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "dingoidc-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	env.tmp = tmp

	// DINGOIDC_E2E_BINARY runs a binary built elsewhere (a release);
	// by default the module's own source is built.
	bin := os.Getenv("DINGOIDC_E2E_BINARY")
	if bin == "" {
		bin = filepath.Join(tmp, "dingoidc")
		root, err := moduleRoot()
		if err != nil {
			return 0, err
		}
		build := exec.Command("go", "build", "-o", bin, "./cmd/dingoidc")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("build dingoidc: %w\n%s", err, out)
		}
	}
	if err := makeCerts(tmp); err != nil {
		return 0, err
	}

	// The TLS front listens first: its port is the issuer's.
	cert, err := tls.X509KeyPair(env.certPEM, env.keyPEM)
	if err != nil {
		return 0, err
	}
	front, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return 0, err
	}
	defer front.Close()
	env.issuer = "https://" + front.Addr().String()

	env.ports = map[string]int{}
	for _, rp := range []string{"apache", "gitlab-basic", "gitlab-query"} {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		env.ports[rp] = p
	}
	cfgFile := filepath.Join(tmp, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(providerConfig()), 0o600); err != nil {
		return 0, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--dev", "--config", cfgFile)
	cmd.Env = append(os.Environ(),
		"DINGOIDC_ISSUER="+env.issuer,
		"DINGOIDC_LISTEN=127.0.0.1:0",
		"DINGOIDC_DATA_DIR="+filepath.Join(tmp, "data"),
		"DINGOIDC_LOG_FORMAT=json",
		"DINGOIDC_LOG_LEVEL=info",
		"SSL_CERT_FILE="+env.caFile, // the providers reach the simulators through the issuer
	)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	env.log = &syncBuffer{}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	defer func() { cancel(); <-exited }()
	listen := make(chan string, 1)
	go func() {
		defer func() { exited <- cmd.Wait() }()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			env.log.WriteString(line + "\n")
			var rec struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "dingoidc serving" {
				listen <- rec.Listen
			}
		}
	}()
	var backend string
	select {
	case backend = <-listen:
	case err := <-exited:
		exited <- err
		return 0, fmt.Errorf("dingoidc exited: %v", err)
	case <-time.After(30 * time.Second):
		return 0, errors.New("dingoidc did not start within 30s")
	}

	target, _ := url.Parse("http://" + backend)
	proxy := httputil.NewSingleHostReverseProxy(target)
	director := proxy.Director
	proxy.Director = func(r *http.Request) {
		host := r.Host
		director(r)
		r.Host = host // dingoidc sees the issuer's host, as behind a real front
		r.Header.Set("X-Forwarded-Proto", "https")
	}
	srv := &http.Server{Handler: recordTokenAuth(proxy), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(front)
	defer srv.Close()

	if err := waitReady(env.issuer + "/.well-known/openid-configuration"); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// providerConfig registers one static client per relying party.
func providerConfig() string {
	var b strings.Builder
	b.WriteString("clients:\n")
	for _, c := range staticClients() {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    secret: %q\n    redirect_uris: [%s]\n", c.id, c.id, clientSecret(c.id), strings.Join(c.redirects, ", "))
		if len(c.logout) > 0 {
			fmt.Fprintf(&b, "    post_logout_redirect_uris: [%s]\n", strings.Join(c.logout, ", "))
		}
	}
	return b.String()
}

type staticClient struct {
	id                string
	redirects, logout []string
}

// clientSecret is a test client's secret, in the characters dingoidc
// allows (letters, digits, - . _ ~).
func clientSecret(id string) string { return "e2e-" + id + "-s3cret.Zq8vLw4nR7pT2mK9xB1cY6~_" }

func staticClients() []staticClient {
	loc := func(port int, path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", port, path) }
	return []staticClient{
		{id: "gooidc", redirects: []string{callbackGoOIDC}},
		{id: "grafana", redirects: []string{grafanaRedirect}, logout: []string{grafanaSignoutReturn}},
		{id: "openid-client", redirects: []string{callbackNode}},
		{id: "apache", redirects: []string{loc(env.ports["apache"], "/protected/redirect_uri")}, logout: []string{loc(env.ports["apache"], "/loggedout.html")}},
		{id: "gitlab-basic", redirects: []string{loc(env.ports["gitlab-basic"], "/users/auth/openid_connect/callback")}},
		{id: "gitlab-query", redirects: []string{loc(env.ports["gitlab-query"], "/users/auth/openid_connect/callback")}},
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the dingoidc module")
	}
	return filepath.Dir(mod), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(u string) error {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.roots}}, Timeout: 5 * time.Second}
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := hc.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
	}
	return fmt.Errorf("provider not ready at %s: %w", u, last)
}

// makeCerts writes a test CA and a server certificate for 127.0.0.1 and
// localhost.
func makeCerts(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dingoidc e2e test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	env.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	env.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	env.caFile = filepath.Join(dir, "ca.pem")
	env.roots = x509.NewCertPool()
	env.roots.AddCert(ca)
	return os.WriteFile(env.caFile, caPEM, 0o644)
}

// tokenAuth records, per client, each of its token requests.
var tokenAuth sync.Map // client_id → []tokenRequest

// tokenRequest is what a client sent to the token endpoint.
type tokenRequest struct {
	Auth  string // "basic", "post", or "basic+post"
	Grant string
	Scope string
}

// recordTokenAuth notes the client authentication of each token request
// on its way through the TLS front.
func recordTokenAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/oauth/token" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			form, _ := url.ParseQuery(string(body))
			var methods []string
			id := form.Get("client_id")
			if u, _, ok := r.BasicAuth(); ok {
				methods = append(methods, "basic")
				if dec, err := url.QueryUnescape(u); err == nil {
					id = dec
				}
			}
			if form.Get("client_secret") != "" {
				methods = append(methods, "post")
			}
			prev, _ := tokenAuth.Load(id)
			p, _ := prev.([]tokenRequest)
			tokenAuth.Store(id, append(p, tokenRequest{strings.Join(methods, "+"), form.Get("grant_type"), form.Get("scope")}))
		}
		next.ServeHTTP(w, r)
	})
}

// tokenRequests are client id's token requests so far.
func tokenRequests(id string) []tokenRequest {
	v, _ := tokenAuth.Load(id)
	p, _ := v.([]tokenRequest)
	return p
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requireTool skips when an external tool is missing, or fails under CI.
func requireTool(t *testing.T, install string, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := os.Stat(n); err == nil {
			continue
		}
		if _, err := exec.LookPath(n); err == nil {
			continue
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI=true); install with: %s", n, install)
		}
		t.Skipf("%s not installed; install with: %s", n, install)
	}
}

// httpsClient trusts the test CA.
func httpsClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.roots}}, Timeout: 20 * time.Second}
}
