package cli

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/prompt"
	"github.com/notation-piv/notation-piv/piv"
)

// certCommand is "notation-piv cert".
var certCommand = &command{
	name:    "cert",
	summary: "load a CA-issued certificate into a slot, or write one out",
	about: `"import" stores a certificate, typically one a CA issued for a key made by
"notation-piv setup --csr", in a slot; "export" writes a slot's certificate
as PEM. Run "notation-piv cert import --help" or "notation-piv cert export
--help" for their options.
`,
	subs: []*command{{
		name:  "cert import",
		args:  "[options] CERT-FILE",
		nargs: 1,
		about: `Stores the certificate in CERT-FILE (PEM or DER, one certificate) in a slot,
replacing the certificate there, after checking that it belongs to the
slot's key and that notation can sign with it: key usage digitalSignature
(critical), no CA, no excluded extended key usage, a supported key, valid
now. With --ca-certs the whole chain is checked as notation will.

The key check reads the slot's public key on YubiKey firmware 5.3 and
later; on older YubiKeys the slot's key signs a random test digest, which
may need the PIN.

It works on YubiKeys, and cards that answer as one, only: any other PIV
card is refused before it is sent anything that could change it, and
before any prompt.
`,
		notes: `
The PIN, when the card needs it, comes from NOTATION_PIV_PIN or a prompt
on the terminal.
` + secretRulesUsage,
		flags: func(f *flagSet) action {
			var o certImportOptions
			defineSlot(f, &o.slot)
			f.stringVar(&o.caCerts, "ca-certs", "FILE", "", "PEM file with the CA certificates that complete the chain, the issuer first and the root last")
			defineManagementKeyFile(f, &o.mgmtFile)
			defineLastTry(f, &o.allowLastTry)
			o.card.define(f)
			return func(ctx context.Context, u *ui, args []string) error { return certImport(ctx, u, args[0], o) }
		},
	}, {
		name:  "cert export",
		args:  "[options]",
		about: "Writes the certificate in a slot as PEM to stdout or a file. Needs no PIN.\n",
		flags: func(f *flagSet) action {
			var slot, output string
			var cf cardFlags
			defineSlot(f, &slot)
			f.stringVar(&output, "output", "FILE", "", "write to FILE instead of stdout, replacing a regular file there; a symbolic link, a FIFO, a device or a directory is refused before the card is touched")
			cf.define(f)
			return func(ctx context.Context, u *ui, _ []string) error { return certExport(ctx, u, slot, output, cf) }
		},
	}},
}

// maxCertFile bounds a certificate file.
const maxCertFile = 1 << 20

// certImportOptions are the flags of "cert import".
type certImportOptions struct {
	slot, caCerts, mgmtFile string
	allowLastTry            bool
	card                    cardFlags
}

// certImport checks the certificate in path, then stores it in the slot.
func certImport(ctx context.Context, u *ui, path string, o certImportOptions) error {
	slot, err := piv.ParseSlot(o.slot)
	if err != nil {
		return err
	}
	caCerts, mgmtFile, cf, allowLastTry := o.caCerts, o.mgmtFile, o.card, o.allowLastTry
	cert, err := readCertificateFile(path)
	if err != nil {
		return err
	}
	if _, err := piv.KeySpecOf(cert.PublicKey); err != nil {
		return failure(fmt.Sprintf("%s: %v", path, err))
	}
	now := time.Now()
	var bundle []*x509.Certificate
	if caCerts != "" {
		if bundle, err = certchain.LoadBundle(caCerts); err != nil {
			return err
		}
		if caCerts, err = filepath.Abs(caCerts); err != nil {
			return err
		}
		_, err = certchain.Build(cert, bundle, now)
	} else {
		err = certchain.CheckLeaf(cert, now)
	}
	if err != nil {
		return failure(fmt.Sprintf("%s cannot sign Notary Project signatures: %v", path, err),
			"ask your CA for a code-signing certificate with key usage digitalSignature (critical), extended key usage codeSigning or none, not a CA")
	}
	given, err := managementKeyFile(mgmtFile)
	if err != nil {
		return err
	}
	defer clear(given)
	card, st, err := cf.openToManage(ctx, "store a certificate in slot "+slot.String())
	if err != nil {
		return err
	}
	defer card.Close()
	serial := card.Serial()
	sec := newSecrets(allowLastTry)
	sec.card = cardName(card.Info())
	defer sec.wipe()

	if err := checkKeyMatch(ctx, card, st, slot, cert, path, sec); err != nil {
		return err
	}
	if st.Metadata && !st.ManagementKey.Default && given == nil {
		if err := sec.check("cert import", secretPIN); err != nil {
			return err
		}
	}
	mgmt, _, err := card.ManagementKey(ctx, st, given, sec.pinFor(st.PIN.RetriesLeft))
	if err != nil {
		return err
	}
	defer clear(mgmt)
	if err := card.StoreCertificate(ctx, mgmt, slot, cert); err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "Stored the certificate for %q in slot %s of PIV card %d.\n", cert.Subject.String(), slot, serial)
	keyName := notationKeyName(serial, slot)
	if certchain.SelfSigned(cert) {
		abs, _ := filepath.Abs(path)
		fmt.Fprintf(u.stdout, "\nNext steps:\n   %s\n   %s\n",
			keyAddLine(keyName, serial, slot, ""),
			commandLine("notation", "cert", "add", "--type", "ca", "--store", trustStore, abs))
		return nil
	}
	bundleArg := caCerts
	if bundleArg == "" {
		bundleArg = "CA-CHAIN.pem"
	}
	fmt.Fprintf(u.stdout, "\nNext steps: add the key with the CA certificates that complete its chain\n(the issuer first, the root last), and trust the root CA:\n   %s\n   %s\n",
		keyAddLine(keyName, serial, slot, bundleArg),
		commandLine("notation", "cert", "add", "--type", "ca", "--store", trustStore, "ROOT-CA.crt"))
	if caCerts == "" {
		u.warn("the chain was not checked: notation signs only once --plugin-config ca_certs names the CA certificates")
	}
	return nil
}

