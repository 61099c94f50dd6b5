package zhezhengding

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseToken: /gettoken.json's data yields a usable token and a
// lifetime within bounds, or ErrUnexpectedAnswer.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		`{"accessToken":"app_abc","expiresIn":7200}`, `{"accessToken":"t","expiresIn":"7200"}`, `{"accessToken":"t","expiresIn":" 1e3 "}`,
		`{"accessToken":"t","expiresIn":0}`, `{"accessToken":"t","expiresIn":-1}`, `{"accessToken":"t","expiresIn":1e400}`,
		`{"accessToken":"t","expiresIn":"NaN"}`, `{"accessToken":"t","expiresIn":"Inf"}`, `{"accessToken":"a b","expiresIn":1}`,
		`{"accessToken":7,"expiresIn":1}`, `{"accessToken":null}`, `[]`, `null`, ``, `{"accessToken":"t","expiresIn":"0x10"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, ttl, err := parseToken(json.RawMessage(data))
		if err != nil {
			if !errors.Is(err, ErrUnexpectedAnswer) || tok != "" || ttl != 0 {
				t.Fatalf("token %q ttl %v err %v", tok, ttl, err)
			}
			return
		}
		if tok == "" || len(tok) > 512 || strings.ContainsFunc(tok, isSpaceOrControl) {
			t.Fatalf("token %q", tok)
		}
		if ttl < time.Second || ttl > 366*24*time.Hour {
			t.Fatalf("lifetime %v", ttl)
		}
	})
}

// FuzzListOf: the list inside an answer is a JSON array when one was
// found, and data unchanged otherwise.
func FuzzListOf(f *testing.F) {
	for _, s := range []string{`[1,2]`, `{"data":[{"a":1}]}`, `{"items":[]}`, `{"data":{"list":[1]}}`, `{"records":"x"}`, `{}`, `null`, `{"data":[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := listOf(json.RawMessage(data))
		if string(out) == string(data) {
			return
		}
		var list []json.RawMessage
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatalf("listOf(%q) = %q, not a list: %v", data, out, err)
		}
	})
}
