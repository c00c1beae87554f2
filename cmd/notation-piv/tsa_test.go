package main

import (
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
)

// TestTimestampEndToEnd signs in ENVELOPE mode with tsa_url, for JWS and
// COSE, EC-256 and RSA-2048; notation verify checks the timestamp under a
// strict policy with verifyTimestamp "always", and the same policy rejects a
// signature without one.
func TestTimestampEndToEnd(t *testing.T) {
	needCard(t)
	tsa, root := startTSA(t)
	yk := openPIV(t)
	var leaves []*x509.Certificate
	keys := []struct {
		spec string
		alg  piv.Algorithm
		slot piv.Slot
		id   string
	}{
		{"EC-256", piv.AlgorithmEC256, piv.SlotSignature, "9c"},
		{"RSA-2048", piv.AlgorithmRSA2048, piv.SlotKeyManagement, "9d"},
	}
	for _, k := range keys {
		leaves = append(leaves, certify(t, yk, k.slot, generateKey(t, yk, k.slot, k.alg, piv.PINPolicyOnce), nil))
	}
	yk.Close()

	n := newNotation(t)
	n.trust(leaves...)
	n.trustTSA(root)
	n.importPolicy("always")
	for _, k := range keys {
		n.addKey(k.spec+"-tsa", k.id, "tsa_url="+tsa.URL, "tsa_root_cert="+root)
		n.addKey(k.spec+"-plain", k.id)
		for _, format := range []string{"jws", "cose"} {
			t.Run(k.spec+"/"+format, func(t *testing.T) {
				before := tsa.Requests()
				stamped := newLayout(t, "stamped "+t.Name())
				n.run("sign", "--oci-layout", "--key", k.spec+"-tsa", "--signature-format", format, stamped.ref())
				if tsa.Requests() != before+1 {
					t.Errorf("the TSA got %d requests, want 1", tsa.Requests()-before)
				}
				n.verify(stamped)
				for _, env := range stamped.signatures(t) {
					if len(envelopeContent(t, format, env).SignerInfo.UnsignedAttributes.TimestampSignature) == 0 {
						t.Error("the envelope carries no timestamp")
					}
				}

				plain := newLayout(t, "plain "+t.Name())
				n.run("sign", "--oci-layout", "--key", k.spec+"-plain", "--signature-format", format, plain.ref())
				n.verifyFails(t, plain, "no timestamp countersignature was found")
			})
		}
	}
}

// TestTimestampOutlivesCertificate signs with a certificate that expires
// seconds later, with and without a timestamp, and verifies both after it
// has expired: with verifyTimestamp "afterCertExpiry" the timestamped
// signature still verifies and the other does not.
func TestTimestampOutlivesCertificate(t *testing.T) {
	needCard(t)
	tsa, root := startTSA(t)
	yk := openPIV(t)
	pub := generateKey(t, yk, piv.SlotSignature, piv.AlgorithmEC256, piv.PINPolicyOnce)
	notAfter := time.Now().Add(5 * time.Second)
	leaf := certify(t, yk, piv.SlotSignature, pub, nil, validUntil(notAfter))
	yk.Close()

	n := newNotation(t)
	n.trust(leaf)
	n.trustTSA(root)
	n.importPolicy("afterCertExpiry")
	n.addKey("stamped", "9c", "tsa_url="+tsa.URL, "tsa_root_cert="+root)
	n.addKey("plain", "9c")
	stamped, plain := newLayout(t, "stamped"), newLayout(t, "plain")
	n.run("sign", "--oci-layout", "--key", "stamped", stamped.ref())
	n.run("sign", "--oci-layout", "--key", "plain", plain.ref())

	time.Sleep(time.Until(notAfter) + 1500*time.Millisecond)
	n.verify(stamped)
	// After the certificate expired, afterCertExpiry demands a timestamp.
	n.verifyFails(t, plain, "no timestamp countersignature was found")
}

// TestTimestampRawMode checks that RAW mode keeps working with notation's
// own --timestamp-url and --timestamp-root-cert.
func TestTimestampRawMode(t *testing.T) {
	needCard(t)
	tsa, root := startTSA(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	n := newNotation(t)
	n.trust(leaf)
	n.trustTSA(root)
	n.importPolicy("always")
	n.addKey("raw", "9c", "mode=raw")
	layout := newLayout(t, "raw stamped")
	n.run("sign", "--oci-layout", "--key", "raw", "--timestamp-url", tsa.URL, "--timestamp-root-cert", root, layout.ref())
	if tsa.Requests() != 1 {
		t.Errorf("the TSA got %d requests, want 1", tsa.Requests())
	}
	n.verify(layout)
}

// TestTSAFaults makes the TSA misbehave in every way it can and checks
// that signing fails with a clear error naming the TSA, and never returns
// an envelope.
func TestTSAFaults(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	tsa, root := startTSA(t)
	config := func(extra ...string) map[string]string {
		m := map[string]string{"tsa_url": tsa.URL, "tsa_root_cert": root}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	for _, fault := range timestamptest.Faults() {
		t.Run(fault.String(), func(t *testing.T) {
			tsa.SetFault(fault)
			defer tsa.SetFault(timestamptest.None)
			perr := expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", config()), "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeGeneric, tsa.URL)
			t.Logf("%s: %s", fault, perr.Message)
		})
	}
	t.Run("slow", func(t *testing.T) {
		tsa.SetDelay(5 * time.Second)
		defer tsa.SetDelay(0)
		start := time.Now()
		expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", config("tsa_timeout", "1s")), "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeTimeout, tsa.URL)
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("a TSA timeout of 1s took %v", d)
		}
	})
	t.Run("settings checked before the card", func(t *testing.T) {
		for _, tc := range []struct {
			config   map[string]string
			fragment string
		}{
			{map[string]string{"tsa_url": tsa.URL}, "tsa_root_cert"},
			{map[string]string{"tsa_root_cert": root}, "tsa_url"},
			{config("tsa_url", "ftp://127.0.0.1/"), "http"},
			{config("mode", "raw"), "--timestamp-url"},
			{config("tsa_timeout", "forever"), "tsa_timeout"},
			{config("tsa_root_cert", filepath.Dir(root)), "tsa_root_cert"},
		} {
			env.Card.ResetStats()
			before := tsa.Requests()
			expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", tc.config), "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeValidation, tc.fragment)
			if n := env.Card.Stats().Commands; n != 0 {
				t.Errorf("%v: the card got %d commands", tc.config, n)
			}
			if tsa.Requests() != before {
				t.Errorf("%v: the TSA was asked", tc.config)
			}
		}
	})
}
