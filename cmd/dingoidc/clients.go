package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// Audit actors (idp/admin).
const actorCLI = admin.ActorCLI

// audit appends an audit event (idp/admin.Audit); details must hold no
// secret.
func audit(ctx context.Context, st storage.Store, now time.Time, actor, action, target string, details any) error {
	return admin.Audit(ctx, st, now, actor, action, target, details)
}

// getClient loads a client, translating ErrNotFound.
func getClient(ctx context.Context, st storage.Store, id string) (*storage.Client, error) {
	cl, err := st.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("client %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get client %q: %w", id, err)
	}
	return cl, nil
}

// errStatic refuses a CLI change to a client from the config file.
func errStatic(id string) error {
	return fmt.Errorf("client %q comes from the config file (clients:); change it there", id)
}

func (c *cli) clientCreate(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Register a client (an OIDC relying party). A confidential client gets a\n"+
		"random secret (32 bytes, base64url), printed once; only its SHA-256 is\n"+
		"stored. Use --public for apps that cannot keep a secret (PKCE).")
	f := addClientFlags(fs, true)
	secretFile := fs.String("secret-file", "", "read the secret from `PATH` instead of generating one (an app moving over keeps its secret; never printed)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var given Secret
	if *secretFile != "" {
		if *f.public {
			return fmt.Errorf("%s: --secret-file and --public exclude each other (a public client has no secret)", name)
		}
		var err error
		if given, err = readSecretFile(*secretFile); err != nil {
			return fmt.Errorf("%s: --secret-file: %w", name, err)
		}
	}
	return c.withStore(ctx, o, func(cfg *FileConfig, st storage.Store) error {
		now := c.now().UTC()
		cl := &storage.Client{ID: *f.id, CreatedAt: now, UpdatedAt: now}
		if cl.ID == "" {
			cl.ID = admin.NewClientID()
		}
		f.apply(fs, cl)
		if cl.Name == "" {
			cl.Name = cl.ID
		}
		if err := checkClient(cfg, cl); err != nil {
			return fmt.Errorf("%s:\n%w", name, err)
		}
		if slices.ContainsFunc(cfg.Clients, func(sc StaticClient) bool { return sc.ID == cl.ID }) {
			return errStatic(cl.ID)
		}
		var secret Secret
		if !cl.Public {
			secret = given
			if secret == "" {
				secret = Secret(admin.NewSecret())
			}
			cl.SecretHash = admin.HashSecret(secret.Value())
		}
		if err := st.CreateClient(ctx, cl); errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("client %q already exists", cl.ID)
		} else if err != nil {
			return fmt.Errorf("create client: %w", err)
		}
		if err := audit(ctx, st, now, actorCLI, "client.create", cl.ID, admin.Details(cl)); err != nil {
			return err
		}
		if cl.Public || given != "" { // nothing to show: no secret, or the operator's own
			if o.json {
				return writeJSON(c.stdout, struct {
					Client clientView `json:"client"`
				}{viewClient(cl)})
			}
			return printClient(c.stdout, cl)
		}
		return c.printSecret(o, cl, secret)
	})
}

func (c *cli) clientList(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "List the registered clients (never their secrets).")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cls, err := st.ListClients(ctx)
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		if o.json {
			out := make([]clientView, 0, len(cls))
			for i := range cls {
				out = append(out, viewClient(&cls[i]))
			}
			return writeJSON(c.stdout, out)
		}
		tw := newTable(c.stdout)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tSTATIC\tUPSTREAMS\tREDIRECT URIS")
		for _, cl := range cls {
			kind := "confidential"
			if cl.Public {
				kind = "public"
			}
			ups := "all"
			if len(cl.Upstreams) > 0 {
				ups = strings.Join(cl.Upstreams, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\n", cl.ID, cl.Name, kind, cl.Static, ups,
				strings.Join(cl.RedirectURIs, " "))
		}
		return tw.Flush()
	})
}

