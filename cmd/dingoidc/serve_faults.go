package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// Defaults of storage.connect_timeout and shutdown_grace (README,
// "Operations").
const (
	defaultConnectTimeout = 60 * time.Second
	defaultShutdownGrace  = 10 * time.Second
	// shutdownDeadline bounds the wait for requests in flight once the
	// listener is closed (the server's WriteTimeout bounds each of them).
	shutdownDeadline = 35 * time.Second
	// maxConnectBackoff caps the wait between two connection attempts.
	maxConnectBackoff = 5 * time.Second
)

// serveHooks let tests hand serve a listener they already hold.
type serveHooks struct {
	listener net.Listener // used instead of listening on cfg.Listen
}

func (h serveHooks) listen(addr string) (net.Listener, error) {
	if h.listener != nil {
		return h.listener, nil
	}
	return net.Listen("tcp", addr)
}

// openStoreRetrying opens the store, retrying with backoff while the
// database is unreachable, for storage.connect_timeout in all: a database
// that starts after dingoidc (a reboot, a failover) is waited for. Other
// errors (bad DSN, failed migration) end at once.
func openStoreRetrying(ctx context.Context, cfg *FileConfig, log *slog.Logger) (storage.Store, error) {
	limit := cfg.Storage.ConnectTimeout.D()
	if limit <= 0 {
		limit = defaultConnectTimeout
	}
	deadline := time.Now().Add(limit)
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		st, err := openStore(ctx, cfg)
		if err == nil {
			if attempt > 1 {
				log.Info("database reachable", "attempt", attempt)
			}
			return st, nil
		}
		if !errors.Is(err, storage.ErrUnavailable) {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("database unreachable for %s (storage.connect_timeout), giving up: %w", limit, err)
		}
		wait = min(wait, left)
		log.Warn("database unreachable; retrying", "attempt", attempt, "retry_in", wait.String(), "gives_up_in", left.Round(time.Second).String(), "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("database unreachable: %w", ctx.Err())
		}
		wait = min(2*wait, maxConnectBackoff)
	}
}

// drainer is what graceful shutdown needs of the provider.
type drainer interface{ SetDraining() }

// shutdown is serve's graceful end (SIGTERM, SIGINT): /readyz answers 503
// at once so load balancers take this replica out; for shutdown_grace it
// goes on serving whatever still arrives; then it stops accepting and
// waits for the requests in flight to finish.
func shutdown(cfg *FileConfig, srv drainer, hs *http.Server, log *slog.Logger) error {
	grace := cfg.ShutdownGrace.D()
	if grace <= 0 && !cfg.dev { // serve --dev has no load balancer to wait for
		grace = defaultShutdownGrace
	}
	srv.SetDraining()
	log.Info("shutting down: not ready, draining", "shutdown_grace", grace.String())
	time.Sleep(grace)
	log.Info("shutting down: closing the listener, finishing requests in flight")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownDeadline)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
