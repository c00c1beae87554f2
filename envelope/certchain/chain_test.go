package certchain

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/fixtures"
)

func TestBuild(t *testing.T) {
	now := time.Now()
	root := newCA(t, "Test Root", nil)
	inter := newCA(t, "Test Intermediate", root)
	leaf := newLeaf(t, "Test Leaf", inter, nil)
	rootLeaf := newLeaf(t, "Leaf Under Root", root, nil)
	selfSignedLeaf := newLeaf(t, "Self-Signed Leaf", nil, nil)
	otherRoot := newCA(t, "Other Root", nil)
	expiredInter := newCA(t, "Expired Intermediate", root, fixtures.Expired)
	leafOfExpired := newLeaf(t, "Leaf Of Expired", expiredInter, nil, fixtures.ValidBetween(now.Add(-30*time.Hour), now.Add(24*time.Hour)))
	noCriticalKU := newLeaf(t, "Leaf Without Critical KU", inter, nil, fixtures.NonCriticalKeyUsage)
	selfSignedCA := newCA(t, "Self-Signed CA Leaf", nil)

	certs := func(tcs ...*testCert) []*x509.Certificate {
		var out []*x509.Certificate
		for _, tc := range tcs {
			out = append(out, tc.cert)
		}
		return out
	}
	tests := []struct {
		name    string
		leaf    *testCert
		bundle  []*x509.Certificate
		at      time.Time
		wantErr string // substring; "" means success
	}{
		{"self-signed leaf", selfSignedLeaf, nil, now, ""},
		{"leaf, intermediate, root", leaf, certs(inter, root), now, ""},
		{"leaf, root", rootLeaf, certs(root), now, ""},
		{"self-signed leaf with a bundle", selfSignedLeaf, certs(root), now, `"CN=Self-Signed Leaf" is self-signed, so it needs no CA bundle`},
		{"issued leaf without bundle", leaf, nil, now, `"CN=Test Leaf" is not self-signed and no CA bundle completes its chain`},
		{"wrong order", leaf, certs(root, inter), now, `"CN=Test Leaf" is issued by "CN=Test Intermediate", but the CA bundle starts with "CN=Test Root"`},
		{"bundle of another chain", leaf, certs(otherRoot), now, `but the CA bundle starts with "CN=Other Root", which is not part of its chain`},
		{"chain of eleven", leaf, append(certs(inter, root), certs(ladder(t, otherRoot, 8)...)...), now, "at most 10"},
		{"unrelated certificate", leaf, certs(inter, otherRoot), now, `"CN=Test Intermediate" is issued by "CN=Test Root", not by "CN=Other Root"`},
		{"unrelated certificate in between", leaf, certs(inter, otherRoot, root), now, `not by "CN=Other Root"`},
		{"missing root", leaf, certs(inter), now, `ends with "CN=Test Intermediate", which is not a self-signed root`},
		{"extra certificate after the root", rootLeaf, certs(root, otherRoot), now, `after the root "CN=Test Root"`},
		{"leaf without critical key usage", noCriticalKU, certs(inter, root), now, "key usage extension must be marked critical"},
		{"expired intermediate", leafOfExpired, certs(expiredInter, root), now, `"CN=Expired Intermediate" is not valid at the signing time`},
		{"signing time after expiry", leaf, certs(inter, root), now.Add(48 * time.Hour), `"CN=Test Leaf" is not valid at the signing time`},
		{"signing time before validity", leaf, certs(inter, root), now.Add(-48 * time.Hour), "is not valid at the signing time"},
		{"CA certificate as self-signed leaf", selfSignedCA, nil, now, "does not meet the Notary Project certificate requirements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := Build(tt.leaf.cert, tt.bundle, tt.at)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				want := append([]*x509.Certificate{tt.leaf.cert}, tt.bundle...)
				if len(chain) != len(want) {
					t.Fatalf("chain has %d certificates, want %d", len(chain), len(want))
				}
				for i := range want {
					if !chain[i].Equal(want[i]) {
						t.Errorf("chain[%d] = %q, want %q", i, chain[i].Subject, want[i].Subject)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("Build succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
		})
	}
}
