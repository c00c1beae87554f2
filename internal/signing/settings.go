package signing

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/notation-piv/notation-piv/piv"
	"github.com/notation-piv/notation-piv/timestamp"
)

// Setting names a setting of a signature abstractly, as pluginConfig
// names the ones it holds. Each edge names it its own way: the contract
// as "pluginConfig ca_certs" or "keyId", the commands for people as
// "--ca-certs".
type Setting string

// The settings of a signature.
const (
	SettingSlot        Setting = "slot"
	SettingSerial      Setting = "serial"
	SettingGUID        Setting = "guid"
	SettingCardTimeout Setting = "card_timeout"
	SettingCACerts     Setting = "ca_certs"
	SettingPINFile     Setting = "pin_file"
	SettingPinentry    Setting = "pinentry"
	SettingTSAURL      Setting = "tsa_url"
	SettingTSARoot     Setting = "tsa_root_cert"
	SettingTSATimeout  Setting = "tsa_timeout"
	SettingFormat      Setting = "format"
	SettingExpiry      Setting = "expiry"
	SettingAttest      Setting = "attest"
)

// SettingError is a setting that cannot be used: a value out of bounds, or
// a file it names that cannot serve. Err says why, without naming the
// setting.
type SettingError struct {
	Setting Setting
	Err     error
}

// Error names the setting as pluginConfig would, for logs; the edges
// name it their own way.
func (e *SettingError) Error() string { return string(e.Setting) + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *SettingError) Unwrap() error { return e.Err }

// MissingSettingError is a group of settings that need another one, which
// is not set.
type MissingSettingError struct {
	// Settings are the settings that need Needed; at least one is set.
	Settings []Setting
	// Needed is the setting that is not set.
	Needed Setting
}

// Error names the settings as pluginConfig would; the edges name them
// their own way.
func (e *MissingSettingError) Error() string {
	names := make([]string, len(e.Settings))
	for i, s := range e.Settings {
		names[i] = string(s)
	}
	return strings.Join(names, " and ") + " need " + string(e.Needed)
}

// Bounds of the settings.
const (
	// MinCardTimeout and MaxCardTimeout bound Settings.CardTimeout: long
	// enough for a touch, short enough that a hung card cannot stall a
	// pipeline for long.
	MinCardTimeout = time.Second
	MaxCardTimeout = 10 * time.Minute
	// MinTSATimeout and MaxTSATimeout bound Settings.TSATimeout.
	MinTSATimeout = time.Second
	MaxTSATimeout = 5 * time.Minute
	// MaxExpiry bounds Settings.Expiry.
	MaxExpiry = 100 * 365 * 24 * time.Hour
)

// Settings are the settings of one signature as an edge got them, from
// pluginConfig and the request, or from flags, before they are checked.
// NewPlan checks them and loads what they name.
type Settings struct {
	// Slot is the slot of the key, such as "9c".
	Slot string
	// Serial picks the card by serial number; 0: any card.
	Serial uint64
	// GUID picks a card without a serial number by the GUID of its CHUID,
	// as piv.ParseGUID reads it; "": any card.
	GUID string
	// Reader picks the card by a part of its reader's name; "": any.
	Reader string
	// CardTimeout bounds opening the card and each exchange with it; 0:
	// piv.DefaultTimeout.
	CardTimeout time.Duration
	// AllowLastPINTry lets a signature try the PIN when the card has one
	// try left.
	AllowLastPINTry bool
	// CACerts is the PEM bundle that completes the chain, the leaf's
	// issuer first; "": none (a self-signed leaf).
	CACerts string
	// PINFile and Pinentry are PIN sources, after NOTATION_PIV_PIN and
	// before the terminal; "": none.
	PINFile, Pinentry string
	// TSAURL is the RFC 3161 timestamp authority; "": no timestamp.
	TSAURL string
	// TSARoot is the PEM file of the TSA's root certificate.
	TSARoot string
	// TSATimeout bounds the TSA's answer; 0: timestamp.DefaultTimeout.
	TSATimeout time.Duration
	// Format is the media type of the envelope; "" when the plan makes no
	// envelope (describe-key, a raw signature).
	Format string
	// Expiry is how long the signature is valid; 0: no expiry.
	Expiry time.Duration
	// Attest adds the slot's attestation to the envelope, with the
	// headers that route its verification to this plugin (see
	// Plan.SignEnvelope). A raw signature has nowhere to carry it: the
	// edges refuse Attest without an envelope.
	Attest bool
	// Version is the version of notation-piv: envelopes name
	// "notation-piv/VERSION" as their signing agent.
	Version string
}

