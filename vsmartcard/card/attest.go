package card

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"time"
)

// YubiKey attestation extensions
// (https://developers.yubico.com/PIV/Introduction/PIV_attestation.html).
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// attestationValidity is how long a new attestation CA and the card's
// attestation certificate are valid; the certificates the card issues copy
// the dates of its attestation certificate, as a YubiKey's do.
const attestationValidity = 20 * 365 * 24 * time.Hour

// formFactorUSBAKeychain is what the card claims to be.
const formFactorUSBAKeychain = 0x01

// issueAttestationIdentity gives the card a fresh attestation key (slot
// F9) and has ca certify it; a nil ca is replaced by a root of the card's
// own.
func (st *state) issueAttestationIdentity(r io.Reader, ca *AttestationCA) error {
	if ca == nil {
		var err error
		if ca, err = NewAttestationCA(r, "notation-piv test attestation CA"); err != nil {
			return err
		}
	}
	attKey, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return err
	}
	attKeyDER, err := x509.MarshalPKCS8PrivateKey(attKey)
	if err != nil {
		return err
	}
	if st.Keys == nil {
		st.Keys = map[byte]*slotKey{}
		st.Objects = map[uint32][]byte{}
	}
	st.Keys[slotAttestation] = &slotKey{
		Algorithm: algECP256, PINPolicy: pinPolicyNever, TouchPolicy: touchPolicyNever,
		Origin: originGenerated, PKCS8: attKeyDER, private: attKey,
	}
	return st.certifyAttestationKey(r, ca)
}

// certifyAttestationKey has ca issue the certificate of the attestation
// key (object 5FFF01). Like a YubiKey's, it carries the firmware version,
// and it is valid as long as ca, for at most 20 years.
func (st *state) certifyAttestationKey(r io.Reader, ca *AttestationCA) error {
	attKey, err := st.Keys[slotAttestation].privateKey()
	if err != nil {
		return err
	}
	signer, ok := attKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("attestation key is a %T", attKey)
	}
	var firmware [3]byte
	if _, err := fmt.Sscanf(st.Firmware, "%d.%d.%d", &firmware[0], &firmware[1], &firmware[2]); err != nil {
		return fmt.Errorf("firmware version %q: %w", st.Firmware, err)
	}
	now := time.Now().Add(-time.Hour)
	notAfter := now.Add(attestationValidity)
	if notAfter.After(ca.Certificate.NotAfter) {
		notAfter = ca.Certificate.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(r),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("Virtual PIV Attestation %d", st.Serial)},
		NotBefore:             now,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		ExtraExtensions:       []pkix.Extension{{Id: oidFirmware, Value: firmware[:]}},
	}
	der, err := x509.CreateCertificate(r, tmpl, ca.Certificate, signer.Public(), ca.Key)
	if err != nil {
		return err
	}
	st.AttestationCA = ca.Certificate.Raw
	st.Objects[objAttestation] = encodeTLV(0x70, der)
	return nil
}

func randomSerial(r io.Reader) *big.Int {
	n, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// AttestationCA returns the root that issued the card's attestation
// certificate: Config.AttestationCA's, or the card's own. It is the root to
// verify the card's attestations against.
func (c *Card) AttestationCA() (*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.profile != ProfileYubiKey {
		return nil, fmt.Errorf("a %s card has no attestation CA: only YubiKeys attest", c.profile)
	}
	return x509.ParseCertificate(c.state.AttestationCA)
}

// attest handles the YubiKey ATTEST: a certificate for the key in slot P1,
// signed by the attestation key, that carries the card's firmware version
// and serial number and the slot's PIN and touch policies. Like a YubiKey,
// the card attests only keys generated on it: for an imported key, or an
// empty slot, it answers 6A80 (Yubico's SDKs report "invalid command data
// parameter"; piv-go turns it into ErrNotFound). Unlike a YubiKey, it cannot
// attest X25519 keys (Go's x509 package cannot issue a certificate for
// one); it answers 6A81, function not supported.
func (c *Card) attest(cmd command) ([]byte, uint16) {
	if cmd.p2 != 0 || !keySlot(cmd.p1) || cmd.p1 == slotAttestation {
		return nil, swWrongP1P2
	}
	k, ok := c.state.Keys[cmd.p1]
	if !ok || k.Origin != originGenerated {
		return nil, swWrongData
	}
	if k.Algorithm == algX25519 {
		return nil, swFunctionNotSupported
	}
	att := c.state.Keys[slotAttestation]
	attPriv, err := att.privateKey()
	if err != nil {
		return nil, swMemoryFailure
	}
	attCert, err := c.attestationCertificate()
	if err != nil {
		return nil, swMemoryFailure
	}
	priv, err := k.privateKey()
	if err != nil {
		return nil, swMemoryFailure
	}
	serial, err := asn1.Marshal(int64(c.state.Serial))
	if err != nil {
		return nil, swMemoryFailure
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(c.rand),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", cmd.p1)},
		NotBefore:    attCert.NotBefore,
		NotAfter:     attCert.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmware, Value: c.version[:]},
			{Id: oidSerial, Value: serial},
			{Id: oidPolicy, Value: []byte{k.PINPolicy, k.TouchPolicy}},
			{Id: oidFormFactor, Value: []byte{formFactorUSBAKeychain}},
		},
	}
	pub := priv.(interface{ Public() crypto.PublicKey }).Public()
	der, err := x509.CreateCertificate(c.rand, tmpl, attCert, pub, attPriv)
	if err != nil {
		return nil, swMemoryFailure
	}
	return der, swOK
}

// attestationCertificate parses the certificate in object 5FFF01.
func (c *Card) attestationCertificate() (*x509.Certificate, error) {
	objs, err := parseTLVs(c.state.Objects[objAttestation])
	if err != nil {
		return nil, err
	}
	der, ok := find(objs, 0x70)
	if !ok {
		return nil, fmt.Errorf("no attestation certificate")
	}
	return x509.ParseCertificate(der)
}
