package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
)

// releaseVersion is the version the release tests build into their
// archives. It differs from testVersion, so notation shows which binary it
// installed, and the signatures which binary made them.
const releaseVersion = "0.9.0-rc.1"

// releaseEpoch is SOURCE_DATE_EPOCH for the release tests: the mtime of
// every archive entry.
const releaseEpoch = 1767225600 // 2026-01-01T00:00:00Z

// releasePlatform is the one platform the release tests build: the host,
// so the archive's binary runs here.
const releasePlatform = runtime.GOOS + "/" + runtime.GOARCH

// releaseArchive is the name .ci/dist gives the archive of releasePlatform.
var releaseArchive = "notation-piv_" + releaseVersion + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"

// runDist runs .ci/dist, the script behind make dist, for releasePlatform
// into a new directory, signing with the test card unless settings say
// otherwise (later settings override earlier ones), and returns the
// directory and what the script printed.
func runDist(t *testing.T, settings ...string) (dir, output string) {
	t.Helper()
	dir = t.TempDir()
	script, err := filepath.Abs(filepath.Join("..", "..", ".ci", "dist"))
	must(t, err)
	cmd := exec.Command(script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"VERSION="+releaseVersion, "DIST_DIR="+dir, "DIST_PLATFORMS="+releasePlatform,
		"SOURCE_DATE_EPOCH="+strconv.Itoa(releaseEpoch), "DIST_SIGN=1", "DIST_VIRTUAL_CARD=0",
		"DIST_SIGN_SERIAL="+strconv.Itoa(testSerial), "DIST_SIGN_READER=", "DIST_SIGN_SLOT=9c",
		"DIST_CA_CERTS=", "DIST_TSA_URL=", "DIST_TSA_ROOT_CERT=", "NOTATION_PIV_PIN="+piv.DefaultPIN)
	cmd.Env = append(cmd.Env, settings...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal to prompt on
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf(".ci/dist %s: %v\n%s", strings.Join(settings, " "), err, out)
	}
	t.Logf(".ci/dist %s: %.1f s", strings.Join(settings, " "), time.Since(start).Seconds())
	return dir, string(out)
}

// archiveEntry is a file read from a release archive.
type archiveEntry struct {
	hdr  *tar.Header
	data []byte
}

