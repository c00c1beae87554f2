package inspect

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// hostileShapes are the envelopes BenchmarkHostile reads: a Notary
// envelope as notation-piv signs it, for scale, and the all-critical
// envelopes of issue 13, finding 5, at their largest within
// envelope.MaxEnvelopeSize.
var hostileShapes = []struct {
	name string
	env  func(testing.TB) []byte
}{
	{"jws/notary", envelopetest.Hostile{}.JWS},
	{"jws/all-critical", envelopetest.CriticalJWS.JWS},
	{"cose/notary", envelopetest.Hostile{}.COSE},
	{"cose/all-critical", envelopetest.CriticalCOSE.COSE},
}

// BenchmarkHostile reads each of hostileShapes with Inspect and Verify in
// this process (ns/op, B/op: the bytes allocated in all, not at once), and
// with "notation-piv envelope inspect" and "envelope verify" as a user
// would run them, reporting their median wall time and peak RSS. A hostile
// envelope must cost no more than a second and 64 MiB either way.
func BenchmarkHostile(b *testing.B) {
	for _, shape := range hostileShapes {
		b.Run(shape.name, func(b *testing.B) {
			env := shape.env(b)
			root := envelopetest.HostileRoot(b)
			b.Run("Inspect", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var limit *envelope.LimitError
					if _, err := Inspect(env, Options{}); err != nil && !errors.As(err, &limit) {
						b.Fatal(err)
					}
				}
			})
			b.Run("Verify", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Verify(env, VerifyOptions{TrustRoots: []*x509.Certificate{root}}); err != nil {
						b.Fatal(err)
					}
				}
			})
			dir := b.TempDir()
			file, rootFile := filepath.Join(dir, "envelope.sig"), filepath.Join(dir, "root.pem")
			writeFile(b, file, env)
			writeFile(b, rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
			for _, args := range [][]string{{"inspect", file}, {"verify", "--trust-root", rootFile, file}} {
				b.Run("plugin-"+args[0], func(b *testing.B) {
					plugin, launcher := pluginBinary(b)
					var walls []time.Duration
					var rss []int64
					for b.Loop() {
						w, r := runEnvelope(b, plugin, launcher, args...)
						walls, rss = append(walls, w), append(rss, r)
					}
					b.ReportMetric(float64(median(walls))/float64(time.Millisecond), "median-ms")
					b.ReportMetric(float64(median(rss)), "peak-RSS-KiB")
				})
			}
		})
	}
}

func writeFile(b *testing.B, name string, data []byte) {
	b.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

// binaries are the programs the benchmarks run, built once: notation-piv
// and the launcher that starts it.
var binaries struct {
	once             sync.Once
	plugin, launcher string
	err              error
}

// launcherSource is a program that runs a command, with its output on its
// own, and writes the command's peak RSS in KiB and exit status to the
// file its first argument names. The benchmarks start notation-piv through
// it because Linux counts the peak RSS of the process that starts a
// program in the program's own (Go starts programs with vfork), and this
// test process can grow to hundreds of MiB reading hostile envelopes.
const launcherSource = `package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	if exit := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	status := fmt.Sprintf("%d %d\n", cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss, cmd.ProcessState.ExitCode())
	if err := os.WriteFile(os.Args[1], []byte(status), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
`

// pluginBinary builds notation-piv and the launcher into a directory that
// lives as long as the test binary, and returns their paths.
func pluginBinary(b *testing.B) (plugin, launcher string) {
	b.Helper()
	binaries.once.Do(func() {
		dir, err := os.MkdirTemp("", "notation-piv-bench")
		if err != nil {
			binaries.err = err
			return
		}
		binaries.plugin, binaries.launcher = filepath.Join(dir, "notation-piv"), filepath.Join(dir, "launcher")
		src := filepath.Join(dir, "launcher.go")
		if err := os.WriteFile(src, []byte(launcherSource), 0o600); err != nil {
			binaries.err = err
			return
		}
		for _, args := range [][]string{
			{"build", "-trimpath", "-o", binaries.plugin, "github.com/notation-piv/notation-piv/cmd/notation-piv"},
			{"build", "-trimpath", "-o", binaries.launcher, src},
		} {
			if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
				binaries.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if binaries.err != nil {
		b.Fatal(binaries.err)
	}
	return binaries.plugin, binaries.launcher
}

// runEnvelope runs "notation-piv envelope args..." through the launcher
// and returns its wall time and peak RSS in KiB. Exit status 1 is a
// verdict (a refused or unverified envelope), not a failure of the
// benchmark.
func runEnvelope(b *testing.B, plugin, launcher string, args ...string) (time.Duration, int64) {
	b.Helper()
	status := filepath.Join(b.TempDir(), "status")
	cmd := exec.Command(launcher, append([]string{status, plugin, "envelope"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("launch notation-piv envelope %s: %v\n%s", args[0], err, out)
	}
	var rss int64
	var code int
	if s, err := os.ReadFile(status); err != nil {
		b.Fatal(err)
	} else if _, err := fmt.Sscan(string(s), &rss, &code); err != nil {
		b.Fatalf("launcher status %q: %v", s, err)
	}
	if code != 0 && code != 1 {
		b.Fatalf("notation-piv envelope %s: exit status %d\n%.2000s", args[0], code, out)
	}
	return wall, rss
}

// median returns the median of xs.
func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
