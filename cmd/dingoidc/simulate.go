package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

const simulateAbout = `Run the Zhezhengding (浙政钉 / 专有钉钉) simulator standalone: the login
host's QR page (with a list of test people to "scan" as) and the signed
API host, on one address. Point an upstream's login_host and api_host at
it. Without --app-* flags it serves one demo app whose credentials are
printed at start; --auto-approve makes every QR page log in as that
account at once, for clients that only follow redirects.

In-app (免登) codes: GET /simulator/inapp?app=<in-app key>&account=<accountId>.`

// Demo credentials of `dingoidc simulate` (not secrets: anyone may use
// them against a simulator).
const (
	simDemoAppCode     = "dingoidc_dingoa"
	simDemoAppKey      = "dingoidc-Sim0001"
	simDemoAppSecret   = "q8Zt3LmN0vXc7RbK2wYh5JdF9sPa4GeU1oTi6nCk"
	simDemoInAppKey    = "dingoidc-Sim0002"
	simDemoInAppSecret = "Vw4Hq9Lr2TkN7bXe5GmZ1cYa8JfP3sDu6oRi0nBt"
)

// simulateCmd serves the Zhezhengding simulator until ctx ends, then shuts
// down gracefully.
func simulateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now}
	fs, o := c.flagSet("simulate", "", simulateAbout)
	fs.Lookup("config").Usage = "ignored: the simulator reads no config"
	fs.Lookup("json").Usage = "print the start banner as JSON"
	listen := fs.String("listen", "127.0.0.1:9090", "`ADDR` to listen on")
	autoApprove := fs.String("auto-approve", "", "`ACCOUNT_ID` that scans every QR page at once")
	appCode := fs.String("app-code", simDemoAppCode, "the app's `CODE` (应用标识, the QR page's client_id)")
	appKey := fs.String("app-key", simDemoAppKey, "the scan-login app's `KEY`")
	appSecret := fs.String("app-secret", "", "the scan-login app's `SECRET` (default: the demo secret)")
	inAppKey := fs.String("inapp-key", simDemoInAppKey, "the in-app (免登) pair's `KEY` (empty: none)")
	inAppSecret := fs.String("inapp-secret", "", "the in-app pair's `SECRET` (default: the demo secret)")
	var domains stringList
	fs.Var(&domains, "callback-domain", "a redirect_uri `DOMAIN` (host or host:port) the QR page accepts; repeatable (default: 127.0.0.1 and localhost)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}

	opts := zzdsim.Options{}
	if *autoApprove != "" {
		id, err := strconv.ParseInt(*autoApprove, 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("simulate: --auto-approve %q is not an accountId", *autoApprove)
		}
		opts.AutoApprove = id
	}
	appSecretShown, inAppSecretShown := "(as given)", "(as given)"
	if *appSecret == "" {
		*appSecret, appSecretShown = simDemoAppSecret, simDemoAppSecret
	}
	if *inAppSecret == "" && *inAppKey != "" {
		*inAppSecret, inAppSecretShown = simDemoInAppSecret, simDemoInAppSecret
	}
	if !domains.set {
		domains.values = []string{"127.0.0.1", "localhost"}
	}
	opts.Apps = map[string]zzdsim.App{*appCode: {
		AppKey: *appKey, AppSecret: *appSecret, CallbackDomains: domains.values,
		InAppKey: *inAppKey, InAppSecret: *inAppSecret,
	}}
	sim, err := zzdsim.New(opts)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	hs := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for the Delay fault of a test driving it.
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	base := "http://" + ln.Addr().String()
	banner := simulateBanner{
		Listen: ln.Addr().String(), LoginHost: base, APIHost: base,
		AppCode: *appCode, AppKey: *appKey, AppSecret: appSecretShown,
		InAppKey: *inAppKey, CallbackDomains: domains.values, AutoApprove: opts.AutoApprove,
	}
	if *inAppKey != "" {
		banner.InAppSecret = inAppSecretShown
	}
	for _, t := range sim.People().Tenants {
		for _, a := range sim.People().Accounts {
			if a.TenantID == t.TenantID {
				banner.People = append(banner.People, simulatePerson{
					AccountID: a.AccountID, Name: a.LastName, Account: a.Account,
					TenantID: a.TenantID, Tenant: t.Name, EmployeeCode: a.EmployeeCode, SuperAdmin: a.SuperAdmin,
				})
			}
		}
	}
	if o.json {
		if err := writeJSON(stdout, banner); err != nil {
			return err
		}
	} else {
		banner.print(stdout)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// simulateBanner is what `simulate` prints at start: how to point an
// upstream at it and whom one can log in as.
type simulateBanner struct {
	Listen          string           `json:"listen"`
	LoginHost       string           `json:"login_host"`
	APIHost         string           `json:"api_host"`
	AppCode         string           `json:"app_code"`
	AppKey          string           `json:"app_key"`
	AppSecret       string           `json:"app_secret"` // the demo secret, or "(as given)"
	InAppKey        string           `json:"inapp_app_key,omitempty"`
	InAppSecret     string           `json:"inapp_app_secret,omitempty"`
	CallbackDomains []string         `json:"callback_domains"`
	AutoApprove     int64            `json:"auto_approve,omitempty"`
	People          []simulatePerson `json:"people"`
}

type simulatePerson struct {
	AccountID    int64  `json:"account_id"`
	Name         string `json:"name"`
	Account      string `json:"account"`
	TenantID     int64  `json:"tenant_id"`
	Tenant       string `json:"tenant"`
	EmployeeCode string `json:"employee_code,omitempty"`
	SuperAdmin   bool   `json:"super_admin,omitempty"`
}

func (b simulateBanner) print(w io.Writer) {
	fmt.Fprintf(w, "Zhezhengding simulator listening on %s\n\n", b.LoginHost)
	tw := newTable(w)
	fmt.Fprintf(tw, "  login_host\t%s\n", b.LoginHost)
	fmt.Fprintf(tw, "  api_host\t%s\n", b.APIHost)
	fmt.Fprintf(tw, "  app_code\t%s\n", b.AppCode)
	fmt.Fprintf(tw, "  app_key\t%s\n", b.AppKey)
	fmt.Fprintf(tw, "  app_secret\t%s\n", b.AppSecret)
	if b.InAppKey != "" {
		fmt.Fprintf(tw, "  inapp_app_key\t%s\n", b.InAppKey)
		fmt.Fprintf(tw, "  inapp_app_secret\t%s\n", b.InAppSecret)
	}
	fmt.Fprintf(tw, "  callback domains\t%s\n", strings.Join(b.CallbackDomains, ", "))
	if b.AutoApprove != 0 {
		fmt.Fprintf(tw, "  auto-approve\t%d\n", b.AutoApprove)
	}
	tw.Flush()
	fmt.Fprint(w, "\nTest people (accountId, name, account, tenant, employeeCode):\n")
	tw = newTable(w)
	for _, p := range b.People {
		note := orDash(p.EmployeeCode)
		if p.SuperAdmin {
			note = "super-admin, no employeeCode"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", p.AccountID, p.Name, p.Account, p.Tenant, note)
	}
	tw.Flush()
	fmt.Fprintln(w)
}
