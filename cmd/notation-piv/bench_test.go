package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

// The benchmarks behind make bench. Each reports medians of its runs as
// custom metrics (go test prints them as columns): wall time, the plugin's
// peak RSS, and for signatures the APDUs and bytes the virtual card saw and
// where the plugin's time went.

// runPlugin runs the plugin once as notation would and returns its wall
// time and peak RSS in KiB.
func runPlugin(b *testing.B, command, request string, env ...string) (time.Duration, int64) {
	b.Helper()
	cmd := pluginCommand(context.Background(), b, "", env, command)
	cmd.Stdin = strings.NewReader(request)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", command, err, stderr.String())
	}
	wall := time.Since(start)
	return wall, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

func median[T int64 | time.Duration | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkMetadata is the plugin's start-up cost: get-plugin-metadata never
// touches the card. It is interleaved with two empty Go programs built
// with the same toolchain, the floors any Go plugin starts from on this
// machine: a static one, and one linked with cgo against libc as piv-go
// needs.
func BenchmarkMetadata(b *testing.B) {
	empty := buildEmptyProgram(b, "package main\n\nfunc main() {}\n")
	emptyCgo := buildEmptyProgram(b, "package main\n\nimport \"C\"\n\nfunc main() {}\n")
	var walls, floor, floorCgo []time.Duration
	var rss []int64
	for b.Loop() {
		w, r := runPlugin(b, "get-plugin-metadata", "{}")
		walls, rss = append(walls, w), append(rss, r)
		floor = append(floor, runEmpty(b, empty))
		floorCgo = append(floorCgo, runEmpty(b, emptyCgo))
	}
	b.ReportMetric(ms(median(walls)), "median-ms")
	b.ReportMetric(float64(median(rss)), "peak-RSS-KiB")
	b.ReportMetric(ms(median(floor)), "empty-Go-program-ms")
	b.ReportMetric(ms(median(floorCgo)), "empty-cgo-program-ms")
}

// runEmpty runs an empty program and returns its wall time.
func runEmpty(b *testing.B, bin string) time.Duration {
	b.Helper()
	start := time.Now()
	if out, err := exec.Command(bin).CombinedOutput(); err != nil {
		b.Fatalf("empty program %s: %v: %s", bin, err, out)
	}
	return time.Since(start)
}

// buildEmptyProgram builds the Go program main.go whose source is given.
func buildEmptyProgram(b *testing.B, source string) string {
	b.Helper()
	dir := b.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(source), 0o600); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "empty")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, src).CombinedOutput(); err != nil {
		b.Fatalf("build an empty Go program: %v: %s", err, out)
	}
	return bin
}

var phaseLine = regexp.MustCompile(`phases: open=(\S+) certificate=(\S+) attest=(\S+) chain=(\S+) sign=(\S+) envelope=(\S+)`)

