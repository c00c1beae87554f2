package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/debuglog"
	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// signCommand is "notation-piv envelope sign". Its flags fill a
// signing.Settings, and the signature takes the plugin's own path: one
// signing.Plan.
var signCommand = &command{
	name: "envelope sign",
	args: "--out FILE (--artifact FILE | --descriptor JSON) [options]",
	about: `Signs an artifact with the key in a slot of a PIV card, without notation,
and writes the signature envelope to FILE (mode 0644, replaced only once the
envelope is complete). The payload is the Notary payload
{"targetArtifact": DESCRIPTOR}; with --artifact the descriptor holds the
file's sha256 digest and size. The signature takes the plugin's own path:
the same checks of the card, the certificate chain and the settings, the
same envelope builders, and the same self-verification.
`,
	notes: `
The PIN comes from NOTATION_PIV_PIN, --pin-file, --pinentry or a prompt on
the terminal, in that order, as for the plugin.

Example:
  notation-piv envelope sign --artifact app.tar.gz --out app.tar.gz.sig.jws
  notation-piv envelope verify app.tar.gz.sig.jws --trust-root root.pem --artifact app.tar.gz
`,
	flags: func(f *flagSet) action {
		var o signFlags
		s := &o.settings
		f.stringVar(&o.out, "out", "FILE", "", "where to write the envelope")
		f.stringVar(&o.artifact, "artifact", "FILE", "", "sign this file")
		f.stringVar(&o.mediaType, "media-type", "TYPE", "", "the file's media type (default application/octet-stream)")
		f.stringVar(&o.descriptor, "descriptor", "JSON", "", `sign the artifact this OCI descriptor names, such as '{"mediaType":"...","digest":"sha256:...","size":123}'`)
		f.stringVar(&o.format, "format", "FORMAT", "jws", "jws or cose")
		defineSlot(f, &s.Slot)
		f.stringVar(&s.CACerts, "ca-certs", "FILE", "", "PEM file with the CA certificates that complete the chain, the leaf's issuer first and the root last")
		f.durationVar(&s.Expiry, "expiry", "the signature expires after DURATION, such as 720h")
		f.stringVar(&s.TSAURL, "tsa-url", "URL", "", "timestamp the signature with this RFC 3161 authority")
		f.stringVar(&s.TSARoot, "tsa-root-cert", "FILE", "", "PEM file with the authority's self-signed root")
		f.durationVar(&s.TSATimeout, "tsa-timeout", "how long to wait for the authority (default 15s)")
		f.stringVar(&s.PINFile, "pin-file", "FILE", "", "read the PIN from FILE (chmod 600)")
		f.stringVar(&s.Pinentry, "pinentry", "PROGRAM", "", "ask for the PIN with this pinentry program")
		defineLastTry(f, &s.AllowLastPINTry)
		f.boolVar(&s.Attest, "attest", `add the slot's attestation, so that a verifier can demand a key generated on the card (README.md, "Attested signatures")`)
		f.durationVar(&s.CardTimeout, "card-timeout", "how long to wait for the card (default 30s)")
		o.card.define(f)
		return func(ctx context.Context, u *ui, _ []string) error { return signEnvelope(ctx, u, &o) }
	},
}

// signFlags are the flags of "envelope sign": the settings of the
// signature, and what to sign and where to write it.
type signFlags struct {
	settings                                     signing.Settings
	card                                         cardFlags
	out, artifact, mediaType, descriptor, format string
}

// formats maps the --format names to envelope media types.
var formats = map[string]string{"jws": envelope.MediaTypeJWS, "cose": envelope.MediaTypeCOSE}

// signEnvelope checks the flags and the files they name without the
// card, signs, and writes the envelope.
func signEnvelope(ctx context.Context, u *ui, o *signFlags) error {
	if o.out == "" {
		return failure("envelope sign needs --out FILE", "name the file to write the envelope to")
	}
	if err := checkOut(o.out); err != nil {
		return err
	}
	s := o.settings
	s.Serial, s.GUID, s.Reader, s.Version = o.card.serial, o.card.guid, o.card.reader, u.version
	if s.Format = formats[o.format]; s.Format == "" {
		return failure(fmt.Sprintf("--format %q is not an envelope format", o.format), "use --format jws or --format cose")
	}
	plan, err := signing.NewPlan(s)
	if err != nil {
		return err
	}
	defer plan.Close()
	desc, payload, err := o.payload(ctx)
	if err != nil {
		return err
	}
	// Create the temporary file first: a directory that cannot take the
	// envelope fails before the card is touched.
	tmp, err := os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".tmp-*")
	if err != nil {
		return failure(fmt.Sprintf("--out %s: %v", o.out, err), "write the envelope to a directory you can write to")
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	log := debuglog.Open()
	defer log.Close()
	if err := log.Err(); err != nil {
		return err
	}
	log.Printf("envelope sign: plan %s", plan)
	signed, err := plan.SignEnvelope(ctx, payload, log)
	if err != nil {
		log.Printf("envelope sign failed: %v", err)
		return err
	}
	if err := commitEnvelope(tmp, o.out, signed.Bytes); err != nil {
		return failure(fmt.Sprintf("write %s: %v", o.out, err))
	}
	fmt.Fprintf(u.stdout, "wrote %s: a %s envelope of %d bytes\n", o.out, strings.ToUpper(o.format), len(signed.Bytes))
	fmt.Fprintf(u.stdout, "  artifact  %s, %d bytes, %s\n", desc.Digest, desc.Size, terminalSafe(desc.MediaType))
	fmt.Fprintf(u.stdout, "  signer    %q, %s key in slot %s of %s\n", leafSubject(signed.Chain[0]), signed.Spec.Name, signed.Slot, cardName(piv.CardInfo{Serial: signed.Serial, GUID: signed.GUID}))
	if a := signed.Attestation; a != nil {
		fmt.Fprintf(u.stdout, "  attested  by the card's attestation certificate %q\n", leafSubject(a.Device))
	}
	fmt.Fprintf(u.stdout, "verify it with:\n  %s\n", commandLine("notation-piv", "envelope", "verify", o.out, "--trust-root", rootHint(signed.Chain)))
	return nil
}

