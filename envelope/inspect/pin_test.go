package inspect

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
)

// TestVerifyPinnedRoot is the appended-root attack of issue 13 on Verify:
// the trust roots hold the genuine certificate and another one with the
// same subject, and the envelope is signed under the other. Without a pin
// Verify trusts it and names the root it ended at; with the genuine
// certificate pinned, the chain check fails and names both fingerprints.
func TestVerifyPinnedRoot(t *testing.T) {
	genuineKey, attackerKey := fixtures.Key("genuine release signer"), fixtures.Key("attacker")
	genuine := fixtures.SelfSigned(genuineKey, fixtures.Name("release signer"))
	attacker := fixtures.SelfSigned(attackerKey, fixtures.Name("release signer"))
	pki := newPKI()
	roots := []*x509.Certificate{genuine, attacker}
	sum := func(c *x509.Certificate) string {
		s := sha256.Sum256(c.Raw)
		return hex.EncodeToString(s[:])
	}
	for _, mt := range mediaTypes {
		t.Run(mt, func(t *testing.T) {
			good, _ := sign(t, mt, signOpts{chain: []*x509.Certificate{genuine}, key: genuineKey})
			evil, _ := sign(t, mt, signOpts{chain: []*x509.Certificate{attacker}, key: attackerKey})
			chained, _ := sign(t, mt, signOpts{chain: pki.chain(), key: pki.leafKey})
			for _, tc := range []struct {
				name    string
				env     []byte
				opts    VerifyOptions
				failed  []string
				root    *x509.Certificate // the trust root Verify must name
				pinned  bool
				details []string // in the chain check's detail
			}{
				{"unpinned genuine", good, VerifyOptions{TrustRoots: roots}, nil, genuine, false, []string{sum(genuine)}},
				{"unpinned appended root", evil, VerifyOptions{TrustRoots: roots}, nil, attacker, false, []string{sum(attacker)}},
				{"pinned genuine", good, VerifyOptions{TrustRoots: roots, TrustRootSHA256: sum(genuine)}, nil, genuine, true, []string{sum(genuine), "the pinned one"}},
				{"pinned, appended root", evil, VerifyOptions{TrustRoots: roots, TrustRootSHA256: sum(genuine)}, []string{CheckChain}, attacker, false,
					[]string{"ends at the trust root", sum(attacker), "not at the pinned trust root SHA-256 " + sum(genuine)}},
				{"pinned, other root", chained, VerifyOptions{TrustRoots: roots, TrustRootSHA256: sum(genuine)}, []string{CheckChain}, nil, false,
					[]string{"no certificate of the chain", "not under the pinned trust root SHA-256 " + sum(genuine)}},
				// The intermediate comes first from the leaf up; the pin
				// still finds the root.
				{"pinned root above a trusted intermediate", chained, VerifyOptions{TrustRoots: []*x509.Certificate{pki.intermediate, pki.root}, TrustRootSHA256: sum(pki.root)}, nil, pki.root, true, []string{sum(pki.root)}},
				{"pinned intermediate", chained, VerifyOptions{TrustRoots: []*x509.Certificate{pki.intermediate, pki.root}, TrustRootSHA256: sum(pki.intermediate)}, nil, pki.intermediate, true, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					v, err := Verify(tc.env, tc.opts)
					if err != nil {
						t.Fatal(err)
					}
					expectFailed(t, v, tc.failed...)
					switch {
					case tc.root == nil && v.TrustRoot != nil:
						t.Errorf("trust root %+v, want none", v.TrustRoot)
					case tc.root != nil && (v.TrustRoot == nil || v.TrustRoot.SHA256 != sum(tc.root) || v.TrustRoot.Subject != tc.root.Subject.String() || v.TrustRoot.Pinned != tc.pinned):
						t.Errorf("trust root %+v, want %q, SHA-256 %s, pinned %v", v.TrustRoot, tc.root.Subject, sum(tc.root), tc.pinned)
					}
					chain := v.Checks[3]
					for _, d := range tc.details {
						if !strings.Contains(chain.Detail, d) {
							t.Errorf("chain check %q lacks %q", chain.Detail, d)
						}
					}
				})
			}
		})
	}
	for _, pin := range []string{"00", strings.ToUpper(sum(genuine)), sum(pki.root)} {
		if _, err := Verify(nil, VerifyOptions{TrustRoots: roots, TrustRootSHA256: pin}); err == nil {
			t.Errorf("Verify with the pin %q: no error, want one (malformed, or no trust root has it)", pin)
		}
	}
	if Fingerprint(genuine) != sum(genuine) {
		t.Errorf("Fingerprint %s, want %s", Fingerprint(genuine), sum(genuine))
	}
}
