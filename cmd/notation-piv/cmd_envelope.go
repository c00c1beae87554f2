package main

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/pemcert"
	"github.com/notation-piv/notation-piv/timestamp"
)

// envelopeCommand is "notation-piv envelope": inspect, verify and sign
// signature envelopes without notation.
var envelopeCommand = userCommand{
	synopsis: "inspect|verify|sign",
	summary:  "show, check offline or sign a signature envelope, without notation",
	run:      runEnvelope,
}

const envelopeUsage = `Usage:
  notation-piv envelope inspect FILE [--json] [--tsa-root FILE]
  notation-piv envelope verify FILE --trust-root FILE [--trust-root-sha256 HEX] [--tsa-root FILE] [--artifact FILE | --digest DIGEST] [--json]
  notation-piv envelope sign --out FILE (--artifact FILE | --descriptor JSON) [options]

Works on Notary Project signature envelopes, JWS (application/jose+json) or
COSE (application/cose), without notation or a registry. "inspect" shows
what an envelope holds, "verify" checks it offline against a trust root,
"sign" signs an artifact with the PIV card. Run "notation-piv envelope
COMMAND --help" for the options of each.
`

const envelopeInspectUsage = `Usage: notation-piv envelope inspect FILE [--json] [--tsa-root FILE]

Shows what a JWS or COSE signature envelope holds (FILE "-" reads stdin; the
format is detected): the algorithm, every protected and unprotected header
and what it means, the signed artifact's descriptor, each certificate of
the chain and whether it meets the Notary Project rules, the timestamp, and
whether the signature is valid against the leaf certificate's key. A broken
or tampered envelope is still shown, with what is wrong flagged; the exit
status is 0 whenever the envelope can be read. Use "envelope verify" for a
verdict.

Options:
  --json            print one JSON document (its fields: README.md, "envelope command")
  --tsa-root FILE   PEM file with the self-signed root of the timestamp
                    authority: the timestamp is then verified, not only read
`

const envelopeVerifyUsage = `Usage: notation-piv envelope verify FILE --trust-root FILE [options]

Verifies a JWS or COSE signature envelope offline (FILE "-" reads stdin), as
notation verify would under a strict trust policy whose trust store holds
the trust roots: integrity (the signature is valid against the leaf key),
the envelope rules (headers, payload, content type), the chain (the Notary
certificate rules, and one of its certificates is a trust root), expiry
(of the signature, and of every certificate now, or at the time of a
verified timestamp), the timestamp, and optionally the artifact. Revocation
and trusted identities are not checked. Every check is printed; each
failure names its check; the chain check names the trust root the chain
ends at, with its SHA-256 fingerprint. Exit status 0 when every check
passed, 1 if not.

Every certificate of --trust-root is trusted. When the file comes with
what it vouches for, as release-root.pem comes with a release, whoever
could change the one could add a certificate to the other: pin the
certificate you expect with --trust-root-sha256.

Options:
  --trust-root FILE   PEM file with the trusted root (or CA) certificates
  --trust-root-sha256 HEX
                      the SHA-256 fingerprint of the trust root the chain
                      must end at, one of those of --trust-root: 64 hex
                      digits, with or without colons (as "openssl x509
                      -fingerprint -sha256" prints it)
  --tsa-root FILE     PEM file with the self-signed root of the timestamp
                      authority: the envelope must then carry a timestamp
                      that verifies against it
  --artifact FILE     check that the payload names this file: digest and size
                      (a regular file; not a FIFO or a device)
  --digest DIGEST     check that the payload names this digest (sha256:...)
  --json              print one JSON document (README.md, "envelope command")
`