// readTarGz reads every entry of a .tar.gz archive, in archive order.
func readTarGz(t *testing.T, path string) []archiveEntry {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("%s: gzip header names %q, time %v; want neither", path, gz.Name, gz.ModTime)
	}
	var entries []archiveEntry
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, hdr.Name, err)
		}
		entries = append(entries, archiveEntry{hdr, data})
	}
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestRelease builds a release of the host platform with .ci/dist, as make
// dist does, signed with a key on the test card, and checks what users
// rely on: the archive holds exactly the binary and LICENSE with fixed
// metadata, building again gives the same bytes, checksums.txt passes
// sha256sum -c, notation v1.3.2 installs the archive only with the right
// --sha256sum and then signs and verifies with it, and the signature over
// checksums.txt verifies with the released trust root and the released
// binary, and fails once checksums.txt changes by one byte.
func TestRelease(t *testing.T) {
	needCard(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	dist, distOutput := runDist(t)
	archive := filepath.Join(dist, releaseArchive)
	sum := fileSHA256(t, archive)

	names, err := filepath.Glob(filepath.Join(dist, "*"))
	must(t, err)
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	if want := []string{"checksums.txt", "checksums.txt.jws", releaseArchive, "release-root.pem"}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("the release holds %v, want %v", names, want)
	}

	// The released binary, taken from the archive, runs the checks below.
	released := filepath.Join(t.TempDir(), "notation-piv")

	t.Run("archive", func(t *testing.T) {
		entries := readTarGz(t, archive)
		license, err := os.ReadFile(filepath.Join("..", "..", "LICENSE"))
		must(t, err)
		want := []struct {
			name string
			mode int64
		}{{"LICENSE", 0o644}, {"notation-piv", 0o755}}
		if len(entries) != len(want) {
			t.Fatalf("%d entries, want LICENSE and notation-piv", len(entries))
		}
		for i, w := range want {
			h := entries[i].hdr
			if h.Name != w.name || h.Typeflag != tar.TypeReg || h.Mode != w.mode {
				t.Errorf("entry %d: %s, type %c, mode %o; want %s, a regular file, mode %o", i, h.Name, h.Typeflag, h.Mode, w.name, w.mode)
			}
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(releaseEpoch, 0)) {
				t.Errorf("%s: owner %d:%d (%q:%q), mtime %v; want 0:0 without names, mtime %v",
					h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime.UTC(), time.Unix(releaseEpoch, 0).UTC())
			}
		}
		if !bytes.Equal(entries[0].data, license) {
			t.Error("the archive's LICENSE is not the repository's")
		}
		must(t, os.WriteFile(released, entries[1].data, 0o755))
		out, err := exec.Command(released, "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), releaseVersion) {
			t.Errorf("notation-piv --version: %v: %q; want version %s", err, out, releaseVersion)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		again, _ := runDist(t, "DIST_SIGN=0")
		for _, name := range []string{releaseArchive, "checksums.txt"} {
			a, b := readFile(t, filepath.Join(dist, name)), readFile(t, filepath.Join(again, name))
			if !bytes.Equal(a, b) {
				t.Fatalf("%s differs between two builds of the same source: %d and %d bytes", name, len(a), len(b))
			}
		}
		t.Logf("%s: %d bytes, sha256 %s in both builds", releaseArchive, len(readFile(t, archive)), sum)
	})

	t.Run("checksums", func(t *testing.T) {
		if got, want := string(readFile(t, filepath.Join(dist, "checksums.txt"))), sum+"  "+releaseArchive+"\n"; got != want {
			t.Errorf("checksums.txt holds %q, want %q", got, want)
		}
		check := exec.Command("sha256sum", "-c", "checksums.txt")
		check.Dir = dist
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c checksums.txt: %v\n%s", err, out)
		}
	})

	t.Run("notation plugin install", func(t *testing.T) {
		n := newBareNotation(t)
		wrong := fileSHA256(t, filepath.Join(dist, "checksums.txt"))
		out, err := n.exec("plugin", "install", "--file", archive, "--sha256sum", wrong)
		if err == nil || !strings.Contains(out, "checksum does not match") {
			t.Fatalf("notation plugin install with a wrong --sha256sum: %v\n%s\nwant a checksum mismatch", err, out)
		}
		if out := n.run("plugin", "ls"); strings.Contains(out, "piv") {
			t.Fatalf("a refused archive was installed anyway:\n%s", out)
		}

		out = n.run("plugin", "install", "--file", archive, "--sha256sum", sum)
		if !strings.Contains(out, "Successfully installed plugin piv, version "+releaseVersion) {
			t.Errorf("notation plugin install: %s", out)
		}
		if out := n.run("plugin", "ls"); !listsPlugin(out, "piv", releaseVersion) {
			t.Errorf("notation plugin ls does not list piv %s:\n%s", releaseVersion, out)
		}

		l := newLayout(t, "signed by a released plugin")
		n.run("sign", "--oci-layout", "--plugin", "piv", "--id", "9c", "--plugin-config", "serial="+strconv.Itoa(testSerial), l.ref())
		sigs := l.signatures(t)
		if len(sigs) != 1 {
			t.Fatalf("%d signatures in the layout, want 1", len(sigs))
		}
		for _, env := range sigs {
			if agent := signingAgent(t, "jws", env); agent != "notation-piv/"+releaseVersion {
				t.Errorf("signing agent %q: notation did not run the released plugin", agent)
			}
		}
		n.trust(leaf)
		n.verify(l)
	})

	t.Run("signed checksums", func(t *testing.T) {
		if _, err := os.Stat(released); err != nil {
			t.Fatalf("the released binary is missing: the archive subtest failed")
		}
		verify := func(checksums string) (string, error) {
			cmd := exec.Command(released, "envelope", "verify", "checksums.txt.jws",
				"--trust-root", "release-root.pem", "--artifact", checksums)
			cmd.Dir = dist
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := verify("checksums.txt"); err != nil || !strings.Contains(out, "checksums.txt.jws verifies") {
			t.Fatalf("envelope verify of the release: %v\n%s", err, out)
		}
		root := readFile(t, filepath.Join(dist, "release-root.pem"))
		if !bytes.Equal(root, readFile(t, writePEM(t, filepath.Join(t.TempDir(), "leaf.pem"), leaf))) {
			t.Error("release-root.pem is not the certificate of the signing slot")
		}

		altered := readFile(t, filepath.Join(dist, "checksums.txt"))
		altered[0] ^= 0x01 // one hex digit of the first sum
		path := writeFile(t, t.TempDir(), "checksums.txt", altered)
		out, err := verify(path)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "FAILED  artifact") {
			t.Errorf("envelope verify of an altered checksums.txt: %v\n%s\nwant exit status 1 and a failed artifact check", err, out)
		}
	})

	// Last: it replaces the key on the test card.
	t.Run("README steps refuse an appended root", func(t *testing.T) {
		m := regexp.MustCompile(`(?m)^release-root\.pem SHA-256 ([0-9a-f]{64})$`).FindStringSubmatch(distOutput)
		if m == nil {
			t.Fatalf("make dist did not print the fingerprint of release-root.pem to publish:\n%s", distOutput)
		}
		checkAppendedRootAttack(t, dist, m[1])
	})
}

