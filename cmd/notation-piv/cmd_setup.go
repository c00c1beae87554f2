package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"strings"
	"time"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/piv"
)

const setupUsage = `Usage: notation-piv setup [options]

Generates a key in a slot of a PIV card and gives it a self-signed
certificate that meets the Notary Project rules (key usage digitalSignature,
critical; extended key usage codeSigning; not a CA), signed by the new key
on the card. Then prints the notation commands that add the key and trust
the certificate. With --csr it also writes a certificate signing request
for a CA; "notation-piv cert import" then loads the CA's certificate.

A slot that already holds a key or a certificate is refused unless --force
is given; replacing it asks for confirmation on the terminal unless --yes
is given too.

Options:
  --slot SLOT            slot: 9a, 9c (default), 9d, 9e or 82 to 95
  --algorithm ALG        EC-256 (default), EC-384, RSA-2048, RSA-3072 or RSA-4096
  --pin-policy POLICY    when the key needs the PIN: always (default), once or never
  --touch-policy POLICY  when the key needs a touch: never (default), always or cached
  --subject DN           certificate subject, such as "C=US, ST=WA, O=Example, CN=my signer"
                         (or "/C=US/ST=WA/O=Example/CN=my signer"); notation's trust
                         policies need C, ST and O
  --valid-days N         days the certificate is valid (default 365)
  --cert-out FILE        where to write the certificate as PEM, replacing a regular
                         file there (default ./notation-piv-SERIAL-SLOT.crt)
  --csr FILE             also write a certificate signing request to FILE, which
                         must not exist
  --force                replace the key and certificate in a slot that holds one
  --yes                  do not ask for confirmation
  --management-key-file FILE
                         the card's management key in hex, if it is neither the factory
                         key nor kept PIN-protected on the card
` + lastTryUsage + cardFlagsUsage + `
The PIN comes from NOTATION_PIV_PIN or a prompt on the terminal; it is
checked before the slot is changed, so a wrong PIN changes nothing. The
files are checked before the card is changed, and written once it is
closed: a symbolic link, a FIFO, a device or a directory is refused.
` + secretRulesUsage + `
Example:
  notation-piv setup --subject "C=US, ST=WA, O=Example, CN=my signer"
`

// setupOptions are the parsed flags of setup.
type setupOptions struct {
	slot     piv.Slot
	key      piv.KeyOptions
	subject  *pkix.Name // nil: a placeholder naming the card
	days     int
	certOut  string
	csr      string
	force    bool
	yes      bool
	mgmtFile string
	card     cardFlags
	// allowLastTry sends the PIN from the environment even with 1 try
	// left.
	allowLastTry bool
}