const envelopeSignUsage = `Usage: notation-piv envelope sign --out FILE (--artifact FILE | --descriptor JSON) [options]

Signs an artifact with the key in a slot of a PIV card, without notation,
and writes the signature envelope to FILE (mode 0644, replaced only once the
envelope is complete). The payload is the Notary payload
{"targetArtifact": DESCRIPTOR}; with --artifact the descriptor holds the
file's sha256 digest and size. The signature takes the plugin's own path:
the same checks of the card, the certificate chain and the settings, the
same envelope builders, and the same self-verification.

Options:
  --out FILE             where to write the envelope
  --artifact FILE        sign this file
  --media-type TYPE      the file's media type (default application/octet-stream)
  --descriptor JSON      sign the artifact this OCI descriptor names, such as
                         '{"mediaType":"...","digest":"sha256:...","size":123}'
  --format FORMAT        jws (default) or cose
  --slot SLOT            the slot: 9a, 9c (default), 9d, 9e or 82 to 95
  --ca-certs FILE        PEM file with the CA certificates that complete the
                         chain, the leaf's issuer first and the root last
  --expiry DURATION      the signature expires after DURATION, such as 720h
  --tsa-url URL          timestamp the signature with this RFC 3161 authority
  --tsa-root-cert FILE   PEM file with the authority's self-signed root
  --tsa-timeout DURATION how long to wait for the authority (default 15s)
  --pin-file FILE        read the PIN from FILE (chmod 600)
  --pinentry PROGRAM     ask for the PIN with this pinentry program
  --allow-last-pin-try   try the PIN even if the card has 1 try left
  --card-timeout DURATION
                         how long to wait for the card (default 30s)
` + cardFlagsUsage + `
The PIN comes from NOTATION_PIV_PIN, --pin-file, --pinentry or a prompt on
the terminal, in that order, as for the plugin.

Example:
  notation-piv envelope sign --artifact app.tar.gz --out app.tar.gz.sig.jws
  notation-piv envelope verify app.tar.gz.sig.jws --trust-root root.pem --artifact app.tar.gz
`

// runEnvelope dispatches "notation-piv envelope SUBCOMMAND".
func runEnvelope(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "inspect":
			return runEnvelopeInspect(ctx, args[1:], stdin, stdout, stderr)
		case "verify":
			return runEnvelopeVerify(ctx, args[1:], stdin, stdout, stderr)
		case "sign":
			return runEnvelopeSign(ctx, args[1:], stdout, stderr)
		case "help", "--help", "-h":
			fmt.Fprint(stdout, envelopeUsage)
			return 0
		}
	}
	u := &ui{name: "envelope", stdout: stdout, stderr: stderr}
	msg := "notation-piv envelope needs a subcommand: inspect, verify or sign"
	if len(args) > 0 {
		msg = fmt.Sprintf("notation-piv envelope has no subcommand %q", args[0])
	}
	return u.fail(failure(msg, `run "notation-piv envelope --help" for its subcommands`))
}

func runEnvelopeInspect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	u := &ui{name: "envelope inspect", stdout: stdout, stderr: stderr}
	fs := u.flags()
	asJSON := fs.Bool("json", false, "")
	tsaRoot := fs.String("tsa-root", "", "")
	pos, code, done := u.parse(fs, envelopeInspectUsage, args, 1)
	if done {
		return code
	}
	var opts inspect.Options
	if *tsaRoot != "" {
		roots, err := timestamp.LoadRoot(*tsaRoot)
		if err != nil {
			return u.fail(failure("--tsa-root: " + err.Error()))
		}
		opts.TSARoots = roots
	}
	env, err := readEnvelope(ctx, pos[0], stdin)
	if err != nil {
		return u.fail(err)
	}
	r, err := inspect.Inspect(env, opts)
	if err != nil {
		return u.fail(failure(fmt.Sprintf("%s: %v", envelopeSource(pos[0]), err), "give a JWS (application/jose+json) or COSE (application/cose) signature envelope, such as the signature blob of a notation signature"))
	}
	if *asJSON {
		code = u.writeJSON(r)
	} else {
		printReport(stdout, r)
	}
	if r.Integrity.Status != inspect.StatusValid {
		u.warn("the signature is %s: %s", strings.ToUpper(r.Integrity.Status), terminalSafe(r.Integrity.Detail))
	}
	return code
}

func runEnvelopeVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	u := &ui{name: "envelope verify", stdout: stdout, stderr: stderr}
	fs := u.flags()
	asJSON := fs.Bool("json", false, "")
	trustRoot := fs.String("trust-root", "", "")
	trustRootSHA256 := fs.String("trust-root-sha256", "", "")
	tsaRoot := fs.String("tsa-root", "", "")
	artifactFile := fs.String("artifact", "", "")
	digest := fs.String("digest", "", "")
	pos, code, done := u.parse(fs, envelopeVerifyUsage, args, 1)
	if done {
		return code
	}
	if *trustRoot == "" {
		return u.fail(failure("envelope verify needs --trust-root FILE", "give the PEM file of the root CA certificate you trust, or the signer's self-signed certificate"))
	}
	if *artifactFile != "" && *digest != "" {
		return u.fail(failure("--artifact and --digest exclude each other", "give the artifact file, or its digest"))
	}
	opts := inspect.VerifyOptions{}
	var err error
	if *trustRootSHA256 != "" {
		if opts.TrustRootSHA256, err = parseFingerprint(*trustRootSHA256); err != nil {
			return u.fail(err)
		}
	}
	if opts.TrustRoots, err = loadTrustRoots(*trustRoot); err != nil {
		return u.fail(err)
	}
	if err := checkPin(*trustRoot, opts.TrustRoots, opts.TrustRootSHA256); err != nil {
		return u.fail(err)
	}
	if len(opts.TrustRoots) > 1 && opts.TrustRootSHA256 == "" {
		u.warn("--trust-root %s holds %d certificates, and the envelope verifies under any of them: pin the one you expect with --trust-root-sha256", *trustRoot, len(opts.TrustRoots))
	}
	if *tsaRoot != "" {
		if opts.TSARoots, err = timestamp.LoadRoot(*tsaRoot); err != nil {
			return u.fail(failure("--tsa-root: " + err.Error()))
		}
	}
	switch {
	case *digest != "":
		if err := envelope.CheckDigest(*digest); err != nil {
			return u.fail(failure("--digest: "+err.Error(), "give the digest as notation shows it, such as sha256:3f9c…"))
		}
		opts.Artifact = &inspect.Artifact{Name: *digest, Digests: []string{*digest}, Size: -1}
	case *artifactFile != "":
		if opts.Artifact, err = hashArtifact(ctx, *artifactFile); err != nil {
			return u.fail(err)
		}
	}
	env, err := readEnvelope(ctx, pos[0], stdin)
	if err != nil {
		return u.fail(err)
	}
	v, err := inspect.Verify(env, opts)
	if err != nil {
		return u.fail(err)
	}
	if *asJSON {
		if code := u.writeJSON(v); code != 0 || v.Verified {
			return code
		}
		return 1
	}
	for _, c := range v.Checks {
		status := map[string]string{inspect.Passed: "ok", inspect.Failed: "FAILED", inspect.Skipped: "skipped"}[c.Status]
		fmt.Fprintf(stdout, "%-7s %s: %s\n", status, c.Name, terminalSafe(c.Detail))
	}
	if failed := v.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, c := range failed {
			names[i] = c.Name
		}
		hints := []string{fmt.Sprintf(`run "notation-piv envelope inspect %s" to see the whole envelope`, shellQuote(pos[0]))}
		if root := v.TrustRoot; root != nil && opts.TrustRootSHA256 != "" && !root.Pinned {
			hints = append([]string{fmt.Sprintf("--trust-root %s holds a certificate besides the pinned one, and the envelope was signed under it: trust neither the file nor what it vouches for", *trustRoot)}, hints...)
		}
		return u.fail(failure(fmt.Sprintf("%s does not verify: %s failed (%s)", envelopeSource(pos[0]), envelope.CountText(len(names), "check", "checks"), strings.Join(names, ", ")), hints...))
	}
	if root := v.TrustRoot; root != nil {
		pinned := ""
		if root.Pinned {
			pinned = " (pinned)"
		}
		fmt.Fprintf(stdout, "trust root: %q, SHA-256 %s%s\n", terminalSafe(root.Subject), root.SHA256, pinned)
	}
	fmt.Fprintf(stdout, "%s verifies\n", envelopeSource(pos[0]))
	return 0
}

// signFlags are the options of "envelope sign".
type signFlags struct {
	out, artifact, mediaType, descriptor, format, slot string
	caCerts, pinFile, pinentry                         string
	tsaURL, tsaRoot                                    string
	expiry, tsaTimeout, cardTimeout                    time.Duration
	allowLastTry                                       bool
	card                                               cardFlags
}

