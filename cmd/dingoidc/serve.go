package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/idp/keys"
)

const serveAbout = `Run the OpenID provider.

With --dev: an embedded SQLite file under data_dir, a master key generated
there, the 浙政钉 and DingTalk simulators mounted under /sim/ as upstreams
(unless the config lists upstreams), and a demo app at /demo that logs in
and shows the claims it received. Everything
runs on http://127.0.0.1:8080 unless the config says otherwise.`

// serveCmd runs the provider until ctx ends, then shuts down gracefully.
func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return serveWith(ctx, args, getenv, stdout, stderr, serveHooks{})
}

func serveWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, hooks serveHooks) error {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now}
	fs, o := c.flagSet("serve", "", serveAbout)
	dev := fs.Bool("dev", false, "local demo mode (see above)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(o.config, getenv, loadOptions{Serve: true, Dev: *dev})
	if err != nil {
		return err
	}
	logger := slog.New(idp.LogHandler(cfg.newLogger(stderr).Handler()))
	slog.SetDefault(logger) // zitadel/oidc logs to the default logger
	warnReadableSecrets(cfg, logger)
	tuneGC(getenv, logger)

	mux := http.NewServeMux()
	if *dev && len(cfg.Upstreams) == 0 {
		if cfg.Upstreams, err = mountDevSimulators(cfg.Issuer, mux); err != nil {
			return err
		}
	}
	metrics := idp.NewMetrics()
	cfg.upstreamMetrics = metrics
	icfg, err := cfg.runtimeConfig(ctx, upstreamDeps{
		// Upstreams set their own per-call timeouts; this only bounds a call
		// whose upstream forgot to.
		HTTPClient: &http.Client{Timeout: 2 * time.Minute},
		Logger:     logger,
		Dev:        *dev,
		Issuer:     cfg.Issuer,
		Mount:      func(path string, h http.Handler) { mux.Handle(path, h) },
	})
	if err != nil {
		return err
	}
	st, err := openStoreRetrying(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := reconcileStaticClients(ctx, st, cfg.Clients, logger); err != nil {
		return err
	}
	mk, err := cfg.MasterKey()
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		return err
	}
	km := keys.NewManager(st, sealer, cfg.keysOptions(logger))
	if err := km.Ensure(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}

	srv, err := idp.New(icfg, idp.Deps{Store: st, Keys: km, Logger: logger, Metrics: metrics})
	if err != nil {
		return err
	}
	defer func() { // runs after the HTTP server's Shutdown, before the store closes
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			logger.Error("sign-in log not written at shutdown", "err", err)
		}
	}()
	mux.Handle("/", srv.Handler())
	if *dev {
		if err := mountDemo(ctx, mux, st, cfg.Issuer, logger); err != nil {
			return err
		}
	}

	ln, err := hooks.listen(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	serve, err := cfg.TLSConfig.serveFunc(runCtx, hs, logger)
	if err != nil {
		return err
	}
	if err := cfg.MetricsServe.serveMetrics(runCtx, metrics.Handler(), logger); err != nil {
		return err
	}
	go srv.Run(runCtx, 5*time.Minute)

	logger.Info("dingoidc serving", "issuer", cfg.Issuer, "listen", ln.Addr().String(), "storage", cfg.Storage.Driver, "https", cfg.TLSConfig.enabled(), "version", buildVersion(), "dev", *dev)
	if *dev {
		fmt.Fprintf(stdout, "\ndingoidc (dev) is running: open %s/demo to log in as a test person.\n\n", demoBase(cfg.Issuer, ln.Addr()))
	}
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return shutdown(cfg, srv, hs, logger)
}

// demoBase is the URL to print: the issuer, unless it names port 0.
func demoBase(issuer string, addr net.Addr) string {
	u, err := url.Parse(issuer)
	if err != nil || !strings.HasSuffix(u.Host, ":0") {
		return issuer
	}
	_, port, _ := net.SplitHostPort(addr.String())
	u.Host = strings.TrimSuffix(u.Host, ":0") + ":" + port
	return u.String()
}
