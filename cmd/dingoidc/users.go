package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// userView is a user as `user list --json` shows it.
type userView struct {
	ID          string          `json:"id"`
	Upstream    string          `json:"upstream"`
	ExternalID  string          `json:"external_id"`
	Claims      json.RawMessage `json:"claims"`
	Disabled    bool            `json:"disabled"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	LastLoginAt *time.Time      `json:"last_login_at,omitempty"`
}

func viewUser(u *storage.User) userView {
	v := userView{
		ID: u.ID, Upstream: u.Upstream, ExternalID: u.ExternalID,
		Claims: json.RawMessage(u.Claims), Disabled: u.Disabled,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
	if !json.Valid(v.Claims) {
		v.Claims = json.RawMessage("{}")
	}
	if !u.LastLoginAt.IsZero() {
		t := u.LastLoginAt.UTC()
		v.LastLoginAt = &t
	}
	return v
}

// displayName picks a name from the user's claims for tables.
func displayName(claims []byte) string {
	var m map[string]any
	if json.Unmarshal(claims, &m) != nil {
		return ""
	}
	for _, k := range []string{"name", "preferred_username", "nickname", "email"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func (c *cli) userList(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "List the users (people who logged in), with their mapped claims.")
	upstreamID := fs.String("upstream", "", "only users of upstream `ID`")
	limit := fs.Int("limit", 0, "at most `N` users (0: all)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *limit < 0 {
		return fmt.Errorf("%s: --limit must not be negative", name)
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		users, err := st.ListUsers(ctx, storage.UserFilter{Upstream: *upstreamID, Limit: *limit})
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		if o.json {
			out := make([]userView, 0, len(users))
			for i := range users {
				out = append(out, viewUser(&users[i]))
			}
			return writeJSON(c.stdout, out)
		}
		tw := newTable(c.stdout)
		fmt.Fprintln(tw, "ID\tUPSTREAM\tEXTERNAL ID\tNAME\tSTATUS\tLAST LOGIN")
		for _, u := range users {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Upstream, u.ExternalID,
				orDash(displayName(u.Claims)), status, formatTime(u.LastLoginAt))
		}
		return tw.Flush()
	})
}

func (c *cli) userDisable(ctx context.Context, name string, args []string) error {
	return c.setUserDisabled(ctx, name, args, true,
		"Disable a user: its SSO sessions end, its grants (refresh and access\n"+
			"tokens) are revoked, and it cannot log in until enabled again.")
}

func (c *cli) userEnable(ctx context.Context, name string, args []string) error {
	return c.setUserDisabled(ctx, name, args, false, "Enable a disabled user: it may log in again.")
}

func (c *cli) setUserDisabled(ctx context.Context, name string, args []string, disabled bool, about string) error {
	fs, o := c.flagSet(name, "ID", about+"\nID is the user's subject (see user list).")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id := pos[0]
	action, done := "user.enable", "enabled"
	if disabled {
		action, done = "user.disable", "disabled; its sessions are ended and its grants revoked"
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		if err := st.SetUserDisabled(ctx, id, disabled, c.now()); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("user %q not found", id)
		} else if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := audit(ctx, st, c.now(), actorCLI, action, id, nil); err != nil {
			return err
		}
		if o.json {
			return writeJSON(c.stdout, map[string]any{"id": id, "disabled": disabled})
		}
		_, err := fmt.Fprintf(c.stdout, "user %q %s\n", id, done)
		return err
	})
}
