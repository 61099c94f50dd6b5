package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dingoidc/dingoidc/idp"
)

// MetricsServeConfig says where /metrics is served. Its keys sit at the top
// level of the config file (README.md, "Operations").
type MetricsServeConfig struct {
	// Listen serves /metrics (only) on its own address, e.g.
	// 127.0.0.1:9090 or :9090 for a scraper in the same network; the main
	// listener then has no /metrics.
	Listen string `yaml:"metrics_listen" json:"metrics_listen,omitempty"`
	// Public serves /metrics on the main listener to anyone. Without it
	// (and without metrics_listen) only loopback peers not forwarded by a
	// proxy get it.
	Public bool `yaml:"metrics_public" json:"metrics_public,omitempty"`
}

func (m MetricsServeConfig) problems() []error {
	if m.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(m.Listen); err != nil {
		return []error{fmt.Errorf("metrics_listen: want host:port or :port (%v)", err)}
	}
	if m.Public {
		return []error{errors.New("metrics_public: has no effect with metrics_listen (the metrics listener serves whoever reaches it)")}
	}
	return nil
}

func (m MetricsServeConfig) idp() idp.MetricsConfig {
	return idp.MetricsConfig{Separate: m.Listen != "", Public: m.Public}
}

// serveMetrics serves h on metrics_listen until ctx ends; it returns at
// once when none is configured. A listener that cannot be opened is an
// error at start.
func (m MetricsServeConfig) serveMetrics(ctx context.Context, h http.Handler, logger *slog.Logger) error {
	if m.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.Listen)
	if err != nil {
		return fmt.Errorf("metrics_listen %s: %w", m.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	logger.Info("metrics serving", "listen", ln.Addr().String())
	return nil
}
