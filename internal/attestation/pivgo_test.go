package attestation

import (
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

// TestAgreesWithPivGo reads the same attestations with piv-go's Verifier
// and with Verify: both must find the same facts.
func TestAgreesWithPivGo(t *testing.T) {
	v := newVendor(t)
	pub := newECKey(t).Public()
	pinPolicies := map[piv.PINPolicy]PINPolicy{
		piv.PINPolicyNever: PINPolicyNever, piv.PINPolicyOnce: PINPolicyOnce, piv.PINPolicyAlways: PINPolicyAlways,
		piv.PINPolicyMatchOnce: PINPolicyMatchOnce, piv.PINPolicyMatchAlways: PINPolicyMatchAlways,
	}
	touchPolicies := map[piv.TouchPolicy]TouchPolicy{
		piv.TouchPolicyNever: TouchPolicyNever, piv.TouchPolicyAlways: TouchPolicyAlways, piv.TouchPolicyCached: TouchPolicyCached,
	}
	for pin := byte(1); pin <= 5; pin++ {
		for touch := byte(1); touch <= 3; touch++ {
			f := facts{firmware: [3]byte{5, pin, touch}, serial: int64(pin)<<24 | int64(touch), pin: pin, touch: touch, formFactor: int(0x80 | touch)}
			b := v.attest(t, pub, f)
			ours, err := b.Verify(v.roots(t), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := (&piv.Verifier{Roots: poolOf(v.root.cert)}).Verify(b.Device, b.Slot)
			if err != nil {
				t.Fatal(err)
			}
			if ours.Serial != theirs.Serial ||
				int(ours.Firmware.Major) != theirs.Version.Major || int(ours.Firmware.Minor) != theirs.Version.Minor || int(ours.Firmware.Patch) != theirs.Version.Patch ||
				ours.PINPolicy != pinPolicies[theirs.PINPolicy] || ours.TouchPolicy != touchPolicies[theirs.TouchPolicy] ||
				int(ours.FormFactor) != int(theirs.Formfactor) || ours.FormFactor.String() != theirs.Formfactor.String() {
				t.Errorf("facts %+v, piv-go %+v", ours, theirs)
			}
		}
	}
}