func runSetup(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	u := &ui{name: "setup", stdout: stdout, stderr: stderr}
	var o setupOptions
	fs := u.flags()
	slot := fs.String("slot", "9c", "")
	alg := fs.String("algorithm", keyspec.EC256.Name, "")
	fs.StringVar(&o.key.PINPolicy, "pin-policy", piv.PolicyAlways, "")
	fs.StringVar(&o.key.TouchPolicy, "touch-policy", piv.PolicyNever, "")
	subject := fs.String("subject", "", "")
	fs.IntVar(&o.days, "valid-days", 365, "")
	fs.StringVar(&o.certOut, "cert-out", "", "")
	fs.StringVar(&o.csr, "csr", "", "")
	fs.BoolVar(&o.force, "force", false, "")
	fs.BoolVar(&o.yes, "yes", false, "")
	fs.StringVar(&o.mgmtFile, "management-key-file", "", "")
	registerLastTry(fs, &o.allowLastTry)
	o.card.register(fs)
	if _, code, done := u.parse(fs, setupUsage, args, 0); done {
		return code
	}
	var err error
	if o.slot, err = piv.ParseSlot(*slot); err != nil {
		return u.fail(err)
	}
	var ok bool
	if o.key.Spec, ok = piv.LookupKeySpec(strings.ToUpper(*alg)); !ok {
		return u.fail(fmt.Errorf("unknown key algorithm %q: use one of %s", strings.ToUpper(*alg), keyspec.Names(piv.KeySpecs())))
	}
	o.key.PINPolicy, o.key.TouchPolicy = strings.ToLower(o.key.PINPolicy), strings.ToLower(o.key.TouchPolicy)
	if err := o.key.Check(); err != nil {
		return u.fail(err)
	}
	if o.days < 1 || o.days > 36500 {
		return u.fail(failure(fmt.Sprintf("--valid-days %d is out of range", o.days), "give a number of days from 1 to 36500"))
	}
	if *subject != "" {
		name, err := parseSubject(*subject)
		if err != nil {
			return u.fail(err)
		}
		o.subject = &name
	}
	// The files are checked before the card is touched, and written
	// after it is closed.
	var outs setupOutputs
	defer outs.discard()
	if o.csr != "" {
		if outs.csr, err = newOutput("--csr", o.csr, true); err != nil {
			return u.fail(err)
		}
	}
	if o.certOut != "" {
		if o.csr != "" && samePath(o.csr, o.certOut) {
			return u.fail(failure(fmt.Sprintf("--csr and --cert-out both name %s", o.csr), "write the request and the certificate to two files"))
		}
		if outs.cert, err = newOutput("--cert-out", o.certOut, false); err != nil {
			return u.fail(err)
		}
	}
	made, err := setup(ctx, &o, &outs)
	if err != nil {
		return u.fail(err)
	}
	var csrPath string
	if outs.csr != nil {
		if csrPath, err = outs.csr.commit(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: made.csr})); err != nil {
			return u.fail(failure(fmt.Sprintf("slot %s of card %d holds the new key and a self-signed certificate, but the certificate signing request could not be written: %v", o.slot, made.serial, err),
				"run setup again with --force --csr FILE"))
		}
	}
	certPath, err := outs.cert.commit(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: made.cert.Raw}))
	if err != nil {
		return u.fail(failure(fmt.Sprintf("the certificate is on the card, but writing it to a file failed: %v", err),
			fmt.Sprintf(`export it with "notation-piv cert export --serial %d --slot %s --output FILE"`, made.serial, o.slot)))
	}
	printSetupDone(u.stdout, made.serial, &o, made.cert, certPath, csrPath)
	if o.subject == nil {
		u.warn("the certificate names a placeholder subject; to name yourself run setup again with --force --subject \"C=US, ST=WA, O=Example, CN=my signer\"")
	}
	u.defaultWarnings(made.status)
	return 0
}

// setupOutputs are the files setup writes.
type setupOutputs struct {
	cert, csr *outputFile // csr is nil without --csr
}

// discard removes what was not written.
func (s *setupOutputs) discard() {
	s.cert.discard()
	s.csr.discard()
}

