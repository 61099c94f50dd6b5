package nginx

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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// env is the running pair, shared by the tests of the package.
var env struct {
	nginx    string // path of the nginx binary; "" when missing
	issuer   string // https://127.0.0.1:<nginx port>/sso
	roots    *x509.CertPool
	log      syncBuffer // dingoidc's stderr
	nginxLog string     // nginx's access log file
}

// issuerPath is the path prefix the issuer has behind nginx.
const issuerPath = "/sso"

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/nginx setup:", err)
		fmt.Fprintln(os.Stderr, "dingoidc log:\n"+env.log.String())
		os.Exit(1)
	}
	os.Exit(code)
}

func findNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// requireNginx skips without nginx, or fails under CI.
func requireNginx(t *testing.T) {
	t.Helper()
	if env.nginx != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx is not installed (CI=true); install with: apt-get install nginx-light")
	}
	t.Skip("nginx is not installed; install with: apt-get install nginx-light")
}

func setup(m *testing.M) (int, error) {
	env.nginx = findNginx()
	if env.nginx == "" {
		return m.Run(), nil // every test skips (or fails in CI)
	}
	tmp, err := os.MkdirTemp("", "dingoidc-e2e-nginx-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	certFile, keyFile, caFile, err := makeCerts(tmp)
	if err != nil {
		return 0, err
	}

	// nginx's port: a listener this process opens and hands over, so no
	// other process can take the port between choosing and binding it.
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	frontFile, err := front.(*net.TCPListener).File()
	front.Close() // the duplicate in frontFile stays open
	if err != nil {
		return 0, err
	}
	defer frontFile.Close()
	frontAddr := front.Addr().String()
	env.issuer = "https://" + frontAddr + issuerPath

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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backend, stopDingoidc, err := startDingoidc(ctx, bin, tmp, caFile)
	if err != nil {
		return 0, err
	}
	defer stopDingoidc()
	stopNginx, err := startNginx(ctx, tmp, frontAddr, frontFile, backend, certFile, keyFile)
	if err != nil {
		return 0, err
	}
	defer stopNginx()

	if err := waitReady(env.issuer + "/.well-known/openid-configuration"); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// startDingoidc runs `serve --dev` with the issuer behind nginx and returns
// the address it listens on.
func startDingoidc(ctx context.Context, bin, tmp, caFile string) (string, func(), error) {
	cfgFile := filepath.Join(tmp, "config.yaml")
	cfg := fmt.Sprintf("clients:\n  - id: gooidc\n    name: go-oidc\n    secret: %q\n    redirect_uris: [%s]\n", clientSecret, callback)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--dev", "--config", cfgFile)
	cmd.Env = append(os.Environ(),
		"DINGOIDC_ISSUER="+env.issuer,
		"DINGOIDC_LISTEN=127.0.0.1:0",
		"DINGOIDC_DATA_DIR="+filepath.Join(tmp, "data"),
		"DINGOIDC_LOG_FORMAT=json",
		"SSL_CERT_FILE="+caFile, // the providers reach the simulators through the issuer, so through nginx
	)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan error, 1)
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
	stop := func() {
		_ = cmd.Cancel()
		<-exited
	}
	select {
	case addr := <-listen:
		return addr, stop, nil
	case err := <-exited:
		return "", nil, fmt.Errorf("dingoidc exited: %v", err)
	case <-time.After(60 * time.Second):
		stop()
		return "", nil, errors.New("dingoidc did not start within 60s")
	}
}

// nginxConf is the site of docs/reverse-proxy.md, with the test's ports,
// files and a prefix directory for nginx's own files.
var nginxConf = template.Must(template.New("nginx.conf").Parse(`
{{if .Root}}user root root;{{end}}
daemon off;
master_process on;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 64; }
http {
	access_log {{.Dir}}/access.log;
	client_body_temp_path {{.Dir}}/client_body;
	proxy_temp_path {{.Dir}}/proxy;
	fastcgi_temp_path {{.Dir}}/fastcgi;
	uwsgi_temp_path {{.Dir}}/uwsgi;
	scgi_temp_path {{.Dir}}/scgi;

	upstream dingoidc {
		server {{.Backend}};
		keepalive 16;
	}
	server {
		listen {{.Front}} ssl;
		server_name 127.0.0.1;
		ssl_certificate     {{.Cert}};
		ssl_certificate_key {{.Key}};
		ssl_protocols TLSv1.2 TLSv1.3;

		# docs/reverse-proxy.md: the issuer is https://<host>/sso
		location /sso/ {
			proxy_pass http://dingoidc;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $http_host;
			proxy_set_header X-Forwarded-Proto $scheme;
			proxy_set_header X-Forwarded-Host $http_host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Real-IP $remote_addr;
			proxy_buffer_size 16k;
			proxy_buffers 8 16k;
			proxy_read_timeout 60s;
		}
	}
}
`))

// startNginx runs nginx in the foreground on the listener in frontFile (fd 3
// in nginx, announced in the NGINX variable as nginx's own upgrade does).
func startNginx(ctx context.Context, tmp, front string, frontFile *os.File, backend, cert, key string) (func(), error) {
	dir := filepath.Join(tmp, "nginx")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	f, err := os.Create(conf)
	if err != nil {
		return nil, err
	}
	err = nginxConf.Execute(f, map[string]any{
		"Root": os.Geteuid() == 0, "Dir": dir, "Front": front, "Backend": backend, "Cert": cert, "Key": key,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	env.nginxLog = filepath.Join(dir, "access.log")
	cmd := exec.CommandContext(ctx, env.nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
	cmd.Env = append(os.Environ(), "NGINX=3;")
	cmd.ExtraFiles = []*os.File{frontFile}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Cancel()
		<-exited
	}
	select {
	case err := <-exited:
		errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return nil, fmt.Errorf("nginx exited: %v\n%s\n%s", err, out.String(), errLog)
	case <-time.After(200 * time.Millisecond):
		// Started; waitReady checks that it answers.
	}
	return stop, nil
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

func httpsClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.roots}}, Timeout: 20 * time.Second}
}

func waitReady(u string) error {
	hc := httpsClient()
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
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
	return fmt.Errorf("not ready at %s: %w", u, last)
}

// makeCerts writes a test CA and a certificate it signed for 127.0.0.1.
func makeCerts(dir string) (certFile, keyFile, caFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dingoidc e2e nginx CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	certFile, keyFile, caFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	env.roots = x509.NewCertPool()
	env.roots.AddCert(ca)
	for name, b := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
	} {
		if err := os.WriteFile(name, pem.EncodeToMemory(b), 0o600); err != nil {
			return "", "", "", err
		}
	}
	return certFile, keyFile, caFile, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
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
