package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// client is the static client as the store holds it, without its secret
// hash (see reconcileStaticClients).
func (sc StaticClient) client() *storage.Client {
	return &storage.Client{
		ID:                     sc.ID,
		Name:                   sc.Name,
		RedirectURIs:           sc.RedirectURIs,
		PostLogoutRedirectURIs: sc.PostLogoutRedirectURIs,
		Public:                 sc.Public,
		Upstreams:              sc.Upstreams,
		AccessTokenFormat:      sc.AccessTokenFormat,
		AllowedGroups:          sc.AllowedGroups,
		AllowedTenants:         sc.AllowedTenants,
		LegacyAPI:              sc.LegacyAPI,
		Static:                 true,
	}
}

// reconcileStaticClients makes the store's static clients match the config
// file's `clients` through idp/admin.Reconcile (creates, updates, deletes,
// audited with actor "config"). serve calls it at start.
func reconcileStaticClients(ctx context.Context, st storage.Store, clients []StaticClient, logger *slog.Logger) error {
	want := make([]storage.Client, 0, len(clients))
	for _, sc := range clients {
		cl := sc.client()
		if !sc.Public {
			secret, err := sc.secret()
			if err != nil {
				return err
			}
			cl.SecretHash = admin.HashSecret(secret.Value())
		}
		want = append(want, *cl)
	}
	return admin.Reconcile(ctx, st, want, time.Now(), logger)
}