// releasePlatforms are the platforms make dist builds by default, as
// .ci/dist names their archives.
var releasePlatforms = []string{
	"notation-piv_" + releaseVersion + "_linux_amd64.tar.gz",
	"notation-piv_" + releaseVersion + "_linux_arm64.tar.gz",
	"notation-piv_" + releaseVersion + "_windows_amd64.zip",
	"notation-piv_" + releaseVersion + "_windows_arm64.zip",
}

// TestReleasePlatforms builds the default platforms of make dist twice,
// unsigned, and checks that checksums.txt lists the four archives, that
// both builds give the same bytes, and that the linux/arm64 archive holds
// an aarch64 ELF binary that runs: under qemu-user unless the host is
// arm64, with the arm64 loader and libpcsclite1:arm64 that make deps
// installs (multiarch) in the system root.
func TestReleasePlatforms(t *testing.T) {
	if testing.Short() {
		t.Skip("go test -short: this test builds the release of four platforms twice; run it without -short (make test)")
	}
	for _, tool := range []string{"aarch64-linux-gnu-gcc", "qemu-aarch64"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (make deps installs it)", tool)
			}
			t.Skipf("%s is not installed (make deps installs it)", tool)
		}
	}
	build := func() string {
		dist, _ := runDist(t, "DIST_PLATFORMS=", "DIST_SIGN=0") // empty: the default platforms
		return dist
	}
	dist, again := build(), build()

	var want strings.Builder
	for _, name := range releasePlatforms {
		fmt.Fprintf(&want, "%s  %s\n", fileSHA256(t, filepath.Join(dist, name)), name)
	}
	checksums := readFile(t, filepath.Join(dist, "checksums.txt"))
	if string(checksums) != want.String() {
		t.Errorf("checksums.txt holds\n%s\nwant the four archives:\n%s", checksums, want.String())
	}
	for _, name := range append(releasePlatforms, "checksums.txt") {
		if a, b := readFile(t, filepath.Join(dist, name)), readFile(t, filepath.Join(again, name)); !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds of the same source: %d and %d bytes", name, len(a), len(b))
		}
	}

	entries := readTarGz(t, filepath.Join(dist, releasePlatforms[1]))
	if len(entries) != 2 || entries[1].hdr.Name != "notation-piv" || entries[1].hdr.Mode != 0o755 {
		t.Fatalf("the linux/arm64 archive does not hold LICENSE and notation-piv (mode 755)")
	}
	binary := writeFile(t, t.TempDir(), "notation-piv", entries[1].data)
	must(t, os.Chmod(binary, 0o755))
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatalf("the linux/arm64 notation-piv is no ELF file: %v", err)
	}
	interp := f.Section(".interp")
	f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN || interp == nil {
		t.Fatalf("the linux/arm64 notation-piv is %v %v %v, interpreter section %v; want a dynamically linked (cgo) ELFCLASS64 EM_AARCH64 executable",
			f.Class, f.Machine, f.Type, interp != nil)
	}

	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		if runtime.GOARCH != "arm64" {
			cmd = exec.Command("qemu-aarch64", append([]string{"-L", "/", binary}, args...)...)
		}
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = []string{"HOME=" + t.TempDir()}
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
		}
		t.Logf("%s: %.0f ms", strings.Join(cmd.Args, " "), float64(time.Since(start).Microseconds())/1000)
		return string(out)
	}
	if out := run("", "--version"); !strings.Contains(out, releaseVersion) {
		t.Errorf("notation-piv --version of linux/arm64: %q; want version %s", out, releaseVersion)
	}
	out := run(`{"contractVersion":"1.0"}`, "get-plugin-metadata")
	for _, want := range []string{`"name":"piv"`, `"version":"` + releaseVersion + `"`, "SIGNATURE_GENERATOR.ENVELOPE"} {
		if !strings.Contains(out, want) {
			t.Errorf("get-plugin-metadata of linux/arm64 does not say %s:\n%s", want, out)
		}
	}
}

