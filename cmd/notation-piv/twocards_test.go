package main

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// otherSerial is the serial number of the second virtual card.
const otherSerial = testSerial + 100

// TestTwoCardsBySerial puts a second card into the second reader, a key
// in slot 9c of each, and runs notation sign for both cards at once, four
// times each, every process choosing its card with --plugin-config
// serial=N. Each signature must carry the certificate of its own card and
// name that card in its annotations, all must verify, and neither card may
// lose a PIN retry. Without a serial, signing must stop and name both
// cards.
func TestTwoCardsBySerial(t *testing.T) {
	env := needCard(t)
	other, otherLeaf := startSecondCard(t, card.Config{Serial: otherSerial})
	cards := map[uint32]*vcardtest.Env{testSerial: env, otherSerial: other}
	leaves := map[uint32]*x509.Certificate{testSerial: provision(t, piv.AlgorithmEC256, nil), otherSerial: otherLeaf}

	n := newNotation(t)
	n.trust(leaves[testSerial], leaves[otherSerial])
	n.run("key", "add", "piv", "--plugin", "piv", "--id", "9c", "--default")

	// Without a serial the plugin cannot choose, and says so.
	out, err := n.exec("sign", "--oci-layout", newLayout(t, "which card?").ref())
	if err == nil || !strings.Contains(out, fmt.Sprint(testSerial)) || !strings.Contains(out, fmt.Sprint(otherSerial)) {
		t.Errorf("notation sign with two cards and no serial: %v\n%s", err, out)
	}

	type job struct {
		serial uint32
		format string
		layout *ociLayout
		out    string
		err    error
	}
	var jobs []*job
	for round := range 4 {
		format := []string{"jws", "cose"}[round%2]
		for _, serial := range []uint32{testSerial, otherSerial} {
			jobs = append(jobs, &job{serial: serial, format: format, layout: newLayout(t, fmt.Sprintf("round %d, card %d", round, serial))})
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			j.out, j.err = n.exec("sign", "--oci-layout", "--signature-format", j.format, "--plugin-config", fmt.Sprintf("serial=%d", j.serial), j.layout.ref())
		})
	}
	wg.Wait()
	t.Logf("%d notation sign processes, %d per card, at once: %v", len(jobs), len(jobs)/2, time.Since(start).Round(time.Millisecond))

	for _, j := range jobs {
		if j.err != nil {
			t.Errorf("notation sign with card %d (%s): %v\n%s", j.serial, j.format, j.err, j.out)
			continue
		}
		sigs := j.layout.signatures(t)
		if len(sigs) != 1 {
			t.Errorf("card %d: %d signatures, want 1", j.serial, len(sigs))
			continue
		}
		for manifest, envelope := range sigs {
			chain := envelopeContent(t, j.format, envelope).SignerInfo.CertificateChain
			switch {
			case len(chain) != 1:
				t.Errorf("card %d: a chain of %d certificates, want its self-signed one", j.serial, len(chain))
			case !chain[0].Equal(leaves[j.serial]):
				t.Errorf("a signature asked of card %d carries the certificate %q of another card", j.serial, chain[0].SerialNumber)
			}
			var m struct {
				Annotations map[string]string `json:"annotations"`
			}
			must(t, json.Unmarshal(j.layout.blob(t, manifest), &m))
			if got := m.Annotations["io.github.notation-piv.card.serial"]; got != fmt.Sprint(j.serial) {
				t.Errorf("a signature asked of card %d has the card serial annotation %q", j.serial, got)
			}
		}
		n.verify(j.layout)
	}
	for serial, e := range cards {
		if left := pinRetries(t, e); left != 3 {
			t.Errorf("card %d has %d PIN retries left, want 3", serial, left)
		}
	}
}

// startSecondCard puts a card made with cfg into the second reader until
// the test ends, and provisions an EC-256 key with a self-signed
// certificate in its slot 9c (see provisionCard), which it returns.
func startSecondCard(t *testing.T, cfg card.Config) (*vcardtest.Env, *x509.Certificate) {
	t.Helper()
	other, err := vcardtest.Start(vcardtest.Options{Port: vcardtest.SecondPort, Config: cfg})
	if err != nil {
		t.Fatalf("second virtual card: %v", err)
	}
	t.Cleanup(func() {
		if err := other.Close(); err != nil {
			t.Errorf("remove the second card: %v", err)
		}
	})
	yk, err := piv.Open(other.Reader)
	if err != nil {
		t.Fatalf("open the second card: %v", err)
	}
	defer yk.Close()
	return other, provisionCard(t, yk, piv.AlgorithmEC256, nil)
}
