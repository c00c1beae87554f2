package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/timestamp"
)

// inspectCommand is "notation-piv envelope inspect".
var inspectCommand = &command{
	name:  "envelope inspect",
	args:  "FILE [--json] [--tsa-root FILE] [--attestation-roots FILE]",
	nargs: 1,
	about: `Shows what a JWS or COSE signature envelope holds (FILE "-" reads stdin; the
format is detected): the algorithm, every protected and unprotected header
and what it means, the signed artifact's descriptor, each certificate of
the chain and whether it meets the Notary Project rules, the timestamp, the
key attestation of an attested signature (the card's serial, firmware, PIN
and touch policy, whether it attests the signing key, and whether its chain
verifies against Yubico's roots or --attestation-roots), and whether the
signature is valid against the leaf certificate's key. A broken
or tampered envelope is still shown, with what is wrong flagged; the exit
status is 0 whenever the envelope can be read. Use "envelope verify" for a
verdict.
`,
	flags: func(f *flagSet) action {
		var asJSON bool
		var tsaRoot, attestationRoots string
		f.boolVar(&asJSON, "json", `print one JSON document (its fields: README.md, "envelope command")`)
		f.stringVar(&tsaRoot, "tsa-root", "FILE", "", "PEM file with the self-signed root of the timestamp authority: the timestamp is then verified, not only read")
		f.stringVar(&attestationRoots, "attestation-roots", "FILE", "", attestationRootsUsage)
		return func(ctx context.Context, u *ui, args []string) error {
			return inspectEnvelope(ctx, u, args[0], tsaRoot, attestationRoots, asJSON)
		}
	},
}

// inspectEnvelope shows what the envelope at path holds.
func inspectEnvelope(ctx context.Context, u *ui, path, tsaRoot, attestationRoots string, asJSON bool) error {
	var opts inspect.Options
	var err error
	if opts.AttestationRoots, err = loadAttestationRoots(attestationRoots); err != nil {
		return err
	}
	if tsaRoot != "" {
		roots, err := timestamp.LoadRoot(tsaRoot)
		if err != nil {
			return failure("--tsa-root: " + err.Error())
		}
		opts.TSARoots = roots
	}
	env, err := readEnvelope(ctx, path, u.stdin)
	if err != nil {
		return err
	}
	r, err := inspect.Inspect(env, opts)
	if err != nil {
		return failure(fmt.Sprintf("%s: %v", envelopeSource(path), err), "give a JWS (application/jose+json) or COSE (application/cose) signature envelope, such as the signature blob of a notation signature")
	}
	if asJSON {
		err = u.writeJSON(r)
	} else {
		printReport(u.stdout, r)
	}
	if r.Integrity.Status != inspect.StatusValid {
		u.warn("the signature is %s: %s", strings.ToUpper(r.Integrity.Status), terminalSafe(r.Integrity.Detail))
	}
	return err
}
