package certchain

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/fixtures"
)

func TestCheckLeaf(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "CA", nil)
	isCA := func(c *x509.Certificate) { c.IsCA = true }
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"CA-issued", newLeaf(t, "leaf", ca, nil).cert, ""},
		{"self-signed", newLeaf(t, "self", nil, nil).cert, ""},
		{"non-critical key usage", newLeaf(t, "nc", ca, nil, fixtures.NonCriticalKeyUsage).cert, "must be marked critical"},
		{"self-signed non-critical key usage", newLeaf(t, "nc", nil, nil, fixtures.NonCriticalKeyUsage).cert, "must be marked critical"},
		{"server auth", newLeaf(t, "tls", ca, nil, fixtures.ServerAuth).cert, "ServerAuth"},
		{"CA flag", newLeaf(t, "ca", ca, nil, isCA).cert, "ca field must be set to false"},
		{"expired", newLeaf(t, "old", ca, nil, fixtures.Expired).cert, "invalid at signing time"},
	} {
		err := CheckLeaf(tc.cert, now)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "leaf check"):
			t.Errorf("%s: the error names the throwaway CA: %v", tc.name, err)
		}
	}
}