// BenchmarkSignature signs with the plugin and the virtual card: EC-256
// and RSA-2048, JWS and COSE, in ENVELOPE mode (generate-envelope) and RAW
// mode (generate-signature), with the only card present and no
// pluginConfig serial; "by-serial" picks the card by serial number, which
// costs a GET SERIAL; "attest" adds the slot's attestation (attest=true),
// which costs an ATTEST and a GET DATA of the f9 certificate.
func BenchmarkSignature(b *testing.B) {
	for _, k := range []struct {
		spec string
		alg  piv.Algorithm
	}{{"EC-256", piv.AlgorithmEC256}, {"RSA-2048", piv.AlgorithmRSA2048}} {
		for _, mode := range []string{"envelope/jws", "envelope/jws/by-serial", "envelope/jws/attest", "envelope/cose", "envelope/cose/attest", "raw"} {
			b.Run(k.spec+"/"+mode, func(b *testing.B) {
				env := needCard(b)
				provision(b, k.alg, nil)
				logFile := filepath.Join(b.TempDir(), "plugin.log")
				command, request := "generate-envelope", withoutSerial(b, envelopeRequest("9c", nil))
				switch mode {
				case "envelope/jws/by-serial":
					request = envelopeRequest("9c", nil)
				case "envelope/jws/attest":
					request = withoutSerial(b, envelopeRequest("9c", map[string]string{"attest": "true"}))
				case "envelope/cose":
					request = withEnvelopeType(request, "application/cose")
				case "envelope/cose/attest":
					request = withEnvelopeType(withoutSerial(b, envelopeRequest("9c", map[string]string{"attest": "true"})), "application/cose")
				case "raw":
					command = "generate-signature"
					request = fmt.Sprintf(`{"contractVersion":"1.0","keyId":"9c","keySpec":%q,"hashAlgorithm":"SHA-256","payload":"ZXlKaGJHY2lPaUpGVXpJMU5pSjkuZTMw","pluginConfig":{}}`, k.spec)
				}
				var walls, open, cert, attest, chain, sign, envl []time.Duration
				var rss []int64
				var apdus, wire []float64
				for b.Loop() {
					env.Card.ResetStats()
					w, r := runPlugin(b, command, request, "NOTATION_PIV_PIN=123456", "NOTATION_PIV_LOG="+logFile)
					st := env.Card.Stats()
					walls, rss = append(walls, w), append(rss, r)
					apdus, wire = append(apdus, float64(st.Commands)), append(wire, float64(st.BytesIn+st.BytesOut))
				}
				b.StopTimer()
				log, _ := os.ReadFile(logFile)
				for _, m := range phaseLine.FindAllStringSubmatch(string(log), -1) {
					for i, dst := range []*[]time.Duration{&open, &cert, &attest, &chain, &sign, &envl} {
						d, _ := time.ParseDuration(m[i+1])
						*dst = append(*dst, d)
					}
				}
				b.ReportMetric(ms(median(walls)), "median-ms")
				b.ReportMetric(median(apdus), "APDUs")
				b.ReportMetric(median(wire), "wire-bytes")
				b.ReportMetric(float64(median(rss)), "peak-RSS-KiB")
				if len(open) > 0 {
					inProcess := median(open) + median(cert) + median(attest) + median(chain) + median(sign) + median(envl)
					b.ReportMetric(ms(median(walls)-inProcess), "start+exit-ms")
					b.ReportMetric(ms(median(open)+median(cert)), "card-session-ms")
					b.ReportMetric(ms(median(attest)), "attest-ms")
					b.ReportMetric(ms(median(chain)), "chain-ms")
					b.ReportMetric(ms(median(sign)), "sign-ms")
					b.ReportMetric(ms(median(envl)), "envelope-ms")
				}
			})
		}
	}
}

// BenchmarkNotationSign times notation sign with the plugin and the
// virtual card against notation sign with a local key from notation cert
// generate-test, on the same kind of artifact, interleaved, and reports
// the ratio of the medians.
func BenchmarkNotationSign(b *testing.B) {
	needCard(b)
	leaf := provision(b, piv.AlgorithmEC256, nil)
	n := newNotation(b)
	n.trust(leaf)
	n.run("key", "add", "piv", "--plugin", "piv", "--id", "9c")
	n.run("cert", "generate-test", "local")
	var withCard, withFile []time.Duration
	for b.Loop() {
		for _, key := range []string{"piv", "local"} {
			layout := newLayout(b, "bench "+key)
			start := time.Now()
			n.run("sign", "--oci-layout", "--key", key, layout.ref())
			d := time.Since(start)
			if key == "piv" {
				withCard = append(withCard, d)
			} else {
				withFile = append(withFile, d)
			}
		}
	}
	b.ReportMetric(ms(median(withCard)), "card-median-ms")
	b.ReportMetric(ms(median(withFile)), "file-median-ms")
	b.ReportMetric(float64(median(withCard))/float64(median(withFile)), "ratio")
}
