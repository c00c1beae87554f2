// Package signing is the one signing path of notation-piv, shared by the
// plugin contract (generate-envelope, generate-signature, describe-key)
// and "notation-piv envelope sign".
//
// An edge fills Settings, from pluginConfig or from flags, and NewPlan
// checks them and loads what they name, once: the slot, the card
// selection and timeout, the CA bundle, the PIN file, the pinentry
// program, the timestamp authority and its root, the envelope format and
// the expiry. The Plan is then passed straight down: nothing is read or
// parsed again. Errors name settings abstractly (SettingError); each edge
// names them its own way and adds its own advice.
package signing

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os/exec"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/piv"
	"github.com/notation-piv/notation-piv/timestamp"
)

// Logger takes the lines of the debug log.
type Logger interface {
	Printf(format string, args ...any)
}

// Plan is a checked signature plan: everything a signature needs but the
// card, loaded once. Close wipes the PIN it may hold.
type Plan struct {
	settings Settings
	slot     piv.Slot
	card     piv.Selector
	bundle   []*x509.Certificate // the CA certificates, leaf's issuer first; nil: none
	pinFile  []byte              // the PIN read from Settings.PINFile; nil: none
	pinentry string              // the pinentry program's path; "": none
	tsa      *timestamp.Config   // nil: no timestamp
	format   envelope.Format     // nil: no envelope
}

// NewPlan checks s (Settings.Check), then the slot, the envelope format and
// the expiry, and loads, in this order, the CA bundle, the PIN file, the
// pinentry program's path and the TSA's root, without touching the card
// or the network. A bad setting gives a *SettingError or a
// *MissingSettingError.
func NewPlan(s Settings) (*Plan, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	p := &Plan{settings: s}
	var err error
	if p.slot, err = piv.ParseSlot(s.Slot); err != nil {
		return nil, &SettingError{Setting: SettingSlot, Err: err}
	}
	p.card, _ = CardSelector(s.Serial, s.GUID, s.Reader) // checked by Check
	if s.Format != "" {
		if p.format, err = envelope.Lookup(s.Format); err != nil {
			return nil, &SettingError{Setting: SettingFormat, Err: err}
		}
	}
	if err := checkExpiry(s.Expiry); err != nil {
		return nil, err
	}
	if s.CACerts != "" {
		if p.bundle, err = certchain.LoadBundle(s.CACerts); err != nil {
			return nil, &SettingError{Setting: SettingCACerts, Err: err}
		}
	}
	if s.PINFile != "" {
		if p.pinFile, err = piv.FromFile(s.PINFile)(piv.PINRequest{}); err != nil {
			return nil, &SettingError{Setting: SettingPINFile, Err: err}
		}
	}
	if s.Pinentry != "" {
		if p.pinentry, err = exec.LookPath(s.Pinentry); err != nil {
			p.Close()
			return nil, &SettingError{Setting: SettingPinentry, Err: err}
		}
	}
	if s.TSAURL != "" {
		if p.tsa, err = loadTSA(s); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// loadTSA loads the root of the timestamp authority s names and checks
// its URL.
func loadTSA(s Settings) (*timestamp.Config, error) {
	roots, err := timestamp.LoadRoot(s.TSARoot)
	if err != nil {
		return nil, &SettingError{Setting: SettingTSARoot, Err: err}
	}
	tsa := &timestamp.Config{URL: s.TSAURL, Roots: roots, Timeout: s.TSATimeout}
	if err := tsa.Validate(); err != nil {
		return nil, &SettingError{Setting: SettingTSAURL, Err: err}
	}
	return tsa, nil
}

// Slot returns the slot of the key.
func (p *Plan) Slot() piv.Slot { return p.slot }

// String describes the plan's settings for the debug log.
func (p *Plan) String() string { return p.settings.String() }

// Close wipes the PIN read from the PIN file.
func (p *Plan) Close() {
	clear(p.pinFile)
	p.pinFile = nil
}

// pinSource returns the PIN sources in the order notation-piv uses them:
// NOTATION_PIV_PIN, the PIN file (read by NewPlan), the pinentry program
// and a prompt on the terminal.
func (p *Plan) pinSource() piv.PINSource {
	var fromFile piv.PINSource
	if p.pinFile != nil {
		fromFile = func(piv.PINRequest) ([]byte, error) { return bytes.Clone(p.pinFile), nil }
	}
	var pinentry piv.PINSource
	if p.pinentry != "" {
		pinentry = piv.Pinentry(p.pinentry)
	}
	return piv.First(piv.FromEnv(piv.EnvPIN), fromFile, pinentry, piv.TTY())
}

// CertificateError is a slot's certificate that cannot sign whatever its
// chain: its usage breaks the Notary Project rules (certchain.CheckUsage),
// as the signature certificate of a US government PIV card does. Err is
// a *certchain.ExtKeyUsageError when an extended key usage is refused.
type CertificateError struct {
	Slot piv.Slot
	Err  error
}

// Error names the slot.
func (e *CertificateError) Error() string {
	return fmt.Sprintf("the certificate in slot %s cannot sign Notary Project signatures: %v", e.Slot, e.Err)
}

// Unwrap returns Err.
func (e *CertificateError) Unwrap() error { return e.Err }

// ChainError is a certificate chain that cannot sign: the slot's
// certificate with the CA bundle.
type ChainError struct {
	Slot piv.Slot
	Err  error
}

// Error names the slot.
func (e *ChainError) Error() string {
	return fmt.Sprintf("the certificate chain of slot %s cannot sign: %v", e.Slot, e.Err)
}

// Unwrap returns Err.
func (e *ChainError) Unwrap() error { return e.Err }