// Check checks what needs neither a file nor the slot: the card selection,
// the timeouts and that the TSA settings come together. A value out of
// bounds gives a *SettingError; a TSA setting without the other a
// *MissingSettingError.
func (s Settings) Check() error {
	if _, err := CardSelector(s.Serial, s.GUID, s.Reader); err != nil {
		return err
	}
	if err := inBounds(SettingCardTimeout, s.CardTimeout, MinCardTimeout, MaxCardTimeout); err != nil {
		return err
	}
	switch {
	case s.TSAURL != "" && s.TSARoot == "":
		return &MissingSettingError{Settings: []Setting{SettingTSAURL}, Needed: SettingTSARoot}
	case (s.TSARoot != "" || s.TSATimeout != 0) && s.TSAURL == "":
		return &MissingSettingError{Settings: []Setting{SettingTSARoot, SettingTSATimeout}, Needed: SettingTSAURL}
	}
	return inBounds(SettingTSATimeout, s.TSATimeout, MinTSATimeout, MaxTSATimeout)
}

// inBounds checks a duration that is 0 (the default) or from min to max.
func inBounds(setting Setting, d, min, max time.Duration) error {
	if d != 0 && (d < min || d > max) {
		return &SettingError{Setting: setting, Err: fmt.Errorf("%v is not from %v to %v", d, min, max)}
	}
	return nil
}

// checkExpiry checks an expiry of 0 (none) to MaxExpiry.
func checkExpiry(d time.Duration) error {
	switch {
	case d < 0:
		return &SettingError{Setting: SettingExpiry, Err: errors.New("negative")}
	case d > MaxExpiry:
		return &SettingError{Setting: SettingExpiry, Err: errors.New("more than 100 years")}
	}
	return nil
}

// CardSelector returns the selector of the card with this serial number
// (0: any) and this GUID (piv.ParseGUID; "": any) in a reader whose name
// contains reader ("": any). A serial number that no card can have, or a
// GUID that is not one, gives a *SettingError.
func CardSelector(serial uint64, guid, reader string) (piv.Selector, error) {
	if serial > math.MaxUint32 {
		return piv.Selector{}, &SettingError{Setting: SettingSerial, Err: fmt.Errorf("%d is not a card serial number", serial)}
	}
	sel := piv.Selector{Serial: uint32(serial), Reader: reader}
	if guid != "" {
		var err error
		if sel.GUID, err = piv.ParseGUID(guid); err != nil {
			return piv.Selector{}, &SettingError{Setting: SettingGUID, Err: err}
		}
	}
	return sel, nil
}

// cardTimeout is the effective CardTimeout.
func (s Settings) cardTimeout() time.Duration {
	if s.CardTimeout == 0 {
		return piv.DefaultTimeout
	}
	return s.CardTimeout
}

// String describes the settings for the debug log. It holds no secrets:
// a PIN is never a setting, and the TSA URL is redacted.
func (s Settings) String() string {
	return fmt.Sprintf("slot=%q serial=%d guid=%q reader=%q ca_certs=%q pin_file=%q pinentry=%q tsa_url=%q tsa_root_cert=%q card_timeout=%v allow_last_pin_try=%t format=%q expiry=%v attest=%t",
		s.Slot, s.Serial, s.GUID, s.Reader, s.CACerts, s.PINFile, s.Pinentry, timestamp.Redact(s.TSAURL), s.TSARoot, s.cardTimeout(), s.AllowLastPINTry, s.Format, s.Expiry, s.Attest)
}