func runEnvelopeSign(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	u := &ui{name: "envelope sign", stdout: stdout, stderr: stderr}
	fs := u.flags()
	var o signFlags
	fs.StringVar(&o.out, "out", "", "")
	fs.StringVar(&o.artifact, "artifact", "", "")
	fs.StringVar(&o.mediaType, "media-type", "", "")
	fs.StringVar(&o.descriptor, "descriptor", "", "")
	fs.StringVar(&o.format, "format", "jws", "")
	fs.StringVar(&o.slot, "slot", "9c", "")
	fs.StringVar(&o.caCerts, "ca-certs", "", "")
	fs.StringVar(&o.pinFile, "pin-file", "", "")
	fs.StringVar(&o.pinentry, "pinentry", "", "")
	fs.StringVar(&o.tsaURL, "tsa-url", "", "")
	fs.StringVar(&o.tsaRoot, "tsa-root-cert", "", "")
	fs.DurationVar(&o.expiry, "expiry", 0, "")
	fs.DurationVar(&o.tsaTimeout, "tsa-timeout", 0, "")
	fs.DurationVar(&o.cardTimeout, "card-timeout", 0, "")
	registerLastTry(fs, &o.allowLastTry)
	o.card.register(fs)
	if _, code, done := u.parse(fs, envelopeSignUsage, args, 0); done {
		return code
	}
	job, err := o.job(ctx)
	if err != nil {
		return u.fail(err)
	}
	// Create the temporary file first: a directory that cannot take the
	// envelope fails before the card is touched.
	tmp, err := os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".tmp-*")
	if err != nil {
		return u.fail(failure(fmt.Sprintf("--out %s: %v", o.out, err), "write the envelope to a directory you can write to"))
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	log := openLog()
	defer log.Close()
	if err := log.Err(); err != nil {
		return u.fail(err)
	}
	log.Printf("envelope sign: %s, config %s", job.format.MediaType(), job.cfg)
	signed, err := signEnvelope(ctx, job, log)
	if err != nil {
		log.Printf("envelope sign failed: %v", err)
		if perr, ok := asPluginError(err); ok {
			err = failure(perr.Message)
		}
		return u.fail(err)
	}
	if err := commitEnvelope(tmp, o.out, signed.envelope); err != nil {
		return u.fail(failure(fmt.Sprintf("write %s: %v", o.out, err)))
	}
	desc, _ := envelope.ParsePayload(job.payload)
	fmt.Fprintf(stdout, "wrote %s: a %s envelope of %d bytes\n", o.out, strings.ToUpper(o.format), len(signed.envelope))
	fmt.Fprintf(stdout, "  artifact  %s, %d bytes, %s\n", desc.Digest, desc.Size, terminalSafe(desc.MediaType))
	fmt.Fprintf(stdout, "  signer    %q, %s key in slot %s of card %d\n", leafSubject(signed.chain[0]), signed.spec.Name, signed.slot, signed.serial)
	fmt.Fprintf(stdout, "verify it with:\n  %s\n", commandLine("notation-piv", "envelope", "verify", o.out, "--trust-root", rootHint(signed.chain)))
	return 0
}

// rootHint names the trust root of a chain in the suggested verify command.
func rootHint(chain []*x509.Certificate) string {
	if len(chain) == 1 {
		return "SIGNER-CERT.pem"
	}
	return "ROOT-CA.pem"
}

// leafSubject names a certificate for messages.
func leafSubject(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	return "serial " + c.SerialNumber.String()
}

