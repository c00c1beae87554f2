package cli

import "testing"

func TestParseSubject(t *testing.T) {
	for in, want := range map[string]string{
		"C=US, ST=WA, O=Example, CN=my signer":       "CN=my signer,O=Example,ST=WA,C=US",
		"/C=DE/ST=Berlin/L=Berlin/O=Ex\\/ample/CN=x": "CN=x,O=Ex/ample,L=Berlin,ST=Berlin,C=DE",
		"cn=a\\, b,o=c,st=d,c=FR,ou=e":               "CN=a\\, b,OU=e,O=c,ST=d,C=FR",
	} {
		name, err := parseSubject(in)
		if err != nil || name.String() != want {
			t.Errorf("parseSubject(%q) = %q, %v; want %q", in, name.String(), err, want)
		}
	}
	for _, in := range []string{"", "CN", "C=US, ST=WA, CN=x", "C=US, ST=WA, O=x, EMAIL=a@b", "C=US, ST=WA, O="} {
		if _, err := parseSubject(in); err == nil {
			t.Errorf("parseSubject(%q) succeeded", in)
		}
	}
	if _, err := parseSubject("C=US, ST=WA, O=x"); err != nil {
		t.Error(err)
	}
}
