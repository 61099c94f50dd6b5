package zhezhengding

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// addTestdataSeeds adds every captured answer in testdata/ to f's corpus,
// whole (envelope) or as its content.data (user).
func addTestdataSeeds(f *testing.F, dataOnly bool) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if !dataOnly {
			f.Add(b)
			continue
		}
		var env struct {
			Content struct {
				Data json.RawMessage `json:"data"`
			} `json:"content"`
		}
		if json.Unmarshal(b, &env) == nil && len(env.Content.Data) > 0 {
			f.Add([]byte(env.Content.Data))
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	addTestdataSeeds(f, false)
	for _, s := range []string{
		``, `null`, `[]`, `"x"`, `{}`, `{"success":true}`, `{"success":true,"content":null}`,
		`{"success":true,"content":"x"}`, `{"success":true,"content":{}}`,
		`{"success":"true","content":{"success":true,"responseCode":0,"data":{}}}`,
		`{"success":true,"content":{"success":true,"responseCode":"0","data":null}}`,
		`{"success":false,"content":{"success":true,"responseCode":"0","data":{}},"errorMsg":"throttled"}`,
		`{"success":false,"Code":123,"Message":{"a":1}}`,
		`{"success":true,"content":{"success":false,"responseCode":"240111","responseMessage":"\u0000\u001b[31m` + string(make([]byte, 300)) + `"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		data, err := ParseEnvelope(body)
		if (data == nil) == (err == nil) {
			t.Fatalf("data %q and err %v", data, err)
		}
		if err == nil {
			if !json.Valid(data) || isNull(data) {
				t.Fatalf("success with data %q", data)
			}
			return
		}
		var ae *APIError
		var ge *GatewayError
		if !errors.As(err, &ae) && !errors.As(err, &ge) && !errors.Is(err, ErrUnexpectedAnswer) {
			t.Fatalf("error of no known kind: %v (%T)", err, err)
		}
		if msg := err.Error(); !utf8.ValidString(msg) || len(msg) > 800 {
			t.Fatalf("error message of %d bytes, valid UTF-8 %t", len(msg), utf8.ValidString(msg))
		}
		for _, r := range err.Error() {
			if r < ' ' {
				t.Fatalf("control character in %q", err)
			}
		}
	})
}

func FuzzParseUser(f *testing.F) {
	addTestdataSeeds(f, true)
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"accountId":null}`, `{"accountId":-1}`, `{"accountId":1.5}`, `{"accountId":1e3}`,
		`{"accountId":"123"}`, `{"accountId":" 42 "}`, `{"accountId":123456789012345678901234567890}`,
		`{"accountId":1,"tenantId":"x","realmId":99999999999999999999}`, `{"accountId":1,"employeeCode":7}`,
		`{"accountId":1,"nested":{"a":[1,{"b":2.5}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := parseUser(data)
		if err != nil {
			if !errors.Is(err, ErrUnexpectedAnswer) || u != nil {
				t.Fatalf("user %v, error %v", u, err)
			}
			return
		}
		if !accountIDRE.MatchString(u.AccountID) || u.Attributes["accountId"] != u.AccountID {
			t.Fatalf("account id %q, attribute %#v", u.AccountID, u.Attributes["accountId"])
		}
		if u.TenantID < 0 {
			t.Fatalf("tenant %d", u.TenantID)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case json.Number:
				t.Fatalf("a json.Number is left: %v", x)
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		for k, v := range u.Attributes {
			if v == nil {
				t.Fatalf("attribute %s is nil", k)
			}
			walk(v)
		}
	})
}
