package zhezhengding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/dingoidc/dingoidc/upstream"
)

// employeePath is the employee lookup (status A active, F inactive).
const employeePath = "/mozi/employee/getEmployeeByCode"

var _ upstream.Revalidator = (*Provider)(nil)

// Revalidate implements upstream.Revalidator with what the configured app
// may look up: the person's employee record (getEmployeeByCode, with the
// org pair), found by the employee_code and tenant_id claims of the last
// login. A tenant no longer in allowed_tenants, a missing record or an
// inactive one (status F) is a leaver. A person without those claims (a
// super-admin has no employee code) cannot be checked.
func (p *Provider) Revalidate(ctx context.Context, person upstream.Person) error {
	const op = "revalidate account"
	code, _ := person.Claims["employee_code"].(string)
	tenantText, _ := person.Claims["tenant_id"].(string)
	tenant, err := strconv.ParseInt(tenantText, 10, 64)
	if code == "" || err != nil || tenant <= 0 {
		return fmt.Errorf("%s %s: %w: no employee_code and tenant_id claims to look the person up by", op, person.ExternalID, upstream.ErrUnavailable)
	}
	if len(p.cfg.AllowedTenants) > 0 && !slices.Contains(p.cfg.AllowedTenants, tenant) {
		return fmt.Errorf("%s %s: %w: tenant %d is no longer in allowed_tenants", op, person.ExternalID, upstream.ErrNotAllowed, tenant)
	}
	data, err := p.orgPair().c.call(ctx, http.MethodPost, employeePath, url.Values{
		"employeeCode": {code},
		"tenantId":     {tenantText},
	})
	if errors.Is(err, errNoData) {
		return fmt.Errorf("%s %s: %w: employee %s is no longer in tenant %d", op, person.ExternalID, upstream.ErrNotAllowed, code, tenant)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w: %w", op, person.ExternalID, upstream.ErrUnavailable, err)
	}
	var e struct {
		EmployeeCode text `json:"employeeCode"`
		Status       text `json:"status"`
	}
	if len(data) == 0 || string(data) == "null" {
		return fmt.Errorf("%s %s: %w: employee %s is no longer in tenant %d", op, person.ExternalID, upstream.ErrNotAllowed, code, tenant)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("%s %s: %w: %w", op, person.ExternalID, upstream.ErrUnavailable, unexpected("employee is not an object"))
	}
	switch {
	case e.EmployeeCode == "":
		return fmt.Errorf("%s %s: %w: employee %s is no longer in tenant %d", op, person.ExternalID, upstream.ErrNotAllowed, code, tenant)
	case e.Status != "" && e.Status != "A":
		return fmt.Errorf("%s %s: %w: employee %s is inactive (status %s)", op, person.ExternalID, upstream.ErrNotAllowed, code, e.Status)
	}
	return nil
}
