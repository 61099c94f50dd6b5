package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// reconcileStaticClients makes the store's static clients match the config
// file's `clients`: it creates the missing ones, updates those that
// differ (including their secret hash), deletes static clients no longer in
// the file, and records each change in the audit log (actor "config"). A
// client of the same id created by the CLI is taken over (marked static),
// with a warning. serve calls it at start.
func reconcileStaticClients(ctx context.Context, st storage.Store, clients []StaticClient, logger *slog.Logger) error {
	existing, err := st.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("reconcile static clients: %w", err)
	}
	byID := make(map[string]*storage.Client, len(existing))
	for i := range existing {
		byID[existing[i].ID] = &existing[i]
	}
	inFile := make(map[string]bool, len(clients))
	for _, sc := range clients {
		inFile[sc.ID] = true
		if err := reconcileClient(ctx, st, sc, byID[sc.ID], logger); err != nil {
			return fmt.Errorf("reconcile static client %q: %w", sc.ID, err)
		}
	}
	for _, cl := range existing {
		if !cl.Static || inFile[cl.ID] {
			continue
		}
		if err := st.DeleteClient(ctx, cl.ID, time.Now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("reconcile static client %q: delete: %w", cl.ID, err)
		}
		if err := audit(ctx, st, time.Now(), actorConfig, "client.delete", cl.ID, map[string]any{"name": cl.Name}); err != nil {
			return err
		}
		logger.InfoContext(ctx, "static client removed", "client_id", cl.ID)
	}
	return nil
}

func reconcileClient(ctx context.Context, st storage.Store, sc StaticClient, cur *storage.Client, logger *slog.Logger) error {
	now := time.Now().UTC()
	want := &storage.Client{
		ID:                     sc.ID,
		Name:                   sc.Name,
		RedirectURIs:           sc.RedirectURIs,
		PostLogoutRedirectURIs: sc.PostLogoutRedirectURIs,
		Public:                 sc.Public,
		Upstreams:              sc.Upstreams,
		AccessTokenFormat:      sc.AccessTokenFormat,
		Static:                 true,
		CreatedAt:              now,
		UpdatedAt:              now,
	}
	if want.Name == "" {
		want.Name = sc.ID
	}
	if !sc.Public {
		secret, err := sc.secret()
		if err != nil {
			return err
		}
		want.SecretHash = hashSecret(secret)
	}
	if cur == nil {
		if err := st.CreateClient(ctx, want); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		if err := audit(ctx, st, now, actorConfig, "client.create", want.ID, clientDetails(want)); err != nil {
			return err
		}
		logger.InfoContext(ctx, "static client created", "client_id", want.ID)
		return nil
	}
	changed := clientChanges(cur, want)
	if len(changed) == 0 {
		return nil
	}
	if !cur.Static {
		logger.WarnContext(ctx, "client created by the CLI is now managed by the config file", "client_id", want.ID)
	}
	want.CreatedAt = cur.CreatedAt
	if err := st.UpdateClient(ctx, want); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	details := clientDetails(want)
	details["changed"] = changed
	if err := audit(ctx, st, now, actorConfig, "client.update", want.ID, details); err != nil {
		return err
	}
	logger.InfoContext(ctx, "static client updated", "client_id", want.ID, "changed", changed)
	return nil
}

// clientChanges names the fields in which want differs from cur ("secret"
// for the secret hash; never a value).
func clientChanges(cur, want *storage.Client) []string {
	var changed []string
	eq := func(a, b []string) bool { return slices.Equal(nonNil(a), nonNil(b)) }
	if cur.Name != want.Name {
		changed = append(changed, "name")
	}
	if !eq(cur.RedirectURIs, want.RedirectURIs) {
		changed = append(changed, "redirect_uris")
	}
	if !eq(cur.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) {
		changed = append(changed, "post_logout_redirect_uris")
	}
	if cur.Public != want.Public {
		changed = append(changed, "public")
	}
	if !eq(cur.Upstreams, want.Upstreams) {
		changed = append(changed, "upstreams")
	}
	if cur.AccessTokenFormat != want.AccessTokenFormat {
		changed = append(changed, "access_token_format")
	}
	if !bytes.Equal(cur.SecretHash, want.SecretHash) {
		changed = append(changed, "secret")
	}
	if cur.Static != want.Static {
		changed = append(changed, "static")
	}
	return changed
}
