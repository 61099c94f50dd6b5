package idp

import (
	"encoding/json"
	"slices"
)

// AdminConfig says who administers dingoidc through the console and the
// admin API's session (config `admin: {subjects, groups}`): a person whose
// subject is listed, or who is in one of the groups. Admin API tokens need
// no listing. The lists are checked on every request.
type AdminConfig struct {
	Subjects []string
	Groups   []string
}

// isAdmin reports whether the person with this subject and these groups
// is an admin.
func (a AdminConfig) isAdmin(sub string, groups []string) bool {
	if sub != "" && slices.Contains(a.Subjects, sub) {
		return true
	}
	for _, g := range groups {
		if g != "" && slices.Contains(a.Groups, g) {
			return true
		}
	}
	return false
}

// claimGroups reads the "groups" claim of a stored user's claims.
func claimGroups(raw []byte) []string {
	var c struct {
		Groups []string `json:"groups"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Groups
}
