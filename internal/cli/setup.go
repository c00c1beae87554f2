package cli

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/internal/prompt"
	"github.com/notation-piv/notation-piv/piv"
)

// setupCommand is "notation-piv setup".
var setupCommand = &command{
	name:    "setup",
	args:    "[options]",
	summary: "generate a key and a Notation-ready certificate in a slot",
	about: `Generates a key in a slot of a PIV card and gives it a self-signed
certificate that meets the Notary Project rules (key usage digitalSignature,
critical; extended key usage codeSigning; not a CA), signed by the new key
on the card. Then prints the notation commands that add the key and trust
the certificate. With --csr it also writes a certificate signing request
for a CA; "notation-piv cert import" then loads the CA's certificate.

Setup also writes the attestation bundle of the new key: the slot's
attestation certificate, signed by the card, then the card's attestation
certificate (slot f9), which chains to the card vendor's root. A
code-signing CA takes it, with the request, as proof that the key was
generated on the card and cannot leave it. It goes beside the request, or
without --csr beside the certificate, unless --attestation-out names the
file. A card that cannot attest gets a warning, and no bundle.

A slot that already holds a key or a certificate is refused unless --force
is given; replacing it asks for confirmation on the terminal unless --yes
is given too.

It works on YubiKeys, and cards that answer as one, only: any other PIV
card is refused before it is sent anything that could change it, and
before any prompt.
`,
	notes: `
The PIN comes from NOTATION_PIV_PIN or a prompt on the terminal; it is
checked before the slot is changed, so a wrong PIN changes nothing. The
files are checked before the card is changed, and written once it is
closed: a symbolic link, a FIFO, a device or a directory is refused.
` + secretRulesUsage + `
Example:
  notation-piv setup --subject "C=US, ST=WA, O=Example, CN=my signer"
`,
	flags: func(f *flagSet) action {
		var fl setupFlags
		o := &fl.options
		defineSlot(f, &fl.slot)
		f.stringVar(&fl.algorithm, "algorithm", "ALG", keyspec.EC256.Name, "EC-256, EC-384, RSA-2048, RSA-3072 or RSA-4096")
		f.stringVar(&o.key.PINPolicy, "pin-policy", "POLICY", piv.PolicyAlways, "when the key needs the PIN: always, once or never")
		f.stringVar(&o.key.TouchPolicy, "touch-policy", "POLICY", piv.PolicyNever, "when the key needs a touch: never, always or cached")
		f.stringVar(&fl.subject, "subject", "DN", "", `certificate subject, such as "C=US, ST=WA, O=Example, CN=my signer" (or "/C=US/ST=WA/O=Example/CN=my signer"); notation's trust policies need C, ST and O`)
		f.intVar(&o.days, "valid-days", "N", 365, "days the certificate is valid")
		f.stringVar(&o.certOut, "cert-out", "FILE", "", "where to write the certificate as PEM, replacing a regular file there (default ./notation-piv-SERIAL-SLOT.crt)")
		f.stringVar(&o.csr, "csr", "FILE", "", "also write a certificate signing request to FILE, which must not exist")
		f.stringVar(&o.attestationOut, "attestation-out", "FILE", "", "where to write the attestation bundle as PEM, replacing a regular file there (default: beside the request, or the certificate, ending in .attestation.pem)")
		f.boolVar(&o.force, "force", "replace the key and certificate in a slot that holds one")
		f.boolVar(&o.yes, "yes", "do not ask for confirmation")
		defineManagementKeyFile(f, &o.mgmtFile)
		defineLastTry(f, &o.allowLastTry)
		o.card.define(f)
		return func(ctx context.Context, u *ui, _ []string) error { return runSetup(ctx, u, &fl) }
	},
}

// setupFlags are the flags of setup, as given.
type setupFlags struct {
	slot, algorithm, subject string
	options                  setupOptions
}

// setupOptions are the parsed flags of setup.
type setupOptions struct {
	slot    piv.Slot
	key     piv.KeyOptions
	subject *pkix.Name // nil: a placeholder naming the card
	days    int
	certOut string
	csr     string
	// attestationOut is where the attestation bundle goes; "" for
	// beside the request or the certificate.
	attestationOut string
	force          bool
	yes            bool
	mgmtFile       string
	card           cardFlags
	// allowLastTry sends the PIN from the environment even with 1 try
	// left.
	allowLastTry bool
}

