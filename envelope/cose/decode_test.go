package cose

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
)

// notationEnvelopes reads the cose envelopes stock notation v1.3.2 made (see
// ../testdata/notation-v1.3.2/README.md).
func notationEnvelopes(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{"cose.sig", "cose-timestamped.sig"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "notation-v1.3.2", name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecode checks that Decode reads back everything this package signs,
// and the envelopes of stock notation v1.3.2 as notation-core-go reads them.
func TestDecode(t *testing.T) {
	key := testKey(t, "EC-256")
	chain := selfSigned(t, key)
	signingTime := time.Now().UTC().Truncate(time.Second)
	env, err := Format{}.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: chain, SigningTime: signingTime,
		Expiry: signingTime.Add(time.Hour), SigningAgent: agent})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	if d.MediaType != envelope.MediaTypeCOSE || d.Algorithm == nil || d.Algorithm.KeySpec != "EC-256" || !bytes.Equal(d.Payload, payload) ||
		!d.SigningTime.Equal(signingTime) || !d.Expiry.Equal(signingTime.Add(time.Hour)) || d.SigningAgent != agent ||
		d.ContentType != envelope.PayloadType || d.SigningScheme != envelope.SigningScheme || len(d.Problems) != 0 ||
		len(d.Certificates) != 1 || !bytes.Equal(d.Certificates[0], chain[0].Raw) || len(d.Signature) != 64 || d.Timestamp != nil ||
		!slices.Equal(slices.Sorted(slices.Values(d.Critical)), []string{envelope.HeaderExpiry, envelope.HeaderSigningScheme}) {
		t.Errorf("decoded %+v", d)
	}
	for _, h := range append(slices.Clone(d.Protected), d.Unprotected...) {
		if h.Name == "" || h.Problem != "" || h.Value == "" {
			t.Errorf("header %+v", h)
		}
	}
	for _, env := range notationEnvelopes(t) {
		if _, err := coreVerify(env); err != nil {
			t.Fatalf("notation-core-go rejects an envelope of notation: %v", err)
		}
		checkAgainstCore(t, env)
	}
}

// checkAgainstCore checks that an envelope notation-core-go verifies
// decodes without a problem into what notation-core-go reads.
func checkAgainstCore(t *testing.T, env []byte) {
	t.Helper()
	content, err := coreVerify(env)
	if err != nil {
		return
	}
	d, err := Decode(env)
	if err != nil {
		t.Fatalf("notation-core-go verifies the envelope, Decode fails: %v", err)
	}
	info := content.SignerInfo
	if len(d.Problems) != 0 || !bytes.Equal(d.Payload, content.Payload.Content) || d.ContentType != content.Payload.ContentType ||
		!d.SigningTime.Equal(info.SignedAttributes.SigningTime) || !d.Expiry.Equal(info.SignedAttributes.Expiry) ||
		d.SigningScheme != string(info.SignedAttributes.SigningScheme) || !bytes.Equal(d.Signature, info.Signature) ||
		d.SigningAgent != info.UnsignedAttributes.SigningAgent || !bytes.Equal(d.Timestamp, info.UnsignedAttributes.TimestampSignature) ||
		len(d.Certificates) != len(info.CertificateChain) || d.Algorithm == nil {
		t.Fatalf("notation-core-go reads %+v, Decode %+v", content, d)
	}
	for i, c := range info.CertificateChain {
		if !bytes.Equal(d.Certificates[i], c.Raw) {
			t.Fatalf("certificate %d differs", i)
		}
	}
	if leaf, err := x509.ParseCertificate(d.Certificates[0]); err != nil || leaf == nil {
		t.Fatalf("leaf certificate: %v", err)
	}
}

// FuzzDecode feeds mutations of real envelopes (stock notation v1.3.2's,
// with and without a timestamp, and this package's) to Decode: it must not
// panic, must return a result or an error, and must decode every envelope
// notation-core-go verifies into what notation-core-go reads.
func FuzzDecode(f *testing.F) {
	for _, env := range notationEnvelopes(f) {
		f.Add(env)
	}
	key := testKey(f, "EC-256")
	env, err := Format{}.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: selfSigned(f, key), SigningTime: time.Now(),
		Expiry: time.Now().Add(time.Hour), SigningAgent: agent})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if (d == nil) == (err == nil) {
			t.Fatalf("Decode returned %v and error %v", d, err)
		}
		checkAgainstCore(t, b)
	})
}
