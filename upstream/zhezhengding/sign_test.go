package zhezhengding

import (
	"net/url"
	"regexp"
	"testing"
	"time"
)

func TestSignVectors(t *testing.T) {
	const (
		secret = "testsecret"
		ts     = "2024-01-01T12:00:00.000+08:00"
		nonce  = "17040816000001234"
	)
	tests := []struct {
		name   string
		method string
		path   string
		params url.Values
		want   string
	}{
		{
			name:   "getuserinfo_bycode",
			method: "POST",
			path:   "/rpc/oauth2/getuserinfo_bycode.json",
			params: url.Values{
				"access_token": {"app_0123456789abcdef0123456789abcdef"},
				"code":         {"4fa4fdd047db4e5c9c06335c6e6a9a000c0f8f01"},
			},
			want: "Z+ydcH3XTVPWgvQ+CW+jVbr8sR9O4sa/MzJ6t22//Z8=",
		},
		{
			name:   "gettoken with params",
			method: "GET",
			path:   "/gettoken.json",
			params: url.Values{"appkey": {"testkey"}, "appsecret": {"testsecret"}},
			want:   "JYXINAeEVdvwlSnqYRHagpFAo/4nMky9yUeltV1aQ+Y=",
		},
		{
			name:   "gettoken without params",
			method: "GET",
			path:   "/gettoken.json",
			want:   "yLKcA/JylOVhfyponaMPoOhd0UbPmKVgQb9yg79kXmc=",
		},
		{
			name:   "empty values dropped",
			method: "GET",
			path:   "/gettoken.json",
			params: url.Values{"empty": {""}},
			want:   "yLKcA/JylOVhfyponaMPoOhd0UbPmKVgQb9yg79kXmc=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(secret, tt.method, ts, nonce, tt.path, tt.params); got != tt.want {
				t.Errorf("Sign = %q, want %q\nstring to sign: %q", got, tt.want,
					StringToSign(tt.method, ts, nonce, tt.path, tt.params))
			}
		})
	}
}

func TestStringToSign(t *testing.T) {
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"none", nil, "POST\nts\nn\n/p"},
		{"only empty", url.Values{"a": {""}, "b": nil}, "POST\nts\nn\n/p"},
		{"sorted raw", url.Values{"b": {"x y&z"}, "a": {"中文"}}, "POST\nts\nn\n/p\na=中文&b=x y&z"},
		{"repeated", url.Values{"o": {"GO_b", "", "GO_a"}, "t": {"1"}}, "POST\nts\nn\n/p\no=GO_a&o=GO_b&t=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StringToSign("POST", "ts", "n", "/p", tt.params); got != tt.want {
				t.Errorf("StringToSign = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTimestampAndNonce(t *testing.T) {
	at := time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC)
	if got, want := Timestamp(at), "2024-01-01T12:00:00.000+08:00"; got != want {
		t.Errorf("Timestamp = %q, want %q", got, want)
	}
	if got, want := Timestamp(at.Add(7*time.Millisecond)), "2024-01-01T12:00:00.007+08:00"; got != want {
		t.Errorf("Timestamp = %q, want %q", got, want)
	}
	n := Nonce(at)
	if !regexp.MustCompile(`^1704081600000[0-9]{4}$`).MatchString(n) {
		t.Errorf("Nonce = %q, want 13-digit ms + 4 digits", n)
	}
}
