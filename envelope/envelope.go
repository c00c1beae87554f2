// Package envelope builds Notary Project signature envelopes from a signing
// request and checks them with notation-core-go before anyone sees them.
//
// It owns what every envelope format shares: the media-type constants, the
// [SignRequest] and its checks (supported key, signer matching the leaf,
// certificate chain valid at the signing time, times in whole UTC seconds,
// expiry after signing time), the signing primitive [SignMessage] that turns
// a crypto.Signer's output into the wire form Notary expects, the registry of
// formats ([Format]) keyed by media type, and the self-check [Verify].
//
// Formats live in subpackages (envelope/jws and envelope/cose) and
// only encode: their Sign method hands an encoder to [Build], which runs the
// shared checks before the encoder asks the signer for a signature and
// verifies the result with notation-core-go afterwards. The command registers
// the formats it serves with [Register]; nothing registers itself.
//
// A request may ask for an RFC 3161 timestamp ([SignRequest].Timestamp):
// notation leaves timestamping to envelope plugins. The encoder hands the
// raw signature bytes to the timestamper and embeds the token unsigned
// under "io.cncf.notary.timestampSignature"; Build then checks, with
// [VerifyTimestamp], that notation-core-go reads the token back, that it
// stamps this signature and verifies against the trusted TSA roots, and
// that its time lies within the validity of every certificate of the
// chain. An envelope that asked for a timestamp is never returned without
// one that passed these checks.
//
// For reading envelopes that anyone may have built, the formats also take
// envelopes apart without verifying them (jws.Decode, cose.Decode) into a
// [Decoded] envelope, and the package reads and writes the Notary payload
// ([NewPayload], [ParsePayload]) around an OCI [Descriptor];
// envelope/inspect builds on them.
//
// The rules come from the Notary Project signature specification
// (https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md)
// as enforced by notation-core-go v1.3.0.
package envelope

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Media types of the envelopes and of the payload they carry.
const (
	// MediaTypeJWS is the media type of a Notary JWS envelope (flattened
	// JSON serialization).
	MediaTypeJWS = "application/jose+json"
	// MediaTypeCOSE is the media type of a Notary COSE_Sign1 envelope.
	MediaTypeCOSE = "application/cose"
	// PayloadType is the content type of the Notary payload that every
	// envelope signs: a JSON document naming the target artifact.
	PayloadType = "application/vnd.cncf.notary.payload.v1+json"
	// SigningScheme is the only Notary signing scheme this package produces:
	// the signing time is asserted by the signer and the chain ends in a
	// self-signed root.
	SigningScheme = "notary.x509"
)

// Format encodes signature envelopes of one media type.
type Format interface {
	// MediaType returns the envelope media type, e.g. MediaTypeJWS.
	MediaType() string
	// Sign builds and signs an envelope for req. Implementations go through
	// Build, so the returned envelope has passed Verify and carries exactly
	// the requested payload, times, signing agent and chain, and the
	// requested timestamp, checked with VerifyTimestamp.
	Sign(req SignRequest) ([]byte, error)
}

// UnsupportedFormatError reports an envelope media type that no registered
// Format serves.
type UnsupportedFormatError struct {
	// MediaType is the media type that was asked for.
	MediaType string
	// Supported lists the registered media types, sorted.
	Supported []string
}

// Error names the unsupported media type and the ones that would work.
func (e *UnsupportedFormatError) Error() string {
	if len(e.Supported) == 0 {
		return fmt.Sprintf("unsupported signature envelope type %q: no envelope format is registered", e.MediaType)
	}
	return fmt.Sprintf("unsupported signature envelope type %q: use one of %s", e.MediaType, strings.Join(e.Supported, ", "))
}

// registry maps media types to formats. The zero value is empty and ready.
type registry struct {
	mu      sync.RWMutex
	formats map[string]Format
}

func (r *registry) register(f Format) {
	if f == nil {
		panic("envelope: register a nil format")
	}
	mt := f.MediaType()
	if mt == "" {
		panic("envelope: register a format with an empty media type")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.formats[mt]; dup {
		panic("envelope: format for " + mt + " registered twice")
	}
	if r.formats == nil {
		r.formats = make(map[string]Format)
	}
	r.formats[mt] = f
}

func (r *registry) lookup(mediaType string) (Format, error) {
	r.mu.RLock()
	f, ok := r.formats[mediaType]
	r.mu.RUnlock()
	if !ok {
		return nil, &UnsupportedFormatError{MediaType: mediaType, Supported: r.mediaTypes()}
	}
	return f, nil
}

func (r *registry) mediaTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	mts := make([]string, 0, len(r.formats))
	for mt := range r.formats {
		mts = append(mts, mt)
	}
	slices.Sort(mts)
	return mts
}

var formats registry

// Register makes f available to Lookup under f.MediaType(). The command calls
// it once per format at start-up. It panics if f is nil, has an empty media
// type, or its media type is already registered: all are programming errors.
func Register(f Format) { formats.register(f) }

// Lookup returns the Format registered for mediaType. For an unknown media
// type the error is an *UnsupportedFormatError naming the registered ones.
func Lookup(mediaType string) (Format, error) { return formats.lookup(mediaType) }

// MediaTypes returns the registered media types, sorted.
func MediaTypes() []string { return formats.mediaTypes() }
