package inspect

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/attestation"
)

// Names of the checks Verify runs, in the order it reports them.
const (
	// CheckFormat: the input is a JWS or COSE envelope that decodes.
	CheckFormat = "format"
	// CheckIntegrity: the signature is valid against the leaf key.
	CheckIntegrity = "integrity"
	// CheckEnvelope: the headers and the payload meet the Notary envelope
	// rules, and notation-core-go accepts them.
	CheckEnvelope = "envelope"
	// CheckChain: the chain meets the Notary certificate rules and one of
	// its certificates is a trust root.
	CheckChain = "chain"
	// CheckExpiry: the signature has not expired, and every certificate
	// is valid now, or at the time of a verified timestamp.
	CheckExpiry = "expiry"
	// CheckTimestamp: the timestamp verifies against the TSA roots.
	CheckTimestamp = "timestamp"
	// CheckArtifact: the payload names the given artifact.
	CheckArtifact = "artifact"
	// CheckAttestation: the key attestation verifies against the
	// attestation roots, attests the signing key, and meets the
	// piv.attested constraints given, as the piv verification plugin
	// checks it for notation verify.
	CheckAttestation = "attestation"
)

// Check statuses.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Check is the outcome of one check.
type Check struct {
	// Name is one of the Check* constants.
	Name string `json:"name"`
	// Status is Passed, Failed or Skipped (not asked for, or impossible
	// because the envelope does not decode).
	Status string `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
}

// Verification is the outcome of Verify. Its JSON form is the output of
// "notation-piv envelope verify --json", documented in README.md.
type Verification struct {
	// Verified is whether no check failed.
	Verified bool `json:"verified"`
	// Checks are all the checks, in the order of the Check* constants.
	Checks []Check `json:"checks"`
	// TrustRoot is the trust root the chain ends at, even when it is not
	// the pinned one (VerifyOptions.TrustRootSHA256); nil when the chain
	// breaks the Notary rules, none of its certificates is a trust root,
	// or the envelope does not decode.
	TrustRoot *TrustRoot `json:"trustRoot"`
	// Report is what Inspect found; nil if the envelope does not decode.
	Report *Report `json:"-"`
}

// TrustRoot names a trust root that a chain ends at.
type TrustRoot struct {
	// Subject is its distinguished name (RFC 2253 order).
	Subject string `json:"subject"`
	// SHA256 is the SHA-256 fingerprint of the DER certificate in lower
	// case hex, as "openssl x509 -fingerprint -sha256" prints it without
	// the colons.
	SHA256 string `json:"sha256"`
	// Pinned is whether it is the trust root VerifyOptions.TrustRootSHA256
	// names.
	Pinned bool `json:"pinned"`
}

// Failed returns the checks that failed.
func (v *Verification) Failed() []Check {
	var out []Check
	for _, c := range v.Checks {
		if c.Status == Failed {
			out = append(out, c)
		}
	}
	return out
}

// Artifact is what the payload must name.
type Artifact struct {
	// Name describes the artifact in messages: a file name or a digest.
	Name string
	// Digests are the artifact's digests; the payload's digest must be one
	// of them. A file has one per algorithm (sha256, sha512).
	Digests []string
	// Size is the artifact's size in bytes, or -1 if unknown.
	Size int64
}

// VerifyOptions are the trust anchors and expectations of Verify.
type VerifyOptions struct {
	// TrustRoots are the trusted certificates: as in a notation trust
	// store, the chain is trusted when one of its certificates is
	// byte for byte one of them. Required.
	TrustRoots []*x509.Certificate
	// TrustRootSHA256, if set, pins one of TrustRoots by the SHA-256
	// fingerprint of its DER certificate, in lower case hex: the chain is
	// then trusted only when that certificate is part of it, and a chain
	// that ends at another of TrustRoots fails the chain check. A file of
	// trust roots can hold more than was published; the pin holds the
	// verification to the one certificate that was.
	TrustRootSHA256 string
	// TSARoots, if set, are the trusted TSA roots: the envelope must then
	// carry a timestamp that verifies against them.
	TSARoots *x509.CertPool
	// Now is the time of verification; zero means time.Now().
	Now time.Time
	// Artifact, if set, is the artifact the payload must name.
	Artifact *Artifact
	// AttestationRoots, if set, are the trusted attestation roots; nil
	// means Yubico's.
	AttestationRoots *attestation.Roots
	// Attested, if set, is the policy the attestation must meet, as the
	// piv.attested trusted identities of a trust policy.
	Attested *attestation.Policy
}

// Verify checks env offline, as notation verify would under a strict
// trust policy whose trust store holds opts.TrustRoots (and whose tsa
// store holds opts.TSARoots, with verifyTimestamp "always"), without
// revocation checks and trusted identities. It returns an error only for
// unusable options; a broken envelope gives failed checks.
func Verify(env []byte, opts VerifyOptions) (*Verification, error) {
	if len(opts.TrustRoots) == 0 {
		return nil, errors.New("verify: no trust root given")
	}
	if pin := opts.TrustRootSHA256; pin != "" {
		if len(pin) != 2*sha256.Size || strings.Trim(pin, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("verify: the pinned trust root %q is no SHA-256 fingerprint in lower case hex", pin)
		}
		if !slices.ContainsFunc(opts.TrustRoots, func(c *x509.Certificate) bool { return Fingerprint(c) == pin }) {
			return nil, fmt.Errorf("verify: none of the %d trust roots has the pinned SHA-256 fingerprint %s", len(opts.TrustRoots), pin)
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	r, err := Inspect(env, Options{Now: now, TSARoots: opts.TSARoots, AttestationRoots: opts.AttestationRoots})
	if err != nil {
		v := &Verification{Checks: []Check{{CheckFormat, Failed, err.Error()}}}
		for _, name := range []string{CheckIntegrity, CheckEnvelope, CheckChain, CheckExpiry, CheckTimestamp, CheckArtifact, CheckAttestation} {
			v.Checks = append(v.Checks, Check{name, Skipped, "the envelope does not decode"})
		}
		return v, nil
	}
	v := &Verification{Report: r}
	v.Checks = []Check{
		{CheckFormat, Passed, fmt.Sprintf("a %s envelope (%s) of %d bytes", strings.ToUpper(r.Format), r.MediaType, r.Size)},
		r.checkIntegrity(),
		r.checkEnvelope(),
		r.checkChain(opts.TrustRoots, opts.TrustRootSHA256, &v.TrustRoot),
		r.checkExpiry(now),
		r.checkTimestamp(opts.TSARoots != nil),
		r.checkArtifact(opts.Artifact),
		r.checkAttestation(opts, now),
	}
	v.Verified = len(v.Failed()) == 0
	return v, nil
}

func (r *Report) checkIntegrity() Check {
	switch r.Integrity.Status {
	case StatusValid:
		return Check{CheckIntegrity, Passed, r.Integrity.Detail}
	case StatusInvalid:
		return Check{CheckIntegrity, Failed, r.Integrity.Detail}
	}
	return Check{CheckIntegrity, Failed, "cannot check the signature: " + r.Integrity.Detail}
}

func (r *Report) checkEnvelope() Check {
	if len(r.Problems) > 0 {
		return Check{CheckEnvelope, Failed, strings.Join(r.Problems, "; ")}
	}
	return Check{CheckEnvelope, Passed, "the headers and the payload meet the Notary envelope rules"}
}

// checkChain checks the chain against the trust roots and, with a pin,
// against the pinned one, and sets *found to the trust root the chain ends
// at.
func (r *Report) checkChain(roots []*x509.Certificate, pin string, found **TrustRoot) Check {
	var problems []string
	for _, c := range r.Certificates {
		for _, p := range c.Problems {
			problems = append(problems, fmt.Sprintf("certificate %d (%s): %s", c.Index, certName(c), p))
		}
	}
	if r.Chain.Problem != "" {
		problems = append(problems, r.Chain.Problem)
	}
	if len(problems) > 0 {
		return Check{CheckChain, Failed, strings.Join(problems, "; ")}
	}
	span := fmt.Sprintf("%s, %q up to %q", envelope.CountText(len(r.chain), "certificate", "certificates"), subject(r.chain[0]), subject(r.chain[len(r.chain)-1]))
	var root *x509.Certificate
	for _, c := range r.chain {
		if !slices.ContainsFunc(roots, c.Equal) {
			continue
		}
		if pin != "" && Fingerprint(c) == pin {
			root = c
			break
		}
		if root == nil {
			root = c
		}
	}
	if root == nil {
		detail := fmt.Sprintf("no certificate of the chain (%s) is one of the %d trust roots given: the envelope was signed under another root", span, len(roots))
		if pin != "" {
			detail += fmt.Sprintf(", not under the pinned trust root SHA-256 %s", pin)
		}
		return Check{CheckChain, Failed, detail}
	}
	*found = &TrustRoot{Subject: subject(root), SHA256: Fingerprint(root), Pinned: pin != "" && Fingerprint(root) == pin}
	if pin != "" && !(*found).Pinned {
		return Check{CheckChain, Failed, fmt.Sprintf("the chain (%s) ends at the trust root %q with SHA-256 %s, not at the pinned trust root SHA-256 %s: the trust roots given hold a certificate besides the pinned one, and the envelope was signed under it",
			span, (*found).Subject, (*found).SHA256, pin)}
	}
	detail := fmt.Sprintf("the chain (%s) meets the Notary rules and ends at the trust root %q, SHA-256 %s", span, (*found).Subject, (*found).SHA256)
	if (*found).Pinned {
		detail += ", the pinned one"
	}
	return Check{CheckChain, Passed, detail}
}

// Fingerprint returns the SHA-256 fingerprint of a certificate's DER
// bytes in lower case hex: the form of VerifyOptions.TrustRootSHA256 and
// of every SHA256 field of the reports.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// certName names a certificate of the report for messages.
func certName(c CertificateInfo) string {
	if c.Subject != "" {
		return fmt.Sprintf("%q", c.Subject)
	}
	return c.Role
}

func (r *Report) checkExpiry(now time.Time) Check {
	var problems []string
	if r.Expiry != nil && now.After(*r.Expiry) {
		problems = append(problems, fmt.Sprintf("the signature expired at %s", r.Expiry.Format(time.RFC3339)))
	}
	stamped := r.Timestamp != nil && r.Timestamp.info != nil
	if !stamped {
		for _, c := range r.Certificates {
			switch {
			case c.Error != "":
			case now.Before(c.NotBefore):
				problems = append(problems, fmt.Sprintf("certificate %d (%s) is not valid before %s", c.Index, certName(c), c.NotBefore.Format(time.RFC3339)))
			case now.After(c.NotAfter):
				problems = append(problems, fmt.Sprintf("certificate %d (%s) expired at %s, and no verified timestamp shows it signed before", c.Index, certName(c), c.NotAfter.Format(time.RFC3339)))
			}
		}
	}
	if len(problems) > 0 {
		return Check{CheckExpiry, Failed, strings.Join(problems, "; ")}
	}
	detail := "no expiry"
	if r.Expiry != nil {
		detail = "expires at " + r.Expiry.Format(time.RFC3339)
	}
	if stamped {
		return Check{CheckExpiry, Passed, detail + "; the certificates are judged at the verified timestamp"}
	}
	return Check{CheckExpiry, Passed, detail + "; every certificate is valid now"}
}

func (r *Report) checkTimestamp(rooted bool) Check {
	ts := r.Timestamp
	switch {
	case ts == nil && rooted:
		return Check{CheckTimestamp, Failed, "the envelope carries no timestamp, and a TSA root was given"}
	case ts == nil:
		return Check{CheckTimestamp, Skipped, "the envelope carries no timestamp"}
	case ts.Status == StatusValid:
		return Check{CheckTimestamp, Passed, ts.Detail}
	case ts.Status == StatusInvalid:
		return Check{CheckTimestamp, Failed, ts.Detail}
	}
	return Check{CheckTimestamp, Skipped, fmt.Sprintf("the envelope carries a timestamp of %s, not verified: no TSA root certificate was given", ts.GenTime.Format(time.RFC3339))}
}

func (r *Report) checkArtifact(a *Artifact) Check {
	if a == nil {
		return Check{CheckArtifact, Skipped, "no artifact given"}
	}
	d := r.Payload.TargetArtifact
	if d == nil {
		return Check{CheckArtifact, Failed, "the payload names no artifact: " + r.Payload.Problem}
	}
	if !slices.Contains(a.Digests, d.Digest) {
		return Check{CheckArtifact, Failed, fmt.Sprintf("the payload names %s, not %s (%s)", d.Digest, a.Name, strings.Join(a.Digests, ", "))}
	}
	if a.Size >= 0 && a.Size != d.Size {
		return Check{CheckArtifact, Failed, fmt.Sprintf("the payload names %s with size %d, but %s has %d bytes", d.Digest, d.Size, a.Name, a.Size)}
	}
	name := a.Name
	if name != d.Digest {
		name += ": " + d.Digest
	}
	return Check{CheckArtifact, Passed, fmt.Sprintf("the payload names %s, %d bytes, %s", name, d.Size, d.MediaType)}
}

// checkAttestation checks the attestation with attestation.Check, as the
// piv verification plugin does when notation verify hands it the
// envelope: the same attributes, the same roots, the same policy. It runs
// when the envelope carries an attestation or names the piv plugin, or
// when attestation roots or a policy are given; otherwise it is skipped.
func (r *Report) checkAttestation(opts VerifyOptions, now time.Time) Check {
	routed := r.verificationPlugin == attestation.VerificationPlugin
	if r.Attestation == nil && !routed && opts.AttestationRoots == nil && opts.Attested == nil {
		return Check{CheckAttestation, Skipped, "the envelope carries no attestation"}
	}
	verdict := attestation.Check(r.extended, r.leaf(), attestation.Options{Roots: opts.AttestationRoots, Policy: opts.Attested, Time: now})
	if verdict.Err != nil {
		return Check{CheckAttestation, Failed, verdict.Err.Error()}
	}
	a := verdict.Attestation
	roots := RootsYubico
	if opts.AttestationRoots != nil {
		roots = RootsGiven
	}
	detail := fmt.Sprintf("card %d (firmware %s), PIN %s, touch %s: the attestation verifies against the %s attestation roots and attests the signing key",
		a.Serial, a.Firmware, a.PINPolicy, a.TouchPolicy, rootsText(roots))
	if opts.Attested != nil {
		detail += ", and meets the constraints given"
	}
	if !routed {
		detail += fmt.Sprintf("; but the envelope does not name the %q verification plugin, so notation verify does not check it", attestation.VerificationPlugin)
	}
	return Check{CheckAttestation, Passed, detail}
}
