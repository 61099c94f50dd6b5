package zzdsim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// zhezhengdingPeopleJSON is the default fixture: three tenants, employees
// with positions in organisations, a super-admin without employeeCode and
// an inactive employee.
//
//go:embed testdata/people.json
var zhezhengdingPeopleJSON []byte

// People is the directory a Zhezhengding simulator serves:
// tenants, accounts that can "scan", and the organisation data of the
// enrichment APIs. Field names are those of the wire format.
type People struct {
	Comment       string         `json:"_comment,omitempty"`
	Tenants       []Tenant       `json:"tenants"`
	Accounts      []Account      `json:"accounts"`
	Organizations []Organization `json:"organizations"`
	Positions     []Position     `json:"positions"`
}

// Tenant is a tenant (租户). realmId equals tenantId on the
// real platform.
type Tenant struct {
	TenantID int64  `json:"tenantId"`
	RealmID  int64  `json:"realmId"`
	Name     string `json:"name"` // realmName and tenantName
}

// Account is a person who can scan, with their employee record.
type Account struct {
	AccountID  int64  `json:"accountId"`
	Account    string `json:"account"`
	LastName   string `json:"lastName"`
	NickNameCn string `json:"nickNameCn"`
	// EmployeeCode is GE_<32 hex>; empty for a super-admin.
	EmployeeCode string `json:"employeeCode,omitempty"`
	TenantID     int64  `json:"tenantId"`
	SuperAdmin   bool   `json:"superAdmin,omitempty"`
	Avatar       string `json:"avatar,omitempty"` // userinfo avatar

	// Employee record (getEmployeeByCode).
	EmpGender     string `json:"empGender,omitempty"` // "1" male, "2" female
	Status        string `json:"status,omitempty"`    // "A" active (default), "F" inactive
	GovEmpAvatar  string `json:"govEmpAvatar,omitempty"`
	GovEmpRemarks string `json:"govEmpRemarks,omitempty"`
	GmtCreate     string `json:"gmtCreate,omitempty"`
}

// Organization is an organisation (listOrganizationsByCodes).
type Organization struct {
	TenantID             int64  `json:"tenantId"`
	OrganizationCode     string `json:"organizationCode"` // GO_<32 hex>
	OrganizationName     string `json:"organizationName"`
	ShortName            string `json:"shortName,omitempty"`
	ParentCode           string `json:"parentCode,omitempty"`
	TypeCode             string `json:"typeCode"`
	TypeName             string `json:"typeName"`
	DivisionCode         string `json:"divisionCode,omitempty"`
	InstitutionLevelCode string `json:"institutionLevelCode,omitempty"`
	DisplayOrder         int    `json:"displayOrder"`
	Status               string `json:"status,omitempty"` // default "A"
	GmtCreate            string `json:"gmtCreate,omitempty"`
}

// Position is one position (任职) of an employee in an
// organisation (listEmployeePositionsByEmployeeCode).
type Position struct {
	TenantID            int64  `json:"tenantId"`
	EmployeeCode        string `json:"employeeCode"`
	OrganizationCode    string `json:"organizationCode"`
	MainJob             bool   `json:"mainJob"`
	GovEmpPosJob        string `json:"govEmpPosJob"`
	OrderInOrganization int    `json:"orderInOrganization"`
	GovEmpPosPhoneNo    string `json:"govEmpPosPhoneNo,omitempty"`
	GovEmpPosAddress    string `json:"govEmpPosAddress,omitempty"`
	Status              string `json:"status,omitempty"` // default "A"
	GmtCreate           string `json:"gmtCreate,omitempty"`
}

// DefaultPeople returns a fresh copy of the built-in fixture
// (testdata/people.json).
func DefaultPeople() (*People, error) {
	return ParsePeople(zhezhengdingPeopleJSON)
}

// ParsePeople parses and validates a people file of the
// fixture's shape. Unknown fields are rejected.
func ParsePeople(data []byte) (*People, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p People
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse zhezhengding people: %w", err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("zhezhengding people: %w", err)
	}
	return &p, nil
}

var (
	employeeCodeRE     = regexp.MustCompile(`^GE_[0-9a-f]{32}$`)
	organizationCodeRE = regexp.MustCompile(`^GO_[0-9a-f]{32}$`)
)

// validate lists every problem at once.
func (p *People) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	tenants := map[int64]bool{}
	for _, t := range p.Tenants {
		if t.TenantID <= 0 || t.RealmID <= 0 || t.Name == "" {
			bad("tenant %d: tenantId, realmId and name are required", t.TenantID)
		}
		if tenants[t.TenantID] {
			bad("tenant %d: duplicate", t.TenantID)
		}
		tenants[t.TenantID] = true
	}
	if len(p.Accounts) == 0 {
		bad("no accounts")
	}
	accounts := map[int64]bool{}
	employees := map[string]int64{} // employeeCode → tenant
	for _, a := range p.Accounts {
		switch {
		case a.AccountID <= 0:
			bad("account %q: accountId must be positive", a.Account)
		case accounts[a.AccountID]:
			bad("account %d: duplicate accountId", a.AccountID)
		}
		accounts[a.AccountID] = true
		if a.Account == "" || a.LastName == "" {
			bad("account %d: account and lastName are required", a.AccountID)
		}
		if !tenants[a.TenantID] {
			bad("account %d: unknown tenant %d", a.AccountID, a.TenantID)
		}
		switch {
		case a.SuperAdmin && a.EmployeeCode != "":
			bad("account %d: a super-admin has no employeeCode", a.AccountID)
		case !a.SuperAdmin && !employeeCodeRE.MatchString(a.EmployeeCode):
			bad("account %d: employeeCode %q is not GE_<32 hex>", a.AccountID, a.EmployeeCode)
		case a.EmployeeCode != "":
			if _, dup := employees[a.EmployeeCode]; dup {
				bad("account %d: duplicate employeeCode", a.AccountID)
			}
			employees[a.EmployeeCode] = a.TenantID
		}
		if a.Status != "" && a.Status != "A" && a.Status != "F" {
			bad("account %d: status %q is not A or F", a.AccountID, a.Status)
		}
	}
	orgs := map[string]int64{}
	for _, o := range p.Organizations {
		if !organizationCodeRE.MatchString(o.OrganizationCode) {
			bad("organization %q: organizationCode is not GO_<32 hex>", o.OrganizationCode)
		}
		if _, dup := orgs[o.OrganizationCode]; dup {
			bad("organization %s: duplicate", o.OrganizationCode)
		}
		if !tenants[o.TenantID] {
			bad("organization %s: unknown tenant %d", o.OrganizationCode, o.TenantID)
		}
		if o.OrganizationName == "" {
			bad("organization %s: organizationName is required", o.OrganizationCode)
		}
		orgs[o.OrganizationCode] = o.TenantID
	}
	for _, o := range p.Organizations {
		if t, ok := orgs[o.ParentCode]; o.ParentCode != "" && (!ok || t != o.TenantID) {
			bad("organization %s: unknown parent %s", o.OrganizationCode, o.ParentCode)
		}
	}
	for _, pos := range p.Positions {
		if t, ok := employees[pos.EmployeeCode]; !ok || t != pos.TenantID {
			bad("position of %s: no such employee in tenant %d", pos.EmployeeCode, pos.TenantID)
		}
		if t, ok := orgs[pos.OrganizationCode]; !ok || t != pos.TenantID {
			bad("position of %s: no organization %s in tenant %d", pos.EmployeeCode, pos.OrganizationCode, pos.TenantID)
		}
	}
	return errors.Join(errs...)
}
