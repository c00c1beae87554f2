package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/internal/prompt"
	"github.com/notation-piv/notation-piv/piv"
)

// Key is the key of a plan on an open card, with its certificate and the
// chain built for one signing time. Close closes the card.
type Key struct {
	plan  *Plan
	card  *piv.Card
	leaf  *x509.Certificate
	spec  keyspec.Spec
	chain []*x509.Certificate
	// attestation is the slot's attestation bundle, read when the plan
	// attests; nil otherwise.
	attestation *attestation.Bundle
	phases      phases
	log         Logger
}

// phases is where the time of one signature goes, for the debug log and
// the benchmarks (make bench).
type phases struct {
	open, certificate, attest, chain, sign, envelope time.Duration
}

func (p phases) String() string {
	return fmt.Sprintf("phases: open=%v certificate=%v attest=%v chain=%v sign=%v envelope=%v",
		p.open, p.certificate, p.attest, p.chain, p.sign, p.envelope)
}

// Describe opens the card and returns the key spec of the slot's
// certificate, without building the chain. A certificate that cannot sign
// whatever its chain gives a *CertificateError.
func (p *Plan) Describe(ctx context.Context, log Logger) (keyspec.Spec, error) {
	ctx, cancel := context.WithTimeout(ctx, p.settings.cardTimeout())
	defer cancel()
	card, err := piv.Open(ctx, p.card)
	if err != nil {
		return keyspec.Spec{}, err
	}
	defer card.Close()
	leaf, err := card.Certificate(ctx, p.slot)
	if err != nil {
		return keyspec.Spec{}, err
	}
	spec, err := piv.KeySpecOf(leaf.PublicKey)
	if err != nil {
		return keyspec.Spec{}, err
	}
	if err := certchain.CheckUsage(leaf); err != nil {
		return keyspec.Spec{}, &CertificateError{Slot: p.slot, Err: err}
	}
	log.Printf("slot %s of the card in %q%s holds an %s key", p.slot, card.Reader(), through(), spec)
	return spec, nil
}

// Open opens the card and reads the slot's certificate. A certificate
// whose extended key usage notation refuses gives a *CertificateError
// before anything else is asked of the card. Open then reads, when the plan makes
// an envelope, the card's serial number or, on a card without one, its
// GUID (Envelope.Serial and Envelope.GUID, see Identify) and, when it
// also attests, the slot's attestation (see attest), and builds and
// checks the chain at signingTime: a chain that cannot sign gives a
// *ChainError. Nothing asks for the PIN yet. The caller closes the key.
func (p *Plan) Open(ctx context.Context, signingTime time.Time, log Logger) (*Key, error) {
	ctx, cancel := context.WithTimeout(ctx, p.settings.cardTimeout())
	defer cancel()
	start := time.Now()
	card, err := piv.Open(ctx, p.card)
	if err != nil {
		return nil, err
	}
	k := &Key{plan: p, card: card, phases: phases{open: time.Since(start)}, log: log}
	log.Printf("opened the card in %q%s", card.Reader(), through())
	if err := k.load(ctx, signingTime); err != nil {
		card.Close()
		return nil, err
	}
	log.Printf("slot %s: %s key, certificate %q, chain of %d", p.slot, k.spec, k.leaf.Subject, len(k.chain))
	return k, nil
}

// through names the pcscd socket the card is reached through, for the
// debug log, when PCSCLITE_CSOCK_NAME names one (a signing station's).
func through() string {
	if s := piv.Socket(); s != "" {
		return fmt.Sprintf(" through the pcscd socket %s (%s)", s, piv.EnvSocket)
	}
	return ""
}

// load reads the certificate, checks its usage and builds the chain.
func (k *Key) load(ctx context.Context, signingTime time.Time) error {
	start := time.Now()
	leaf, err := k.card.Certificate(ctx, k.plan.slot)
	if err != nil {
		return err
	}
	k.phases.certificate = time.Since(start)
	spec, err := piv.KeySpecOf(leaf.PublicKey)
	if err != nil {
		return err
	}
	// Only the extended key usage here: Build checks the other leaf rules
	// with the real chain, and CheckUsage's throwaway chain would cost
	// about 0.4 ms of every signature.
	if err := certchain.CheckExtKeyUsage(leaf); err != nil {
		return &CertificateError{Slot: k.plan.slot, Err: err}
	}
	if k.plan.settings.Attest && k.plan.format != nil {
		start = time.Now()
		if k.attestation, err = k.attest(ctx, leaf); err != nil {
			return err
		}
		k.phases.attest = time.Since(start)
	}
	if k.plan.format != nil {
		if err := Identify(ctx, k.card); err != nil {
			return err
		}
	}
	start = time.Now()
	chain, err := certchain.Build(leaf, k.plan.bundle, signingTime)
	if err != nil {
		return &ChainError{Slot: k.plan.slot, Err: err}
	}
	k.phases.chain = time.Since(start)
	k.leaf, k.spec, k.chain = leaf, spec, chain
	return nil
}

