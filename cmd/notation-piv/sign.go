package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/piv"
	"github.com/notation-piv/notation-piv/timestamp"
)

// Annotations generate-envelope returns, in the project's own namespace.
// The card's serial number is returned only when pluginConfig serial picked
// the card: reading it otherwise would cost a round trip to the card.
const (
	annotationSerial  = "io.github.notation-piv.card.serial"
	annotationSlot    = "io.github.notation-piv.card.slot"
	annotationKeySpec = "io.github.notation-piv.key.spec"
)

// maxExpiry bounds expiryDurationInSeconds.
const maxExpiry = 100 * 365 * 24 * time.Hour

// signingKey is everything a signature needs. openSigningKey gathers and
// checks it all before the card is asked for a PIN.
type signingKey struct {
	card   *piv.Card
	slot   piv.Slot
	leaf   *x509.Certificate
	spec   keyspec.Spec
	chain  []*x509.Certificate
	phases phases
}

// phases is where the time of one signature goes, for the debug log and
// the benchmarks (make bench).
type phases struct {
	open, certificate, chain, sign, envelope time.Duration
}

func (p phases) String() string {
	return fmt.Sprintf("phases: open=%v certificate=%v chain=%v sign=%v envelope=%v",
		p.open, p.certificate, p.chain, p.sign, p.envelope)
}

// timedSigner adds up the time spent in the card signer.
type timedSigner struct {
	crypto.Signer
	spent *time.Duration
}

func (s timedSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	start := time.Now()
	defer func() { *s.spent += time.Since(start) }()
	return s.Signer.Sign(rand, digest, opts)
}

// settings says where the settings of a signature come from, to name
// them in messages: pluginConfig keys for the contract commands, flags for
// "notation-piv envelope sign".
type settings int

const (
	fromPluginConfig settings = iota
	fromFlags
)

// name names the setting whose pluginConfig key is key, e.g.
// "pluginConfig ca_certs" or "--ca-certs".
func (s settings) name(key string) string {
	if s == fromFlags {
		return "--" + strings.ReplaceAll(key, "_", "-")
	}
	return "pluginConfig " + key
}

// preflight checks what can be checked without the card: the slot, the CA
// bundle, the PIN file and the pinentry program.
func preflight(keyID string, cfg config, from settings) (piv.Slot, []*x509.Certificate, error) {
	slot, err := piv.ParseSlot(keyID)
	if err != nil {
		return piv.Slot{}, nil, plugin.NewValidationError(err.Error())
	}
	var bundle []*x509.Certificate
	if cfg.caCerts != "" {
		if bundle, err = certchain.LoadBundle(cfg.caCerts); err != nil {
			return piv.Slot{}, nil, plugin.NewValidationErrorf("%s: %s", from.name(cfgCACerts), withAdvice(err))
		}
	}
	if cfg.pinFile != "" {
		if err := piv.CheckPINFile(cfg.pinFile); err != nil {
			return piv.Slot{}, nil, plugin.NewValidationErrorf("%s: %s", from.name(cfgPINFile), withAdvice(err))
		}
	}
	if cfg.pinentry != "" {
		if _, err := exec.LookPath(cfg.pinentry); err != nil {
			return piv.Slot{}, nil, plugin.NewValidationErrorf("%s: %v; install a pinentry program or name its full path", from.name(cfgPinentry), err)
		}
	}
	return slot, bundle, nil
}

// openSigningKey opens the card, reads the slot's certificate, and builds
// and checks the chain at signingTime. The caller closes key.card.
func openSigningKey(ctx context.Context, slot piv.Slot, bundle []*x509.Certificate, cfg config, signingTime time.Time, log *debugLog) (*signingKey, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.cardTimeout())
	defer cancel()
	start := time.Now()
	card, err := piv.Open(ctx, piv.Selector{Serial: cfg.serial, Reader: cfg.reader})
	if err != nil {
		return nil, err
	}
	key := &signingKey{card: card, slot: slot, phases: phases{open: time.Since(start)}}
	log.Printf("opened the card in %q", card.Reader())
	if err := key.load(ctx, bundle, signingTime); err != nil {
		card.Close()
		return nil, err
	}
	log.Printf("slot %s: %s key, certificate %q, chain of %d", slot, key.spec.Name, key.leaf.Subject, len(key.chain))
	return key, nil
}

