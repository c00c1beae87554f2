package attestation

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Prefixes of the trusted identities a Policy reads, and the wildcard.
const (
	PrefixAttested = "piv.attested"
	PrefixSubject  = "x509.subject"
	Wildcard       = "*"
)

// attestedAny is the piv.attested value that accepts any valid attestation.
const attestedAny = "any"

// Policy is a trust policy's trustedIdentities, read as attestation
// requirements:
//
//	piv.attested: any                   any valid attestation
//	piv.attested: serial=12345678|87654321, pin=always|once, touch=always|cached, firmware>=5.4.3, fips=true
//	x509.subject: C=US, ST=WA, O=Example
//	*                                   any valid attestation, any subject
//
// A piv.attested entry holds when every constraint it lists holds; "|"
// separates the values a constraint allows. Constraints: serial (decimal),
// pin (never, once, always, match-once, match-always), touch (never,
// always, cached), firmware (>=X.Y.Z, or =X.Y.Z|…) and fips (true, false).
// A signature passes when its attestation meets at least one piv.attested
// entry and, if there are x509.subject entries, the signing certificate's
// subject matches one of them by the Notary Project's rules: every
// attribute of the entry's DN is in the subject with the same value.
type Policy struct {
	wildcard bool
	attested []attestedEntry
	subjects []subjectEntry
}

// attestedEntry is one piv.attested entry.
type attestedEntry struct {
	text        string // the entry as written
	constraints []constraint
}

// constraint is one constraint of a piv.attested entry; check returns why
// an attestation does not meet it.
type constraint struct {
	name  string
	check func(*Attestation) error
}

// subjectEntry is one x509.subject entry.
type subjectEntry struct {
	text string
	dn   map[string]string
}

// ParsePolicy reads trustedIdentities. An entry it cannot read (an unknown
// prefix, an unknown or repeated constraint, a malformed value or DN) is an
// error that names the entry, as is a list without a piv.attested entry or
// wildcard, under which no signature could pass.
func ParsePolicy(trustedIdentities []string) (*Policy, error) {
	if len(trustedIdentities) == 0 {
		return nil, errors.New("no trusted identities")
	}
	p := &Policy{}
	for _, identity := range trustedIdentities {
		if identity == Wildcard {
			if len(trustedIdentities) > 1 {
				return nil, errors.New(`the wildcard trusted identity "*" cannot be used with other trusted identities`)
			}
			p.wildcard = true
			continue
		}
		if err := p.add(identity); err != nil {
			return nil, fmt.Errorf("trusted identity %q: %w", identity, err)
		}
	}
	if !p.wildcard && len(p.attested) == 0 {
		return nil, fmt.Errorf("no %s entry among the trusted identities, so no signature can pass", PrefixAttested)
	}
	for i, a := range p.subjects {
		for j, b := range p.subjects {
			if i != j && dnSubset(a.dn, b.dn) {
				return nil, fmt.Errorf("trusted identities %q and %q overlap", a.text, b.text)
			}
		}
	}
	return p, nil
}

// add reads one entry other than the wildcard.
func (p *Policy) add(identity string) error {
	prefix, value, ok := strings.Cut(identity, ":")
	if !ok {
		return fmt.Errorf("no prefix; want %s: or %s:", PrefixAttested, PrefixSubject)
	}
	value = strings.TrimSpace(value)
	switch prefix {
	case PrefixAttested:
		e, err := parseAttested(value)
		if err != nil {
			return err
		}
		e.text = identity
		p.attested = append(p.attested, e)
	case PrefixSubject:
		dn, err := parseDN(value)
		if err != nil {
			return err
		}
		p.subjects = append(p.subjects, subjectEntry{text: identity, dn: dn})
	default:
		return fmt.Errorf("unknown prefix %q; want %s or %s", prefix, PrefixAttested, PrefixSubject)
	}
	return nil
}

// parseAttested reads a piv.attested value: "any", or constraints
// separated by commas.
func parseAttested(value string) (attestedEntry, error) {
	switch value {
	case "":
		return attestedEntry{}, fmt.Errorf("no constraints; %q accepts any attestation", attestedAny)
	case attestedAny:
		return attestedEntry{}, nil
	}
	var e attestedEntry
	for _, text := range strings.Split(value, ",") {
		text = strings.TrimSpace(text)
		c, err := parseConstraint(text)
		if err != nil {
			return attestedEntry{}, err
		}
		if slices.ContainsFunc(e.constraints, func(d constraint) bool { return d.name == c.name }) {
			return attestedEntry{}, fmt.Errorf("constraint %s appears twice", c.name)
		}
		e.constraints = append(e.constraints, c)
	}
	return e, nil
}

// constraintNames are the constraints of a piv.attested entry.
const constraintNames = "serial, pin, touch, firmware, fips"

