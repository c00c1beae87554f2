package cli

import (
	"crypto/x509/pkix"
	"fmt"
	"strings"

	"github.com/notation-piv/notation-piv/piv"
)

// placeholderSubject names a certificate after its card and slot when the
// user gives no subject. Trust policies need C, ST and O: XX is the ISO
// 3166 code for an unknown country.
func placeholderSubject(serial uint32, slot piv.Slot) pkix.Name {
	return pkix.Name{
		Country:      []string{"XX"},
		Province:     []string{"Unknown"},
		Organization: []string{"notation-piv"},
		CommonName:   fmt.Sprintf("notation-piv %d slot %s", serial, slot),
	}
}

// subjectAttributes maps the attribute names parseSubject accepts to the
// fields of pkix.Name.
var subjectAttributes = map[string]func(n *pkix.Name, v string){
	"C":            func(n *pkix.Name, v string) { n.Country = append(n.Country, v) },
	"ST":           func(n *pkix.Name, v string) { n.Province = append(n.Province, v) },
	"L":            func(n *pkix.Name, v string) { n.Locality = append(n.Locality, v) },
	"O":            func(n *pkix.Name, v string) { n.Organization = append(n.Organization, v) },
	"OU":           func(n *pkix.Name, v string) { n.OrganizationalUnit = append(n.OrganizationalUnit, v) },
	"CN":           func(n *pkix.Name, v string) { n.CommonName = v },
	"SERIALNUMBER": func(n *pkix.Name, v string) { n.SerialNumber = v },
}

// parseSubject parses a distinguished name written "C=US, ST=WA, O=Example,
// CN=my signer" (commas, a backslash escapes one) or
// "/C=US/ST=WA/O=Example/CN=my signer" (openssl's form). It must hold C, ST
// and O, which notation's trust policies require of a trusted identity.
func parseSubject(s string) (pkix.Name, error) {
	sep := ','
	if strings.HasPrefix(s, "/") {
		sep, s = '/', s[1:]
	}
	var parts []string
	var cur strings.Builder
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == sep:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	parts = append(parts, cur.String())
	var name pkix.Name
	example := `for example "C=US, ST=WA, O=Example, CN=my signer"`
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.TrimSpace(v)
		set, known := subjectAttributes[k]
		switch {
		case !ok || v == "":
			return pkix.Name{}, failure(fmt.Sprintf("--subject %q: %q is not ATTRIBUTE=VALUE", s, strings.TrimSpace(p)), "write the subject as attributes and values, "+example)
		case !known:
			return pkix.Name{}, failure(fmt.Sprintf("--subject %q: unknown attribute %q", s, k), "use C, ST, L, O, OU, CN and SERIALNUMBER, "+example)
		}
		set(&name, v)
	}
	if len(name.Country) == 0 || len(name.Province) == 0 || len(name.Organization) == 0 {
		return pkix.Name{}, failure(fmt.Sprintf("--subject %q lacks C, ST or O, which notation's trust policies require of a trusted identity", s), "add them, "+example)
	}
	for _, c := range name.Country {
		if len(c) != 2 {
			return pkix.Name{}, failure(fmt.Sprintf("--subject %q: the country C=%s is not a two-letter code", s, c), "use an ISO 3166 code such as US or DE")
		}
	}
	return name, nil
}
