package cli

import (
	"crypto/x509"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/inspect"
)

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
	problems(row, "Problems", r.Problems)
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
		problems(row, "      notary", c.Problems)
		tw.Flush()
	}
	if r.Chain.MeetsNotaryRules {
		fmt.Fprintln(w, "  the chain meets the Notary rules (notation-core-go)")
	} else {
		fmt.Fprintf(w, "  ! the chain breaks the Notary rules: %s\n", terminalSafe(r.Chain.Problem))
	}

	printAttestation(w, r.Attestation)

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
	if ts.Status == inspect.StatusUnchecked {
		row("  verified", "%s (give --tsa-root to verify it)", ts.Detail)
	} else {
		verifiedRow(row, ts.Status, ts.Detail)
	}
	tw.Flush()
}

// verifiedRow prints the "verified" row of a section: the detail of its
// check, marked "!" when the check failed.
func verifiedRow(row func(label, format string, args ...any), status, detail string) {
	if status == inspect.StatusInvalid {
		row("  verified", "! %s", detail)
		return
	}
	row("  verified", "%s", detail)
}

// problems prints each problem as a row, the first one labelled.
func problems(row func(label, format string, args ...any), label string, list []string) {
	for _, p := range list {
		row(label, "! %s", p)
		label = ""
	}
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

// leafSubject names a certificate for messages.
func leafSubject(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	return "serial " + c.SerialNumber.String()
}