// job checks the options of "envelope sign" and turns them into the job of
// the plugin's signing path, without touching the card.
func (o *signFlags) job(ctx context.Context) (envelopeJob, error) {
	job := envelopeJob{keyID: o.slot, expiry: o.expiry, from: fromFlags}
	if o.out == "" {
		return job, failure("envelope sign needs --out FILE", "name the file to write the envelope to")
	}
	if err := checkOut(o.out); err != nil {
		return job, err
	}
	var mediaType string
	switch o.format {
	case "jws":
		mediaType = envelope.MediaTypeJWS
	case "cose":
		mediaType = envelope.MediaTypeCOSE
	default:
		return job, failure(fmt.Sprintf("--format %q is not an envelope format", o.format), "use --format jws or --format cose")
	}
	format, err := envelope.Lookup(mediaType)
	if err != nil {
		return job, err
	}
	job.format = format
	if o.expiry < 0 || o.expiry > maxExpiry {
		return job, failure(fmt.Sprintf("--expiry %s is out of range", o.expiry), "give a duration from 1s to 100 years, such as 720h, or leave --expiry out")
	}
	if o.card.serial > math.MaxUint32 {
		return job, failure(fmt.Sprintf("--serial %d is not a card serial number", o.card.serial), `run "notation-piv list" to see the serial numbers`)
	}
	job.cfg = config{
		serial: uint32(o.card.serial), reader: o.card.reader, caCerts: o.caCerts, pinFile: o.pinFile, pinentry: o.pinentry,
		tsaURL: o.tsaURL, tsaRoot: o.tsaRoot, tsaWait: o.tsaTimeout,
		cardWait: o.cardTimeout, allowLastTry: o.allowLastTry,
	}
	switch {
	case o.cardTimeout != 0 && (o.cardTimeout < minCardTimeout || o.cardTimeout > maxCardTimeout):
		return job, failure(fmt.Sprintf("--card-timeout %s is out of range", o.cardTimeout), fmt.Sprintf("give a duration from %v to %v, such as 30s", minCardTimeout, maxCardTimeout))
	case o.tsaURL != "" && o.tsaRoot == "":
		return job, failure("--tsa-url needs --tsa-root-cert", "give the PEM file of the timestamp authority's root certificate, so that the timestamp is verified before it is embedded")
	case (o.tsaRoot != "" || o.tsaTimeout != 0) && o.tsaURL == "":
		return job, failure("--tsa-root-cert and --tsa-timeout need --tsa-url", "give the timestamp authority's http or https URL, or leave them out")
	case o.tsaTimeout != 0 && (o.tsaTimeout < time.Second || o.tsaTimeout > 5*time.Minute):
		return job, failure(fmt.Sprintf("--tsa-timeout %s is out of range", o.tsaTimeout), "give a duration from 1s to 5m, such as 15s")
	}
	var desc envelope.Descriptor
	switch {
	case o.artifact != "" && o.descriptor != "":
		return job, failure("--artifact and --descriptor exclude each other", "sign a file with --artifact, or name an artifact with --descriptor")
	case o.artifact != "":
		a, err := hashArtifact(ctx, o.artifact)
		if err != nil {
			return job, err
		}
		desc = envelope.Descriptor{MediaType: o.mediaType, Digest: a.Digests[0], Size: a.Size}
		if desc.MediaType == "" {
			desc.MediaType = "application/octet-stream"
		}
	case o.descriptor != "":
		if o.mediaType != "" {
			return job, failure("--media-type goes with --artifact only", "put the media type into the --descriptor JSON")
		}
		if desc, err = envelope.ParseDescriptor([]byte(o.descriptor)); err != nil {
			return job, failure("--descriptor: "+err.Error(), `give an OCI descriptor such as '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:…","size":123}'`)
		}
	default:
		return job, failure("envelope sign needs --artifact FILE or --descriptor JSON", "name what to sign")
	}
	if job.payload, err = envelope.NewPayload(desc); err != nil {
		return job, failure(err.Error())
	}
	return job, nil
}

// commitEnvelope writes b to tmp, makes it readable by all (0644) and renames it
// to path, so that path holds either its old content or the whole
// envelope.
func commitEnvelope(tmp *os.File, path string, b []byte) error {
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeJSON prints v as indented JSON.
func (u *ui) writeJSON(v any) int {
	enc := json.NewEncoder(u.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return u.fail(err)
	}
	return 0
}

// envelopeSource names an input for messages.
func envelopeSource(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

// readEnvelope reads an envelope from a regular file, or from stdin for
// "-", of at most envelope.MaxEnvelopeSize bytes. A file that is no
// regular file is refused before it is opened; stdin is given up once ctx
// is done (SIGINT or SIGTERM), even when nothing ever closes it.
func readEnvelope(ctx context.Context, path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = readStdin(ctx, stdin)
	} else {
		b, err = inputfile.ReadAll(path, envelope.MaxEnvelopeSize)
	}
	var large *inputfile.TooLargeError
	switch {
	case errors.As(err, &large):
		return nil, failure(fmt.Sprintf("%s is more than %d bytes: that is no signature envelope", envelopeSource(path), envelope.MaxEnvelopeSize),
			"Notary signature envelopes are a few KiB; check that you gave the envelope and not the artifact")
	case err != nil:
		return nil, inputFailure("", err, `give the envelope's file, or "-" and the envelope on stdin`)
	case len(b) == 0:
		return nil, failure(fmt.Sprintf("%s is empty", envelopeSource(path)), "give a JWS or COSE signature envelope")
	}
	return b, nil
}

// errInterrupted says that a signal stopped the wait for stdin.
var errInterrupted = errors.New("stopped by a signal before the envelope on stdin was complete")

// readStdin reads at most envelope.MaxEnvelopeSize+1 bytes of stdin, and
// gives up when ctx is done. The read then goes on in the background until
// the program exits: stdin cannot be unblocked.
func readStdin(ctx context.Context, stdin io.Reader) ([]byte, error) {
	type answer struct {
		b   []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(stdin, envelope.MaxEnvelopeSize+1))
		done <- answer{b, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			return nil, fmt.Errorf("read stdin: %w", a.err)
		}
		if len(a.b) > envelope.MaxEnvelopeSize {
			return nil, &inputfile.TooLargeError{Path: "stdin", Limit: envelope.MaxEnvelopeSize}
		}
		return a.b, nil
	case <-ctx.Done():
		return nil, errInterrupted
	}
}

