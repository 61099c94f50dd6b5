package dingtalk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// seeds adds every testdata JSON document (and each person's answers) to
// the fuzz corpus.
func seeds(f *testing.F, add func(b []byte)) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata (%v)", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"x"`, `{"errcode":"0","result":{}}`, `{"errcode":1e400}`,
		`{"errcode":88,"sub_code":40014}`, `{"errcode":0,"result":null}`, `{"errcode":0,"result":[1]}`,
		`{"code":5,"message":["x"],"accessdenieddetail":{"requiredScopes":"Contact.User.Read"}}`,
		`{"unionId":12345678901234567890}`, `{"unionId":"a\u0000b"}`, `{"unionId":" "}`,
		"{\"message\":\"line\\nbreak\\u2028" + strings.Repeat("长", 300) + "\"}",
	} {
		add([]byte(s))
	}
}

// checkText fails unless s is safe for a log line.
func checkText(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s is not UTF-8: %q", what, s)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		t.Errorf("%s holds control characters: %q", what, s)
	}
}

func FuzzParseAPIError(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(400, b); f.Add(403, b); f.Add(500, b) })
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseAPIError(status, body)
		if e == nil || e.Status != status {
			t.Fatalf("parseAPIError(%d) = %+v", status, e)
		}
		msg := e.Error()
		checkText(t, "error", msg)
		if n := utf8.RuneCountInString(e.Message); n > maxText+1 {
			t.Errorf("message of %d runes", n)
		}
		if len(e.RequiredScopes) > 10 {
			t.Errorf("%d scopes", len(e.RequiredScopes))
		}
		_ = badClient(e)
		_ = codeRefused(e)
	})
}

func FuzzParseOAPI(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, result := range []any{nil, new(orgUser), new(department), new(struct {
			UserID      flexString `json:"userid"`
			ContactType flexInt    `json:"contact_type"`
		})} {
			err := parseOAPI(body, result)
			var oe *OAPIError
			switch {
			case err == nil:
			case errors.As(err, &oe):
				if oe.ErrCode == 0 {
					t.Errorf("OAPIError with errcode 0")
				}
				checkText(t, "error", oe.Error())
				_ = oe.tokenInvalid()
			case errors.Is(err, errShape):
				checkText(t, "error", err.Error())
			default:
				t.Fatalf("error %v is neither *OAPIError nor errShape", err)
			}
		}
	})
}

func FuzzParseUser(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b) })
	f.Add([]byte(`{"nick":"张三","unionId":"z21HjQliSzpw0YWCNxmii6u2Os62cZ62iSZ","stateCode":86}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseUser(body)
		if err != nil {
			if !errors.Is(err, errShape) {
				t.Fatalf("error %v is not errShape", err)
			}
			checkText(t, "error", err.Error())
			return
		}
		if u := string(m.UnionID); u == "" || hasSpaceOrControl(u) || !utf8.ValidString(u) {
			t.Errorf("accepted unionId %q", u)
		}
	})
}
