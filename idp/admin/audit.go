package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// Audit actors. The admin API's actors are TokenActor and SessionActor.
const (
	ActorCLI    = "cli"
	ActorConfig = "config"
)

// TokenActor names an admin API token in the audit log.
func TokenActor(name string) string { return "admin-api:token:" + name }

// SessionActor names a console admin in the audit log.
func SessionActor(subject string) string { return "admin:" + subject }

// Audit appends an audit event; details (a JSON object, nil for {}) must
// hold no secret.
func Audit(ctx context.Context, st storage.Store, now time.Time, actor, action, target string, details any) error {
	d := []byte("{}")
	if details != nil {
		var err error
		if d, err = json.Marshal(details); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	err := st.AppendAudit(ctx, &storage.AuditEvent{
		Time: now.UTC(), Actor: actor, Action: action, Target: target, Details: d,
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
