package zhezhengding

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// accountIDRE is an accountId: a decimal integer.
var accountIDRE = regexp.MustCompile(`^[0-9]{1,32}$`)

// user is a person as getuserinfo_bycode / dingtalk_app_user report them.
type user struct {
	AccountID    string         // decimal
	Attributes   map[string]any // every field, numbers as decimal strings
	TenantID     int64          // tenantId, else realmId; 0 when neither
	EmployeeCode string         // "" for super-admins
}

// parseUser reads the data of a user answer. accountId is required (a
// JSON number or a string of digits, kept exactly); every other field is
// kept, JSON numbers as their decimal text, nested values as decoded,
// nulls dropped.
func parseUser(data []byte) (*user, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, unexpected("user data is not an object")
	}
	attrs := make(map[string]any, len(m))
	for k, v := range m {
		if v = numbersAsText(v); v != nil {
			attrs[k] = v
		}
	}
	id, _ := attrs["accountId"].(string)
	id = strings.TrimSpace(id)
	if !accountIDRE.MatchString(id) {
		return nil, unexpected("user data has no usable accountId")
	}
	attrs["accountId"] = id
	u := &user{AccountID: id, Attributes: attrs}
	for _, k := range []string{"tenantId", "realmId"} {
		if s, ok := attrs[k].(string); ok {
			if t, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && t > 0 {
				u.TenantID = t
				break
			}
		}
	}
	u.EmployeeCode, _ = attrs["employeeCode"].(string)
	return u, nil
}

// numbersAsText turns json.Numbers into strings, recursively, so that big
// ids keep every digit wherever the attributes go.
func numbersAsText(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case map[string]any:
		for k, e := range x {
			x[k] = numbersAsText(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersAsText(e)
		}
	}
	return v
}