func (c *cli) clientShow(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Show one client (never its secret).")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if o.json {
			return writeJSON(c.stdout, viewClient(cl))
		}
		return printClient(c.stdout, cl)
	})
}

func (c *cli) clientUpdate(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Change a client. Only the flags given change; a repeatable flag given\n"+
		"replaces the whole list, and an empty value clears it (--upstream=\n"+
		"allows every upstream). Making a public client confidential\n"+
		"(--public=false) gives it a secret, shown once.")
	f := addClientFlags(fs, false)
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(cfg *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if cl.Static {
			return errStatic(cl.ID)
		}
		wasPublic := cl.Public
		changed := f.apply(fs, cl)
		if cl.Name == "" {
			cl.Name = cl.ID
		}
		if err := checkClient(cfg, cl); err != nil {
			return fmt.Errorf("%s:\n%w", name, err)
		}
		if len(changed) == 0 {
			fmt.Fprintf(c.stderr, "client %q unchanged\n", cl.ID)
			if o.json {
				return writeJSON(c.stdout, struct {
					Client clientView `json:"client"`
				}{viewClient(cl)})
			}
			return printClient(c.stdout, cl)
		}
		var secret Secret
		switch {
		case wasPublic && !cl.Public:
			secret = Secret(admin.NewSecret())
			cl.SecretHash = admin.HashSecret(secret.Value())
		case !wasPublic && cl.Public:
			cl.SecretHash = nil
		}
		cl.UpdatedAt = c.now().UTC()
		if err := st.UpdateClient(ctx, cl); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("client %q not found", cl.ID)
		} else if err != nil {
			return fmt.Errorf("update client: %w", err)
		}
		details := admin.Details(cl)
		details["changed"] = changed
		if err := audit(ctx, st, cl.UpdatedAt, actorCLI, "client.update", cl.ID, details); err != nil {
			return err
		}
		if secret != "" {
			return c.printSecret(o, cl, secret)
		}
		if o.json {
			return writeJSON(c.stdout, struct {
				Client  clientView `json:"client"`
				Changed []string   `json:"changed"`
			}{viewClient(cl), changed})
		}
		return printClient(c.stdout, cl)
	})
}

func (c *cli) clientDelete(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Delete a client and revoke every grant it holds.")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if cl.Static {
			return errStatic(cl.ID)
		}
		if err := st.DeleteClient(ctx, cl.ID, c.now()); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("client %q not found", cl.ID)
		} else if err != nil {
			return fmt.Errorf("delete client: %w", err)
		}
		if err := audit(ctx, st, c.now(), actorCLI, "client.delete", cl.ID, map[string]any{"name": cl.Name}); err != nil {
			return err
		}
		if o.json {
			return writeJSON(c.stdout, map[string]any{"id": cl.ID, "deleted": true})
		}
		_, err = fmt.Fprintf(c.stdout, "client %q deleted; its grants are revoked\n", cl.ID)
		return err
	})
}

func (c *cli) clientRotateSecret(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "ID", "Give a confidential client a new random secret, printed once. The old\n"+
		"secret stops working at once; grants already issued stay valid.")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(_ *FileConfig, st storage.Store) error {
		cl, err := getClient(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if cl.Static {
			return errStatic(cl.ID)
		}
		if cl.Public {
			return fmt.Errorf("client %q is public: it has no secret", cl.ID)
		}
		secret := Secret(admin.NewSecret())
		cl.SecretHash = admin.HashSecret(secret.Value())
		cl.UpdatedAt = c.now().UTC()
		if err := st.UpdateClient(ctx, cl); err != nil {
			return fmt.Errorf("rotate client secret: %w", err)
		}
		if err := audit(ctx, st, cl.UpdatedAt, actorCLI, "client.rotate_secret", cl.ID, nil); err != nil {
			return err
		}
		return c.printSecret(o, cl, secret)
	})
}
