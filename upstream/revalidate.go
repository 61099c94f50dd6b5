package upstream

import "context"

// Person is someone who logged in through an upstream earlier, as dingoidc
// stored them.
type Person struct {
	// ExternalID is Identity.ExternalID at the login.
	ExternalID string
	// Claims are the claims mapped at the last login (with the default
	// templates: employee_code, tenant_id…).
	Claims map[string]any
}

// Revalidator is implemented by upstreams that can tell, without the
// person, whether someone who logged in earlier may still log in: a person
// removed or disabled upstream loses access at the next refresh instead of
// keeping it until the refresh token's maximum lifetime.
type Revalidator interface {
	// Revalidate returns nil when p may still log in, an error wrapping
	// ErrNotAllowed when they are gone or disabled, and any other error
	// (wrapping ErrUnavailable) when it cannot tell.
	Revalidate(ctx context.Context, p Person) error
}
