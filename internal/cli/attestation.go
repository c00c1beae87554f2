package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/internal/pemcert"
)

// attestationRootsUsage and attestedUsage describe the attestation flags
// of envelope inspect and envelope verify.
const (
	attestationRootsUsage = "PEM file of the trusted attestation roots, which replace Yubico's (as pluginConfig attestation_roots does for notation verify)"
	attestedUsage         = `the constraints of a "piv.attested" trusted identity, such as 'serial=12345678|87654321, pin=always' or 'any' (README.md, "Attested signatures")`
)

// loadAttestationRoots reads the PEM certificates of --attestation-roots;
// nil when path is "".
func loadAttestationRoots(path string) (*attestation.Roots, error) {
	if path == "" {
		return nil, nil
	}
	const instead = "give a PEM file of the attestation root certificates"
	certs, err := pemcert.Load(path, attestation.MaxRoots)
	if err != nil {
		return nil, inputFailure("--attestation-roots", err, instead)
	}
	roots, err := attestation.NewRoots(certs)
	if err != nil {
		return nil, failure(fmt.Sprintf("--attestation-roots %s: %v", path, err), instead)
	}
	return roots, nil
}

// parseAttested reads --attested as the constraints of one piv.attested
// trusted identity; nil when constraints is "".
func parseAttested(constraints string) (*attestation.Policy, error) {
	if constraints == "" {
		return nil, nil
	}
	policy, err := attestation.ParsePolicy([]string{attestation.PrefixAttested + ": " + constraints})
	if err != nil {
		return nil, failure("--attested: "+err.Error(), `give constraints such as 'serial=12345678|87654321, pin=always, touch=always|cached, firmware>=5.4.3, fips=true', or 'any'`)
	}
	return policy, nil
}

// printAttestation prints the attestation section of an inspect report.
func printAttestation(w io.Writer, a *inspect.AttestationInfo) {
	if a == nil {
		fmt.Fprintln(w, "\nAttestation: none")
		return
	}
	fmt.Fprintln(w, "\nAttestation (the key's proof of birth on a card)")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, terminalSafe(fmt.Sprintf(format, args...)))
	}
	if a.Problem != "" {
		row("  problem", "! %s", a.Problem)
		row("  verified", "%s", a.Detail)
		tw.Flush()
		return
	}
	row("  card", "serial %d, firmware %s, %s", a.Serial, a.Firmware, a.FormFactor)
	if a.FIPS {
		row("  FIPS", "yes")
	}
	slot := a.Slot
	if slot == "" {
		slot = "not named"
	}
	row("  slot", "%s, PIN %s, touch %s", slot, a.PINPolicy, a.TouchPolicy)
	if a.AttestsSigningKey {
		row("  key", "the signing certificate's key")
	} else {
		row("  key", "! not the signing certificate's key: the attestation is of another key")
	}
	verifiedRow(row, a.Status, a.Detail)
	for i, c := range a.Chain {
		label := ""
		if i == 0 {
			label = "  chain"
		}
		row(label, "[%d] %s (issuer %s)", i, c.Subject, c.Issuer)
	}
	tw.Flush()
}
