package contract

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// pluginConfig keys. README.md documents each one.
const (
	cfgSerial   = "serial"
	cfgGUID     = "guid"
	cfgReader   = "reader"
	cfgCACerts  = "ca_certs"
	cfgPINFile  = "pin_file"
	cfgPinentry = "pinentry"
	cfgMode     = "mode"
	cfgTSAURL   = "tsa_url"
	cfgTSARoot  = "tsa_root_cert"
	cfgTSATime  = "tsa_timeout"
	cfgCardTime = "card_timeout"
	cfgLastTry  = "allow_last_pin_try"
	cfgAttest   = "attest"
	// cfgAttestationRoots is the one key of verify-signature: the PEM
	// bundle of attestation roots that replaces Yubico's for that run.
	cfgAttestationRoots = "attestation_roots"
)

// validConfigKeys lists every key pluginConfig may hold.
var validConfigKeys = []string{cfgLastTry, cfgAttest, cfgAttestationRoots, cfgCACerts, cfgCardTime, cfgGUID, cfgMode, cfgPINFile, cfgPinentry, cfgReader, cfgSerial, cfgTSARoot, cfgTSATime, cfgTSAURL}

// pinKeys are the only pluginConfig keys that may mention a PIN: none of
// them holds one.
var pinKeys = map[string]bool{cfgPINFile: true, cfgPinentry: true, cfgLastTry: true}

// Limits of pluginConfig.
const (
	// maxConfigKey bounds a pluginConfig key; the valid ones are short.
	maxConfigKey = 64
	// maxConfigValue bounds a pluginConfig value: a path, a URL, a reader
	// name or a short word.
	maxConfigValue = 4096
)

// Modes select the capability get-plugin-metadata advertises.
const (
	modeEnvelope = "envelope" // the default: notation calls generate-envelope
	modeRaw      = "raw"      // notation calls describe-key and generate-signature
)

// config is a parsed pluginConfig: the mode, the settings of the key's
// signatures, not checked yet (signing.NewPlan checks them), and the
// attestation roots of verify-signature.
type config struct {
	mode     string
	settings signing.Settings
	// attestationRoots is the path of the PEM bundle of attestation
	// roots; "": Yubico's.
	attestationRoots string
}

// capability is the generator capability get-plugin-metadata advertises
// for this config.
func (c config) capability() plugin.Capability {
	if c.mode == modeRaw {
		return plugin.CapabilitySignatureGenerator
	}
	return plugin.CapabilityEnvelopeGenerator
}

// String describes the config for the debug log. It holds no secrets:
// pluginConfig never carries a PIN.
func (c config) String() string {
	return "mode=" + c.mode + " " + c.settings.String()
}

// parseConfig parses pluginConfig without touching files or the card. A
// typo must never be ignored, so an unknown key is an error, and a PIN is
// never accepted: notation logs pluginConfig with --debug and stores it in
// plain text. The size of each key and value is checked first; a message
// names the key of a value that is too long, never the value: it could be
// a secret put in the wrong place. What the values mean together, and
// their bounds, signing.Settings.Check checks.
func parseConfig(m map[string]string) (config, error) {
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		if len(k) > maxConfigKey {
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s is %d bytes long, longer than any valid key; valid keys are %s",
				quote(k), len(k), strings.Join(validConfigKeys, ", "))
		}
		if v := m[k]; len(v) > maxConfigValue {
			return config{}, plugin.NewValidationErrorf("pluginConfig %s holds %d bytes, more than the limit of %d: give a path, URL or word of usual length",
				quote(k), len(v), maxConfigValue)
		}
	}
	c := config{mode: modeEnvelope}
	s := &c.settings
	// The keys whose value is taken as it is: a path, a URL, a name.
	verbatim := map[string]*string{cfgAttestationRoots: &c.attestationRoots, cfgReader: &s.Reader, cfgCACerts: &s.CACerts, cfgPINFile: &s.PINFile, cfgPinentry: &s.Pinentry, cfgTSAURL: &s.TSAURL, cfgTSARoot: &s.TSARoot}
	for _, k := range keys {
		v := m[k]
		if strings.Contains(strings.ToLower(k), "pin") && !pinKeys[k] {
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s is refused: a PIN must never be put in pluginConfig, which notation stores in plain text and prints with --debug; "+
				"give the PIN through the NOTATION_PIV_PIN environment variable, a file named by pin_file (mode 0600), a pinentry program named by pinentry, or the terminal prompt", quote(k))
		}
		if v == "" {
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s has an empty value; give it a value or remove it", quote(k))
		}
		if p, ok := verbatim[k]; ok {
			*p = v
			continue
		}
		var err error
		switch k {
		case cfgSerial:
			s.Serial, err = strconv.ParseUint(v, 10, 64)
			if err != nil || s.Serial == 0 {
				return config{}, plugin.NewValidationErrorf("pluginConfig serial %s is not a card serial number; %s", quote(v), adviceSerial)
			}
		case cfgGUID:
			if s.GUID, err = piv.ParseGUID(v); err != nil {
				return config{}, plugin.NewValidationErrorf("pluginConfig guid %s is not a card GUID: give the 32 hex digits of the GUID, or the GUID as a UUID (8-4-4-4-12 hex digits); %s", quote(v), adviceGUID)
			}
		case cfgTSATime:
			if s.TSATimeout, err = time.ParseDuration(v); err != nil {
				return config{}, plugin.NewValidationErrorf("pluginConfig tsa_timeout %s is not a duration, such as 15s", quote(v))
			}
		case cfgCardTime:
			if s.CardTimeout, err = time.ParseDuration(v); err != nil {
				return config{}, plugin.NewValidationErrorf("pluginConfig card_timeout %s is not a duration, such as 30s; %s", quote(v), adviceCardTimeout)
			}
		case cfgLastTry:
			if s.AllowLastPINTry, err = strconv.ParseBool(v); err != nil {
				return config{}, plugin.NewValidationErrorf("pluginConfig allow_last_pin_try %s is not true or false", quote(v))
			}
		case cfgAttest:
			if s.Attest, err = strconv.ParseBool(v); err != nil {
				return config{}, plugin.NewValidationErrorf("pluginConfig attest %s is not true or false", quote(v))
			}
		case cfgMode:
			if v != modeEnvelope && v != modeRaw {
				return config{}, plugin.NewValidationErrorf("pluginConfig mode %s is not supported; use mode=raw to let notation build the envelope, or leave mode out (or mode=envelope) to let the plugin build it", quote(v))
			}
			c.mode = v
		default:
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s is not known; valid keys are %s", quote(k), strings.Join(validConfigKeys, ", "))
		}
	}
	if s.TSAURL != "" && c.mode == modeRaw {
		return config{}, plugin.NewValidationError("pluginConfig tsa_url works in envelope mode only; in raw mode notation timestamps the signature itself: remove tsa_url and tsa_root_cert and pass --timestamp-url and --timestamp-root-cert to notation sign")
	}
	if s.Attest && c.mode == modeRaw {
		return config{}, plugin.NewValidationError("pluginConfig attest=true works in envelope mode only: notation builds the envelope in raw mode and cannot carry the attestation; remove mode=raw, or remove attest")
	}
	return c, nil
}
