package certchain

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/notation-piv/notation-piv/fixtures"
)

func TestCheckLeaf(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "CA", nil)
	isCA := func(c *x509.Certificate) { c.IsCA = true }
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"CA-issued", newLeaf(t, "leaf", ca, nil).cert, ""},
		{"self-signed", newLeaf(t, "self", nil, nil).cert, ""},
		{"non-critical key usage", newLeaf(t, "nc", ca, nil, fixtures.NonCriticalKeyUsage).cert, "must be marked critical"},
		{"self-signed non-critical key usage", newLeaf(t, "nc", nil, nil, fixtures.NonCriticalKeyUsage).cert, "must be marked critical"},
		{"server auth", newLeaf(t, "tls", ca, nil, fixtures.ServerAuth).cert, "extended key usage serverAuth, which notation refuses"},
		{"PIV digital signature", newLeaf(t, "piv 9c", ca, nil, fixtures.PIVDigitalSignature).cert, "extended key usage emailProtection, which notation refuses"},
		{"PIV authentication", newLeaf(t, "piv 9a", ca, nil, fixtures.PIVAuthentication).cert, "extended key usage clientAuth, which notation refuses"},
		{"CA flag", newLeaf(t, "ca", ca, nil, isCA).cert, "ca field must be set to false"},
		{"expired", newLeaf(t, "old", ca, nil, fixtures.Expired).cert, "invalid at signing time"},
	} {
		err := CheckLeaf(tc.cert, now)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "leaf check"):
			t.Errorf("%s: the error names the throwaway CA: %v", tc.name, err)
		}
	}
}

// TestExtKeyUsage checks that an extended key usage gives an
// *ExtKeyUsageError exactly when notation-core-go refuses it in a signing
// certificate, and that the error names the certificate and the usages
// and quotes the Notary Project rule.
func TestExtKeyUsage(t *testing.T) {
	now := time.Now()
	root := newCA(t, "Root", nil)
	ca := newCA(t, "CA", root)
	for _, tc := range []struct {
		name    string
		eku     []x509.ExtKeyUsage
		unknown []asn1.ObjectIdentifier
		refused []string // nil: none
	}{
		{"none", nil, nil, nil},
		{"codeSigning", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, nil, nil},
		{"anyExtendedKeyUsage", []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, nil, nil},
		{"Microsoft Document Signing", nil, []asn1.ObjectIdentifier{fixtures.OIDMicrosoftDocumentSigning}, nil},
		{"serverAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil, []string{"serverAuth"}},
		{"clientAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, []string{"clientAuth"}},
		{"emailProtection", []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, nil, []string{"emailProtection"}},
		{"timeStamping", []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, nil, []string{"timeStamping"}},
		{"OCSPSigning", []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, nil, []string{"OCSPSigning"}},
		{"codeSigning and emailProtection", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageEmailProtection}, nil, []string{"emailProtection"}},
		{"emailProtection, clientAuth and serverAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
			nil, []string{"serverAuth", "clientAuth", "emailProtection"}},
	} {
		leaf := newLeaf(t, "Signer", ca, nil, func(c *x509.Certificate) { c.ExtKeyUsage, c.UnknownExtKeyUsage = tc.eku, tc.unknown }).cert
		notation := nx509.ValidateCodeSigningCertChain([]*x509.Certificate{leaf, ca.cert, root.cert}, &now)
		if (notation != nil) != (tc.refused != nil) {
			t.Errorf("%s: notation-core-go says %v, but the case expects refused %v", tc.name, notation, tc.refused)
		}
		err := CheckExtKeyUsage(leaf)
		var eku *ExtKeyUsageError
		if tc.refused == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.As(err, &eku) || !slices.Equal(eku.Refused, tc.refused) || eku.Subject != "CN=Signer" {
			t.Errorf("%s: %#v, want an *ExtKeyUsageError refusing %v", tc.name, err, tc.refused)
			continue
		}
		msg := err.Error()
		for _, want := range append([]string{`certificate "CN=Signer" has the extended key usage`, `"` + ExtKeyUsageRule + `"`}, tc.refused...) {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q lacks %q", tc.name, msg, want)
			}
		}
	}
	err := CheckExtKeyUsage(newLeaf(t, "Two", ca, nil, fixtures.ExtKeyUsage(x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection)).cert)
	if err == nil || !strings.Contains(err.Error(), "extended key usages clientAuth and emailProtection, which") {
		t.Errorf("two usages: %v", err)
	}
}

// TestCheckUsage checks that CheckUsage applies the rules no chain and no
// signing time can mend, and only those, and that the extended key usage
// rule comes first: in Build too, before the CA bundle is looked at.
func TestCheckUsage(t *testing.T) {
	root := newCA(t, "Root", nil)
	ca := newCA(t, "CA", root)
	isCA := func(c *x509.Certificate) { c.IsCA = true }
	for _, tc := range []struct {
		name    string
		cert    *x509.Certificate
		refused []string // the *ExtKeyUsageError's; nil: another error or none
		want    string   // the error's substring; "": none
	}{
		{"CA-issued", newLeaf(t, "leaf", ca, nil).cert, nil, ""},
		{"self-signed", newLeaf(t, "self", nil, nil).cert, nil, ""},
		{"expired", newLeaf(t, "old", ca, nil, fixtures.Expired).cert, nil, ""},
		{"not yet valid", newLeaf(t, "new", ca, nil, fixtures.NotYetValid).cert, nil, ""},
		{"non-critical key usage", newLeaf(t, "nc", ca, nil, fixtures.NonCriticalKeyUsage).cert, nil, "must be marked critical"},
		{"no key usage", newLeaf(t, "noku", ca, nil, fixtures.KeyUsage(0)).cert, nil, "key usage extension must be present"},
		{"CA flag", newLeaf(t, "ca", ca, nil, isCA).cert, nil, "ca field must be set to false"},
		{"PIV digital signature", newLeaf(t, "piv 9c", ca, nil, fixtures.PIVDigitalSignature).cert, []string{"emailProtection"}, "emailProtection"},
		{"PIV authentication", newLeaf(t, "piv 9a", ca, nil, fixtures.PIVAuthentication).cert, []string{"clientAuth"}, "clientAuth"},
		{"expired PIV digital signature", newLeaf(t, "old 9c", ca, nil, fixtures.PIVDigitalSignature, fixtures.Expired).cert, []string{"emailProtection"}, "emailProtection"},
		{"self-signed PIV digital signature", newLeaf(t, "self 9c", nil, nil, fixtures.PIVDigitalSignature).cert, []string{"emailProtection"}, "emailProtection"},
	} {
		err := CheckUsage(tc.cert)
		var eku *ExtKeyUsageError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		case tc.refused != nil && (!errors.As(err, &eku) || !slices.Equal(eku.Refused, tc.refused)):
			t.Errorf("%s: %#v, want an *ExtKeyUsageError refusing %v", tc.name, err, tc.refused)
		case tc.refused == nil && errors.As(err, &eku):
			t.Errorf("%s: an *ExtKeyUsageError: %v", tc.name, err)
		}
		if tc.refused == nil {
			continue
		}
		// Neither a missing nor a complete CA bundle changes the verdict.
		for _, bundle := range [][]*x509.Certificate{nil, {ca.cert, root.cert}} {
			if _, err := Build(tc.cert, bundle, time.Now()); !errors.As(err, &eku) || !slices.Equal(eku.Refused, tc.refused) {
				t.Errorf("%s: Build with %d CA certificates: %v, want an *ExtKeyUsageError", tc.name, len(bundle), err)
			}
		}
	}
}
