package dingtalksim

import (
	"time"

	"github.com/dingoidc/dingoidc/upstream/simkit"
)

// Options configure a DingTalk simulator. Apps, Corps and People
// left nil are taken from the embedded fixture (see Fixture).
type Options struct {
	Apps   map[string]App  // by AppKey
	Corps  map[string]Corp // by corpId
	People []Person

	CodeTTL    time.Duration    // authCode and in-app code lifetime; default 5 minutes
	TokenTTL   time.Duration    // user and app access tokens; default 7200 s
	RefreshTTL time.Duration    // refresh tokens; default 30 days
	Now        func() time.Time // default time.Now

	// AutoApprove, when set to a unionId, makes the QR page "scan" as that
	// person at once and redirect back, so a client that only follows
	// redirects completes logins.
	AutoApprove string

	// Faults are the misbehaviour knobs; nil gets a private healthy set
	// (see Server.Faults).
	Faults *simkit.Faults

	// MaxEntries bounds each table of live codes and tokens; when one is
	// full the entry closest to expiry is forgotten. Default 10000.
	MaxEntries int
}

// App is an app registered on the DingTalk open platform.
type App struct {
	Name      string `json:"name"` // shown on the QR page
	AppSecret string `json:"appSecret"`
	CorpID    string `json:"corpId"` // the corp the app is registered in
	// RedirectDomains are the callback domains: host names ("sso.example.com"),
	// host:port, or URLs (their host counts).
	RedirectDomains []string `json:"redirectDomains"`
	// Permissions granted to the app, e.g. "Contact.User.Read" (users/me),
	// "Contact.User.mobile" (mobile in users/me) and "qyapi_get_member"
	// (getbyunionid).
	Permissions []string `json:"permissions"`
}

// Corp is an organisation. Its members are the people whose Orgs
// name it. Department 1 is the root; if absent it is added with the corp's
// name.
type Corp struct {
	Name        string       `json:"name"`
	Departments []Department `json:"departments"`
}

// Department is one node of a corp's department tree.
type Department struct {
	ID       int64  `json:"dept_id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parent_id"` // 0 for the root
}

// Person is a DingTalk account, as users/me reports it, with its
// memberships.
type Person struct {
	UnionID   string `json:"unionId"`
	OpenID    string `json:"openId"`
	Nick      string `json:"nick"`
	AvatarURL string `json:"avatarUrl"`
	Mobile    string `json:"mobile"`
	StateCode string `json:"stateCode"` // default "86"
	Email     string `json:"email"`     // personal e-mail, optional
	// Orgs are the person's memberships, by corpId. Empty: in no corp.
	Orgs map[string]Member `json:"orgs"`
}

// Member is a person's record in one corp's address book.
type Member struct {
	UserID      string  `json:"userid"`
	Name        string  `json:"name"`
	Email       string  `json:"email"`     // staff e-mail set by the admin, optional
	OrgEmail    string  `json:"org_email"` // enterprise mailbox, optional
	JobNumber   string  `json:"job_number"`
	Title       string  `json:"title"`
	DeptIDList  []int64 `json:"dept_id_list"`
	Active      bool    `json:"active"`
	Admin       bool    `json:"admin"`
	RoleList    []Role  `json:"role_list"`
	ContactType int     `json:"contact_type"` // 0 internal member, 1 external contact
}

// Role is one entry of a member's role_list.
type Role struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	GroupName string `json:"group_name"`
}