// Identify reads what names the card in messages and in an envelope's
// annotations: its serial number or, for a card without one, the GUID of
// its CHUID (piv.Card.Info then holds it). Either costs nothing when the
// card was picked by it; otherwise a YubiKey answers GET SERIAL, and
// other cards, which have no serial number, GET DATA of the CHUID.
func Identify(ctx context.Context, card *piv.Card) error {
	serial, err := card.ReadSerial(ctx)
	if err != nil || serial != 0 {
		return err
	}
	_, err = card.ReadGUID(ctx)
	return err
}

// attest reads the attestation of the slot's key from the card and
// checks that it attests the key of leaf, the slot's certificate. The
// card refuses an imported key (piv.ErrKeyImported), and a card that
// cannot attest says so (piv.ErrNoAttestation). Whether the attestation
// chains to a trusted vendor root is the verifier's business.
func (k *Key) attest(ctx context.Context, leaf *x509.Certificate) (*attestation.Bundle, error) {
	slotCert, device, err := k.card.Attest(ctx, k.plan.slot)
	if err != nil {
		return nil, err
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(slotCert.PublicKey) {
		return nil, fmt.Errorf("slot %s: the attested key is not the key of the slot's certificate: %w", k.plan.slot, piv.ErrKeyMismatch)
	}
	return attestation.NewBundle(slotCert, device), nil
}

// Close closes the card.
func (k *Key) Close() { k.card.Close() }

// Spec returns the key spec of the slot's certificate.
func (k *Key) Spec() keyspec.Spec { return k.spec }

// Chain returns the certificate chain, leaf first.
func (k *Key) Chain() []*x509.Certificate { return k.chain }

// Sign signs message as a raw signature for notation to wrap in an
// envelope (generate-signature): with the hash and, for RSA, the
// RSASSA-PSS padding of the key spec, in the encoding envelope.SignMessage
// gives. It returns the signature and the key spec.
func (k *Key) Sign(message []byte) ([]byte, keyspec.Spec, error) {
	alg := k.spec
	signer, err := k.signer()
	if err != nil {
		return nil, alg, err
	}
	sig, err := envelope.SignMessage(signer, alg, message)
	if err != nil {
		return nil, alg, signer.cause(err)
	}
	k.log.Printf("signed %d bytes with %s; %s", len(message), alg.SigningAlgorithm, k.phases)
	return sig, alg, nil
}

// signer returns the card signer, which asks for the PIN only when the
// card needs it.
func (k *Key) signer() (*cardSigner, error) {
	s, err := k.card.Signer(k.plan.slot, k.leaf, k.plan.pinSource(), piv.SignerOptions{
		Timeout:         k.plan.settings.cardTimeout(),
		TouchNotice:     prompt.TouchCard,
		AllowLastPINTry: k.plan.settings.AllowLastPINTry,
	})
	if err != nil {
		return nil, err
	}
	return &cardSigner{Signer: s, spent: &k.phases.sign}, nil
}

// cardSigner is the card signer as the envelope code sees it: it adds up
// the time spent on the card and keeps the card's error.
type cardSigner struct {
	crypto.Signer
	spent *time.Duration
	err   error // the card's error, if it failed
}

// Sign signs on the card.
func (s *cardSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	start := time.Now()
	defer func() { *s.spent += time.Since(start) }()
	sig, err := s.Signer.Sign(rand, digest, opts)
	s.err = err
	return sig, err
}

// cause returns the card's error if the card failed, err otherwise. The
// card's error names the slot and what the card said; what the envelope
// code wrapped around it (the format, the key spec) adds nothing the
// caller does not know.
func (s *cardSigner) cause(err error) error {
	if s.err != nil {
		return s.err
	}
	return err
}
