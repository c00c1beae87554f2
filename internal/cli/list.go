package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/piv"
)

// listCommand is "notation-piv list".
var listCommand = &command{
	name:    "list",
	args:    "[--json]",
	summary: "show the cards, PIN and PUK retries, keys and certificates",
	about: `Shows every PIV card in the PC/SC readers, without asking for a PIN: the
reader, the serial number (YubiKeys) or the GUID of the card's CHUID (other
cards), the firmware, the kind of card and what notation-piv can do with
it, the PIN and PUK retries left, and every slot that holds a key or a
certificate, with the key type, PIN and touch policies, the certificate's
subject, issuer, expiry and SHA-256 thumbprint, and whether the certificate
meets the Notary Project certificate rules. Factory PINs, PUKs and
management keys left on a card are warned about.

Every card signs. Only YubiKeys (and cards that answer as one) can be set
up, reset or attest their keys; other cards sign with the keys their
issuer put on them.
`,
	flags: func(f *flagSet) action {
		var asJSON bool
		f.boolVar(&asJSON, "json", "print one JSON document instead of text")
		return func(ctx context.Context, u *ui, _ []string) error { return list(ctx, u, asJSON) }
	},
}

// ListOutput is the JSON document "notation-piv list --json" prints
// (README.md describes its fields).
type ListOutput struct {
	// Socket is the pcscd socket named by PCSCLITE_CSOCK_NAME, through
	// which the cards were reached (a signing station's, through an SSH
	// tunnel); absent when it is unset.
	Socket string     `json:"socket,omitempty"`
	Cards  []ListCard `json:"cards"`
}

// ListCard is one card of ListOutput.
type ListCard struct {
	Reader string `json:"reader"`
	// Serial is the card's serial number; 0 for a card without one.
	Serial uint32 `json:"serial"`
	// GUID is the GUID of the CHUID of a card without a serial number, 32
	// lowercase hex digits, which names it (--guid, pluginConfig guid);
	// absent on cards with a serial number.
	GUID string `json:"guid,omitempty"`
	// Kind is the kind of card: "yubikey" (a YubiKey, or a card that
	// answers as one), "plain" (a card that follows only NIST SP
	// 800-73-4) or "trussed" (Nitrokey 3, Solo 2).
	Kind string `json:"kind"`
	// Capabilities are what notation-piv can do with the card: "sign" on
	// every card; "setup" (setup, cert import, management-key set),
	// "reset" and "attest" on YubiKeys only.
	Capabilities []string `json:"capabilities"`
	// Firmware is the version of the card's PIV application; "" on a
	// card that does not tell.
	Firmware string `json:"firmware"`
	// Error says why the card's status could not be read; the fields
	// below are then empty.
	Error string `json:"error,omitempty"`
	// KeysKnown is whether the card reports its slots' keys (YubiKey GET
	// METADATA, firmware 5.3 and later); without it a slot shows only its
	// certificate.
	KeysKnown     bool               `json:"keysKnown"`
	PIN           *ListCounter       `json:"pin,omitempty"`
	PUK           *ListCounter       `json:"puk,omitempty"`
	ManagementKey *ListManagementKey `json:"managementKey,omitempty"`
	Slots         []ListSlot         `json:"slots"`
	Warnings      []string           `json:"warnings,omitempty"`
}

// ListCounter is the PIN or PUK of a ListCard; nil fields are unknown.
type ListCounter struct {
	RetriesLeft *int  `json:"retriesLeft"`
	MaxRetries  *int  `json:"maxRetries,omitempty"`
	Default     *bool `json:"default,omitempty"`
}

// ListManagementKey is the management key of a ListCard, on cards that
// report it.
type ListManagementKey struct {
	Algorithm string `json:"algorithm"`
	Default   bool   `json:"default"`
	Touch     bool   `json:"touch"`
}

// ListSlot is a slot of a ListCard that holds a key or a certificate.
type ListSlot struct {
	Slot             string           `json:"slot"`
	Key              *ListKey         `json:"key,omitempty"`
	Certificate      *ListCertificate `json:"certificate,omitempty"`
	CertificateError string           `json:"certificateError,omitempty"`
}

// ListKey is the key in a ListSlot, on cards that report it.
type ListKey struct {
	Algorithm   string `json:"algorithm"`
	PINPolicy   string `json:"pinPolicy,omitempty"`
	TouchPolicy string `json:"touchPolicy,omitempty"`
	Origin      string `json:"origin"`
}

