package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/timestamp"
)

// verifyCommand is "notation-piv envelope verify".
var verifyCommand = &command{
	name:  "envelope verify",
	args:  "FILE --trust-root FILE [options]",
	nargs: 1,
	about: `Verifies a JWS or COSE signature envelope offline (FILE "-" reads stdin), as
notation verify would under a strict trust policy whose trust store holds
the trust roots: integrity (the signature is valid against the leaf key),
the envelope rules (headers, payload, content type), the chain (the Notary
certificate rules, and one of its certificates is a trust root), expiry
(of the signature, and of every certificate now, or at the time of a
verified timestamp), the timestamp, optionally the artifact, and the key
attestation of an attested signature as the piv verification plugin checks
it for notation verify (against Yubico's roots or --attestation-roots, and
the piv.attested constraints of --attested). Revocation and x509.subject
trusted identities are not checked. Every check is printed; each
failure names its check; the chain check names the trust root the chain
ends at, with its SHA-256 fingerprint. Exit status 0 when every check
passed, 1 if not.

Every certificate of --trust-root is trusted. When the file comes with
what it vouches for, as release-root.pem comes with a release, whoever
could change the one could add a certificate to the other: pin the
certificate you expect with --trust-root-sha256.
`,
	flags: func(f *flagSet) action {
		var o verifyFlags
		f.stringVar(&o.trustRoot, "trust-root", "FILE", "", "PEM file with the trusted root (or CA) certificates")
		f.stringVar(&o.trustRootSHA256, "trust-root-sha256", "HEX", "", `the SHA-256 fingerprint of the trust root the chain must end at, one of those of --trust-root: 64 hex digits, with or without colons (as "openssl x509 -fingerprint -sha256" prints it)`)
		f.stringVar(&o.tsaRoot, "tsa-root", "FILE", "", "PEM file with the self-signed root of the timestamp authority: the envelope must then carry a timestamp that verifies against it")
		f.stringVar(&o.artifact, "artifact", "FILE", "", "check that the payload names this file: digest and size (a regular file; not a FIFO or a device)")
		f.stringVar(&o.digest, "digest", "DIGEST", "", "check that the payload names this digest (sha256:...)")
		f.stringVar(&o.attestationRoots, "attestation-roots", "FILE", "", attestationRootsUsage)
		f.stringVar(&o.attested, "attested", "CONSTRAINTS", "", attestedUsage)
		f.boolVar(&o.asJSON, "json", `print one JSON document (README.md, "envelope command")`)
		return func(ctx context.Context, u *ui, args []string) error { return verifyEnvelope(ctx, u, args[0], o) }
	},
}

// verifyFlags are the flags of "envelope verify".
type verifyFlags struct {
	trustRoot, trustRootSHA256, tsaRoot, artifact, digest string
	attestationRoots, attested                            string
	asJSON                                                bool
}

// verifyEnvelope verifies the envelope at path and prints every check.
func verifyEnvelope(ctx context.Context, u *ui, path string, o verifyFlags) error {
	opts, err := o.options(ctx, u)
	if err != nil {
		return err
	}
	env, err := readEnvelope(ctx, path, u.stdin)
	if err != nil {
		return err
	}
	v, err := inspect.Verify(env, opts)
	if err != nil {
		return err
	}
	if o.asJSON {
		if err := u.writeJSON(v); err != nil || v.Verified {
			return err
		}
		return errSilent
	}
	for _, c := range v.Checks {
		status := map[string]string{inspect.Passed: "ok", inspect.Failed: "FAILED", inspect.Skipped: "skipped"}[c.Status]
		fmt.Fprintf(u.stdout, "%-7s %s: %s\n", status, c.Name, terminalSafe(c.Detail))
	}
	if failed := v.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, c := range failed {
			names[i] = c.Name
		}
		hints := []string{fmt.Sprintf(`run "notation-piv envelope inspect %s" to see the whole envelope`, shellQuote(path))}
		if root := v.TrustRoot; root != nil && opts.TrustRootSHA256 != "" && !root.Pinned {
			hints = append([]string{fmt.Sprintf("--trust-root %s holds a certificate besides the pinned one, and the envelope was signed under it: trust neither the file nor what it vouches for", o.trustRoot)}, hints...)
		}
		return failure(fmt.Sprintf("%s does not verify: %s failed (%s)", envelopeSource(path), envelope.CountText(len(names), "check", "checks"), strings.Join(names, ", ")), hints...)
	}
	if root := v.TrustRoot; root != nil {
		pinned := ""
		if root.Pinned {
			pinned = " (pinned)"
		}
		fmt.Fprintf(u.stdout, "trust root: %q, SHA-256 %s%s\n", terminalSafe(root.Subject), root.SHA256, pinned)
	}
	fmt.Fprintf(u.stdout, "%s verifies\n", envelopeSource(path))
	return nil
}

// options checks the flags and reads the files they name: the trust
// roots, the TSA root and the artifact.
func (o verifyFlags) options(ctx context.Context, u *ui) (inspect.VerifyOptions, error) {
	var opts inspect.VerifyOptions
	if o.trustRoot == "" {
		return opts, failure("envelope verify needs --trust-root FILE", "give the PEM file of the root CA certificate you trust, or the signer's self-signed certificate")
	}
	if o.artifact != "" && o.digest != "" {
		return opts, failure("--artifact and --digest exclude each other", "give the artifact file, or its digest")
	}
	var err error
	if o.trustRootSHA256 != "" {
		if opts.TrustRootSHA256, err = parseFingerprint(o.trustRootSHA256); err != nil {
			return opts, err
		}
	}
	if opts.TrustRoots, err = loadTrustRoots(o.trustRoot); err != nil {
		return opts, err
	}
	if err := checkPin(o.trustRoot, opts.TrustRoots, opts.TrustRootSHA256); err != nil {
		return opts, err
	}
	if len(opts.TrustRoots) > 1 && opts.TrustRootSHA256 == "" {
		u.warn("--trust-root %s holds %d certificates, and the envelope verifies under any of them: pin the one you expect with --trust-root-sha256", o.trustRoot, len(opts.TrustRoots))
	}
	if o.tsaRoot != "" {
		if opts.TSARoots, err = timestamp.LoadRoot(o.tsaRoot); err != nil {
			return opts, failure("--tsa-root: " + err.Error())
		}
	}
	if opts.AttestationRoots, err = loadAttestationRoots(o.attestationRoots); err != nil {
		return opts, err
	}
	if opts.Attested, err = parseAttested(o.attested); err != nil {
		return opts, err
	}
	switch {
	case o.digest != "":
		if err := envelope.CheckDigest(o.digest); err != nil {
			return opts, failure("--digest: "+err.Error(), "give the digest as notation shows it, such as sha256:3f9c…")
		}
		opts.Artifact = &inspect.Artifact{Name: o.digest, Digests: []string{o.digest}, Size: -1}
	case o.artifact != "":
		if opts.Artifact, err = hashArtifact(ctx, o.artifact); err != nil {
			return opts, err
		}
	}
	return opts, nil
}
