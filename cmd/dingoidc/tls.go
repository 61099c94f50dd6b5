package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// TLSConfig makes dingoidc serve https itself, without a reverse proxy
// (README.md, "Install"; docs/reverse-proxy.md for the proxy instead). Its
// keys sit at the top level of the config file.
type TLSConfig struct {
	// CertFile is the PEM certificate chain, leaf first; KeyFile its
	// private key. Both are re-read on SIGHUP and whenever either file
	// changes, so a renewed certificate needs no restart.
	CertFile string `yaml:"tls_cert_file" json:"tls_cert_file,omitempty"`
	KeyFile  string `yaml:"tls_key_file" json:"tls_key_file,omitempty"`
}

// tlsPollInterval is how often the certificate files are checked for a
// change (a renewal by certbot or acme.sh, a Kubernetes Secret update).
const tlsPollInterval = 5 * time.Second

// enabled reports whether https is configured.
func (t TLSConfig) enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// problems checks that both files are set and load as a pair.
func (t TLSConfig) problems() []error {
	switch {
	case !t.enabled():
		return nil
	case t.CertFile == "":
		return []error{errors.New("tls_cert_file: required with tls_key_file (the certificate chain, PEM)")}
	case t.KeyFile == "":
		return []error{errors.New("tls_key_file: required with tls_cert_file (the certificate's private key, PEM)")}
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		return []error{fmt.Errorf("tls_cert_file, tls_key_file: %v", err)}
	}
	return nil
}

// serveFunc serves HTTP on a listener: plain, or https with the configured
// certificate. With TLS, it loads the certificate now (an error ends the
// start) and reloads it until ctx ends: on SIGHUP (`systemctl reload`) and
// when the files change. Without TLS, SIGHUP is only logged, so that a
// reload never kills the process.
func (t TLSConfig) serveFunc(ctx context.Context, hs *http.Server, logger *slog.Logger) (func(net.Listener) error, error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	context.AfterFunc(ctx, func() { signal.Stop(hup) })
	if !t.enabled() {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					logger.Info("SIGHUP: nothing to reload (no tls_cert_file)")
				}
			}
		}()
		return hs.Serve, nil
	}
	r, err := newCertReloader(t.CertFile, t.KeyFile, logger)
	if err != nil {
		return nil, err
	}
	ticker := time.NewTicker(tlsPollInterval)
	context.AfterFunc(ctx, ticker.Stop)
	go r.watch(ctx, ticker.C, hup)
	hs.TLSConfig = r.tlsConfig()
	return func(ln net.Listener) error { return hs.ServeTLS(ln, "", "") }, nil
}

// certReloader holds the serving certificate and replaces it when its files
// change. A certificate that fails to load (a renewal half written, a key
// that does not match) is logged and the previous one kept.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
	stamp             fileStamp // of the files last loaded; only watch touches it after the start
	// reloaded, when set, is told the reason and result of every reload
	// attempt (tests).
	reloaded func(reason string, err error)
}

// fileStamp identifies the contents of the two files without reading them.
type fileStamp [2]struct {
	mod  time.Time
	size int64
}

func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	r.stamp = r.stat()
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// tlsConfig serves the current certificate; TLS 1.2 at least.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.cert.Load(), nil
		},
	}
}

func (r *certReloader) load() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls_cert_file %s, tls_key_file %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&c)
	return nil
}

func (r *certReloader) stat() fileStamp {
	var s fileStamp
	for i, name := range []string{r.certFile, r.keyFile} {
		if fi, err := os.Stat(name); err == nil {
			s[i].mod, s[i].size = fi.ModTime(), fi.Size()
		}
	}
	return s
}

// watch reloads on every hup and on a tick that finds the files changed,
// until ctx ends.
func (r *certReloader) watch(ctx context.Context, tick <-chan time.Time, hup <-chan os.Signal) {
	for {
		var why string
		select {
		case <-ctx.Done():
			return
		case <-hup:
			why = "SIGHUP"
		case <-tick:
			s := r.stat()
			if s == r.stamp {
				continue
			}
			why = "files changed"
		}
		r.stamp = r.stat()
		err := r.load()
		if err != nil {
			r.logger.Error("TLS certificate not reloaded; still serving the previous one", "reason", why, "err", err)
		} else {
			leaf := r.cert.Load().Leaf
			r.logger.Info("TLS certificate reloaded", "reason", why, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC())
		}
		if r.reloaded != nil {
			r.reloaded(why, err)
		}
	}
}
