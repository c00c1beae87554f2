package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/piv"
	"github.com/notation-piv/notation-piv/timestamp"
)

// pluginConfig keys. README.md documents each one.
const (
	cfgSerial   = "serial"
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
)

// validConfigKeys lists every key pluginConfig may hold.
var validConfigKeys = []string{cfgLastTry, cfgCACerts, cfgCardTime, cfgMode, cfgPINFile, cfgPinentry, cfgReader, cfgSerial, cfgTSARoot, cfgTSATime, cfgTSAURL}

// pinKeys are the only pluginConfig keys that may mention a PIN: none of
// them holds one.
var pinKeys = map[string]bool{cfgPINFile: true, cfgPinentry: true, cfgLastTry: true}

// Bounds of card_timeout: long enough for a touch, short enough that a
// hung card cannot stall a pipeline for long.
const (
	minCardTimeout = time.Second
	maxCardTimeout = 10 * time.Minute
)

// Modes select the capability get-plugin-metadata advertises.
const (
	modeEnvelope = "envelope" // the default: notation calls generate-envelope
	modeRaw      = "raw"      // notation calls describe-key and generate-signature
)

// config is a parsed pluginConfig.
type config struct {
	serial   uint32 // 0: any card
	reader   string // "": any reader
	caCerts  string // PEM bundle completing the chain, leaf's issuer first
	pinFile  string
	pinentry string
	mode     string
	tsaURL   string        // RFC 3161 timestamp authority, ENVELOPE mode only
	tsaRoot  string        // PEM file with the TSA's root certificate
	tsaWait  time.Duration // how long to wait for the TSA; 0: timestamp.DefaultTimeout
	// cardWait bounds opening the card and each exchange with it; 0:
	// piv.DefaultTimeout.
	cardWait time.Duration
	// allowLastTry lets a signature try the PIN when one try is left.
	allowLastTry bool
}

// parseConfig checks pluginConfig without touching files or the card. A
// typo must never be ignored, so an unknown key is an error, and a PIN is
// never accepted: notation logs pluginConfig with --debug and stores it in
// plain text.
func parseConfig(m map[string]string) (config, error) {
	c := config{mode: modeEnvelope}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if strings.Contains(strings.ToLower(k), "pin") && !pinKeys[k] {
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s is refused: a PIN must never be put in pluginConfig, which notation stores in plain text and prints with --debug; "+
				"give the PIN through the NOTATION_PIV_PIN environment variable, a file named by pin_file (mode 0600), a pinentry program named by pinentry, or the terminal prompt", quote(k))
		}
		if v == "" {
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s has an empty value; give it a value or remove it", quote(k))
		}
		switch k {
		case cfgSerial:
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return config{}, plugin.NewValidationErrorf("pluginConfig serial %s is not a card serial number; run \"notation-piv list\" to see the serial numbers of the cards present", quote(v))
			}
			c.serial = uint32(n)
		case cfgReader:
			c.reader = v
		case cfgCACerts:
			c.caCerts = v
		case cfgPINFile:
			c.pinFile = v
		case cfgPinentry:
			c.pinentry = v
		case cfgTSAURL:
			c.tsaURL = v
		case cfgTSARoot:
			c.tsaRoot = v
		case cfgTSATime:
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second || d > 5*time.Minute {
				return config{}, plugin.NewValidationErrorf("pluginConfig tsa_timeout %s is not a duration from 1s to 5m, such as 15s", quote(v))
			}
			c.tsaWait = d
		case cfgCardTime:
			d, err := time.ParseDuration(v)
			if err != nil || d < minCardTimeout || d > maxCardTimeout {
				return config{}, plugin.NewValidationErrorf("pluginConfig card_timeout %s is not a duration from %v to %v, such as 30s; it bounds how long the plugin waits for the card, including a touch", quote(v), minCardTimeout, maxCardTimeout)
			}
			c.cardWait = d
		case cfgLastTry:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return config{}, plugin.NewValidationErrorf("pluginConfig allow_last_pin_try %s is not true or false", quote(v))
			}
			c.allowLastTry = b
		case cfgMode:
			if v != modeEnvelope && v != modeRaw {
				return config{}, plugin.NewValidationErrorf("pluginConfig mode %s is not supported; use mode=raw to let notation build the envelope, or leave mode out (or mode=envelope) to let the plugin build it", quote(v))
			}
			c.mode = v
		default:
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s is not known; valid keys are %s", quote(k), strings.Join(validConfigKeys, ", "))
		}
	}
	switch {
	case c.tsaURL != "" && c.tsaRoot == "":
		return config{}, plugin.NewValidationError("pluginConfig tsa_url needs tsa_root_cert, the PEM file of the timestamp authority's root certificate, so that the timestamp can be verified before it is embedded")
	case (c.tsaRoot != "" || c.tsaWait != 0) && c.tsaURL == "":
		return config{}, plugin.NewValidationError("pluginConfig tsa_root_cert or tsa_timeout is set but tsa_url is not; add tsa_url, the timestamp authority's http or https URL, or remove them")
	case c.tsaURL != "" && c.mode == modeRaw:
		return config{}, plugin.NewValidationError("pluginConfig tsa_url works in envelope mode only; in raw mode notation timestamps the signature itself: remove tsa_url and tsa_root_cert and pass --timestamp-url and --timestamp-root-cert to notation sign")
	}
	return c, nil
}

// cardTimeout is the deadline for opening the card and for each exchange
// with it.
func (c config) cardTimeout() time.Duration {
	if c.cardWait == 0 {
		return piv.DefaultTimeout
	}
	return c.cardWait
}

// capability is what get-plugin-metadata advertises for this config.
func (c config) capability() plugin.Capability {
	if c.mode == modeRaw {
		return plugin.CapabilitySignatureGenerator
	}
	return plugin.CapabilityEnvelopeGenerator
}

// String describes the config for the debug log. It holds no secrets:
// pluginConfig never carries a PIN.
func (c config) String() string {
	return fmt.Sprintf("serial=%d reader=%q ca_certs=%q pin_file=%q pinentry=%q mode=%s tsa_url=%q tsa_root_cert=%q card_timeout=%v allow_last_pin_try=%t",
		c.serial, c.reader, c.caCerts, c.pinFile, c.pinentry, c.mode, timestamp.Redact(c.tsaURL), c.tsaRoot, c.cardTimeout(), c.allowLastTry)
}
