package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 with the
// given common name to certFile and keyFile, and returns it.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// servedCN connects to addr and returns the common name of the certificate
// the server presents.
func servedCN(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true}) // the test compares the certificate itself
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestTLSConfigProblems(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cert, key, "a")
	otherCert, otherKey := filepath.Join(dir, "other.pem"), filepath.Join(dir, "other-key.pem")
	writeCert(t, otherCert, otherKey, "b")
	for _, c := range []struct {
		name      string
		tls       TLSConfig
		wantError string
	}{
		{"none", TLSConfig{}, ""},
		{"pair", TLSConfig{CertFile: cert, KeyFile: key}, ""},
		{"cert only", TLSConfig{CertFile: cert}, "tls_key_file: required with tls_cert_file"},
		{"key only", TLSConfig{KeyFile: key}, "tls_cert_file: required with tls_key_file"},
		{"missing file", TLSConfig{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: key}, "no such file"},
		{"key of another certificate", TLSConfig{CertFile: cert, KeyFile: otherKey}, "private key does not match public key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got string
			for _, p := range c.tls.problems() {
				got += p.Error() + "\n"
			}
			if c.wantError == "" && got != "" || !strings.Contains(got, c.wantError) {
				t.Errorf("problems = %q, want %q", got, c.wantError)
			}
		})
	}

	// config check reports them with the other problems, and shows the
	// files, from the file or the environment.
	cfg := writeFile(t, "config.yaml", validConfig(t.TempDir())+"tls_cert_file: "+cert+"\n")
	r := runCLI(t, fakeEnv{}, "config", "check", "--dev", "--config", cfg)
	if got := problems(t, r.err); len(got) != 1 || !strings.Contains(got[0], "tls_key_file: required") {
		t.Errorf("config check with tls_cert_file only: %q", got)
	}
	r = mustRun(t, fakeEnv{"DINGOIDC_TLS_CERT_FILE": cert, "DINGOIDC_TLS_KEY_FILE": key}, "config", "check", "--dev", "--config", cfg, "--json")
	if !strings.Contains(r.stdout, `"tls_cert_file": "`+cert+`"`) || !strings.Contains(r.stdout, `"tls_key_file": "`+key+`"`) {
		t.Errorf("config check --json does not show the TLS files from DINGOIDC_TLS_*:\n%s", r.stdout)
	}
	r = mustRun(t, fakeEnv{"DINGOIDC_TLS_KEY_FILE": key}, "config", "check", "--dev", "--config", cfg)
	if !strings.Contains(r.stdout, "tls_cert_file") || !strings.Contains(r.stdout, "https") {
		t.Errorf("config check does not show https:\n%s", r.stdout)
	}
}

// TestCertReloader: a renewed certificate is served without a restart,
// after SIGHUP or when the files change; a broken renewal keeps the old one.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cert, key, "first")
	var logs bytes.Buffer
	r, err := newCertReloader(cert, key, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		reason string
		err    error
	}
	results := make(chan result)
	r.reloaded = func(reason string, err error) { results <- result{reason, err} }
	tick := make(chan time.Time)
	hup := make(chan os.Signal)
	go r.watch(t.Context(), tick, hup)
	// send and next bound every step, so that a broken reloader fails the
	// test instead of hanging it.
	send := func(f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { f(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the reloader does not take the event")
		}
	}
	next := func() result {
		t.Helper()
		select {
		case res := <-results:
			return res
		case <-time.After(30 * time.Second):
			t.Fatal("no reload")
		}
		return result{}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.NotFoundHandler(), TLSConfig: r.tlsConfig(), ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	addr := ln.Addr().String()
	if got := servedCN(t, addr); got != "first" {
		t.Fatalf("serves %q, want first", got)
	}

	// A tick with unchanged files reloads nothing: the first reload is the
	// SIGHUP's (the watcher handles one event at a time).
	send(func() { tick <- time.Now() })
	send(func() { hup <- syscall.SIGHUP })
	if res := next(); res.reason != "SIGHUP" || res.err != nil {
		t.Fatalf("first reload: %+v, want SIGHUP's", res)
	}

	writeCert(t, cert, key, "second")
	send(func() { hup <- syscall.SIGHUP })
	if res := next(); res.reason != "SIGHUP" || res.err != nil {
		t.Fatalf("reload on SIGHUP: %+v", res)
	}
	if got := servedCN(t, addr); got != "second" {
		t.Errorf("after SIGHUP serves %q, want second", got)
	}

	// Changed files are picked up at the next tick. The modification time
	// alone may not move within the file system's resolution; the size
	// does, as the common name is longer.
	writeCert(t, cert, key, "third, renewed")
	send(func() { tick <- time.Now() })
	if res := next(); res.reason != "files changed" || res.err != nil {
		t.Fatalf("reload on change: %+v", res)
	}
	if got := servedCN(t, addr); got != "third, renewed" {
		t.Errorf("after the files changed serves %q, want the renewed one", got)
	}

	// A renewal that left a key not matching the certificate: logged, and
	// the previous certificate stays.
	writeCert(t, filepath.Join(dir, "x.pem"), key, "fourth")
	send(func() { hup <- syscall.SIGHUP })
	if res := next(); res.err == nil || !strings.Contains(res.err.Error(), "does not match") {
		t.Fatalf("reload of a mismatched pair: %+v, want an error", res)
	}
	if got := servedCN(t, addr); got != "third, renewed" {
		t.Errorf("after a failed reload serves %q, want the previous certificate", got)
	}
	if !strings.Contains(logs.String(), "TLS certificate not reloaded; still serving the previous one") {
		t.Errorf("no log line for the failed reload:\n%s", logs.String())
	}
}

// TestServeTLS: serve with tls_cert_file answers https, and a real SIGHUP
// (what `systemctl reload dingoidc` sends) makes it serve the renewed
// certificate without a restart.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cert, key, "before")
	env := fakeEnv{
		"DINGOIDC_DATA_DIR":      dir,
		"DINGOIDC_LISTEN":        "127.0.0.1:0",
		"DINGOIDC_TLS_CERT_FILE": cert,
		"DINGOIDC_TLS_KEY_FILE":  key,
	}
	ctx, cancel := context.WithCancel(t.Context())
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev"}, env.getenv, strings.NewReader(""), stdoutW, &stderr)
		stdoutW.Close()
	}()
	// serve prints where it listens once the listener is open (and SIGHUP
	// is handled).
	urlRE := regexp.MustCompile(`open http://(127\.0\.0\.1:\d+)/demo`)
	var addr string
	buf := make([]byte, 4096)
	var out []byte
	for addr == "" {
		n, err := stdoutR.Read(buf)
		out = append(out, buf[:n]...)
		if m := urlRE.FindSubmatch(out); m != nil {
			addr = string(m[1])
		} else if err != nil {
			t.Fatalf("serve ended before listening: %v\n%s\n%s", <-done, out, stderr.String())
		}
	}
	go io.Copy(io.Discard, stdoutR)

	if got := servedCN(t, addr); got != "before" {
		t.Fatalf("serves %q, want before", got)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("https /healthz: %d", resp.StatusCode)
	}

	writeCert(t, cert, key, "after SIGHUP")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload happens on serve's own goroutine: wait for its log line.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "TLS certificate reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := servedCN(t, addr); got != "after SIGHUP" {
		t.Errorf("after SIGHUP serves %q, want the new certificate", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
}
