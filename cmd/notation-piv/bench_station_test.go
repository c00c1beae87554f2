package main

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures/stationtest"
)

// The benchmarks of a signing station (make bench): what a signature costs
// through an SSH tunnel to the station's pcscd, against the same signature
// on the station itself, and how many signatures one card makes per
// second for several runners at once. The runs through the tunnel name its
// socket with PCSCLITE_CSOCK_NAME, which pcsc-lite's client library then
// uses alone; they skip the runner's mount namespace (TestStation* show
// that the card is reached through the tunnel only), whose set-up would
// add its own cost to every run.

// signOnce runs generate-envelope with request and env once in dir, as
// pluginCommand sets it up, and returns its wall time. It may run off the
// benchmark's goroutine.
func signOnce(dir, request string, env ...string) (time.Duration, error) {
	cmd := exec.Command(harness.plugin, "generate-envelope")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = strings.NewReader(request)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return wall, fmt.Errorf("generate-envelope: %v: %s", err, stderr.String())
	}
	if !verifies(stdout.String()) {
		return wall, errors.New("generate-envelope: the envelope does not verify")
	}
	return wall, nil
}

// benchStation starts a station, an EC-256 key with PIN policy "always"
// in slot 9c of the card, and a tunnel, and returns the station, the
// tunnel's socket and the key's certificate.
func benchStation(b *testing.B) (*stationtest.Station, string, *x509.Certificate) {
	b.Helper()
	needCard(b)
	station := stationtest.Start(b)
	leaf := provision(b, piv.AlgorithmEC256, nil)
	socket := runnerSocket(b)
	station.Forward(b, socket)
	return station, socket, leaf
}

// BenchmarkTunnelSignature times one signature (generate-envelope, EC-256,
// JWS, the card picked by its serial number, the PIN verified) on the
// station and through the tunnel, interleaved, and notation sign likewise.
func BenchmarkTunnelSignature(b *testing.B) {
	_, socket, leaf := benchStation(b)
	dir := b.TempDir()
	local := newNotation(b)
	local.trust(leaf)
	local.addKey("card", "9c")
	remote := *local
	remote.env = append(slices.Clone(local.env), envSocket+"="+socket)
	request := envelopeRequest("9c", nil)
	pin := "NOTATION_PIV_PIN=" + piv.DefaultPIN
	var onStation, throughTunnel, notationOnStation, notationThroughTunnel []time.Duration
	for b.Loop() {
		for _, run := range []struct {
			walls *[]time.Duration
			env   []string
		}{{&onStation, []string{pin}}, {&throughTunnel, []string{pin, envSocket + "=" + socket}}} {
			w, err := signOnce(dir, request, run.env...)
			if err != nil {
				b.Fatal(err)
			}
			*run.walls = append(*run.walls, w)
		}
		for _, run := range []struct {
			walls *[]time.Duration
			n     *notationEnv
		}{{&notationOnStation, local}, {&notationThroughTunnel, &remote}} {
			layout := newLayout(b, "bench")
			start := time.Now()
			run.n.run("sign", "--oci-layout", "--key", "card", layout.ref())
			*run.walls = append(*run.walls, time.Since(start))
		}
	}
	b.ReportMetric(ms(median(onStation)), "station-ms")
	b.ReportMetric(ms(median(throughTunnel)), "tunnel-ms")
	b.ReportMetric(ms(median(throughTunnel)-median(onStation)), "tunnel-extra-ms")
	b.ReportMetric(ms(median(notationOnStation)), "notation-station-ms")
	b.ReportMetric(ms(median(notationThroughTunnel)), "notation-tunnel-ms")
}

// BenchmarkTunnelThroughput is the signatures per second of one card for
// 1, 4 and 8 runners signing at once (generate-envelope, as
// BenchmarkTunnelSignature), through one tunnel and on the station: each
// round starts one signature per runner and waits for all of them. It
// also reports how often the station's sshd found pcscd's backlog full,
// connections the plugin made again.
func BenchmarkTunnelThroughput(b *testing.B) {
	for _, runners := range []int{1, 4, 8} {
		for _, where := range []string{"tunnel", "station"} {
			b.Run(fmt.Sprintf("%s/runners=%d", where, runners), func(b *testing.B) {
				station, socket, _ := benchStation(b)
				dir := b.TempDir()
				env := []string{"NOTATION_PIV_PIN=" + piv.DefaultPIN}
				if where == "tunnel" {
					env = append(env, envSocket+"="+socket)
				}
				request := envelopeRequest("9c", nil)
				var total time.Duration
				signatures := 0
				for b.Loop() {
					start := time.Now()
					errs := make([]error, runners)
					var wg sync.WaitGroup
					for i := range runners {
						wg.Go(func() { _, errs[i] = signOnce(dir, request, env...) })
					}
					wg.Wait()
					total += time.Since(start)
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
					signatures += runners
				}
				b.ReportMetric(float64(signatures)/total.Seconds(), "signatures/s")
				b.ReportMetric(float64(strings.Count(station.LogText(), "Resource temporarily unavailable")), "backlog-full")
			})
		}
	}
}