// inputFailure explains why an input cannot be read, prefixed by the
// option that names it ("--artifact"; empty for the envelope). A file of
// the wrong type gets the hint instead, which says what to give.
func inputFailure(option string, err error, instead string) error {
	prefix := ""
	if option != "" {
		prefix = option + " "
	}
	var notRegular *inputfile.NotRegularError
	switch {
	case errors.As(err, &notRegular):
		return failure(fmt.Sprintf("%s%s is %s, not a regular file", prefix, notRegular.Path, inputfile.Type(notRegular.Mode)), instead)
	case errors.Is(err, errInterrupted):
		return failure(err.Error(), `pipe a complete envelope into "-", or give the envelope's file`)
	}
	if option != "" {
		prefix = option + ": "
	}
	return failure(prefix + err.Error())
}

// hashArtifact reads an artifact, a regular file of any size, and returns
// its sha256 and sha512 digests and its size. A FIFO, a device or a
// directory is refused before it is opened. Once ctx is done (SIGINT or
// SIGTERM) hashing stops.
func hashArtifact(ctx context.Context, path string) (*inspect.Artifact, error) {
	f, _, err := inputfile.Open(path)
	if err != nil {
		return nil, inputFailure("--artifact", err, "give the artifact's own file; to sign or check what a pipe or a device delivers, save it to a file first")
	}
	defer f.Close()
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.CopyBuffer(io.MultiWriter(h256, h512), ctxReader{ctx, f}, make([]byte, 1<<20))
	switch {
	case ctx.Err() != nil:
		return nil, failure(fmt.Sprintf("--artifact %s: stopped by a signal while reading it", path))
	case err != nil:
		return nil, failure(fmt.Sprintf("--artifact %s: %v", path, err))
	}
	return &inspect.Artifact{
		Name:    path,
		Digests: []string{"sha256:" + hex.EncodeToString(h256.Sum(nil)), "sha512:" + hex.EncodeToString(h512.Sum(nil))},
		Size:    n,
	}, nil
}

// ctxReader reads from r until ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
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
	return failure(fmt.Sprintf("--out %s is %s, not a regular file", path, inputfile.Type(fi.Mode())),
		"name a new file, or a regular file to replace: the envelope replaces --out whole")
}

// parseFingerprint turns --trust-root-sha256 into the lower case hex of
// inspect.VerifyOptions.TrustRootSHA256. It takes 64 hex digits in either
// case, bare or in pairs joined by colons, as "openssl x509 -fingerprint
// -sha256" prints them.
func parseFingerprint(s string) (string, error) {
	text := s
	if len(text) == 3*sha256.Size-1 {
		colons := true
		for i := 2; i < len(text); i += 3 {
			colons = colons && text[i] == ':'
		}
		if colons {
			text = strings.ReplaceAll(text, ":", "")
		}
	}
	b, err := hex.DecodeString(text)
	if err != nil || len(b) != sha256.Size {
		return "", failure(fmt.Sprintf("--trust-root-sha256 %q is no SHA-256 fingerprint", terminalSafe(s)),
			"give the 64 hex digits of the published fingerprint, bare (3f9c…) or with colons (3F:9C:…)")
	}
	return hex.EncodeToString(b), nil
}