// samePath reports whether two paths name the same file, as far as their
// absolute forms tell.
func samePath(a, b string) bool {
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

// setupResult is what setup made on the card.
type setupResult struct {
	serial uint32
	status *piv.Status // the card's status before setup
	cert   *x509.Certificate
	csr    []byte // DER; nil without --csr
}

// setup does the work of runSetup on the card, once the flags and the
// output files are checked, and closes the card before it returns. It
// checks the default certificate file, named after the card's serial
// number, before it changes the card.
func setup(ctx context.Context, o *setupOptions, outs *setupOutputs) (*setupResult, error) {
	given, err := managementKeyFile(o.mgmtFile)
	if err != nil {
		return nil, err
	}
	defer clear(given)
	card, st, err := o.card.open(ctx)
	if err != nil {
		return nil, err
	}
	defer card.Close()
	serial := card.Serial()
	if outs.cert == nil {
		path := fmt.Sprintf("notation-piv-%d-%s.crt", serial, o.slot)
		if o.csr != "" && samePath(o.csr, path) {
			return nil, failure(fmt.Sprintf("--csr names %s, where setup writes the certificate", o.csr), "choose another --csr file, or name the certificate file with --cert-out")
		}
		if outs.cert, err = newOutput("--cert-out", path, false); err != nil {
			return nil, err
		}
	}
	sec := newSecrets(o.allowLastTry)
	sec.serial = serial
	defer sec.wipe()

	if ss := st.Slot(o.slot); ss != nil {
		what := slotContents(ss)
		if !o.force {
			return nil, failure(fmt.Sprintf("slot %s of card %d already holds %s", o.slot, serial, what),
				"choose an empty slot with --slot ("+freeSlots(st)+")",
				"or pass --force to replace it; the old key is then lost for good")
		}
		if !o.yes {
			if err := confirm(fmt.Sprintf("Slot %s of PIV card %d holds %s. Replacing it destroys the old key for good.", o.slot, serial, what), "yes"); err != nil {
				return nil, err
			}
		}
	}
	needPIN := o.key.PINPolicy != piv.PolicyNever || (st.Metadata && !st.ManagementKey.Default && given == nil)
	if needPIN {
		if err := sec.check("setup", secretPIN); err != nil {
			return nil, err
		}
	}
	askPIN := sec.pinFor(st.PIN.RetriesLeft)
	mgmt, protected, err := card.ManagementKey(ctx, st, given, askPIN)
	if err != nil {
		return nil, err
	}
	defer clear(mgmt)
	if o.key.PINPolicy != piv.PolicyNever && !protected {
		// Check the PIN before the slot changes: a wrong one then
		// changes nothing.
		pin, err := askPIN()
		defer clear(pin)
		if err != nil {
			return nil, err
		}
		if err := card.VerifyPIN(ctx, pin); err != nil {
			return nil, err
		}
	}

	pub, err := card.GenerateKey(ctx, mgmt, o.slot, o.key)
	if err != nil {
		return nil, err
	}
	broken := func(err error) error {
		return failure(fmt.Sprintf("slot %s of card %d now holds a new %s key but no certificate for it: %s", o.slot, serial, o.key.Spec.Name, err),
			"fix the cause and run setup again with --force")
	}
	// The PIN source guards the last try.
	signer, err := card.KeySigner(o.slot, pub, sec.pinSource(), piv.SignerOptions{TouchNotice: touchNotice, AllowLastPINTry: true})
	if err != nil {
		return nil, broken(err)
	}
	subject := placeholderSubject(serial, o.slot)
	if o.subject != nil {
		subject = *o.subject
	}
	cert, err := selfSignedCertificate(signer, o.key.Spec, subject, o.days)
	if err != nil {
		return nil, broken(err)
	}
	if err := card.StoreCertificate(ctx, mgmt, o.slot, cert); err != nil {
		return nil, broken(err)
	}
	made := &setupResult{serial: serial, status: st, cert: cert}
	if o.csr != "" {
		if made.csr, err = certificateRequest(signer, o.key.Spec, subject); err != nil {
			return nil, failure(fmt.Sprintf("slot %s of card %d holds the new key and a self-signed certificate, but the certificate signing request failed: %v", o.slot, serial, err),
				"run setup again with --force --csr FILE")
		}
	}
	return made, nil
}

// slotContents describes what a slot holds, for messages.
func slotContents(ss *piv.SlotStatus) string {
	var parts []string
	if ss.Key != nil {
		parts = append(parts, "an "+ss.Key.Algorithm+" key")
	}
	switch {
	case ss.Certificate != nil:
		parts = append(parts, fmt.Sprintf("a certificate for %q", ss.Certificate.Subject.String()))
	case ss.CertificateError != nil:
		parts = append(parts, "an unreadable certificate")
	}
	return strings.Join(parts, " and ")
}

// freeSlots lists the empty slots of a card, for a hint.
func freeSlots(st *piv.Status) string {
	var free []string
	for _, id := range []string{"9a", "9c", "9d", "9e", "82", "83", "84"} {
		s, _ := piv.ParseSlot(id)
		if st.Slot(s) == nil {
			free = append(free, id)
		}
	}
	if len(free) == 0 {
		return "see \"notation-piv list\""
	}
	return "free: " + strings.Join(free, ", ") + ", ..."
}

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

// signatureAlgorithm is the certificate signature algorithm for a key spec:
// ECDSA, or RSASSA-PSS as Notary Project signatures use, with the spec's
// hash.
func signatureAlgorithm(spec keyspec.Spec) x509.SignatureAlgorithm {
	return map[keyspec.Spec]x509.SignatureAlgorithm{
		keyspec.EC256:   x509.ECDSAWithSHA256,
		keyspec.EC384:   x509.ECDSAWithSHA384,
		keyspec.RSA2048: x509.SHA256WithRSAPSS,
		keyspec.RSA3072: x509.SHA384WithRSAPSS,
		keyspec.RSA4096: x509.SHA512WithRSAPSS,
	}[spec]
}

// selfSignedCertificate makes a Notary Project code-signing certificate for
// the card key behind signer, signed by that key, and checks it as notation
// will.
func selfSignedCertificate(signer crypto.Signer, spec keyspec.Spec, subject pkix.Name, days int) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               subject,
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		SignatureAlgorithm:    signatureAlgorithm(spec),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("sign the certificate on the card: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := certchain.CheckLeaf(cert, time.Now()); err != nil {
		return nil, fmt.Errorf("the new certificate fails the Notary Project rules: %w", err)
	}
	return cert, nil
}

