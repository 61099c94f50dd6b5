package idp

// CallbackURL is dingoidc's callback for the upstream upstreamID: where
// the upstream's login page sends the person back (its domain must be
// registered with the upstream's app).
func CallbackURL(issuer, upstreamID string) string {
	return issuer + "/login/" + upstreamID + "/callback"
}
