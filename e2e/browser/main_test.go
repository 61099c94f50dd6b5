package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium; never a browser a tool downloads.
const chromiumPath = "/usr/bin/chromium"

// env is what every test shares: one dingoidc serve --dev, one Chromium.
var env struct {
	missing  string          // why there is no browser ("" when there is one)
	base     string          // http://127.0.0.1:<port>, the issuer
	browser  context.Context // chromedp context of the one Chromium
	messages map[string]map[string]string
	log      *syncBuffer // dingoidc's stdout and stderr
	chromium *syncBuffer // Chromium's stdout and stderr
}

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/browser setup:", err)
		if env.log != nil {
			fmt.Fprintln(os.Stderr, "dingoidc log:\n"+env.log.String())
		}
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		env.missing = fmt.Sprintf("no Chromium at %s (%v)", chromiumPath, err)
		return m.Run(), nil
	}
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	if env.messages, err = loadMessages(root); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "dingoidc-browser-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	// Screenshots of this run only.
	if err := os.RemoveAll(outDir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return 0, err
	}

	bin := filepath.Join(tmp, "dingoidc")
	build := exec.Command("go", "build", "-o", bin, "./cmd/dingoidc")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./cmd/dingoidc: %w\n%s", err, out)
	}
	stop, err := startServer(bin, filepath.Join(tmp, "data"))
	if err != nil {
		return 0, err
	}
	defer stop()

	env.chromium = &syncBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(filepath.Join(tmp, "chromium-profile")),
		chromedp.Headless, // --headless, --hide-scrollbars, --mute-audio
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1024, 900),
		chromedp.CombinedOutput(env.chromium),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The first Run starts Chromium and ties it to the context it gets, so
	// that one must not carry a timeout: bound the start from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Run(browserCtx) }()
	select {
	case err := <-started:
		if err != nil {
			return 0, fmt.Errorf("start %s: %w\n%s", chromiumPath, err, env.chromium.tail(30))
		}
	case <-time.After(30 * time.Second):
		cancelBrowser()
		return 0, fmt.Errorf("%s did not start within 30s\n%s", chromiumPath, env.chromium.tail(30))
	}
	env.browser = browserCtx
	return m.Run(), nil
}

// needBrowser skips the test without Chromium, or fails it in CI.
func needBrowser(t *testing.T) {
	t.Helper()
	if env.missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: CI must install it (apt-get install -y chromium)", env.missing)
	}
	t.Skipf("%s; install it with: apt-get update && apt-get install -y chromium", env.missing)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the dingoidc module")
	}
	return filepath.Dir(gomod), nil
}

// loadMessages reads the page texts, so tests check each page's language
// against the message files rather than against copies of them.
func loadMessages(root string) (map[string]map[string]string, error) {
	all := map[string]map[string]string{}
	for _, l := range []string{"zh-CN", "en"} {
		b, err := os.ReadFile(filepath.Join(root, "web", "messages", l+".json"))
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s.json: %w", l, err)
		}
		all[l] = m
	}
	return all, nil
}

// startServer runs bin serve --dev on a free port and waits for /readyz.
func startServer(bin, dataDir string) (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	env.base = "http://127.0.0.1:" + strconv.Itoa(port)

	cmd := exec.Command(bin, "serve", "--dev")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DINGOIDC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// The console's admin (console_test.go): 张伟 of the 浙政钉 simulator.
	config := filepath.Join(filepath.Dir(dataDir), "config.yaml")
	if err := os.WriteFile(config, []byte("admin:\n  subjects: ["+zzdSub+"]\n"), 0o600); err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, "DINGOIDC_DATA_DIR="+dataDir, "DINGOIDC_LISTEN=127.0.0.1:"+strconv.Itoa(port), "DINGOIDC_CONFIG="+config)
	env.log = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = env.log, env.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(env.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("dingoidc serve --dev exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("dingoidc serve --dev was not ready within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the end of dingoidc's log, for a failing test's output.
func (s *syncBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(s.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
