package envelope

import "fmt"

// MaxHeaderItems bounds what the decoders read of each header of an
// envelope, counted in JSON values or CBOR data items: every label, every
// value, and everything inside a value, such as each label a "crit" header
// lists or each certificate of a chain. A JSON object or array counts once
// itself, besides its contents.
//
// A Notary envelope holds a few dozen: its protected header a dozen labels
// with their values and a "crit" list of two or three, its unprotected
// header three labels and a chain of a few certificates. 1024 leaves room
// for extra signed attributes, and bounds the work on a hostile envelope
// that stays within MaxEnvelopeSize: notation-core-go (v1.3.0) compares
// every extra protected label with every "crit" entry, at most 512 × 512
// comparisons here instead of 140,000 × 140,000, and every item is
// decoded, rendered and held a few times over. The decoders count before
// they decode, and refuse an envelope over the bound with a *LimitError.
const MaxHeaderItems = 1024

// MaxCertificates bounds the certificate chain of an envelope. Notary
// chains hold two to four certificates: leaf, intermediates, root.
// Inspecting an envelope checks each signature of its chain several times
// over, in notation-core-go and here: a chain of 1,000 certificates under
// RSA-4096 issuers, which MaxHeaderItems alone allows, took 2 s; 32 take
// well under a tenth of a second.
const MaxCertificates = 32

// LimitError says that an envelope exceeds MaxHeaderItems or
// MaxCertificates. No Notary signer makes such an envelope, and reading it
// would cost more than a signature is worth, so the decoders refuse it
// before they decode the part that is too large.
type LimitError struct {
	// Part is what holds too many: "protected header", "unprotected
	// header", for JWS "envelope outside its protected header", or
	// "certificate chain".
	Part string
	// Limit is the bound, and Unit what it counts: "JSON values", "CBOR
	// items" or "certificates".
	Limit int
	Unit  string
}

// Error says what holds too many of what, and that it is refused.
func (e *LimitError) Error() string {
	return fmt.Sprintf("the %s holds more than %d %s, far more than any Notary envelope: it is refused", e.Part, e.Limit, e.Unit)
}