// checkPin checks that the pinned fingerprint is that of a certificate of
// the --trust-root file, and otherwise lists the file's.
func checkPin(path string, roots []*x509.Certificate, pin string) error {
	if pin == "" {
		return nil
	}
	var held []string
	for _, c := range roots {
		fp := inspect.Fingerprint(c)
		if fp == pin {
			return nil
		}
		held = append(held, fmt.Sprintf("%s (%q)", fp, terminalSafe(leafSubject(c))))
	}
	return failure(fmt.Sprintf("--trust-root %s holds no certificate with the SHA-256 fingerprint %s of --trust-root-sha256; it holds %s",
		path, pin, strings.Join(held, ", ")),
		"this is not the trust root that was published, or the fingerprint is wrong: compare with the published fingerprint, and do not trust what this file vouches for")
}

// loadTrustRoots reads the PEM certificates of --trust-root, a regular
// file. As notation's trust stores do, it accepts only CA and self-signed
// certificates.
func loadTrustRoots(path string) ([]*x509.Certificate, error) {
	roots, err := pemcert.Load(path, 0)
	var (
		large      *inputfile.TooLargeError
		notRegular *inputfile.NotRegularError
	)
	switch {
	case errors.As(err, &large):
		return nil, failure(fmt.Sprintf("--trust-root %s is more than %d bytes", path, pemcert.MaxFileSize), "give a PEM file with the root certificates only")
	case errors.As(err, &notRegular), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return nil, inputFailure("--trust-root", err, "give the PEM file of the trust root itself")
	case err != nil:
		return nil, failure("--trust-root "+err.Error(), "give the root CA certificate in PEM form (-----BEGIN CERTIFICATE-----), and only CERTIFICATE blocks")
	}
	for i, c := range roots {
		if !(c.BasicConstraintsValid && c.IsCA) && string(c.RawIssuer) != string(c.RawSubject) {
			return nil, failure(fmt.Sprintf("--trust-root %s: certificate %d (%q) is neither a CA nor self-signed", path, i+1, leafSubject(c)),
				"as in notation's trust stores, give the root CA certificate, or the signer's own certificate if it is self-signed")
		}
	}
	return roots, nil
}

// terminalSafe makes text from an envelope safe for a terminal: control
// characters, which could move the cursor or recolor the screen, become
// U+FFFD.
func terminalSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