// runSetup checks the flags and the output files, runs setup, writes the
// files and prints what to do next.
func runSetup(ctx context.Context, u *ui, fl *setupFlags) error {
	o := &fl.options
	var err error
	if o.slot, err = piv.ParseSlot(fl.slot); err != nil {
		return err
	}
	var ok bool
	if o.key.Spec, ok = piv.LookupKeySpec(strings.ToUpper(fl.algorithm)); !ok {
		return fmt.Errorf("unknown key algorithm %q: use one of %s", strings.ToUpper(fl.algorithm), keyspec.Names(piv.KeySpecs()))
	}
	o.key.PINPolicy, o.key.TouchPolicy = strings.ToLower(o.key.PINPolicy), strings.ToLower(o.key.TouchPolicy)
	if err := o.key.Check(); err != nil {
		return err
	}
	if o.days < 1 || o.days > 36500 {
		return failure(fmt.Sprintf("--valid-days %d is out of range", o.days), "give a number of days from 1 to 36500")
	}
	if fl.subject != "" {
		name, err := parseSubject(fl.subject)
		if err != nil {
			return err
		}
		o.subject = &name
	}
	// The files are checked before the card is touched, and written
	// after it is closed.
	var outs setupOutputs
	defer outs.discard()
	if o.csr != "" {
		if outs.csr, err = newOutput("--csr", o.csr, true); err != nil {
			return err
		}
	}
	if o.certOut != "" {
		if o.csr != "" && samePath(o.csr, o.certOut) {
			return failure(fmt.Sprintf("--csr and --cert-out both name %s", o.csr), "write the request and the certificate to two files")
		}
		if outs.cert, err = newOutput("--cert-out", o.certOut, false); err != nil {
			return err
		}
	}
	if err := outs.planAttestation(o, o.certOut); err != nil {
		return err
	}
	made, err := setup(ctx, o, &outs)
	if err != nil {
		return err
	}
	var csrPath string
	if outs.csr != nil {
		if csrPath, err = outs.csr.commit(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: made.csr})); err != nil {
			return failure(fmt.Sprintf("slot %s of card %d holds the new key and a self-signed certificate, but the certificate signing request could not be written: %v", o.slot, made.serial, err),
				"run setup again with --force --csr FILE")
		}
	}
	certPath, err := outs.cert.commit(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: made.cert.Raw}))
	if err != nil {
		return failure(fmt.Sprintf("the certificate is on the card, but writing it to a file failed: %v", err),
			fmt.Sprintf(`export it with "notation-piv cert export --serial %d --slot %s --output FILE"`, made.serial, o.slot))
	}
	attestationPath, err := outs.writeAttestation(u, made, o)
	if err != nil {
		return err
	}
	printSetupDone(u.stdout, made.serial, o, made.cert, certPath, csrPath, attestationPath)
	if o.subject == nil {
		u.warn("the certificate names a placeholder subject; to name yourself run setup again with --force --subject \"C=US, ST=WA, O=Example, CN=my signer\"")
	}
	u.defaultWarnings(made.status)
	return nil
}

// setupOutputs are the files setup writes.
type setupOutputs struct {
	cert, csr   *outputFile // csr is nil without --csr
	attestation *outputFile // nil until planAttestation knows its path
}

// discard removes what was not written.
func (s *setupOutputs) discard() {
	s.cert.discard()
	s.csr.discard()
	s.attestation.discard()
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
	// attestation is the new key's attestation; nil, with
	// attestationErr, when the card did not give it.
	attestation    *attestation.Bundle
	attestationErr error
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
	card, st, err := o.card.openToManage(ctx, "generate a key in slot "+o.slot.String())
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
		if err := outs.planAttestation(o, path); err != nil {
			return nil, err
		}
	}
	sec := newSecrets(o.allowLastTry)
	sec.card = cardName(card.Info())
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
	signer, err := card.KeySigner(o.slot, pub, sec.pinSource(), piv.SignerOptions{TouchNotice: prompt.TouchCard, AllowLastPINTry: true})
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
	if slotCert, device, err := card.Attest(ctx, o.slot); err != nil {
		made.attestationErr = err
	} else {
		made.attestation = attestation.NewBundle(slotCert, device)
	}
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
