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

// attestationValidity is how long the attestation CA, the card's
// attestation certificate and the certificates it issues are valid.
const attestationValidity = 20 * 365 * 24 * time.Hour

// formFactorUSBAKeychain is what the card claims to be.
const formFactorUSBAKeychain = 0x01

// issueAttestationIdentity creates a test attestation CA and, signed by it,
// the card's attestation key (slot F9) and certificate (object 5FFF01).
func (st *state) issueAttestationIdentity(r io.Reader) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(r),
		Subject:               pkix.Name{CommonName: "notation-piv test attestation CA"},
		NotBefore:             now,
		NotAfter:              now.Add(attestationValidity),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(r, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	attKey, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return err
	}
	attTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(r),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("Virtual PIV Attestation %d", st.Serial)},
		NotBefore:             now,
		NotAfter:              now.Add(attestationValidity),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	attDER, err := x509.CreateCertificate(r, attTmpl, ca, &attKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
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
	st.AttestationCA, st.AttestationCAKey = caDER, caKeyDER
	st.Keys[slotAttestation] = &slotKey{
		Algorithm: algECP256, PINPolicy: pinPolicyNever, TouchPolicy: touchPolicyNever,
		Origin: originGenerated, PKCS8: attKeyDER, private: attKey,
	}
	st.Objects[objAttestation] = encodeTLV(0x70, attDER)
	return nil
}

func randomSerial(r io.Reader) *big.Int {
	n, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// AttestationCA returns the test CA that issued the card's attestation
// certificate; it is the root to verify attestations against.
func (c *Card) AttestationCA() (*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return x509.ParseCertificate(c.state.AttestationCA)
}

// attest handles the YubiKey ATTEST: a certificate for the key in slot P1,
// signed by the attestation key, for keys generated on the card only. Unlike
// a YubiKey, this card cannot attest X25519 keys (Go's x509 package cannot
// issue a certificate for one); it answers 6A81, function not supported.
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