// certificateRequest makes a certificate signing request (DER) for the
// card key behind signer.
func certificateRequest(signer crypto.Signer, spec keyspec.Spec, subject pkix.Name) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            subject,
		SignatureAlgorithm: signatureAlgorithm(spec),
	}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign the request on the card: %w", err)
	}
	return der, nil
}

// notationKeyName is the name setup suggests for the key in notation.
func notationKeyName(serial uint32, slot piv.Slot) string {
	return fmt.Sprintf("piv-%d-%s", serial, slot)
}

// keyAddLine is the "notation key add" command for a slot's key; caCerts,
// if not "", names the CA bundle that completes the chain.
func keyAddLine(name string, serial uint32, slot piv.Slot, caCerts string) string {
	words := []string{"notation", "key", "add", name, "--plugin", pluginName, "--id", slot.String(), "--plugin-config", fmt.Sprintf("serial=%d", serial)}
	if caCerts != "" {
		words = append(words, "--plugin-config", "ca_certs="+caCerts)
	}
	return commandLine(words...)
}

// trustStore is the notation trust store setup suggests.
const trustStore = "notation-piv"

// trustPolicy returns a notation trust policy document that trusts the
// subject of cert, found in trustStore, for every repository.
func trustPolicy(name string, cert *x509.Certificate) string {
	type policy struct {
		Name                  string            `json:"name"`
		RegistryScopes        []string          `json:"registryScopes"`
		SignatureVerification map[string]string `json:"signatureVerification"`
		TrustStores           []string          `json:"trustStores"`
		TrustedIdentities     []string          `json:"trustedIdentities"`
	}
	doc := struct {
		Version       string   `json:"version"`
		TrustPolicies []policy `json:"trustPolicies"`
	}{"1.0", []policy{{
		Name:                  name,
		RegistryScopes:        []string{"*"},
		SignatureVerification: map[string]string{"level": "strict"},
		TrustStores:           []string{"ca:" + trustStore},
		TrustedIdentities:     []string{"x509.subject: " + cert.Subject.String()},
	}}}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

// printSetupDone prints what setup made and the commands to run next.
func printSetupDone(w io.Writer, serial uint32, o *setupOptions, cert *x509.Certificate, certPath, csrPath string) {
	sum := sha256.Sum256(cert.Raw)
	fmt.Fprintf(w, "Slot %s of PIV card %d now holds a new %s key (PIN %s, touch %s) and a self-signed\ncode-signing certificate:\n",
		o.slot, serial, o.key.Spec.Name, o.key.PINPolicy, o.key.TouchPolicy)
	fmt.Fprintf(w, "  subject    %s\n  valid      %s to %s\n  sha256     %s\n  file       %s\n",
		cert.Subject, cert.NotBefore.UTC().Format("2006-01-02"), cert.NotAfter.UTC().Format("2006-01-02"), hex.EncodeToString(sum[:]), certPath)
	if csrPath != "" {
		fmt.Fprintf(w, `
Wrote a certificate signing request for the key to %s.
Until you import the CA's certificate, the slot keeps the self-signed one.

Next steps:
1. Send %s to your certificate authority and ask for a code-signing
   certificate: key usage digitalSignature (critical), extended key usage
   codeSigning or none, not a CA.
2. Import the certificate it issues, with the CA certificates that complete
   its chain in one PEM file, the issuer first and the root last:
   %s
   It checks the certificate and prints the notation commands to run.
`, csrPath, filepath.Base(csrPath),
			commandLine("notation-piv", "cert", "import", "--serial", fmt.Sprint(serial), "--slot", o.slot.String(), "--ca-certs", "ca-chain.pem", "signer.crt"))
		return
	}
	keyName := notationKeyName(serial, o.slot)
	fmt.Fprintf(w, `
Next steps:
1. Install the plugin, unless notation has it already:
   %s
2. Add the key to notation:
   %s
3. Trust the certificate when verifying:
   %s
4. Trust its subject in a trust policy. Without a trust policy yet, save
   these lines as trustpolicy.json and run "notation policy import trustpolicy.json";
   otherwise add the policy to yours:
%s
5. Sign and verify:
   %s
   %s
`,
		commandLine("notation", "plugin", "install", "--file", pluginPath()),
		keyAddLine(keyName, serial, o.slot, ""),
		commandLine("notation", "cert", "add", "--type", "ca", "--store", trustStore, certPath),
		trustPolicy(keyName, cert),
		commandLine("notation", "sign", "--key", keyName, "REGISTRY/REPOSITORY@DIGEST"),
		commandLine("notation", "verify", "REGISTRY/REPOSITORY@DIGEST"))
}
