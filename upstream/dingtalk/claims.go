package dingtalk

// DefaultClaims implements upstream.Provider: the built-in claims
// templates over the attributes Exchange reports (see the package
// documentation). The config's `claims` entries override them; an entry
// set to "" removes one.
//
// email is the org e-mail (org_email), which the organisation assigns.
// Without a CorpID it falls back to the personal e-mail of the DingTalk
// account, which anybody can set to anything: it is then marked
// email_verified false. With a CorpID the personal e-mail is never used.
// People without an org e-mail get no email claim; a deployment that
// wants one for everybody adds a synthetic address, e.g.
//
//	claims:
//	  email: "{{with .org_email}}{{.}}{{else}}{{with .job_number}}{{.}}@staff.example.com{{end}}{{end}}"
func (p *Provider) DefaultClaims() map[string]string {
	c := map[string]string{
		"name":               "{{with .name}}{{.}}{{else}}{{.nick}}{{end}}",
		"nickname":           "{{.nick}}",
		"preferred_username": "{{.username}}",
		"picture":            "{{with .avatar}}{{.}}{{else}}{{.avatarUrl}}{{end}}",
		"phone_number":       "{{with .mobile}}{{with $.stateCode}}+{{.}} {{end}}{{.}}{{end}}",
		"union_id":           "{{.unionId}}",
		"corp_id":            "{{.corp_id}}",
		"userid":             "{{.userid}}",
		"job_number":         "{{.job_number}}",
		"groups":             "{{range .groups}}{{.}}\n{{end}}",
		"email":              "{{.org_email}}",
	}
	if p.cfg.CorpID == "" {
		c["email"] = "{{with .org_email}}{{.}}{{else}}{{.personal_email}}{{end}}"
		c["email_verified"] = "{{if .org_email}}true{{else if .personal_email}}false{{end}}"
	}
	return c
}