// parseConstraint reads one constraint: name=value|value… or
// firmware>=X.Y.Z.
func parseConstraint(text string) (constraint, error) {
	if text == "" {
		return constraint{}, errors.New("empty constraint")
	}
	i := strings.IndexAny(text, "<>=!")
	if i < 0 {
		return constraint{}, fmt.Errorf("constraint %q has no value; want name=value", text)
	}
	name := strings.TrimSpace(text[:i])
	rest := text[i:]
	op := "="
	if strings.HasPrefix(rest, ">=") {
		op = ">="
	} else if !strings.HasPrefix(rest, "=") {
		return constraint{}, fmt.Errorf("constraint %q: unknown operator; want = (or >= for firmware)", text)
	}
	values := strings.Split(rest[len(op):], "|")
	for i, v := range values {
		values[i] = strings.TrimSpace(v)
		if values[i] == "" {
			return constraint{}, fmt.Errorf("constraint %q has an empty value", text)
		}
	}
	if op == ">=" && name != "firmware" {
		return constraint{}, fmt.Errorf("constraint %q: only firmware takes >=", text)
	}
	if op == ">=" && len(values) > 1 {
		return constraint{}, fmt.Errorf("constraint %q: >= takes one version", text)
	}
	var check func(*Attestation) error
	var err error
	switch name {
	case "serial":
		check, err = serialConstraint(values)
	case "pin":
		check, err = namedConstraint(name, values, pinPolicyNames, func(a *Attestation) PINPolicy { return a.PINPolicy })
	case "touch":
		check, err = namedConstraint(name, values, touchPolicyNames, func(a *Attestation) TouchPolicy { return a.TouchPolicy })
	case "fips":
		check, err = namedConstraint(name, values, map[bool]string{true: "true", false: "false"}, func(a *Attestation) bool { return a.FIPS })
	case "firmware":
		check, err = firmwareConstraint(op, values)
	default:
		return constraint{}, fmt.Errorf("unknown constraint %q; want one of %s", name, constraintNames)
	}
	if err != nil {
		return constraint{}, err
	}
	return constraint{name: name, check: check}, nil
}

func serialConstraint(values []string) (func(*Attestation) error, error) {
	serials := make([]uint32, len(values))
	for i, v := range values {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("serial %q is not a number from 0 to 4294967295", v)
		}
		serials[i] = uint32(n)
	}
	return func(a *Attestation) error {
		if slices.Contains(serials, a.Serial) {
			return nil
		}
		return fmt.Errorf("serial %d is not %s", a.Serial, oneOf(values))
	}, nil
}

// namedConstraint reads a constraint whose values are names of T, and
// checks get(a) against them.
func namedConstraint[T comparable](name string, values []string, names map[T]string, get func(*Attestation) T) (func(*Attestation) error, error) {
	allowed := make([]T, len(values))
	for i, v := range values {
		var found bool
		for t, n := range names {
			if n == v {
				allowed[i], found = t, true
			}
		}
		if !found {
			known := make([]string, 0, len(names))
			for _, n := range names {
				known = append(known, n)
			}
			slices.Sort(known)
			return nil, fmt.Errorf("%s %q is not one of %s", name, v, strings.Join(known, ", "))
		}
	}
	return func(a *Attestation) error {
		seen := get(a)
		if slices.Contains(allowed, seen) {
			return nil
		}
		return fmt.Errorf("%s %s is not %s", name, names[seen], oneOf(values))
	}, nil
}

func firmwareConstraint(op string, values []string) (func(*Attestation) error, error) {
	versions := make([]Version, len(values))
	for i, v := range values {
		var err error
		if versions[i], err = parseVersion(v); err != nil {
			return nil, fmt.Errorf("firmware %w", err)
		}
	}
	if op == ">=" {
		least := versions[0]
		return func(a *Attestation) error {
			if a.Firmware.Less(least) {
				return fmt.Errorf("firmware %s is older than %s", a.Firmware, least)
			}
			return nil
		}, nil
	}
	return func(a *Attestation) error {
		if slices.Contains(versions, a.Firmware) {
			return nil
		}
		return fmt.Errorf("firmware %s is not %s", a.Firmware, oneOf(values))
	}, nil
}

// oneOf lists allowed values: "always", or "one of 1, 2".
func oneOf(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return "one of " + strings.Join(values, ", ")
}

// Evaluate applies the policy to a verified attestation and the signing
// certificate. It returns nil when the signature passes, and otherwise an
// error whose text is the reason: the failing constraint and the value
// seen, such as "serial 10002 is not one of 12345678, 87654321".
func (p *Policy) Evaluate(a *Attestation, signing *x509.Certificate) error {
	if p.wildcard {
		return nil
	}
	if err := p.evaluateAttested(a); err != nil {
		return err
	}
	return p.evaluateSubject(signing)
}

// evaluateAttested checks that a meets at least one piv.attested entry.
func (p *Policy) evaluateAttested(a *Attestation) error {
	var reasons []string
	for _, e := range p.attested {
		err := e.evaluate(a)
		if err == nil {
			return nil
		}
		reasons = append(reasons, err.Error())
	}
	if len(reasons) == 1 {
		return errors.New(reasons[0])
	}
	return fmt.Errorf("no %s entry holds: %s", PrefixAttested, strings.Join(reasons, "; "))
}

// evaluate returns why a does not meet the entry: its first failing
// constraint, in the order written.
func (e attestedEntry) evaluate(a *Attestation) error {
	for _, c := range e.constraints {
		if err := c.check(a); err != nil {
			return err
		}
	}
	return nil
}

// evaluateSubject checks that the signing certificate's subject matches
// one of the x509.subject entries, if there are any.
func (p *Policy) evaluateSubject(signing *x509.Certificate) error {
	if len(p.subjects) == 0 {
		return nil
	}
	subject := signing.Subject.String()
	dn, err := parseDN(subject)
	if err != nil {
		return fmt.Errorf("signing certificate subject: %w", err)
	}
	for _, e := range p.subjects {
		if dnSubset(e.dn, dn) {
			return nil
		}
	}
	return fmt.Errorf("subject %q matches no %s entry", subject, PrefixSubject)
}
