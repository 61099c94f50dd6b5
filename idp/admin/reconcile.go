package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// Reconcile makes the store's static clients match want (the config file's
// `clients`, each with its SecretHash set unless public): it creates the
// missing ones, updates those that differ (secret hash included), deletes
// static clients no longer wanted, and records each change in the audit
// log (actor "config"). A client of the same id created by the CLI or the
// API is taken over (marked static), with a warning. The config owns every
// field of a static client but its id, CreatedAt and Version, which the
// store keeps.
func Reconcile(ctx context.Context, st storage.Store, want []storage.Client, now time.Time, logger *slog.Logger) error {
	existing, err := st.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("reconcile static clients: %w", err)
	}
	byID := make(map[string]*storage.Client, len(existing))
	for i := range existing {
		byID[existing[i].ID] = &existing[i]
	}
	now = now.UTC()
	inFile := make(map[string]bool, len(want))
	for i := range want {
		w := want[i] // a copy: the caller's slice stays as given
		inFile[w.ID] = true
		if err := reconcileOne(ctx, st, &w, byID[w.ID], now, logger); err != nil {
			return fmt.Errorf("reconcile static client %q: %w", w.ID, err)
		}
	}
	for _, cl := range existing {
		if !cl.Static || inFile[cl.ID] {
			continue
		}
		if err := st.DeleteClient(ctx, cl.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("reconcile static client %q: delete: %w", cl.ID, err)
		}
		if err := Audit(ctx, st, now, ActorConfig, "client.delete", cl.ID, map[string]any{"name": cl.Name}); err != nil {
			return err
		}
		logger.InfoContext(ctx, "static client removed", "client_id", cl.ID)
	}
	return nil
}

func reconcileOne(ctx context.Context, st storage.Store, want, cur *storage.Client, now time.Time, logger *slog.Logger) error {
	want.Static = true
	if want.Name == "" {
		want.Name = want.ID
	}
	if want.Public {
		want.SecretHash = nil
	}
	want.CreatedAt, want.UpdatedAt = now, now
	if cur == nil {
		if err := st.CreateClient(ctx, want); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		if err := Audit(ctx, st, now, ActorConfig, "client.create", want.ID, Details(want)); err != nil {
			return err
		}
		logger.InfoContext(ctx, "static client created", "client_id", want.ID)
		return nil
	}
	changed := Changes(cur, want)
	if len(changed) == 0 {
		return nil
	}
	if !cur.Static {
		logger.WarnContext(ctx, "client created by the CLI or the admin API is now managed by the config file", "client_id", want.ID)
	}
	want.CreatedAt = cur.CreatedAt
	if err := st.UpdateClient(ctx, want); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	details := Details(want)
	details["changed"] = changed
	if err := Audit(ctx, st, now, ActorConfig, "client.update", want.ID, details); err != nil {
		return err
	}
	logger.InfoContext(ctx, "static client updated", "client_id", want.ID, "changed", changed)
	return nil
}
