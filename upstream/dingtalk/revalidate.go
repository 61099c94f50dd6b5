package dingtalk

import (
	"context"

	"github.com/dingoidc/dingoidc/upstream"
)

var _ upstream.Revalidator = (*Provider)(nil)

// Revalidate implements upstream.Revalidator: with a CorpID, the person
// (unionId) must still be a member of the corp (or an admitted external
// contact) and their account active, the checks of a login. Without one
// anybody may log in: there is nothing to check.
func (p *Provider) Revalidate(ctx context.Context, person upstream.Person) error {
	if p.cfg.CorpID == "" {
		return nil
	}
	return p.member(ctx, person.ExternalID, map[string]any{})
}
