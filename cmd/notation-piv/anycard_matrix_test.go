package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
)

// TestNotationMatrixOtherCards runs the end-to-end matrix of
// TestNotationMatrix on cards that are no YubiKey: a plain SP 800-73-4
// card, the same with gzip-compressed certificates and offering T=0 alone,
// and a trussed card. Each holds EC-256 in slot 9c and RSA-2048 in slot
// 9d, put there by their issuer with leaves that fixtures.Intermediate
// issued. notation v1.3.2 signs with each key in JWS and COSE, in envelope
// and raw mode, through the plugin, naming no card (there is one) and
// giving the CA chain with pluginConfig ca_certs. notation verify must
// accept every signature under a strict policy that trusts the root, and
// reject it once its signature is tampered with; each envelope must carry
// the card's own certificate of the slot, and no PIN retry may be spent.
func TestNotationMatrixOtherCards(t *testing.T) {
	env := needCard(t)
	for _, k := range otherCards {
		t.Run(k.name, func(t *testing.T) {
			ic := newIssuedCard(t, k)
			insertCard(t, env, ic.card)
			n := newNotation(t)
			n.trust(fixtures.Root().Cert)
			caCerts := writePEM(t, filepath.Join(n.dir, "ca.pem"), fixtures.Intermediate().Chain()...)
			for _, key := range importedKeys {
				for _, mode := range []string{"envelope", "raw"} {
					name := key.spec + "-" + mode
					n.run("key", "add", name, "--plugin", "piv", "--id", key.id, "--plugin-config", "mode="+mode, "--plugin-config", "ca_certs="+caCerts)
					for _, format := range []string{"jws", "cose"} {
						t.Run(fmt.Sprintf("%s/%s/%s", key.spec, mode, format), func(t *testing.T) {
							envelope := signVerifyTamper(t, n, name, format, mode)
							chain := envelopeContent(t, format, envelope).SignerInfo.CertificateChain
							if len(chain) != 3 || !chain[0].Equal(ic.leaves[key.id]) {
								t.Errorf("the envelope's chain of %d certificates does not start with the certificate of slot %s", len(chain), key.id)
							}
						})
					}
				}
			}
			if left := pinRetries(t, env); left != 3 {
				t.Errorf("%d PIN retries left after the matrix, want 3", left)
			}
		})
	}
}
