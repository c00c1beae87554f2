package inspect

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/attestation"
)

// AttestationInfo is the key attestation an envelope carries in the
// protected header attestation.HeaderKey (README.md, "Attested
// signatures"): what it claims about the signing key, and whether it
// holds up.
type AttestationInfo struct {
	// Problem says why the attestation cannot be read: a value that is not
	// a string, a malformed bundle, or a slot certificate without the
	// attested facts. The fields below are then empty, except Status.
	Problem string `json:"problem,omitempty"`
	// Slot is the attested key's slot ("9c"); "" if the certificate does
	// not say.
	Slot string `json:"slot,omitempty"`
	// Serial is the card's serial number.
	Serial uint32 `json:"serial"`
	// Firmware is the card's firmware version, e.g. "5.7.1".
	Firmware string `json:"firmware"`
	// PINPolicy and TouchPolicy are the slot's policies, in the words of
	// the piv.attested grammar: "always", "once", "never", "cached".
	PINPolicy   string `json:"pinPolicy"`
	TouchPolicy string `json:"touchPolicy"`
	// FormFactor is the card's form factor, "unspecified" when the card
	// does not say.
	FormFactor string `json:"formFactor"`
	// FIPS is whether the card is a FIPS model.
	FIPS bool `json:"fips"`
	// Chain is the attestation chain: the slot's attestation certificate,
	// the card's (F9), the intermediates and, when it verifies, the root.
	Chain []AttestationCertificate `json:"chain"`
	// AttestsSigningKey is whether the attested key is the key of the
	// signing certificate (the leaf).
	AttestsSigningKey bool `json:"attestsSigningKey"`
	// Roots names the roots the chain was checked against: "Yubico" (the
	// built-in roots) or "given".
	Roots string `json:"roots"`
	// Status is StatusValid when the chain verifies against Roots,
	// StatusInvalid when it does not, StatusUnchecked when the
	// attestation cannot be read.
	Status string `json:"status"`
	// Detail says what was checked, or why it failed.
	Detail string `json:"detail"`
}

// AttestationCertificate is one certificate of an attestation chain.
type AttestationCertificate struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// SHA256 is the SHA-256 fingerprint of the DER certificate in lower
	// case hex.
	SHA256 string `json:"sha256"`
}

// Names of the roots of AttestationInfo.Roots.
const (
	RootsYubico = "Yubico"
	RootsGiven  = "given"
)

// readPluginAttributes records what notation hands a verification plugin
// when it verifies the envelope: the name of the verification plugin, and
// the extended attributes with a string key other than the plugin's two
// (notation-go v1.3.2, verifier.getNonPluginExtendedCriticalAttributes).
// It reads them only when the envelope names a verification plugin or
// carries an attestation, with notation-core-go, which is what notation
// reads them with.
func (r *Report) readPluginAttributes(env []byte) {
	if !slices.ContainsFunc(r.ProtectedHeaders, func(h HeaderInfo) bool {
		return h.Label == attestation.HeaderKey || h.Label == envelope.HeaderVerificationPlugin
	}) {
		return
	}
	e, err := signature.ParseEnvelope(r.MediaType, env)
	if err != nil {
		return
	}
	content, err := e.Content()
	if err != nil {
		return
	}
	r.extended = map[string]any{}
	for _, a := range content.SignerInfo.SignedAttributes.ExtendedAttributes {
		key, ok := a.Key.(string)
		switch {
		case !ok:
		case key == envelope.HeaderVerificationPlugin:
			r.verificationPlugin, _ = a.Value.(string)
		case key != envelope.HeaderVerificationPluginMinVersion:
			r.extended[key] = a.Value
		}
	}
}

// readAttestation fills in r.Attestation when the envelope carries an
// attestation: its facts, read even when its chain does not verify, its
// chain checked against roots (Yubico's if nil) at the time now, and
// whether it attests the leaf's key.
func (r *Report) readAttestation(roots *attestation.Roots, leaf *x509.Certificate, now time.Time) {
	value, ok := r.extended[attestation.HeaderKey]
	if !ok {
		return
	}
	info := &AttestationInfo{Roots: RootsGiven, Status: StatusUnchecked, Chain: []AttestationCertificate{}}
	r.Attestation = info
	if roots == nil {
		roots, info.Roots = attestation.YubicoRoots(), RootsYubico
	}
	s, ok := value.(string)
	if !ok {
		info.Problem = fmt.Sprintf("the attestation is a %T, not a string", value)
		info.Detail = "not checked: the attestation cannot be read"
		return
	}
	bundle, err := attestation.ParseBundle(s)
	if err == nil {
		var facts *attestation.Attestation
		if facts, err = bundle.Facts(); err == nil {
			info.facts(facts)
			info.AttestsSigningKey = leaf != nil && facts.CheckKey(leaf) == nil
		}
	}
	if err != nil {
		info.Problem = err.Error()
		info.Detail = "not checked: the attestation cannot be read"
		return
	}
	verified, err := bundle.Verify(roots, now)
	if err != nil {
		info.Status, info.Detail = StatusInvalid, fmt.Sprintf("the chain does not verify against the %s attestation roots: %v", rootsText(info.Roots), err)
		return
	}
	info.chain(verified.Chain)
	info.Status = StatusValid
	info.Detail = fmt.Sprintf("the chain verifies against the %s attestation roots, up to %q", rootsText(info.Roots), info.Chain[len(info.Chain)-1].Subject)
}

// facts copies what an attestation claims.
func (info *AttestationInfo) facts(a *attestation.Attestation) {
	info.Slot, info.Serial, info.Firmware = a.Slot, a.Serial, a.Firmware.String()
	info.PINPolicy, info.TouchPolicy = a.PINPolicy.String(), a.TouchPolicy.String()
	info.FormFactor, info.FIPS = a.FormFactor.String(), a.FIPS
	info.chain(a.Chain)
}

// chain describes an attestation chain.
func (info *AttestationInfo) chain(certs []*x509.Certificate) {
	info.Chain = make([]AttestationCertificate, len(certs))
	for i, c := range certs {
		info.Chain[i] = AttestationCertificate{Subject: c.Subject.String(), Issuer: c.Issuer.String(), SHA256: Fingerprint(c)}
	}
}

// rootsText names the roots of AttestationInfo.Roots in a sentence.
func rootsText(roots string) string {
	if roots == RootsYubico {
		return "Yubico's"
	}
	return "given"
}
