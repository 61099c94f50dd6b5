package zhezhengding

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Enrichment APIs.
const (
	positionsPath     = "/mozi/employee/listEmployeePositionsByEmployeeCode"
	organizationsPath = "/mozi/organization/listOrganizationsByCodes"
)

// Organisation names are cached this long, at most orgCacheMax of them.
const (
	orgCacheTTL = 10 * time.Minute
	orgCacheMax = 10000
)

// orgPair is the key pair of the organisation lookups: the in-app
// (micro-app) pair when configured, as real integrations use; else the
// scan-login pair, which the gateway typically refuses there (300037
// 没有组织的操作权限; docs/upstreams.md §1, More about the person).
func (p *Provider) orgPair() *tokenSource {
	if p.inApp != nil {
		return p.inApp
	}
	return p.scan
}

// groups returns the names of the organisations the person holds a
// position in, main job first. The mozi APIs take no access_token: the
// gateway signature (orgPair) authenticates. Every position is asked for
// (the API returns the main job only unless told), active ones only.
func (p *Provider) groups(ctx context.Context, tenantID int64, employeeCode string) ([]string, error) {
	tenant := strconv.FormatInt(tenantID, 10)
	c := p.orgPair().c
	data, err := c.call(ctx, http.MethodPost, positionsPath, url.Values{
		"employeeCode":           {employeeCode},
		"tenantId":               {tenant},
		"employeePositionType":   {"EMPLOYEE_POSITION_ALL"},
		"employeePositionStatus": {"A"},
	})
	if err != nil {
		return nil, fmt.Errorf("list positions: %w", err)
	}
	var positions []struct {
		OrganizationCode text `json:"organizationCode"`
		MainJob          flag `json:"mainJob"`
	}
	if err := json.Unmarshal(listOf(data), &positions); err != nil {
		return nil, fmt.Errorf("list positions: %w", unexpected("positions are not a list of objects"))
	}
	var codes []string
	seen := map[string]bool{}
	for _, main := range []bool{true, false} {
		for _, pos := range positions {
			c := string(pos.OrganizationCode)
			if bool(pos.MainJob) == main && c != "" && !seen[c] {
				seen[c] = true
				codes = append(codes, c)
			}
		}
	}
	if len(codes) == 0 {
		return nil, nil
	}

	names, missing := p.orgs.lookup(tenant, codes, p.now())
	if len(missing) > 0 {
		data, err := c.call(ctx, http.MethodPost, organizationsPath, url.Values{
			"organizationCodes": missing,
			"tenantId":          {tenant},
		})
		if err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		var orgs []struct {
			OrganizationCode text `json:"organizationCode"`
			OrganizationName text `json:"organizationName"`
		}
		if err := json.Unmarshal(listOf(data), &orgs); err != nil {
			return nil, fmt.Errorf("list organizations: %w", unexpected("organizations are not a list of objects"))
		}
		found := map[string]string{}
		for _, o := range orgs {
			if o.OrganizationCode != "" && o.OrganizationName != "" {
				found[string(o.OrganizationCode)] = string(o.OrganizationName)
			}
		}
		p.orgs.store(tenant, found, p.now())
		for c, n := range found {
			names[c] = n
		}
	}
	var groups []string
	for _, c := range codes {
		if n := names[c]; n != "" {
			groups = append(groups, n)
		}
	}
	return groups, nil
}

// listOf returns data if it is a list, else the first list among the
// fields of an object (some deployments wrap lists in a page object),
// else data.
func listOf(data json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	for _, k := range []string{"data", "items", "list", "result", "records"} {
		if v, ok := m[k]; ok && len(v) > 0 && v[0] == '[' {
			return v
		}
	}
	return data
}

// orgCache holds organisation names by tenant and code.
type orgCache struct {
	mu sync.Mutex
	m  map[string]orgEntry
}

type orgEntry struct {
	name    string
	expires time.Time
}

// lookup returns the cached names of codes and the codes it lacks.
func (c *orgCache) lookup(tenant string, codes []string, now time.Time) (map[string]string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := map[string]string{}
	var missing []string
	for _, code := range codes {
		if e, ok := c.m[tenant+"/"+code]; ok && now.Before(e.expires) {
			names[code] = e.name
		} else {
			missing = append(missing, code)
		}
	}
	return names, missing
}

func (c *orgCache) store(tenant string, names map[string]string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(names) > orgCacheMax {
		c.m = map[string]orgEntry{}
	}
	for code, name := range names {
		c.m[tenant+"/"+code] = orgEntry{name: name, expires: now.Add(orgCacheTTL)}
	}
}
