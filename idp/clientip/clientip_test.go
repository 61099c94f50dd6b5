package clientip

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAddr(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		fwd    []string
		want   string
	}{
		{"direct peer", "203.0.113.5:5000", nil, nil, "203.0.113.5"},
		{"untrusted peer's XFF ignored", "203.0.113.5:5000", []string{"1.2.3.4"}, nil, "203.0.113.5"},
		{"untrusted peer's Forwarded ignored", "203.0.113.5:5000", nil, []string{"for=1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy, one hop", "10.1.2.3:443", []string{"198.51.100.9"}, nil, "198.51.100.9"},
		{"client-forged hop left of the real one", "10.1.2.3:443", []string{"6.6.6.6, 198.51.100.9"}, nil, "198.51.100.9"},
		{"two trusted proxies", "10.1.2.3:443", []string{"198.51.100.9, 192.0.2.7"}, nil, "198.51.100.9"},
		{"two XFF headers", "10.1.2.3:443", []string{"6.6.6.6", "198.51.100.9, 10.9.9.9"}, nil, "198.51.100.9"},
		{"all trusted: leftmost", "10.1.2.3:443", []string{"10.4.4.4, 192.0.2.7"}, nil, "10.4.4.4"},
		{"garbage hop: last good one", "10.1.2.3:443", []string{"6.6.6.6, bogus, 10.8.8.8"}, nil, "10.8.8.8"},
		{"empty XFF", "10.1.2.3:443", []string{""}, nil, "10.1.2.3"},
		{"Forwarded preferred", "10.1.2.3:443", []string{"6.6.6.6"}, []string{`for=198.51.100.9;proto=https`}, "198.51.100.9"},
		{"Forwarded IPv6 with port", "10.1.2.3:443", nil, []string{`for="[2001:db8::1]:4711"`}, "2001:db8::1"},
		{"Forwarded list", "10.1.2.3:443", nil, []string{`for=6.6.6.6, for=198.51.100.9;by=10.1.2.3`}, "198.51.100.9"},
		{"Forwarded unknown hop", "10.1.2.3:443", nil, []string{`for=6.6.6.6, for=unknown`}, "10.1.2.3"},
		{"IPv6 trusted peer", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::5"}, nil, "2001:db8:1::5"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:443", []string{"198.51.100.9"}, nil, "198.51.100.9"},
		{"XFF with port", "10.1.2.3:443", []string{"198.51.100.9:1234"}, nil, "198.51.100.9"},
		{"no RemoteAddr", "", nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.fwd {
				req.Header.Add("Forwarded", v)
			}
			if got := r.String(req); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNoTrustedProxies(t *testing.T) {
	var zero *Resolver
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:9"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := zero.String(req); got != "127.0.0.1" {
		t.Errorf("nil resolver: got %q", got)
	}
	r, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.String(req); got != "127.0.0.1" {
		t.Errorf("empty resolver: got %q", got)
	}
}

func TestNewReportsEveryBadEntry(t *testing.T) {
	_, err := New([]string{"10.0.0.0/8", "nope", "300.1.1.1/8", " ", "::1"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"nope"`, `"300.1.1.1/8"`, "trusted_proxies"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %s", err, want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	r, _ := New([]string{"127.0.0.1"})
	var got string
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got = FromContext(req.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:9"
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != "198.51.100.9" {
		t.Errorf("FromContext = %q", got)
	}
	if FromContext(t.Context()) != "" {
		t.Error("empty context gave an address")
	}
}