// checkKeyMatch fails unless cert's public key is the key in slot: by the
// slot's metadata where the card tells it, else by a test signature.
func checkKeyMatch(ctx context.Context, card *piv.Card, st *piv.Status, slot piv.Slot, cert *x509.Certificate, path string, sec *secrets) error {
	mismatch := failure(fmt.Sprintf("%s is not for the key in slot %s of card %d", path, slot, st.Card.Serial),
		"import the certificate your CA issued for this slot's key (from the request of \"notation-piv setup --csr\")")
	if st.Metadata {
		ss := st.Slot(slot)
		if ss == nil || ss.Key == nil {
			return failure(fmt.Sprintf("slot %s of card %d holds no key", slot, st.Card.Serial),
				fmt.Sprintf(`generate one with "notation-piv setup --slot %s --csr FILE" and have a CA certify it`, slot))
		}
		if !publicKeysEqual(ss.Key.PublicKey, cert.PublicKey) {
			return mismatch
		}
		return nil
	}
	// The PIN source guards the last try.
	signer, err := card.KeySigner(slot, cert.PublicKey, sec.pinSource(), piv.SignerOptions{TouchNotice: prompt.TouchCard, AllowLastPINTry: true})
	if err != nil {
		return err
	}
	digest := make([]byte, sha256.Size)
	rand.Read(digest)
	var opts crypto.SignerOpts = crypto.SHA256
	if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	if _, err := signer.Sign(rand.Reader, digest, opts); err != nil {
		if errors.Is(err, piv.ErrKeyMismatch) {
			return mismatch
		}
		return err
	}
	return nil
}

// readCertificateFile reads one certificate, PEM or DER.
func readCertificateFile(path string) (*x509.Certificate, error) {
	b, err := inputfile.ReadAll(path, maxCertFile)
	var (
		notRegular *inputfile.NotRegularError
		large      *inputfile.TooLargeError
	)
	switch {
	case errors.As(err, &notRegular), errors.As(err, &large):
		return nil, failure(fmt.Sprintf("%s is not a certificate file (a regular file of at most 1 MiB)", path))
	case err != nil:
		return nil, err
	}
	der := b
	if block, rest := pem.Decode(b); block != nil {
		if block.Type != "CERTIFICATE" {
			return nil, failure(fmt.Sprintf("%s holds a PEM %q block, not a CERTIFICATE", path, block.Type))
		}
		if next, _ := pem.Decode(rest); next != nil {
			return nil, failure(fmt.Sprintf("%s holds more than one PEM block", path),
				"import only the slot's own certificate; give the CA certificates with --ca-certs")
		}
		der = block.Bytes
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, failure(fmt.Sprintf("%s is not a valid certificate: %v", path, err), "give a PEM or DER X.509 certificate")
	}
	return cert, nil
}

// certExport writes the certificate in the slot to stdout, or to the file
// output.
func certExport(ctx context.Context, u *ui, slotID, output string, cf cardFlags) error {
	slot, err := piv.ParseSlot(slotID)
	if err != nil {
		return err
	}
	// The file is checked before the card is touched, and written once
	// the card is closed.
	var out *outputFile
	if output != "" {
		if out, err = newOutput("--output", output, false); err != nil {
			return err
		}
		defer out.discard()
	}
	cert, name, err := exportCertificate(ctx, cf, slot)
	if err != nil {
		return err
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if out == nil {
		_, err := u.stdout.Write(block)
		return err
	}
	path, err := out.commit(block)
	if err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "Wrote the certificate for %q in slot %s of PIV %s to %s.\n", cert.Subject.String(), slot, name, path)
	return nil
}

// exportCertificate reads the certificate in slot and closes the card. It
// returns the certificate and the card's name (cardName).
func exportCertificate(ctx context.Context, cf cardFlags, slot piv.Slot) (*x509.Certificate, string, error) {
	card, err := cf.openCard(ctx)
	if err != nil {
		return nil, "", err
	}
	defer card.Close()
	cert, err := card.Certificate(ctx, slot)
	if err != nil {
		return nil, "", err
	}
	return cert, cardName(card.Info()), nil
}
