package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// Contact types of /topapi/user/getbyunionid.
const (
	contactMember   = 0
	contactExternal = 1
)

// orgUser is the result of /topapi/v2/user/get.
type orgUser struct {
	UserID     flexString    `json:"userid"`
	UnionID    flexString    `json:"unionid"`
	Name       flexString    `json:"name"`
	Avatar     flexString    `json:"avatar"`
	Mobile     flexString    `json:"mobile"`
	Email      flexString    `json:"email"`
	OrgEmail   flexString    `json:"org_email"`
	JobNumber  flexString    `json:"job_number"`
	Title      flexString    `json:"title"`
	DeptIDList []flexInt     `json:"dept_id_list"`
	Active     *bool         `json:"active"`
	Admin      bool          `json:"admin"`
	RoleList   []orgUserRole `json:"role_list"`
}

type orgUserRole struct {
	ID        flexInt    `json:"id"`
	Name      flexString `json:"name"`
	GroupName flexString `json:"group_name"`
}

// department is the result of /topapi/v2/department/get.
type department struct {
	DeptID   flexInt    `json:"dept_id"`
	Name     flexString `json:"name"`
	ParentID flexInt    `json:"parent_id"`
}

// member checks that the person with unionID belongs to the corp and adds
// their org profile to attrs.
func (p *Provider) member(ctx context.Context, unionID string, attrs map[string]any) error {
	op := "look up unionid in corp " + p.cfg.CorpID
	var m struct {
		UserID      flexString `json:"userid"`
		ContactType flexInt    `json:"contact_type"`
	}
	err := p.callOAPI(ctx, "/topapi/user/getbyunionid", map[string]string{"unionid": unionID}, &m)
	var oe *OAPIError
	if errors.As(err, &oe) && oe.code() == oapiNotMember {
		return fmt.Errorf("%s: %w: not a member of corp %s: %w", op, upstream.ErrNotAllowed, p.cfg.CorpID, oe)
	}
	if err != nil {
		return p.oapiFailure(op, err)
	}
	userID := string(m.UserID)
	if userID == "" {
		return fmt.Errorf("%s: %w: %w: no userid", op, upstream.ErrUnavailable, errShape)
	}
	attrs["corp_id"] = p.cfg.CorpID
	attrs["userid"] = userID
	switch m.ContactType {
	case contactMember:
		attrs["contact_type"] = "member"
	case contactExternal:
		if !p.cfg.AdmitExternalContacts {
			return fmt.Errorf("%s: %w: an external contact of corp %s, not a member (admit_external_contacts is off)",
				op, upstream.ErrNotAllowed, p.cfg.CorpID)
		}
		// External contacts have no org profile (the user API does not
		// know them): no groups, roles or org e-mail.
		attrs["contact_type"] = "external"
		return nil
	default:
		return fmt.Errorf("%s: %w: unknown contact_type %d, not a member", op, upstream.ErrNotAllowed, m.ContactType)
	}
	return p.profile(ctx, userID, unionID, attrs)
}

// profile adds the org profile of member userID to attrs.
func (p *Provider) profile(ctx context.Context, userID, unionID string, attrs map[string]any) error {
	op := "get profile of member " + userID
	var u orgUser
	err := p.callOAPI(ctx, "/topapi/v2/user/get", map[string]string{"userid": userID, "language": "zh_CN"}, &u)
	var oe *OAPIError
	if errors.As(err, &oe) && oe.code() == oapiNotMember { // left between the two calls
		return fmt.Errorf("%s: %w: not a member of corp %s: %w", op, upstream.ErrNotAllowed, p.cfg.CorpID, oe)
	}
	if err != nil {
		return p.oapiFailure(op, err)
	}
	if got := string(u.UnionID); got != "" && got != unionID {
		return fmt.Errorf("%s: %w: %w: the profile is of another person", op, upstream.ErrUnavailable, errShape)
	}
	// A missing `active` is not a refusal: DingTalk itself refuses a
	// disabled account at the scan, this is a second check.
	if u.Active != nil && !*u.Active {
		return fmt.Errorf("%s: %w: the DingTalk account is disabled (active: false) in corp %s",
			op, upstream.ErrNotAllowed, p.cfg.CorpID)
	}
	set := func(k string, v flexString) {
		if s := string(v); s != "" {
			attrs[k] = s
		}
	}
	set("name", u.Name)
	set("avatar", u.Avatar)
	set("org_email", u.OrgEmail)
	set("work_email", u.Email)
	set("job_number", u.JobNumber)
	set("title", u.Title)
	if _, ok := attrs["mobile"]; !ok {
		set("mobile", u.Mobile)
	}
	attrs["admin"] = u.Admin

	var roles []string
	for _, r := range u.RoleList {
		if r.Name != "" {
			roles = append(roles, string(r.Name))
		}
	}
	if len(roles) > 0 {
		attrs["roles"] = roles
	}

	var groups, deptIDs []string
	for _, id := range u.DeptIDList {
		deptIDs = append(deptIDs, strconv.FormatInt(int64(id), 10))
		name, err := p.departmentName(ctx, int64(id))
		if err != nil {
			return err
		}
		if name != "" {
			groups = append(groups, name)
		}
	}
	if len(deptIDs) > 0 {
		attrs["dept_ids"] = deptIDs
	}
	if len(groups) > 0 {
		attrs["groups"] = groups
	}
	return nil
}

// deptTTL is how long department names are cached.
const deptTTL = 10 * time.Minute

// maxDepts bounds the department cache; expired names are swept when it
// is full.
const maxDepts = 10000

type deptCache struct {
	mu sync.Mutex
	m  map[int64]deptEntry
}

type deptEntry struct {
	name    string
	expires time.Time
}

// get returns the cached name of department id when it has not expired.
func (c *deptCache) get(id int64, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || !now.Before(e.expires) {
		return "", false
	}
	return e.name, true
}

// departmentName returns the name of department id, cached for deptTTL.
// A department that no longer exists has the name "".
func (p *Provider) departmentName(ctx context.Context, id int64) (string, error) {
	c := &p.depts
	if name, ok := c.get(id, p.now()); ok {
		return name, nil
	}
	key := "dept:" + strconv.FormatInt(id, 10)
	ch := p.sf.DoChan(key, func() (any, error) {
		// A caller that missed the cache just before the previous fetch
		// stored its name must not fetch again.
		if name, ok := c.get(id, p.now()); ok {
			return name, nil
		}
		var d department
		err := p.callOAPI(context.WithoutCancel(ctx), "/topapi/v2/department/get",
			map[string]any{"dept_id": id, "language": "zh_CN"}, &d)
		var oe *OAPIError
		if errors.As(err, &oe) && (oe.code() == oapiDeptNotFound || oe.code() == oapiDeptNotFound2) {
			p.log.DebugContext(ctx, "dingtalk department not found; left out of groups", "dept_id", id)
			err, d.Name = nil, ""
		}
		if err != nil {
			return "", p.oapiFailure("get department "+strconv.FormatInt(id, 10), err)
		}
		name := clean(string(d.Name))
		now := p.now()
		c.mu.Lock()
		if c.m == nil {
			c.m = map[int64]deptEntry{}
		}
		if len(c.m) >= maxDepts {
			for k, v := range c.m {
				if !now.Before(v.expires) {
					delete(c.m, k)
				}
			}
		}
		if len(c.m) < maxDepts {
			c.m[id] = deptEntry{name: name, expires: now.Add(deptTTL)}
		}
		c.mu.Unlock()
		return name, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("get department %d: %w: %w", id, upstream.ErrUnavailable, ctx.Err())
	}
}