// payload returns the descriptor of what to sign, from --artifact or
// --descriptor, and the Notary payload that names it.
func (o *signFlags) payload(ctx context.Context) (envelope.Descriptor, []byte, error) {
	var desc envelope.Descriptor
	switch {
	case o.artifact != "" && o.descriptor != "":
		return desc, nil, failure("--artifact and --descriptor exclude each other", "sign a file with --artifact, or name an artifact with --descriptor")
	case o.artifact != "":
		a, err := hashArtifact(ctx, o.artifact)
		if err != nil {
			return desc, nil, err
		}
		desc = envelope.Descriptor{MediaType: o.mediaType, Digest: a.Digests[0], Size: a.Size}
		if desc.MediaType == "" {
			desc.MediaType = "application/octet-stream"
		}
	case o.descriptor != "":
		if o.mediaType != "" {
			return desc, nil, failure("--media-type goes with --artifact only", "put the media type into the --descriptor JSON")
		}
		var err error
		if desc, err = envelope.ParseDescriptor([]byte(o.descriptor)); err != nil {
			return desc, nil, failure("--descriptor: "+err.Error(), `give an OCI descriptor such as '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:…","size":123}'`)
		}
	default:
		return desc, nil, failure("envelope sign needs --artifact FILE or --descriptor JSON", "name what to sign")
	}
	payload, err := envelope.NewPayload(desc)
	if err != nil {
		return desc, nil, failure(err.Error())
	}
	return desc, payload, nil
}

// settingFlag names a setting of a signature by the flag of envelope sign
// that sets it: the flags are named after the settings.
func settingFlag(s signing.Setting) string {
	return "--" + strings.ReplaceAll(string(s), "_", "-")
}

// settingHints say what to do about a setting that cannot be used.
var settingHints = map[signing.Setting][]string{
	signing.SettingSerial:      {`run "notation-piv list" to see the serial numbers`},
	signing.SettingGUID:        {`give the 32 hex digits of the GUID, as "notation-piv list" shows it for a card without a serial number`},
	signing.SettingCardTimeout: {fmt.Sprintf("give a duration from %v to %v, such as 30s", signing.MinCardTimeout, signing.MaxCardTimeout)},
	signing.SettingTSATimeout:  {fmt.Sprintf("give a duration from %v to %v, such as 15s", signing.MinTSATimeout, signing.MaxTSATimeout)},
	signing.SettingExpiry:      {"give a duration from 1s to 100 years, such as 720h, or leave --expiry out"},
	signing.SettingPinentry:    {"install a pinentry program or name its full path"},
}

// missingMessage says which flag is missing and what it is for.
func missingMessage(e *signing.MissingSettingError) (string, []string) {
	names := make([]string, len(e.Settings))
	for i, s := range e.Settings {
		names[i] = settingFlag(s)
	}
	msg := fmt.Sprintf("%s need %s", strings.Join(names, " and "), settingFlag(e.Needed))
	if len(names) == 1 {
		msg = fmt.Sprintf("%s needs %s", names[0], settingFlag(e.Needed))
	}
	switch e.Needed {
	case signing.SettingTSARoot:
		return msg, []string{"give the PEM file of the timestamp authority's root certificate, so that the timestamp is verified before it is embedded"}
	case signing.SettingTSAURL:
		return msg, []string{"give the timestamp authority's http or https URL, or leave them out"}
	}
	return msg, nil
}

// rootHint names the trust root of a chain in the suggested verify command.
func rootHint(chain []*x509.Certificate) string {
	if len(chain) == 1 {
		return "SIGNER-CERT.pem"
	}
	return "ROOT-CA.pem"
}

// commitEnvelope writes b to tmp, makes it readable by all (0644) and renames it
// to path, so that path holds either its old content or the whole
// envelope.
func commitEnvelope(tmp *os.File, path string, b []byte) error {
	if err := writeAndClose(tmp, b); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// checkOut refuses an --out path that is not a regular file or a new
// file: a directory, a symbolic link, a FIFO, a socket or a device. The
// envelope replaces --out by a rename, so it would replace the link or
// the FIFO itself, not write to what they lead to; refusing them says so
// before the card is touched.
func checkOut(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return failure(fmt.Sprintf("--out %s: %v", path, err))
	case fi.Mode().IsRegular():
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return failure(fmt.Sprintf("--out %s is a symbolic link", path),
			"the envelope replaces --out, so it would replace the link and not write to its target: name the target itself, or a new file")
	}
	return failure(notRegular("--out", path, inputfile.Type(fi.Mode())),
		"name a new file, or a regular file to replace: the envelope replaces --out whole")
}
