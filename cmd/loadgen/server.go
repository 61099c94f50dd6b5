package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// target is the server under test and the two apps registered on it.
type target struct {
	issuer           string
	pid              int
	storage          string // sqlite, postgres or unknown
	pgDB             string // its PostgreSQL database, if known
	client, secret   string
	client2, secret2 string

	// Set when loadgen started the server.
	cmd     *exec.Cmd
	exited  chan struct{}
	dir     string
	logFile string
	dropDB  func()
}

// startServer starts `dingoidc serve --dev` on a fresh database with an
// auto-approving dev upstream and two apps, and waits until it is ready.
func startServer(ctx context.Context, c *config, stderr io.Writer) (*target, error) {
	dir, err := os.MkdirTemp("", "loadgen-")
	if err != nil {
		return nil, err
	}
	t := &target{dir: dir, storage: c.serve, client: "loadgen-a", client2: "loadgen-b",
		secret: randomHex(24), secret2: randomHex(24)}
	ok := false
	defer func() {
		if !ok {
			t.stop(stderr)
		}
	}()
	bin := c.binary
	if bin == "" {
		bin = filepath.Join(dir, "dingoidc")
		fmt.Fprintln(stderr, "loadgen: building ./cmd/dingoidc…")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dingoidc/dingoidc/cmd/dingoidc")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/dingoidc (run loadgen inside the repository, or give -dingoidc): %v\n%s", err, out)
		}
	}
	env := os.Environ()
	if c.atFormat != "" {
		env = append(env, "DINGOIDC_ACCESS_TOKEN_FORMAT="+c.atFormat)
	}
	storage := "  driver: sqlite\n"
	if c.serve == "postgres" {
		dsn, db, drop, err := createDatabase(ctx, c.pgDSN)
		if err != nil {
			return nil, err
		}
		t.pgDB, t.dropDB = db, drop
		// The DSN by environment, so it never sits in a file.
		env = append(env, "DINGOIDC_STORAGE_DSN="+dsn)
		storage = "  driver: postgres\n"
	}

	// The server must know its own URL (the issuer) before it listens, so
	// the port is chosen here: one the kernel just handed out. Another
	// process may take it in between; then the server fails to listen and
	// we try again with a new one.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		t.issuer = "http://127.0.0.1:" + strconv.Itoa(port)
		cfg := fmt.Sprintf(`issuer: %s
listen: 127.0.0.1:%d
data_dir: %s
storage:
%supstreams:
  - id: dev
    type: dev
    name: loadgen
    auto_approve: "10001"
clients:
  - id: %s
    secret: %s
    redirect_uris: [%q]
  - id: %s
    secret: %s
    redirect_uris: [%q]
`, t.issuer, port, filepath.Join(dir, "data"), storage, t.client, t.secret, c.redirect, t.client2, t.secret2, c.redirect)
		cfgPath := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		t.logFile = filepath.Join(dir, "server-"+strconv.Itoa(attempt)+".log")
		lastErr = t.start(ctx, bin, cfgPath, env)
		if lastErr == nil {
			ok = true
			return t, nil
		}
		log, _ := os.ReadFile(t.logFile)
		if !bytes.Contains(log, []byte("address already in use")) {
			break
		}
	}
	return nil, lastErr
}

// start runs the binary and waits for /readyz.
func (t *target) start(ctx context.Context, bin, cfgPath string, env []string) error {
	logf, err := os.Create(t.logFile)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "serve", "--dev", "--config", cfgPath)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	t.cmd, t.pid, t.exited = cmd, cmd.Process.Pid, make(chan struct{})
	go func() { _ = cmd.Wait(); close(t.exited) }()

	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(2 * time.Minute) // migrations on a busy machine
	for {
		resp, err := hc.Get(t.issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-t.exited:
			t.cmd = nil
			return fmt.Errorf("dingoidc exited before it was ready (%s); its log:\n%s", cmd.ProcessState, tail(t.logFile))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dingoidc not ready after 2 minutes; its log:\n%s", tail(t.logFile))
		}
	}
}

// stop ends the server (gracefully, then by force), drops its database and
// removes its directory.
func (t *target) stop(stderr io.Writer) {
	if t.cmd != nil {
		_ = t.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-t.exited:
		case <-time.After(20 * time.Second):
			fmt.Fprintln(stderr, "loadgen: dingoidc did not stop in 20 s; killing it")
			_ = t.cmd.Process.Kill()
			<-t.exited
		}
		t.cmd = nil
	}
	if t.dropDB != nil {
		t.dropDB()
		t.dropDB = nil
	}
	if t.dir != "" {
		os.RemoveAll(t.dir)
		t.dir = ""
	}
}

// createDatabase makes a fresh, randomly named database on the admin DSN's
// server and returns a DSN for it and a function that drops it.
func createDatabase(ctx context.Context, adminDSN string) (dsn, name string, drop func(), err error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", nil, fmt.Errorf("-pg %q: want a postgres:// URL", adminDSN)
	}
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", "", nil, fmt.Errorf("PostgreSQL at -pg: %w", err)
	}
	defer conn.Close(ctx)
	name = "loadgen_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	drop = func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(dctx, adminDSN)
		if err != nil {
			return
		}
		defer conn.Close(dctx)
		_, _ = conn.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), name, drop, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail returns the last lines of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

var errNoPid = errors.New("no server pid")
