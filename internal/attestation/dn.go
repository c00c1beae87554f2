package attestation

import (
	"fmt"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"
)

// parseDN reads a distinguished name by the Notary Project's rules for
// x509.subject identities, with the RFC 4514 parser that notation uses
// (go-ldap): no hex-encoded values ("=#"), no multi-valued RDNs, each
// attribute once ("S" is "ST"), and C, ST and O present. It returns the
// attributes by type.
func parseDN(name string) (map[string]string, error) {
	if strings.Contains(name, "=#") {
		return nil, fmt.Errorf("distinguished name %q has a hex-encoded value (=#), which the Notary Project rules do not allow", name)
	}
	dn, err := ldap.ParseDN(name)
	if err != nil {
		return nil, fmt.Errorf("distinguished name %q: %w", name, err)
	}
	attrs := map[string]string{}
	for _, rdn := range dn.RDNs {
		if len(rdn.Attributes) > 1 {
			return nil, fmt.Errorf("distinguished name %q has a multi-valued RDN, which the Notary Project rules do not allow", name)
		}
		for _, a := range rdn.Attributes {
			typ := a.Type
			if typ == "S" {
				typ = "ST"
			}
			if _, dup := attrs[typ]; dup {
				return nil, fmt.Errorf("distinguished name %q has %s twice", name, typ)
			}
			attrs[typ] = a.Value
		}
	}
	var missing []string
	for _, typ := range []string{"C", "ST", "O"} {
		if attrs[typ] == "" {
			missing = append(missing, typ)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("distinguished name %q lacks %s; the Notary Project rules require C, ST (or S) and O", name, strings.Join(missing, ", "))
	}
	return attrs, nil
}

// dnSubset reports whether every attribute of sub has the same value in
// dn (an absent attribute counts as empty, as in notation).
func dnSubset(sub, dn map[string]string) bool {
	for typ, v := range sub {
		if dn[typ] != v {
			return false
		}
	}
	return true
}