// ListCertificate is the certificate in a ListSlot.
type ListCertificate struct {
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

// list shows the cards.
func list(ctx context.Context, u *ui, asJSON bool) error {
	cards, err := piv.List(ctx)
	if err != nil {
		return err
	}
	out := ListOutput{Socket: piv.Socket(), Cards: []ListCard{}}
	now := time.Now()
	for _, info := range cards {
		st, err := piv.Inspect(ctx, info)
		out.Cards = append(out.Cards, describeCard(info, st, err, now))
	}
	if asJSON {
		return u.writeJSON(out)
	}
	if out.Socket != "" {
		fmt.Fprintf(u.stdout, "through the pcscd socket %s (%s)\n\n", out.Socket, piv.EnvSocket)
	}
	for i, c := range out.Cards {
		if i > 0 {
			fmt.Fprintln(u.stdout)
		}
		printCard(u.stdout, c)
	}
	for _, c := range out.Cards {
		for _, w := range c.Warnings {
			u.warn("%s", w)
		}
	}
	return nil
}

// cardKinds says, for each kind of card, how list --json names it, what
// notation-piv can do with it and how the text describes it.
var cardKinds = map[piv.Kind]struct {
	name         string
	capabilities []string
	text         string
}{
	piv.KindYubiKey: {"yubikey", []string{"sign", "setup", "reset", "attest"},
		"YubiKey: signs, sets up keys (setup, cert import, management-key set), attests, resets"},
	piv.KindPlain: {"plain", []string{"sign"},
		"SP 800-73-4 card: signs with the keys its issuer put on it; setup, reset and attestation need a YubiKey"},
	piv.KindTrussed: {"trussed", []string{"sign"},
		"trussed (Nitrokey 3, Solo 2): signs with the keys put on it; setup, reset and attestation need a YubiKey"},
}

// kindText describes the kind of card list --json names name.
func kindText(name string) string {
	for _, k := range cardKinds {
		if k.name == name {
			return k.text
		}
	}
	return name
}

// describeCard gathers what list shows of one card.
func describeCard(info piv.CardInfo, st *piv.Status, err error, now time.Time) ListCard {
	kind := cardKinds[info.Kind]
	c := ListCard{Reader: info.Reader, Serial: info.Serial, Kind: kind.name, Capabilities: kind.capabilities, Firmware: info.Version, Slots: []ListSlot{}}
	if info.Serial == 0 {
		c.GUID = info.GUID
	}
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.KeysKnown = st.Metadata
	c.PIN, c.PUK = counter(st.PIN, st.Metadata), counter(st.PUK, st.Metadata)
	if st.Metadata {
		c.ManagementKey = &ListManagementKey{Algorithm: st.ManagementKey.Algorithm, Default: st.ManagementKey.Default, Touch: st.ManagementKey.Touch}
	}
	for _, ss := range st.Slots {
		s := ListSlot{Slot: ss.Slot.String()}
		if ss.Key != nil {
			origin := "imported"
			if ss.Key.Generated {
				origin = "generated"
			}
			s.Key = &ListKey{Algorithm: ss.Key.Algorithm, PINPolicy: ss.Key.PINPolicy, TouchPolicy: ss.Key.TouchPolicy, Origin: origin}
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
func counter(c piv.Counter, metadata bool) *ListCounter {
	out := &ListCounter{}
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
func describeCert(cert *x509.Certificate, key *piv.KeyStatus, keysKnown bool, now time.Time) *ListCertificate {
	lc := &ListCertificate{
		Subject:    cert.Subject.String(),
		Issuer:     cert.Issuer.String(),
		SelfSigned: certchain.SelfSigned(cert),
		NotBefore:  cert.NotBefore.UTC(),
		NotAfter:   cert.NotAfter.UTC(),
		SHA256:     inspect.Fingerprint(cert),
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
func printCard(w io.Writer, c ListCard) {
	var b strings.Builder
	fmt.Fprintf(&b, "PIV %s", cardName(piv.CardInfo{Serial: c.Serial, GUID: c.GUID}))
	if c.Firmware != "" {
		fmt.Fprintf(&b, ", firmware %s", c.Firmware)
	}
	fmt.Fprintf(w, "%s, in reader %q\n", b.String(), c.Reader)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-16s%s\n", label, fmt.Sprintf(format, args...))
	}
	row("kind", "%s", kindText(c.Kind))
	if c.Error != "" {
		fmt.Fprintf(w, "  cannot read its status: %s\n", c.Error)
		return
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
	switch {
	case len(c.Slots) == 0 && slices.Contains(c.Capabilities, "setup"):
		fmt.Fprintln(w, `  no keys or certificates: run "notation-piv setup" to make one`)
	case len(c.Slots) == 0:
		fmt.Fprintln(w, "  no keys or certificates: have the card's issuer provision it")
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
func counterText(c *ListCounter) string {
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
func keyText(k *ListKey, known bool) string {
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