// printReport prints an inspect report for people.
func printReport(w io.Writer, r *inspect.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, terminalSafe(fmt.Sprintf(format, args...)))
	}
	row("Envelope", "%s (%s), %d bytes", strings.ToUpper(r.Format), r.MediaType, r.Size)
	row("Integrity", "%s: %s", strings.ToUpper(r.Integrity.Status), r.Integrity.Detail)
	a := r.Algorithm
	switch {
	case a.Name == "":
		row("Algorithm", "%q, not one Notary allows", a.Header)
	case a.LeafKeySpec == "":
		row("Algorithm", "%s (%s), for %s keys", a.Name, a.SigningAlgorithm, a.KeySpec)
	case a.MatchesLeaf:
		row("Algorithm", "%s (%s), matches the leaf's %s key", a.Name, a.SigningAlgorithm, a.LeafKeySpec)
	default:
		row("Algorithm", "%s (%s), for %s keys, but the leaf key is %s", a.Name, a.SigningAlgorithm, a.KeySpec, a.LeafKeySpec)
	}
	row("Signing scheme", "%s", noneIfEmpty(r.SigningScheme))
	row("Signing time", "%s", timeOrNone(r.SigningTime))
	row("Expiry", "%s", timeOrNone(r.Expiry))
	row("Signing agent", "%s", noneIfEmpty(r.SigningAgent))
	if len(r.Problems) == 0 {
		row("Problems", "none: the headers and the payload meet the Notary envelope rules")
	}
	for i, p := range r.Problems {
		label := ""
		if i == 0 {
			label = "Problems"
		}
		row(label, "! %s", p)
	}
	tw.Flush()

	printHeaders(w, "Protected headers (signed)", r.ProtectedHeaders)
	printHeaders(w, "Unprotected headers (not signed)", r.UnprotectedHeaders)

	fmt.Fprintf(w, "\nPayload (%s, %d bytes)\n", terminalSafe(noneIfEmpty(r.ContentType)), r.Payload.Size)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if d := r.Payload.TargetArtifact; d != nil {
		row("  mediaType", "%s", d.MediaType)
		row("  digest", "%s", d.Digest)
		row("  size", "%d", d.Size)
		if d.ArtifactType != "" {
			row("  artifactType", "%s", d.ArtifactType)
		}
		keys := make([]string, 0, len(d.Annotations))
		for k := range d.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			label := ""
			if i == 0 {
				label = "  annotations"
			}
			row(label, "%s=%s", envelope.ValueText(k), envelope.ValueText(d.Annotations[k]))
		}
	}
	if r.Payload.Problem != "" {
		row("  problem", "! %s", r.Payload.Problem)
		row("  content", "%s", r.Payload.Text)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nCertificate chain (%s)\n", envelope.CountText(len(r.Certificates), "certificate", "certificates"))
	for _, c := range r.Certificates {
		fmt.Fprintf(w, "  [%d] %s: %s\n", c.Index, c.Role, terminalSafe(noneIfEmpty(c.Subject)))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if c.Error == "" {
			row("      issuer", "%s", c.Issuer)
			row("      serial", "%s", c.SerialNumber)
			validity := "not valid now"
			if c.ValidNow {
				validity = "valid now"
			}
			if r.SigningTime != nil && !c.ValidAtSigningTime {
				validity += ", not valid at the signing time"
			}
			row("      validity", "%s to %s (%s)", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), validity)
			row("      key", "%s", c.KeySpec)
			row("      sha256", "%s", c.SHA256)
		}
		if c.MeetsNotaryRules {
			row("      notary", "meets the certificate rules for a %s", c.Role)
		}
		for i, p := range c.Problems {
			label := ""
			if i == 0 {
				label = "      notary"
			}
			row(label, "! %s", p)
		}
		tw.Flush()
	}
	if r.Chain.MeetsNotaryRules {
		fmt.Fprintln(w, "  the chain meets the Notary rules (notation-core-go)")
	} else {
		fmt.Fprintf(w, "  ! the chain breaks the Notary rules: %s\n", terminalSafe(r.Chain.Problem))
	}

	ts := r.Timestamp
	if ts == nil {
		fmt.Fprintln(w, "\nTimestamp: none")
		return
	}
	fmt.Fprintf(w, "\nTimestamp (RFC 3161, %d bytes)\n", ts.Size)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if ts.Error == "" {
		row("  time", "%s ± %s", ts.GenTime.Format(time.RFC3339), ts.Accuracy)
		row("  hash", "%s", ts.HashAlgorithm)
		if ts.TSA != nil {
			row("  TSA", "%s", ts.TSA.Subject)
			row("  TSA issuer", "%s", ts.TSA.Issuer)
		} else {
			row("  TSA", "! no TSA certificate: %s", ts.TSAProblem)
		}
		row("  policy", "%s", ts.Policy)
		row("  serial", "%s", ts.SerialNumber)
		stamps := "yes"
		if !ts.StampsSignature {
			stamps = "! no: its message imprint is not the hash of this signature"
		}
		row("  stamps", "this signature: %s", stamps)
	}
	switch ts.Status {
	case inspect.StatusUnchecked:
		row("  verified", "%s (give --tsa-root to verify it)", ts.Detail)
	case inspect.StatusInvalid:
		row("  verified", "! %s", ts.Detail)
	default:
		row("  verified", "%s", ts.Detail)
	}
	tw.Flush()
}

// printHeaders prints one header bucket.
func printHeaders(w io.Writer, title string, hs []inspect.HeaderInfo) {
	fmt.Fprintf(w, "\n%s\n", title)
	if len(hs) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, h := range hs {
		label := h.Label
		if h.Critical {
			label += " (critical)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", terminalSafe(label), terminalSafe(h.Value), h.Meaning)
		if h.Problem != "" {
			fmt.Fprintf(tw, "  \t! %s\t\n", terminalSafe(h.Problem))
		}
	}
	tw.Flush()
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func timeOrNone(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.Format(time.RFC3339)
}