// releaseStepsPlaceholder stands in the README's verification steps for
// the fingerprint of release-root.pem that the maintainer publishes.
const releaseStepsPlaceholder = "PUBLISHED-SHA256"

// readmeReleaseSteps returns the commands README.md gives users to verify
// a release: the first sh block of "Verifying and installing a release".
func readmeReleaseSteps(t *testing.T) string {
	t.Helper()
	readme := string(readFile(t, filepath.Join("..", "..", "README.md")))
	_, section, ok := strings.Cut(readme, "\n### Verifying and installing a release\n")
	if !ok {
		t.Fatal(`README.md has no section "Verifying and installing a release"`)
	}
	_, block, ok := strings.Cut(section, "\n```sh\n")
	if ok {
		block, _, ok = strings.Cut(block, "\n```\n")
	}
	if !ok || !strings.Contains(block, "notation-piv envelope verify") {
		t.Fatalf("the README's section on verifying a release has no sh block with notation-piv envelope verify:\n%s", section)
	}
	return block
}

// runReleaseSteps runs the README's verification steps with bash -e in
// dir, as a user would with a notation-piv they trust (the one the tests
// built) and the published fingerprint, and returns their output.
func runReleaseSteps(t *testing.T, dir, steps, fingerprint string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", strings.ReplaceAll(steps, releaseStepsPlaceholder, fingerprint))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + filepath.Dir(harness.plugin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the README's verification steps hung:\n%s", out)
	}
	return string(out), err
}

// checkAppendedRootAttack is the release attack of issue 13, finding 2:
// the attacker appends a certificate of their own, with the subject of
// the genuine one, to release-root.pem, signs a new checksums.txt with its
// key and swaps the archive for a trojan. Following the README's steps
// with the published fingerprint, the genuine release verifies and the
// tampered one fails, naming the chain check and both fingerprints.
func checkAppendedRootAttack(t *testing.T, dist, published string) {
	steps := readmeReleaseSteps(t)
	out, err := runReleaseSteps(t, dist, steps, published)
	if err != nil {
		t.Fatalf("the README's steps refuse the genuine release: %v\n%s", err, out)
	}
	t.Logf("the README's steps on the release:\n%s", out)

	evil := t.TempDir()
	for _, name := range []string{"checksums.txt", "checksums.txt.jws", releaseArchive, "release-root.pem"} {
		writeFile(t, evil, name, readFile(t, filepath.Join(dist, name)))
	}
	attacker := provision(t, piv.AlgorithmEC256, nil) // a new key on the test card, its certificate with the same subject
	root := append(readFile(t, filepath.Join(evil, "release-root.pem")), fixtures.PEM(attacker)...)
	writeFile(t, evil, "release-root.pem", root)
	trojan := writeFile(t, evil, releaseArchive, []byte("a trojaned archive\n"))
	writeFile(t, evil, "checksums.txt", []byte(fileSHA256(t, trojan)+"  "+releaseArchive+"\n"))
	mustSucceed(t, "the attacker's envelope sign", runUser(t, evil, factoryPINEnv, "envelope", "sign", "--serial", strconv.Itoa(testSerial), "--artifact", "checksums.txt",
		"--media-type", "text/plain", "--out", "checksums.txt.jws"))

	out, err = runReleaseSteps(t, evil, steps, published)
	t.Logf("the README's steps on the tampered release: %v\n%s", err, out)
	if err == nil {
		t.Fatalf("the README's steps accept a release whose release-root.pem has the attacker's certificate appended, with checksums.txt re-signed by it and a trojaned archive:\n%s", out)
	}
	sum := sha256.Sum256(attacker.Raw)
	for _, want := range []string{"FAILED  chain", published, hex.EncodeToString(sum[:])} {
		if !strings.Contains(out, want) {
			t.Errorf("the README's steps on the tampered release do not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, ": OK") {
		t.Errorf("sha256sum -c ran after the signature failed:\n%s", out)
	}
}

// listsPlugin reports whether notation plugin ls output has a row for the
// plugin with that version (the rows are NAME, DESCRIPTION, VERSION, ...,
// and the description has spaces).
func listsPlugin(out, name, version string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == name && slices.Contains(f[1:], version) {
			return true
		}
	}
	return false
}
