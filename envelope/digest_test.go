package envelope

import (
	"strings"
	"testing"
)

func TestCheckDigest(t *testing.T) {
	hex64, hex128 := strings.Repeat("0123456789abcdef", 4), strings.Repeat("0123456789abcdef", 8)
	for _, tc := range []struct {
		digest string
		ok     bool
	}{
		{"sha256:" + hex64, true},
		{"sha512:" + hex128, true},
		{"sha256:" + hex128, false},
		{"sha512:" + hex64, false},
		{"sha256:" + hex64[1:], false},
		{"sha256:" + hex64 + "0", false},
		{"sha256:" + strings.ToUpper(hex64), false},
		{"sha256:" + hex64[1:] + "g", false},
		{"sha256:" + hex64 + "\n", false},
		{"sha384:" + strings.Repeat("0", 96), false},
		{"SHA256:" + hex64, false},
		{hex64, false},
		{"", false},
	} {
		if err := CheckDigest(tc.digest); (err == nil) != tc.ok {
			t.Errorf("CheckDigest(%q) = %v, want ok=%v", tc.digest, err, tc.ok)
		}
	}
}
