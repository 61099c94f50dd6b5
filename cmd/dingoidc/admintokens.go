package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// adminTokenView is an admin API token as the CLI shows it (never the
// token or its hash).
type adminTokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func viewAdminToken(t *storage.AdminToken) adminTokenView {
	return adminTokenView{ID: t.ID, Name: t.Name, Scope: t.Scope, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: optTime(t.ExpiresAt), RevokedAt: optTime(t.RevokedAt), LastUsedAt: optTime(t.LastUsedAt)}
}

// maxAdminTokenTTL bounds --ttl: a token is a standing credential.
const maxAdminTokenTTL = 366 * 24 * time.Hour

func (c *cli) adminTokenCreate(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Create an admin API token (<issuer>/admin/api/v1). It is printed once;\n"+
		"only its SHA-256 is stored. Scope read allows the GET routes, write all.")
	tname := fs.String("name", "", "`NAME` of the token (who or what uses it); recorded as the actor admin-api:token:NAME")
	scope := fs.String("scope", storage.ScopeRead, "`SCOPE`: read or write")
	ttl := fs.Duration("ttl", 720*time.Hour, "lifetime (at most 8784h)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var errs []error
	if n := strings.TrimSpace(*tname); n == "" || len(n) > 64 || !admin.IsUnreserved(n) {
		errs = append(errs, errors.New("--name: required, 1–64 letters, digits and - . _ ~"))
	}
	if *scope != storage.ScopeRead && *scope != storage.ScopeWrite {
		errs = append(errs, fmt.Errorf("--scope: %q; want read or write", *scope))
	}
	if *ttl <= 0 || *ttl > maxAdminTokenTTL {
		errs = append(errs, fmt.Errorf("--ttl: %s; want more than 0 and at most 8784h", *ttl))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s:\n%w", name, err)
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		now := c.now().UTC()
		raw := "dgadm_" + admin.NewSecret()
		t := &storage.AdminToken{ID: admin.NewClientID(), Name: *tname, Hash: admin.HashSecret(raw), Scope: *scope,
			CreatedAt: now, ExpiresAt: now.Add(*ttl)}
		if err := st.CreateAdminToken(ctx, t); err != nil {
			return fmt.Errorf("create admin token: %w", err)
		}
		if err := audit(ctx, st, now, actorCLI, "admin_token.create", t.ID, map[string]any{"name": t.Name, "scope": t.Scope, "expires_at": t.ExpiresAt}); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "WARNING: the admin API token is shown only this once; store it now (if lost: revoke it and create another)\n")
		if o.json {
			return writeJSON(c.stdout, struct {
				Token adminTokenView `json:"token"`
				Value string         `json:"value"`
			}{viewAdminToken(t), raw})
		}
		tw := newTable(c.stdout)
		fmt.Fprintf(tw, "ID\t%s\nNAME\t%s\nSCOPE\t%s\nEXPIRES\t%s\nTOKEN\t%s\n", t.ID, t.Name, t.Scope, formatTime(t.ExpiresAt), raw)
		return tw.Flush()
	})
}

func (c *cli) adminTokenList(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "List admin API tokens (never the tokens themselves).")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		list, err := st.ListAdminTokens(ctx)
		if err != nil {
			return fmt.Errorf("list admin tokens: %w", err)
		}
		if o.json {
			out := make([]adminTokenView, 0, len(list))
			for i := range list {
				out = append(out, viewAdminToken(&list[i]))
			}
			return writeJSON(c.stdout, out)
		}
		tw := newTable(c.stdout)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, formatTime(t.CreatedAt),
				formatTime(t.ExpiresAt), formatTime(t.LastUsedAt), formatTime(t.RevokedAt))
		}
		return tw.Flush()
	})
}

func (c *cli) adminTokenRevoke(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Revoke an admin API token at once.")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		now := c.now().UTC()
		if err := st.RevokeAdminToken(ctx, pos[0], now); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("admin token %q not found", pos[0])
		} else if err != nil {
			return fmt.Errorf("revoke admin token: %w", err)
		}
		if err := audit(ctx, st, now, actorCLI, "admin_token.revoke", pos[0], nil); err != nil {
			return err
		}
		if o.json {
			return writeJSON(c.stdout, map[string]any{"id": pos[0], "revoked": true})
		}
		_, err := fmt.Fprintf(c.stdout, "admin token %q revoked\n", pos[0])
		return err
	})
}
