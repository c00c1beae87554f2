package attestation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/fixtures"
)

// issuer is a test certificate with its key.
type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certOptions shape a test certificate.
type certOptions struct {
	// noBasicConstraints leaves the basicConstraints extension out; notCA
	// puts it in with cA false. Without either, the certificate is a CA.
	noBasicConstraints, notCA bool
	// extensions are extra extensions, such as Yubico's.
	extensions []pkix.Extension
	// keyUsage, if set, replaces the key usage: certificate signing for a
	// CA, none for a certificate without basicConstraints.
	keyUsage x509.KeyUsage
	// notBefore and notAfter default to an hour ago and a year ahead.
	notBefore, notAfter time.Time
}

// newCert issues a certificate for pub, signed by parent (self-signed with
// key if parent is nil).
func newCert(t testing.TB, name string, pub crypto.PublicKey, key crypto.Signer, parent *issuer, o certOptions) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:         pkix.Name{CommonName: name},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(365 * 24 * time.Hour),
		ExtraExtensions: o.extensions,
	}
	if !o.notBefore.IsZero() {
		tmpl.NotBefore = o.notBefore
	}
	if !o.notAfter.IsZero() {
		tmpl.NotAfter = o.notAfter
	}
	if !o.noBasicConstraints {
		tmpl.BasicConstraintsValid = true
		tmpl.IsCA = !o.notCA
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	if o.keyUsage != 0 {
		tmpl.KeyUsage = o.keyUsage
	}
	var parentCert *x509.Certificate
	if parent != nil {
		parentCert, key = parent.cert, parent.key
	}
	c, err := fixtures.Issue(tmpl, pub, parentCert, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newIssuer makes a CA certificate signed by parent, or a root if parent is
// nil.
func newIssuer(t testing.TB, name string, parent *issuer, o certOptions) *issuer {
	t.Helper()
	k := newECKey(t)
	return &issuer{cert: newCert(t, name, k.Public(), k, parent, o), key: k}
}

// facts are the Yubico extensions of a test slot certificate.
type facts struct {
	firmware   [3]byte
	serial     int64
	pin, touch byte
	formFactor int // -1: no extension
	fipsExt    bool
}

var defaultFacts = facts{firmware: [3]byte{5, 7, 1}, serial: 12345678, pin: 3, touch: 2, formFactor: 3}

func (f facts) extensions(t testing.TB) []pkix.Extension {
	t.Helper()
	serial, err := asn1.Marshal(f.serial)
	if err != nil {
		t.Fatal(err)
	}
	exts := []pkix.Extension{
		{Id: oidFirmware, Value: f.firmware[:]},
		{Id: oidSerial, Value: serial},
		{Id: oidPolicy, Value: []byte{f.pin, f.touch}},
	}
	if f.formFactor >= 0 {
		exts = append(exts, pkix.Extension{Id: oidFormFactor, Value: []byte{byte(f.formFactor)}})
	}
	if f.fipsExt {
		exts = append(exts, pkix.Extension{Id: oidFIPSCertified, Value: []byte{0x05, 0x00}})
	}
	return exts
}

// vendor is a test vendor PKI: a root and a card's device (F9)
// certificate issued by it.
type vendor struct {
	root, device *issuer
}

func newVendor(t testing.TB) *vendor {
	t.Helper()
	root := newIssuer(t, "Test Vendor Root", nil, certOptions{})
	return &vendor{root: root, device: newIssuer(t, "Test Vendor PIV Attestation", root, certOptions{})}
}

// roots returns a root set holding the vendor root.
func (v *vendor) roots(t testing.TB) *Roots {
	t.Helper()
	return mustRoots(t, v.root.cert)
}

// attest returns the slot certificate of pub, in slot 9c, signed by the
// device key, and the bundle that carries it.
func (v *vendor) attest(t testing.TB, pub crypto.PublicKey, f facts) *Bundle {
	t.Helper()
	slot := newCert(t, "YubiKey PIV Attestation 9c", pub, nil, v.device, certOptions{noBasicConstraints: true, extensions: f.extensions(t)})
	return &Bundle{Slot: slot, Device: v.device.cert}
}

// signingCert returns a leaf certificate for pub with the given subject,
// issued by a throwaway CA, as certificateChain[0] of an envelope.
func signingCert(t testing.TB, pub crypto.PublicKey, subject pkix.Name) *x509.Certificate {
	t.Helper()
	return fixtures.NewRoot("Test Code Signing CA").Issue(pub, fixtures.Subject(subject))
}

// exampleSubject satisfies the Notary Project's DN rules.
var exampleSubject = pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Example"}, CommonName: "signer"}

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