func (k *signingKey) load(ctx context.Context, bundle []*x509.Certificate, signingTime time.Time) error {
	start := time.Now()
	leaf, err := k.card.Certificate(ctx, k.slot)
	if err != nil {
		return err
	}
	k.phases.certificate = time.Since(start)
	spec, err := piv.KeySpecOf(leaf.PublicKey)
	if err != nil {
		return err
	}
	start = time.Now()
	chain, err := certchain.Build(leaf, bundle, signingTime)
	if err != nil {
		return plugin.NewValidationErrorf("the certificate chain of slot %s cannot sign: %v", k.slot, err)
	}
	k.phases.chain = time.Since(start)
	k.leaf, k.spec, k.chain = leaf, spec, chain
	return nil
}

// signer returns the card signer, asking for the PIN only when the card
// needs it. The time it spends is added to k.phases.sign.
func (k *signingKey) signer(cfg config) (crypto.Signer, error) {
	pin := piv.DefaultPINSource(cfg.pinFile, cfg.pinentry)
	s, err := k.card.Signer(k.slot, k.leaf, pin, piv.SignerOptions{
		Timeout:         cfg.cardTimeout(),
		TouchNotice:     touchNotice,
		AllowLastPINTry: cfg.allowLastTry,
	})
	if err != nil {
		return nil, err
	}
	return timedSigner{Signer: s, spent: &k.phases.sign}, nil
}

// touchNotice tells the user on the terminal that the card waits for a
// touch; stdout and stderr belong to notation.
func touchNotice() {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	fmt.Fprintln(tty, "notation-piv: touch the PIV card to sign")
}

// describeKey answers describe-key with the key spec read from the card.
func describeKey(ctx context.Context, req plugin.DescribeKeyRequest, cfg config, log *debugLog) (*plugin.DescribeKeyResponse, error) {
	slot, _, err := preflight(req.KeyID, config{}, fromPluginConfig)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.cardTimeout())
	defer cancel()
	card, err := piv.Open(ctx, piv.Selector{Serial: cfg.serial, Reader: cfg.reader})
	if err != nil {
		return nil, err
	}
	defer card.Close()
	leaf, err := card.Certificate(ctx, slot)
	if err != nil {
		return nil, err
	}
	spec, err := piv.KeySpecOf(leaf.PublicKey)
	if err != nil {
		return nil, err
	}
	log.Printf("describe-key: slot %s of the card in %q holds an %s key", slot, card.Reader(), spec.Name)
	return &plugin.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: plugin.KeySpec(spec.Name)}, nil
}

// generateSignature answers generate-signature (RAW mode): notation builds
// the envelope around the signature.
func generateSignature(ctx context.Context, req plugin.GenerateSignatureRequest, cfg config, log *debugLog) (*plugin.GenerateSignatureResponse, error) {
	slot, bundle, err := preflight(req.KeyID, cfg, fromPluginConfig)
	if err != nil {
		return nil, err
	}
	key, err := openSigningKey(ctx, slot, bundle, cfg, time.Now(), log)
	if err != nil {
		return nil, err
	}
	defer key.card.Close()
	alg := key.spec
	if string(req.KeySpec) != alg.Name {
		return nil, plugin.NewValidationErrorf("the request is for an %s key but slot %s holds an %s key; run notation sign again so that it describes the key afresh", req.KeySpec, slot, alg.Name)
	}
	if want := hashName(alg.Hash); string(req.Hash) != want {
		return nil, plugin.NewValidationErrorf("hashAlgorithm %s does not fit an %s key, which signs with %s", req.Hash, alg.Name, want)
	}
	signer, err := key.signer(cfg)
	if err != nil {
		return nil, err
	}
	sig, err := envelope.SignMessage(signer, alg, req.Payload)
	if err != nil {
		return nil, err
	}
	log.Printf("signed %d bytes with %s; %s", len(req.Payload), alg.SigningAlgorithm, key.phases)
	chain := make([][]byte, len(key.chain))
	for i, c := range key.chain {
		chain[i] = c.Raw
	}
	return &plugin.GenerateSignatureResponse{
		KeyID:            req.KeyID,
		Signature:        sig,
		SigningAlgorithm: plugin.SignatureAlgorithm(alg.SigningAlgorithm),
		CertificateChain: chain,
	}, nil
}

// timestamper checks the TSA settings without the card or the network and
// returns the configured timestamp authority, or nil when none is set.
func timestamper(cfg config, from settings) (*timestamp.Config, error) {
	if cfg.tsaURL == "" {
		return nil, nil
	}
	roots, err := timestamp.LoadRoot(cfg.tsaRoot)
	if err != nil {
		return nil, plugin.NewValidationErrorf("%s: %s", from.name(cfgTSARoot), withAdvice(err))
	}
	tsa := &timestamp.Config{URL: cfg.tsaURL, Roots: roots, Timeout: cfg.tsaWait}
	if err := tsa.Validate(); err != nil {
		return nil, plugin.NewValidationErrorf("%s: %v", from.name(cfgTSAURL), err)
	}
	return tsa, nil
}

