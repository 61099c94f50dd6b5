package keys

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestParseMasterKey(t *testing.T) {
	key := make([]byte, MasterKeySize)
	for i := range key {
		key[i] = byte(i*7 + 250) // includes bytes that encode to + / - _
	}
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty: success
	}{
		{name: "base64 std padded", in: base64.StdEncoding.EncodeToString(key)},
		{name: "base64 std raw", in: base64.RawStdEncoding.EncodeToString(key)},
		{name: "base64 url padded", in: base64.URLEncoding.EncodeToString(key)},
		{name: "base64 url raw", in: base64.RawURLEncoding.EncodeToString(key)},
		{name: "hex lower", in: hex.EncodeToString(key)},
		{name: "hex upper", in: strings.ToUpper(hex.EncodeToString(key))},
		{name: "file with newline", in: "  " + base64.StdEncoding.EncodeToString(key) + "\n"},
		{name: "hex with CRLF", in: hex.EncodeToString(key) + "\r\n"},

		{name: "empty", in: "", wantErr: "empty"},
		{name: "blank", in: " \n\t", wantErr: "empty"},
		{name: "base64 of 16 bytes", in: base64.StdEncoding.EncodeToString(key[:16]), wantErr: "decodes to 16 bytes, want 32"},
		{name: "base64 of 48 bytes", in: base64.StdEncoding.EncodeToString(append(key, key[:16]...)), wantErr: "decodes to 48 bytes"},
		{name: "hex of 31 bytes", in: hex.EncodeToString(key[:31]), wantErr: "want 32"},
		{name: "hex of 33 bytes", in: hex.EncodeToString(append(key, 1)), wantErr: "want 32"},
		{name: "garbage", in: "correct horse battery staple!", wantErr: "base64 or 64 hex"},
		{name: "64 chars not hex", in: strings.Repeat("zq", 32), wantErr: "want 32"},
		{name: "mixed alphabets", in: "ab+-" + base64.RawURLEncoding.EncodeToString(key)[4:], wantErr: "base64 or 64 hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMasterKey(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseMasterKey: %v", err)
				}
				if !bytes.Equal(got, key) {
					t.Fatalf("ParseMasterKey = %x, want %x", got, key)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseMasterKey succeeded (%x), want error %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if in := strings.TrimSpace(tt.in); in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("error %q echoes the input", err)
			}
		})
	}
}

func TestGenerateMasterKey(t *testing.T) {
	a, b := GenerateMasterKey(), GenerateMasterKey()
	if a == b {
		t.Fatal("two generated master keys are equal")
	}
	for _, s := range []string{a, b} {
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("master key %q is not unpadded base64url", s)
		}
		k, err := ParseMasterKey(s)
		if err != nil {
			t.Fatalf("ParseMasterKey(GenerateMasterKey()): %v", err)
		}
		if len(k) != MasterKeySize {
			t.Fatalf("len = %d", len(k))
		}
	}
}

func TestDerive(t *testing.T) {
	// RFC 5869 with an empty salt (HashLen zero bytes) and a single block:
	// PRK = HMAC(zeros, master), OKM = HMAC(PRK, info || 0x01).
	rfc5869 := func(master []byte, label string) []byte {
		ext := hmac.New(sha256.New, make([]byte, sha256.Size))
		ext.Write(master)
		exp := hmac.New(sha256.New, ext.Sum(nil))
		exp.Write([]byte(label))
		exp.Write([]byte{1})
		return exp.Sum(nil)
	}
	labels := []string{"signing-keys", "op-crypto", "cookie", "refresh"}
	seen := map[[32]byte]string{}
	for _, master := range [][]byte{testMaster, otherMaster} {
		for _, label := range labels {
			got := Derive(master, label)
			if want := rfc5869(master, label); !bytes.Equal(got[:], want) {
				t.Errorf("Derive(%x…, %q) = %x, want %x", master[:2], label, got, want)
			}
			if again := Derive(master, label); again != got {
				t.Errorf("Derive(%q) is not deterministic", label)
			}
			if prev, dup := seen[got]; dup {
				t.Errorf("Derive(%q) collides with %s", label, prev)
			}
			seen[got] = label
		}
	}
}

func TestSealerRoundTrip(t *testing.T) {
	s := newSealer(t, testMaster)
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("pkcs8 "), 300)} {
		ad := []byte("kid-123")
		sealed := s.Seal(plain, ad)
		if want := 12 + len(plain) + 16; len(sealed) != want {
			t.Errorf("len(sealed) = %d, want %d", len(sealed), want)
		}
		if len(plain) > 16 && bytes.Contains(sealed, plain) {
			t.Error("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, ad)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
		if again := s.Seal(plain, ad); bytes.Equal(again[:12], sealed[:12]) {
			t.Error("two seals share a nonce")
		}
	}
}

func TestSealerOpenFails(t *testing.T) {
	s := newSealer(t, testMaster)
	ad := []byte("kid-123")
	sealed := s.Seal([]byte("private key"), ad)
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		ad     []byte
	}{
		{"tampered nonce", s, flip(0), ad},
		{"tampered ciphertext", s, flip(12), ad},
		{"tampered tag", s, flip(len(sealed) - 1), ad},
		{"truncated", s, sealed[:len(sealed)-1], ad},
		{"shorter than nonce and tag", s, sealed[:20], ad},
		{"empty", s, nil, ad},
		{"other additional data", s, sealed, []byte("kid-124")},
		{"no additional data", s, sealed, nil},
		{"other master key", newSealer(t, otherMaster), sealed, ad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, tt.ad)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

func TestNewSealerKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes) succeeded", n)
		}
	}
}
