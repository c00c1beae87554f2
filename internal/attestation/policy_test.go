package attestation

import (
	"crypto/x509/pkix"
	"strings"
	"testing"
)

// card is the attestation the policy tests evaluate.
var card = &Attestation{Slot: "9c", Serial: 10002, Firmware: Version{5, 7, 1}, PINPolicy: PINPolicyOnce, TouchPolicy: TouchPolicyNever, FormFactor: 0x03}

func TestPolicyEvaluate(t *testing.T) {
	leaf := signingCert(t, newECKey(t).Public(), exampleSubject)
	for _, tc := range []struct {
		name       string
		identities []string
		want       string // "" to pass, else the reason
	}{
		{"wildcard", []string{"*"}, ""},
		{"any", []string{"piv.attested: any"}, ""},
		{"any without a space", []string{"piv.attested:any"}, ""},
		{"serial listed", []string{"piv.attested: serial=12345678|10002"}, ""},
		{"serial not listed", []string{"piv.attested: serial=12345678|87654321"}, "serial 10002 is not one of 12345678, 87654321"},
		{"one serial", []string{"piv.attested: serial=1"}, "serial 10002 is not 1"},
		{"pin once allowed", []string{"piv.attested: pin=always|once"}, ""},
		{"pin always required", []string{"piv.attested: pin=always"}, "pin once is not always"},
		{"touch always required", []string{"piv.attested: touch=always"}, "touch never is not always"},
		{"touch never allowed", []string{"piv.attested: touch = always | cached | never"}, ""},
		{"firmware at least 5.7.1", []string{"piv.attested: firmware>=5.7.1"}, ""},
		{"firmware at least 5.8.0", []string{"piv.attested: firmware>=5.8.0"}, "firmware 5.7.1 is older than 5.8.0"},
		{"firmware at least 5.7.10", []string{"piv.attested: firmware >= 5.7.10"}, "firmware 5.7.1 is older than 5.7.10"},
		{"firmware at least 4.99.99", []string{"piv.attested: firmware>=4.99.99"}, ""},
		{"firmware listed", []string{"piv.attested: firmware=5.7.0|5.7.1"}, ""},
		{"firmware not listed", []string{"piv.attested: firmware=5.7.2|5.7.3"}, "firmware 5.7.1 is not one of 5.7.2, 5.7.3"},
		{"fips required", []string{"piv.attested: fips=true"}, "fips false is not true"},
		{"fips refused", []string{"piv.attested: fips=false"}, ""},
		{"every constraint holds", []string{"piv.attested: serial=10002, pin=once, touch=never, firmware>=5.0.0, fips=false"}, ""},
		{"first failing constraint as written", []string{"piv.attested: touch=cached, serial=1"}, "touch never is not cached"},
		{"second entry holds", []string{"piv.attested: serial=1", "piv.attested: pin=once"}, ""},
		{"no entry holds", []string{"piv.attested: serial=1", "piv.attested: pin=always"}, "no piv.attested entry holds: serial 10002 is not 1; pin once is not always"},
		{"subject matches", []string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=Example"}, ""},
		{"subject matches with S", []string{"piv.attested: any", "x509.subject: C=US,S=WA,O=Example,CN=signer"}, ""},
		{"subject does not match", []string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=Other"}, `subject "CN=signer,O=Example,ST=WA,C=US" matches no x509.subject entry`},
		{"second subject matches", []string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=Other", "x509.subject: C=US, ST=WA, O=Example"}, ""},
		{"subject matches, attestation fails", []string{"piv.attested: pin=always", "x509.subject: C=US, ST=WA, O=Example"}, "pin once is not always"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy(tc.identities)
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			err = p.Evaluate(card, leaf)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Evaluate: %v, want a pass", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("Evaluate: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPolicyFIPS(t *testing.T) {
	fips := *card
	fips.FIPS = true
	p, err := ParsePolicy([]string{"piv.attested: fips=true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Evaluate(&fips, nil); err != nil {
		t.Errorf("a FIPS card fails fips=true: %v", err)
	}
}

// TestPolicySubjectNotNotary checks that a signing certificate whose
// subject breaks the Notary Project's DN rules fails x509.subject entries,
// as it fails notation's own match.
func TestPolicySubjectNotNotary(t *testing.T) {
	leaf := signingCert(t, newECKey(t).Public(), pkix.Name{CommonName: "no organization"})
	p, err := ParsePolicy([]string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=Example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Evaluate(card, leaf); err == nil || !strings.Contains(err.Error(), "signing certificate subject") {
		t.Errorf("Evaluate: %v", err)
	}
	p, err = ParsePolicy([]string{"piv.attested: any"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Evaluate(card, leaf); err != nil {
		t.Errorf("without x509.subject entries the subject does not count: %v", err)
	}
}

func TestParsePolicyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		identities []string
		want       string
	}{
		{"none", nil, "no trusted identities"},
		{"empty entry", []string{""}, `trusted identity "": no prefix`},
		{"wildcard with others", []string{"*", "piv.attested: any"}, `the wildcard trusted identity "*" cannot be used with other trusted identities`},
		{"no prefix", []string{"serial=1"}, `trusted identity "serial=1": no prefix; want piv.attested: or x509.subject:`},
		{"unknown prefix", []string{"piv.attestd: any"}, `trusted identity "piv.attestd: any": unknown prefix "piv.attestd"`},
		{"prefix in capitals", []string{"PIV.attested: any"}, `unknown prefix "PIV.attested"`},
		{"subject only", []string{"x509.subject: C=US, ST=WA, O=Example"}, "no piv.attested entry among the trusted identities"},
		{"no constraints", []string{"piv.attested:"}, `trusted identity "piv.attested:": no constraints; "any" accepts any attestation`},
		{"any with a constraint", []string{"piv.attested: any, pin=always"}, `constraint "any" has no value`},
		{"unknown constraint", []string{"piv.attested: color=red"}, `trusted identity "piv.attested: color=red": unknown constraint "color"; want one of serial, pin, touch, firmware, fips`},
		{"constraint in capitals", []string{"piv.attested: PIN=always"}, `unknown constraint "PIN"`},
		{"constraint twice", []string{"piv.attested: pin=always, pin=once"}, "constraint pin appears twice"},
		{"empty constraint", []string{"piv.attested: pin=always,"}, "empty constraint"},
		{"no value", []string{"piv.attested: pin"}, `constraint "pin" has no value`},
		{"empty value", []string{"piv.attested: pin="}, `constraint "pin=" has an empty value`},
		{"empty alternative", []string{"piv.attested: pin=always|"}, `constraint "pin=always|" has an empty value`},
		{"unknown operator", []string{"piv.attested: firmware<=5.0.0"}, `constraint "firmware<=5.0.0": unknown operator`},
		{"not-equal", []string{"piv.attested: serial!=1"}, "unknown operator"},
		{"serial >=", []string{"piv.attested: serial>=1"}, `constraint "serial>=1": only firmware takes >=`},
		{"firmware >= two", []string{"piv.attested: firmware>=5.0.0|5.1.0"}, ">= takes one version"},
		{"serial not a number", []string{"piv.attested: serial=abc"}, `serial "abc" is not a number from 0 to 4294967295`},
		{"serial negative", []string{"piv.attested: serial=-1"}, `serial "-1" is not a number`},
		{"serial too large", []string{"piv.attested: serial=4294967296"}, `serial "4294967296" is not a number`},
		{"pin unknown", []string{"piv.attested: pin=sometimes"}, `pin "sometimes" is not one of always, match-always, match-once, never, once`},
		{"pin in capitals", []string{"piv.attested: pin=Always"}, `pin "Always" is not one of`},
		{"touch unknown", []string{"piv.attested: touch=once"}, `touch "once" is not one of always, cached, never`},
		{"fips unknown", []string{"piv.attested: fips=yes"}, `fips "yes" is not one of false, true`},
		{"firmware two parts", []string{"piv.attested: firmware>=5.4"}, `firmware "5.4" is not a version X.Y.Z`},
		{"firmware part too large", []string{"piv.attested: firmware=5.256.0"}, `firmware "5.256.0" is not a version X.Y.Z with each part 0-255`},
		{"firmware with v", []string{"piv.attested: firmware>=v5.4.3"}, `firmware "v5.4.3" is not a version`},
		{"subject empty", []string{"piv.attested: any", "x509.subject:"}, `trusted identity "x509.subject:": distinguished name ""`},
		{"subject without O", []string{"piv.attested: any", "x509.subject: C=US, ST=WA"}, "lacks O; the Notary Project rules require C, ST (or S) and O"},
		{"subject hex value", []string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=#04024869"}, "hex-encoded value"},
		{"subject multi-valued", []string{"piv.attested: any", "x509.subject: C=US+ST=WA, O=Example"}, "multi-valued RDN"},
		{"subject repeated attribute", []string{"piv.attested: any", "x509.subject: C=US, ST=WA, S=OR, O=Example"}, "has ST twice"},
		{"subject malformed", []string{"piv.attested: any", "x509.subject: C=US, ST"}, `trusted identity "x509.subject: C=US, ST": distinguished name`},
		{"subjects overlap", []string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=Example", "x509.subject: C=US, ST=WA, O=Example, CN=signer"}, "overlap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy(tc.identities)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePolicy: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add("piv.attested: serial=12345678|87654321, pin=always|once, touch=always|cached, firmware>=5.4.3, fips=true")
	f.Add("x509.subject: C=US, ST=WA, O=Example")
	f.Add("*")
	leaf := signingCert(f, newECKey(f).Public(), exampleSubject)
	f.Fuzz(func(t *testing.T, identity string) {
		p, err := ParsePolicy([]string{identity})
		if err != nil {
			if !strings.Contains(err.Error(), "trusted identit") && !strings.Contains(err.Error(), "no piv.attested entry") {
				t.Errorf("error does not name the entry: %v", err)
			}
			return
		}
		_ = p.Evaluate(card, leaf)
	})
}