// generateEnvelope answers generate-envelope (ENVELOPE mode, the default):
// the plugin builds and self-verifies the whole envelope, and timestamps it
// when tsa_url is set.
func generateEnvelope(ctx context.Context, req plugin.GenerateEnvelopeRequest, cfg config, log *debugLog) (*plugin.GenerateEnvelopeResponse, error) {
	// checkRequest has checked the envelope type, payload type and expiry.
	format, err := envelope.Lookup(req.SignatureEnvelopeType)
	if err != nil {
		return nil, plugin.NewValidationError(err.Error())
	}
	signed, err := signEnvelope(ctx, envelopeJob{
		format:  format,
		payload: req.Payload,
		keyID:   req.KeyID,
		expiry:  time.Duration(req.ExpiryDurationInSeconds) * time.Second,
		cfg:     cfg,
		from:    fromPluginConfig,
	}, log)
	if err != nil {
		return nil, err
	}
	annotations := map[string]string{
		annotationSlot:    signed.slot.String(),
		annotationKeySpec: signed.spec.Name,
	}
	if signed.serial != 0 {
		annotations[annotationSerial] = strconv.FormatUint(uint64(signed.serial), 10)
	}
	return &plugin.GenerateEnvelopeResponse{
		SignatureEnvelope:     signed.envelope,
		SignatureEnvelopeType: req.SignatureEnvelopeType,
		Annotations:           annotations,
	}, nil
}

// envelopeJob is one envelope to sign with the card.
type envelopeJob struct {
	format  envelope.Format
	payload []byte        // the Notary payload, embedded verbatim
	keyID   string        // the slot, e.g. "9c"
	expiry  time.Duration // 0: no expiry; at most maxExpiry
	cfg     config
	from    settings // names the settings in messages
}

// signedEnvelope is a signed, self-verified envelope and the key that
// signed it.
type signedEnvelope struct {
	envelope []byte
	serial   uint32 // 0 unless the card was picked by serial number
	slot     piv.Slot
	spec     keyspec.Spec
	chain    []*x509.Certificate
}

// signEnvelope is the signing path of generate-envelope and of
// "notation-piv envelope sign": it checks the settings without the card
// (slot, CA bundle, PIN file, pinentry, TSA), opens the card, reads the
// slot's certificate, builds and checks the chain at the signing time,
// and has job.format build the envelope through envelope.Build, with the
// card signer and, when a TSA is configured, a verified timestamp.
func signEnvelope(ctx context.Context, job envelopeJob, log *debugLog) (*signedEnvelope, error) {
	slot, bundle, err := preflight(job.keyID, job.cfg, job.from)
	if err != nil {
		return nil, err
	}
	tsa, err := timestamper(job.cfg, job.from)
	if err != nil {
		return nil, err
	}
	signingTime := time.Now().UTC().Truncate(time.Second)
	key, err := openSigningKey(ctx, slot, bundle, job.cfg, signingTime, log)
	if err != nil {
		return nil, err
	}
	defer key.card.Close()
	signer, err := key.signer(job.cfg)
	if err != nil {
		return nil, err
	}
	sreq := envelope.SignRequest{
		Payload:      job.payload,
		Signer:       signer,
		Chain:        key.chain,
		SigningTime:  signingTime,
		SigningAgent: "notation-piv/" + pluginVersion(),
	}
	if job.expiry > 0 {
		sreq.Expiry = signingTime.Add(job.expiry)
	}
	if tsa != nil {
		sreq.TSARoots = tsa.Roots
		sreq.Timestamp = func(sig []byte, h crypto.Hash) ([]byte, error) {
			start := time.Now()
			token, err := tsa.Stamp(ctx, sig, h)
			log.Printf("timestamp from %s: %d bytes in %v, error %v", timestamp.Redact(tsa.URL), len(token), time.Since(start), err)
			return token, err
		}
	}
	start := time.Now()
	env, err := job.format.Sign(sreq)
	if err != nil {
		return nil, err
	}
	key.phases.envelope = time.Since(start) - key.phases.sign
	log.Printf("built and verified a %s envelope of %d bytes; %s", job.format.MediaType(), len(env), key.phases)
	return &signedEnvelope{envelope: env, serial: key.card.Serial(), slot: slot, spec: key.spec, chain: key.chain}, nil
}

// hashName names a hash as the plugin contract does.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	}
	return h.String()
}
