package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/piv"
)

const listUsage = `Usage: notation-piv list [--json]

Shows every PIV card in the PC/SC readers, without asking for a PIN: the
reader, serial number and firmware, the PIN and PUK retries left, and every
slot that holds a key or a certificate, with the key type, PIN and touch
policies, the certificate's subject, issuer, expiry and SHA-256 thumbprint,
and whether the certificate meets the Notary Project certificate rules.
Factory PINs, PUKs and management keys left on a card are warned about.

Options:
  --json            print one JSON document instead of text
`

// listOutput is the JSON document of "list --json".
type listOutput struct {
	Cards []listCard `json:"cards"`
}

// listCard is one card of "list --json".
type listCard struct {
	Reader   string `json:"reader"`
	Serial   uint32 `json:"serial"`
	Firmware string `json:"firmware"`
	// Error says why the card's status could not be read; the fields
	// below are then empty.
	Error string `json:"error,omitempty"`
	// KeysKnown is whether the card reports its slots' keys (YubiKey GET
	// METADATA, firmware 5.3 and later); without it a slot shows only its
	// certificate.
	KeysKnown     bool         `json:"keysKnown"`
	PIN           *listCounter `json:"pin,omitempty"`
	PUK           *listCounter `json:"puk,omitempty"`
	ManagementKey *listMgmtKey `json:"managementKey,omitempty"`
	Slots         []listSlot   `json:"slots"`
	Warnings      []string     `json:"warnings,omitempty"`
}

// listCounter is the PIN or PUK; nil fields are unknown.
type listCounter struct {
	RetriesLeft *int  `json:"retriesLeft"`
	MaxRetries  *int  `json:"maxRetries,omitempty"`
	Default     *bool `json:"default,omitempty"`
}

type listMgmtKey struct {
	Algorithm string `json:"algorithm"`
	Default   bool   `json:"default"`
	Touch     bool   `json:"touch"`
}

type listSlot struct {
	Slot             string    `json:"slot"`
	Key              *listKey  `json:"key,omitempty"`
	Certificate      *listCert `json:"certificate,omitempty"`
	CertificateError string    `json:"certificateError,omitempty"`
}

type listKey struct {
	Algorithm   string `json:"algorithm"`
	PINPolicy   string `json:"pinPolicy,omitempty"`
	TouchPolicy string `json:"touchPolicy,omitempty"`
	Origin      string `json:"origin"`
}

type listCert struct {
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	SelfSigned bool      `json:"selfSigned"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	SHA256     string    `json:"sha256"`
	// MatchesKey is whether the certificate's public key is the slot's
	// key; absent when the card does not tell the key.
	MatchesKey *bool `json:"matchesKey,omitempty"`
	// MeetsNotaryRules is whether notation can sign with the certificate
	// as the leaf; NotaryProblem says why not.
	MeetsNotaryRules bool   `json:"meetsNotaryRules"`
	NotaryProblem    string `json:"notaryProblem,omitempty"`
}

func runList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	u := &ui{name: "list", stdout: stdout, stderr: stderr}
	fs := u.flags()
	asJSON := fs.Bool("json", false, "")
	if _, code, done := u.parse(fs, listUsage, args, 0); done {
		return code
	}
	cards, err := piv.List(ctx)
	if err != nil {
		return u.fail(err)
	}
	out := listOutput{Cards: []listCard{}}
	now := time.Now()
	for _, info := range cards {
		st, err := piv.Inspect(ctx, info)
		out.Cards = append(out.Cards, describeCard(info, st, err, now))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return u.fail(err)
		}
		return 0
	}
	for i, c := range out.Cards {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printCard(stdout, c)
	}
	for _, c := range out.Cards {
		for _, w := range c.Warnings {
			u.warn("%s", w)
		}
	}
	return 0
}

// describeCard gathers what list shows of one card.
func describeCard(info piv.CardInfo, st *piv.Status, err error, now time.Time) listCard {
	c := listCard{Reader: info.Reader, Serial: info.Serial, Firmware: info.Version, Slots: []listSlot{}}
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.KeysKnown = st.Metadata
	c.PIN, c.PUK = counter(st.PIN, st.Metadata), counter(st.PUK, st.Metadata)
	if st.Metadata {
		c.ManagementKey = &listMgmtKey{Algorithm: st.ManagementKey.Algorithm, Default: st.ManagementKey.Default, Touch: st.ManagementKey.Touch}
	}
	for _, ss := range st.Slots {
		s := listSlot{Slot: ss.Slot.String()}
		if ss.Key != nil {
			origin := "imported"
			if ss.Key.Generated {
				origin = "generated"
			}
			s.Key = &listKey{Algorithm: ss.Key.Algorithm, PINPolicy: ss.Key.PINPolicy, TouchPolicy: ss.Key.TouchPolicy, Origin: origin}
		}
		if ss.CertificateError != nil {
			s.CertificateError = ss.CertificateError.Error()
		}
		if ss.Certificate != nil {
			s.Certificate = describeCert(ss.Certificate, ss.Key, st.Metadata, now)
		}
		c.Slots = append(c.Slots, s)
	}
	c.Warnings = defaultCredentials(st)
	return c
}

// counter converts a PIN or PUK counter, leaving unknowns out.
func counter(c piv.Counter, metadata bool) *listCounter {
	out := &listCounter{}
	if c.RetriesLeft >= 0 {
		out.RetriesLeft = &c.RetriesLeft
	}
	if c.MaxRetries >= 0 {
		out.MaxRetries = &c.MaxRetries
	}
	if metadata {
		out.Default = &c.Default
	}
	return out
}

// describeCert gathers what list shows of a slot's certificate; key is the
// slot's key, and keysKnown whether the card tells it.
func describeCert(cert *x509.Certificate, key *piv.KeyStatus, keysKnown bool, now time.Time) *listCert {
	sum := sha256.Sum256(cert.Raw)
	lc := &listCert{
		Subject:    cert.Subject.String(),
		Issuer:     cert.Issuer.String(),
		SelfSigned: certchain.SelfSigned(cert),
		NotBefore:  cert.NotBefore.UTC(),
		NotAfter:   cert.NotAfter.UTC(),
		SHA256:     hex.EncodeToString(sum[:]),
	}
	if keysKnown {
		match := key != nil && publicKeysEqual(key.PublicKey, cert.PublicKey)
		lc.MatchesKey = &match
		switch {
		case key == nil:
			lc.NotaryProblem = "the slot holds no key for the certificate"
			return lc
		case !match:
			lc.NotaryProblem = "the certificate is not for the slot's key"
			return lc
		}
	}
	if err := certchain.CheckLeaf(cert, now); err != nil {
		lc.NotaryProblem = err.Error()
		return lc
	}
	lc.MeetsNotaryRules = true
	return lc
}

// publicKeysEqual compares two public keys.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(x crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// printCard prints one card as text.
func printCard(w io.Writer, c listCard) {
	fmt.Fprintf(w, "PIV card %d, firmware %s, in reader %q\n", c.Serial, c.Firmware, c.Reader)
	if c.Error != "" {
		fmt.Fprintf(w, "  cannot read its status: %s\n", c.Error)
		return
	}
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-16s%s\n", label, fmt.Sprintf(format, args...))
	}
	row("PIN", "%s", counterText(c.PIN))
	row("PUK", "%s", counterText(c.PUK))
	if m := c.ManagementKey; m != nil {
		text := m.Algorithm
		if m.Default {
			text += ", factory default"
		}
		if m.Touch {
			text += ", needs a touch"
		}
		row("management key", "%s", text)
	}
	if len(c.Slots) == 0 {
		fmt.Fprintln(w, `  no keys or certificates: run "notation-piv setup" to make one`)
	}
	for _, s := range c.Slots {
		row("slot "+s.Slot, "%s", keyText(s.Key, c.KeysKnown))
		if s.CertificateError != "" {
			row("  certificate", "unreadable: %s", s.CertificateError)
		}
		cert := s.Certificate
		if cert == nil {
			if s.CertificateError == "" {
				row("  certificate", "none")
			}
			continue
		}
		row("  subject", "%s", cert.Subject)
		if cert.SelfSigned {
			row("  issuer", "self-signed")
		} else {
			row("  issuer", "%s", cert.Issuer)
		}
		row("  not after", "%s", cert.NotAfter.Format("2006-01-02 15:04:05 UTC"))
		row("  sha256", "%s", cert.SHA256)
		switch {
		case !cert.MeetsNotaryRules:
			row("  notation", "cannot sign: %s", cert.NotaryProblem)
		case cert.SelfSigned:
			row("  notation", "ready: the self-signed certificate meets the Notary Project rules")
		default:
			row("  notation", "ready: the certificate meets the Notary Project leaf rules; give notation its CA chain with --plugin-config ca_certs=FILE")
		}
	}
}

// counterText describes a PIN or PUK counter.
func counterText(c *listCounter) string {
	var parts []string
	switch {
	case c.RetriesLeft == nil:
		parts = append(parts, "retries unknown")
	case *c.RetriesLeft == 0:
		parts = append(parts, "blocked")
	case c.MaxRetries != nil:
		parts = append(parts, fmt.Sprintf("%d of %d tries left", *c.RetriesLeft, *c.MaxRetries))
	default:
		parts = append(parts, tries(*c.RetriesLeft)+" left")
	}
	if c.Default != nil && *c.Default {
		parts = append(parts, "factory default")
	}
	return strings.Join(parts, ", ")
}

// keyText describes a slot's key; known is whether the card tells.
func keyText(k *listKey, known bool) string {
	switch {
	case k == nil && known:
		return "no key"
	case k == nil:
		return "key unknown (the card does not tell)"
	}
	text := fmt.Sprintf("%s key, %s", k.Algorithm, map[string]string{"generated": "generated on the card", "imported": "imported"}[k.Origin])
	if k.PINPolicy != "" {
		text += ", PIN " + k.PINPolicy
	}
	if k.TouchPolicy != "" {
		text += ", touch " + k.TouchPolicy
	}
	return text
}
