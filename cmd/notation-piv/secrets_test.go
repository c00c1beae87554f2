package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// Canary secrets: values no other test uses and no output can hold by
// chance. A mistyped PIN or PUK is as secret as the right one.
const (
	canaryPIN      = "91735284" // the first PIN, eight characters
	canaryPIN2     = "K9m4Q7"   // the second PIN: six, so VERIFY pads it with FF FF
	canaryPUK      = "46028173"
	canaryWrongPIN = "73190462"
	canaryWrongPUK = "58204617"
	// canaryEchoPIN is the PIN that misbehaving pinentry programs say in
	// every way but the right one.
	canaryEchoPIN = "60418257"
	// canaryMgmtKey is an AES-256 management key, in hex as the key file
	// holds it.
	canaryMgmtKey = "7c3e9a51d2b84f06e1a9c35b7d20f48e96b13a7c5e08d2f4a61c9b3e70d5f82a"
)

// leakScan looks for secrets, in every encoding a program might write them
// in, in the outputs and files it is given.
type leakScan struct {
	forms    []leakForm
	findings map[string]bool // "WHERE holds the SECRET (ENCODING)"
	items    int             // outputs and files scanned
	bytes    int64           // their total size
}

// leakForm is one encoding of one secret.
type leakForm struct {
	secret, encoding string
	b                []byte
}

func newLeakScan() *leakScan {
	return &leakScan{findings: map[string]bool{}}
}

// addSecret registers a secret. pinLike secrets (PINs and PUKs) are also
// looked for as the card sees them, padded with FF to 8 bytes.
func (s *leakScan) addSecret(name string, v []byte, pinLike bool) {
	add := func(encoding string, b []byte) {
		s.forms = append(s.forms, leakForm{name, encoding, b})
	}
	encodings := func(prefix string, v []byte) {
		add(prefix+"raw", v)
		add(prefix+"hex", []byte(hex.EncodeToString(v)))
		add(prefix+"upper-case hex", []byte(strings.ToUpper(hex.EncodeToString(v))))
		add(prefix+"spaced hex", fmt.Appendf(nil, "% x", v))
		add(prefix+"spaced upper-case hex", fmt.Appendf(nil, "% X", v))
		add(prefix+"decimal bytes", []byte(strings.Trim(fmt.Sprint(v), "[]")))
		add(prefix+"base64", []byte(base64.RawStdEncoding.EncodeToString(v)))
		add(prefix+"base64url", []byte(base64.RawURLEncoding.EncodeToString(v)))
	}
	encodings("", v)
	if pinLike && len(v) < 8 {
		padded := append(bytes.Clone(v), bytes.Repeat([]byte{0xFF}, 8-len(v))...)
		encodings("FF-padded ", padded)
	}
}

// scan looks for the secrets in data, which comes from where.
func (s *leakScan) scan(where string, data []byte) {
	s.items++
	s.bytes += int64(len(data))
	s.look(where, data, 0)
}

// base64Run matches what may be base64 or base64url text.
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}`)

// look checks data for every form of every secret, then decodes each run
// of base64 text in it, at each of the four alignments, and looks into
// that too, two levels deep (base64 inside base64, as JWS headers hold).
func (s *leakScan) look(where string, data []byte, depth int) {
	for _, f := range s.forms {
		if bytes.Contains(data, f.b) {
			s.findings[fmt.Sprintf("%s holds the %s (%s)", where, f.secret, f.encoding)] = true
		}
	}
	if depth == 2 {
		return
	}
	for _, run := range base64Run.FindAll(data, -1) {
		for off := 0; off < 4 && len(run)-off >= 8; off++ {
			if dec := decodeBase64(run[off:]); dec != nil {
				s.look(where+" (base64-decoded)", dec, depth+1)
			}
		}
	}
}

// decodeBase64 decodes base64 or base64url text without padding, dropping
// a last character that cannot complete a byte; nil if it does not decode.
func decodeBase64(run []byte) []byte {
	text := strings.NewReplacer("-", "+", "_", "/").Replace(string(run))
	if len(text)%4 == 1 {
		text = text[:len(text)-1]
	}
	b, err := base64.RawStdEncoding.DecodeString(text)
	if err != nil {
		return nil
	}
	return b
}

// scanTree scans every regular file under root, except those in skip (the
// secret files the test itself wrote), and returns how many it scanned.
func (s *leakScan) scanTree(t *testing.T, root string, skip []string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || slices.Contains(skip, path) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s.scan(path, b)
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", root, err)
	}
	return n
}

// fileStamp identifies a version of a file, to tell which files a run
// created or changed.
type fileStamp struct {
	size  int64
	mtime time.Time
}

// tempDirStamps lists the regular files under dir (os.TempDir()) with
// their stamps. It leaves out what other processes on the machine write
// there that may hold this file's canaries as code, not as leaks: Go build
// work directories (go-build*), Go build caches (found by their README),
// and the temporary directories of Go tests (Test*), this one's included.
func tempDirStamps(dir string) map[string]fileStamp {
	out := map[string]fileStamp{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished or unreadable: another process's business
		}
		if d.IsDir() && filepath.Dir(path) == dir && (strings.HasPrefix(d.Name(), "go-build") || strings.HasPrefix(d.Name(), "Test") || isGoCache(path)) {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			out[path] = fileStamp{fi.Size(), fi.ModTime()}
		}
		return nil
	})
	return out
}

// isGoCache reports whether dir is a Go build cache.
func isGoCache(dir string) bool {
	b, _ := os.ReadFile(filepath.Join(dir, "README"))
	return bytes.Contains(b, []byte("cached build artifacts from the Go build system"))
}

// ownCode marks the files that hold this test's canaries as code: its
// source, its compiled forms and its logs all name this function.
var ownCode = []byte("TestSecret" + "Scanner")

// scanChanged scans the files of after that are not in before, or changed
// since, up to 8 MiB each (larger ones, binaries of other builds, are
// counted in skipped), except those that hold ownCode. It returns how many
// it scanned.
func (s *leakScan) scanChanged(before, after map[string]fileStamp) (scanned, skipped int) {
	for path, st := range after {
		if old, ok := before[path]; ok && old == st {
			continue
		}
		if st.size > 8<<20 {
			skipped++
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil || bytes.Contains(b, ownCode) {
			skipped++
			continue
		}
		s.scan(path, b)
		scanned++
	}
	return scanned, skipped
}

// envelopeParts decodes an envelope into the parts a reader of it sees: for
// JWS (JSON) every string value and what it decodes to as base64 or
// base64url, JSON within included (the protected header, the payload); for
// COSE (CBOR) every byte and text string, CBOR within included (the
// protected header).
func envelopeParts(t *testing.T, env []byte) [][]byte {
	t.Helper()
	var parts [][]byte
	var walkJSON func(v any)
	walkJSON = func(v any) {
		switch v := v.(type) {
		case string:
			parts = append(parts, []byte(v))
			for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.StdEncoding} {
				if b, err := enc.DecodeString(v); err == nil {
					parts = append(parts, b)
					var inner any
					if json.Unmarshal(b, &inner) == nil {
						walkJSON(inner)
					}
				}
			}
		case map[string]any:
			for k, x := range v {
				parts = append(parts, []byte(k))
				walkJSON(x)
			}
		case []any:
			for _, x := range v {
				walkJSON(x)
			}
		}
	}
	var walkCBOR func(v any)
	walkCBOR = func(v any) {
		switch v := v.(type) {
		case []byte:
			parts = append(parts, v)
			var inner any
			if len(v) > 0 && cbor.Unmarshal(v, &inner) == nil {
				walkCBOR(inner)
			}
		case string:
			parts = append(parts, []byte(v))
		case cbor.Tag:
			walkCBOR(v.Content)
		case map[any]any:
			for k, x := range v {
				walkCBOR(k)
				walkCBOR(x)
			}
		case []any:
			for _, x := range v {
				walkCBOR(x)
			}
		}
	}
	var doc any
	switch {
	case json.Unmarshal(env, &doc) == nil:
		walkJSON(doc)
	case cbor.Unmarshal(env, &doc) == nil:
		walkCBOR(doc)
	default:
		t.Fatalf("the envelope is neither JSON nor CBOR: %.40q", env)
	}
	// protected header, payload, signature and a certificate at least
	if len(parts) < 4 {
		t.Fatalf("the envelope decodes into %d parts only", len(parts))
	}
	return parts
}

// scanEnvelope scans an envelope, raw and decoded into its parts.
func (s *leakScan) scanEnvelope(t *testing.T, where string, env []byte) {
	t.Helper()
	s.scan(where, env)
	for i, p := range envelopeParts(t, env) {
		s.look(fmt.Sprintf("%s, part %d", where, i), p, 0)
	}
}

// plantedName is the file the test plants in the child processes' TMPDIR, to show
// that the scan of the files they leave finds a secret.
const plantedName = "planted-by-the-test"

// TestSecretScanner checks that the scanner finds each secret in each
// encoding, wherever it sits in base64 text, and flags nothing else.
func TestSecretScanner(t *testing.T) {
	s := newLeakScan()
	mgmt, _ := hex.DecodeString(canaryMgmtKey)
	s.addSecret("PIN", []byte(canaryPIN2), true)
	s.addSecret("management key", mgmt, false)
	cborKey, _ := cbor.Marshal(map[int][]byte{3: mgmt})
	jwsLike, _ := json.Marshal(map[string]string{
		"protected": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","x":"` + base64.StdEncoding.EncodeToString([]byte("pin="+canaryPIN2)) + `"}`)),
	})
	for name, data := range map[string][]byte{
		"raw":                       []byte("log: pin " + canaryPIN2 + "\n"),
		"hex":                       []byte(hex.EncodeToString([]byte(canaryPIN2))),
		"spaced hex of the APDU":    fmt.Appendf(nil, "apdu % X", append([]byte{0, 0x20, 0, 0x80, 8}, canaryPIN2+"\xff\xff"...)),
		"decimal bytes":             fmt.Appendf(nil, "%v", []byte(canaryPIN2)),
		"base64 at offset 1":        []byte(base64.StdEncoding.EncodeToString([]byte("x" + canaryPIN2 + "yz"))),
		"base64url at offset 2":     []byte(`"` + base64.RawURLEncoding.EncodeToString([]byte("xy"+canaryPIN2)) + `"`),
		"base64 within base64url":   jwsLike,
		"key in CBOR":               cborKey,
		"key in hex":                []byte("key " + canaryMgmtKey),
		"FF-padded PIN in raw form": []byte("\x00\x20\x00\x80\x08" + canaryPIN2 + "\xff\xff"),
	} {
		before := len(s.findings)
		s.scan(name, data)
		if len(s.findings) == before {
			t.Errorf("the scanner misses the secret in %s: %q", name, data)
		}
	}
	s.findings = map[string]bool{}
	near := []byte("K9m4Q8 K9m4q7 7c3e9a51d2b84f06e1a9c35b7d20f48e96b13a7c5e08d2f4a61c9b3e70d5f82b " +
		base64.StdEncoding.EncodeToString([]byte("K9m4Q8")) + " " + notaryPayload)
	if s.scan("near misses", near); len(s.findings) != 0 {
		t.Errorf("the scanner flags what holds no secret: %v", s.findings)
	}

	// The scan of what changed in a temporary directory takes a new
	// file and a changed one, and leaves out Go's build products.
	dir := t.TempDir()
	changed := filepath.Join(dir, "changed")
	write(t, changed, []byte("nothing yet"))
	write(t, filepath.Join(dir, "same"), []byte("pin "+canaryPIN2))
	goCache := filepath.Join(dir, "cache")
	os.Mkdir(goCache, 0o755)
	write(t, filepath.Join(goCache, "README"), []byte("This directory holds cached build artifacts from the Go build system.\n"))
	before := tempDirStamps(dir)
	write(t, filepath.Join(dir, "new"), []byte("new "+hex.EncodeToString([]byte(canaryPIN2))))
	write(t, changed, []byte("changed "+canaryPIN2))
	write(t, filepath.Join(goCache, "object"), []byte(canaryPIN2))
	write(t, filepath.Join(dir, "source"), append([]byte(canaryPIN2), ownCode...))
	scanned, skipped := s.scanChanged(before, tempDirStamps(dir))
	if scanned != 2 || skipped != 1 || len(s.findings) != 2 {
		t.Errorf("scanned %d changed files, skipped %d, findings %v; want the new and the changed file, the source skipped", scanned, skipped, s.findings)
	}
}

// TestSecretsNeverLeak drives the plugin binary through every command that
// takes a PIN, PUK or management key, by every way it takes them
// (environment, files, terminal prompts), on success and on error paths,
// with the debug log on, and through notation sign and verify with
// --debug. Then it looks for the secrets in every output, the debug log,
// the annotations, the envelopes (decoded), and every file the processes
// left in the test's directories, HOME, XDG directories, TMPDIR and
// os.TempDir(): none may hold one, in any encoding.
func TestSecretsNeverLeak(t *testing.T) {
	env := needCard(t)
	start := time.Now()
	tmpBefore := tempDirStamps(os.TempDir())
	testRoot := filepath.Dir(t.TempDir())
	root := t.TempDir()
	dir := func(name string, mode os.FileMode) string {
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(p, mode))
		return p
	}
	home, work, tmp := dir("home", 0o700), dir("work", 0o755), dir("tmp", 0o700)
	logFile := filepath.Join(root, "plugin.log")
	base := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + dir("xdg/config", 0o700),
		"XDG_CACHE_HOME=" + dir("xdg/cache", 0o700),
		"XDG_DATA_HOME=" + dir("xdg/data", 0o700),
		"XDG_STATE_HOME=" + dir("xdg/state", 0o700),
		"XDG_RUNTIME_DIR=" + dir("xdg/runtime", 0o700),
		"TMPDIR=" + tmp,
		"NOTATION_PIV_LOG=" + logFile,
	}
	with := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	pinEnv := func(pin string) []string { return with("NOTATION_PIV_PIN=" + pin) }

	s := newLeakScan()
	s.addSecret("first PIN", []byte(canaryPIN), true)
	s.addSecret("second PIN", []byte(canaryPIN2), true)
	s.addSecret("PUK", []byte(canaryPUK), true)
	s.addSecret("wrong PIN", []byte(canaryWrongPIN), true)
	s.addSecret("wrong PUK", []byte(canaryWrongPUK), true)
	s.addSecret("PIN said by a pinentry program", []byte(canaryEchoPIN), true)
	mgmt, _ := hex.DecodeString(canaryMgmtKey)
	s.addSecret("management key", mgmt, false)

	// The secret files the test writes; they alone may hold secrets.
	var secretFiles []string
	secretFile := func(name, content string, mode os.FileMode) string {
		p := writeMode(t, filepath.Join(root, name), content, mode)
		secretFiles = append(secretFiles, p)
		return p
	}
	mgmtFile := secretFile("mgmt.hex", canaryMgmtKey+"\n", 0o600)
	pinFile := secretFile("pin", canaryPIN2+"\n", 0o600)
	wrongPINFile := secretFile("wrong-pin", canaryWrongPIN+"\n", 0o600)
	openPINFile := secretFile("open-pin", canaryPIN2+"\n", 0o644)

	processes := 0
	// user runs a user command on the test card, without a terminal.
	user := func(what string, env []string, args ...string) result {
		t.Helper()
		processes++
		if args[0] != "list" {
			args = append(args, serialFlag)
		}
		r := runUser(t, work, env, args...)
		s.scan(what+": stdout", []byte(r.stdout))
		s.scan(what+": stderr", []byte(r.stderr))
		return r
	}
	// typed runs a user command on a terminal and types the answers to
	// its prompts, each after the prompt that asks for it.
	typed := func(what string, env []string, dialog []string, args ...string) result {
		t.Helper()
		processes++
		r, screen := converse(t, env, dialog, append(args, serialFlag)...)
		s.scan(what+": stdout", []byte(r.stdout))
		s.scan(what+": stderr", []byte(r.stderr))
		s.scan(what+": terminal", []byte(screen))
		return r
	}
	contract := func(what, command, request string, env []string) result {
		t.Helper()
		processes++
		r := invoke(t, command, request, env...)
		s.scan(what+": stdout", []byte(r.stdout))
		s.scan(what+": stderr", []byte(r.stderr))
		return r
	}
	retries := func(want int) {
		t.Helper()
		if n := readCardState(t, env).PINRetries; n != want {
			t.Fatalf("%d PIN retries left, want %d", n, want)
		}
	}
	prompt := func(what string) string { return fmt.Sprintf("Enter the %s of PIV card %d", what, testSerial) }

	// PIN, PUK and management key from the environment and a file.
	mustSucceed(t, "pin change", user("pin change (environment)", with("NOTATION_PIV_PIN=123456", "NOTATION_PIV_NEW_PIN="+canaryPIN), "pin", "change"))
	mustFail(t, "puk change with a wrong PUK", user("puk change, wrong PUK (environment)", with("NOTATION_PIV_PUK="+canaryWrongPUK, "NOTATION_PIV_NEW_PUK="+canaryPUK), "puk", "change"), "wrong PUK")
	mustSucceed(t, "puk change", user("puk change (environment)", with("NOTATION_PIV_PUK=12345678", "NOTATION_PIV_NEW_PUK="+canaryPUK), "puk", "change"))
	mustSucceed(t, "management-key set", user("management-key set --new-key-file", with(), "management-key", "set", "--new-key-file", mgmtFile))
	if st := readCardState(t, env); !hasSecret(st.PIN, canaryPIN) || !hasSecret(st.PUK, canaryPUK) || !bytes.Equal(st.MgmtKey, mgmt) {
		t.Fatal("the card does not hold the canary PIN, PUK and management key")
	}

	// Prompts on the terminal, a wrong PIN among them.
	cert := filepath.Join(work, "signer.crt")
	mustSucceed(t, "setup", typed("setup (terminal)", with(), []string{prompt("PIN") + " (3 tries left): ", canaryPIN},
		"setup", "--management-key-file", mgmtFile, "--subject", "C=US, ST=WA, L=Seattle, O=Notation E2E, CN=piv signer", "--cert-out", cert))
	mustFail(t, "pin change with a wrong PIN", typed("pin change, wrong PIN (terminal)", with(),
		[]string{prompt("PIN"), canaryWrongPIN, prompt("new PIN"), canaryPIN2, "again: ", canaryPIN2}, "pin", "change"), "wrong PIN: 2 tries left")
	mustSucceed(t, "pin change", typed("pin change (terminal)", with(),
		[]string{prompt("PIN") + " (2 tries left): ", canaryPIN, prompt("new PIN"), canaryPIN2, "again: ", canaryPIN2}, "pin", "change"))
	mustSucceed(t, "pin unblock", typed("pin unblock (terminal)", with(),
		[]string{prompt("PUK") + " (3 tries left): ", canaryPUK, prompt("new PIN"), canaryPIN2, "again: ", canaryPIN2}, "pin", "unblock"))
	if st := readCardState(t, env); !hasSecret(st.PIN, canaryPIN2) || st.PINRetries != 3 {
		t.Fatal("the card does not hold the second canary PIN")
	}

	// A random management key kept behind the PIN, then used by setup.
	mustSucceed(t, "management-key set --protect", user("management-key set --protect", pinEnv(canaryPIN2), "management-key", "set", "--protect", "--management-key-file", mgmtFile))
	protected := readCardState(t, env).MgmtKey
	if bytes.Equal(protected, mgmt) {
		t.Fatal("management-key set --protect left the key as it was")
	}
	s.addSecret("PIN-protected management key", protected, false)
	// setup signs twice here, the certificate and the request, with the
	// PIN it read the key with. A failure is reported, and the scan goes
	// on: the next right PIN restores the retries.
	r := user("setup --csr, PIN-protected management key", pinEnv(canaryPIN2),
		"setup", "--slot", "9a", "--subject", setupSubject, "--cert-out", filepath.Join(work, "9a.crt"), "--csr", filepath.Join(work, "9a.csr"))
	if r.code != 0 {
		t.Errorf("setup --csr with a PIN-protected management key: exit %d: %s", r.code, r.stderr)
	}
	if n := readCardState(t, env).PINRetries; n != 3 {
		t.Errorf("setup --csr with a PIN-protected management key and the right PIN spent %d of its PIN retries", 3-n)
	}
	mustSucceed(t, "list", user("list", with(), "list"))

	// The contract commands, with the PIN from the environment and from
	// pin_file, right and wrong.
	var envelopes [][]byte
	signed := func(what string, r result) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", what, r.code, r.stderr)
		}
		var resp plugin.GenerateEnvelopeResponse
		must(t, json.Unmarshal([]byte(r.stdout), &resp))
		annotations, _ := json.Marshal(resp.Annotations)
		s.scan(what+": annotations", annotations)
		envelopes = append(envelopes, resp.SignatureEnvelope)
	}
	request := func(mediaType string, config map[string]string) string {
		return withEnvelopeType(envelopeRequest("9c", config), mediaType)
	}
	signed("generate-envelope JWS (environment)", contract("generate-envelope JWS (environment)", "generate-envelope", request("application/jose+json", nil), pinEnv(canaryPIN2)))
	expectError(t, contract("generate-envelope, wrong PIN (environment)", "generate-envelope", request("application/jose+json", nil), pinEnv(canaryWrongPIN)), plugin.ErrorCodeAccessDenied)
	retries(2)
	signed("generate-envelope COSE (pin_file)", contract("generate-envelope COSE (pin_file)", "generate-envelope", request("application/cose", map[string]string{"pin_file": pinFile}), with()))
	expectError(t, contract("generate-envelope, wrong PIN (pin_file)", "generate-envelope", request("application/cose", map[string]string{"pin_file": wrongPINFile}), with()), plugin.ErrorCodeAccessDenied)
	retries(2)
	expectError(t, contract("generate-envelope, readable pin_file", "generate-envelope", request("application/cose", map[string]string{"pin_file": openPINFile}), with()), plugin.ErrorCodeValidation, "chmod 600")
	expectError(t, contract("generate-envelope, PIN in pluginConfig", "generate-envelope", request("application/cose", map[string]string{"pin": canaryPIN2}), with()), plugin.ErrorCodeValidation)
	if r := contract("generate-signature (environment)", "generate-signature", requestFor("generate-signature", nil), pinEnv(canaryPIN2)); r.code != 0 {
		t.Fatalf("generate-signature: %s", r.stderr)
	}
	retries(3)

	// pinentry programs that are not well-behaved and say the PIN back:
	// as a bare line, in an ERR answer, as data the PIN checks refuse, and
	// amid garbage. None of it reaches stdout, stderr or the debug log,
	// and no PIN reaches the card.
	assuanLoop := func(getpin string) string {
		return "echo 'OK Pleased to meet you'\nwhile read -r l; do case \"$l\" in GETPIN) " + getpin + " ;; BYE) echo OK; exit 0 ;; *) echo OK ;; esac; done\n"
	}
	for _, p := range []struct{ name, script string }{
		{"echoing pinentry", "echo " + canaryEchoPIN + "\n"},
		{"echoing pinentry that waits", "echo " + canaryEchoPIN + "\ncat >/dev/null\n"},
		{"pinentry that greets with the PIN", "echo 'OK " + canaryEchoPIN + "'\nread -r l\necho 'ERR " + canaryEchoPIN + " " + canaryEchoPIN + "'\n"},
		{"pinentry that answers GETPIN with the bare PIN", assuanLoop("echo " + canaryEchoPIN)},
		{"pinentry that answers GETPIN with ERR and the PIN", assuanLoop("echo 'ERR " + canaryEchoPIN + " " + canaryEchoPIN + "'")},
		{"pinentry that answers a PIN with a trailing space", assuanLoop("echo 'D " + canaryEchoPIN + " '; echo OK")},
		{"pinentry that answers a PIN with two newlines", assuanLoop("echo 'D " + canaryEchoPIN + "%0A%0A'; echo OK")},
		{"garbage pinentry", "head -c 3000 /dev/urandom\necho " + canaryEchoPIN + "\nhead -c 3000 /dev/urandom\n"},
		{"garbage pinentry after a greeting", "echo OK\nread -r l\nprintf '%s\\001\\377%s' " + canaryEchoPIN + " " + canaryEchoPIN + "\nhead -c 100000 /dev/urandom\n"},
	} {
		program := secretFile(strings.ReplaceAll(p.name, " ", "-"), "#!/bin/sh\n"+p.script, 0o700)
		r := contract("generate-envelope, "+p.name, "generate-envelope", request("application/jose+json", map[string]string{"pinentry": program}), with())
		if r.code != 1 {
			t.Errorf("generate-envelope with a %s: exit %d: %s", p.name, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "pinentry") {
			t.Errorf("generate-envelope with a %s: the error does not name the pinentry: %s", p.name, r.stderr)
		}
		retries(3)
	}
	echo := filepath.Join(root, "echoing-pinentry")
	mustFail(t, "envelope sign with an echoing pinentry", user("envelope sign, echoing pinentry", with(),
		"envelope", "sign", "--descriptor", `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+strings.Repeat("ab", 32)+`","size":1}`,
		"--out", filepath.Join(work, "echo.jws"), "--pinentry", echo), "did not greet with OK")
	retries(3)

	// envelope sign, with the PIN from a file, the terminal, and a wrong
	// one from the environment.
	artifact := filepath.Join(work, "artifact.txt")
	write(t, artifact, []byte("an artifact signed with canary PINs\n"))
	sign := func(format string) []string {
		return []string{"envelope", "sign", "--artifact", artifact, "--format", format, "--out", filepath.Join(work, "artifact."+format)}
	}
	mustFail(t, "envelope sign with a wrong PIN", user("envelope sign, wrong PIN (environment)", pinEnv(canaryWrongPIN), sign("jws")...), "PIN")
	mustSucceed(t, "envelope sign --pin-file", user("envelope sign JWS (--pin-file)", with(), append(sign("jws"), "--pin-file", pinFile)...))
	mustSucceed(t, "envelope sign on a terminal", typed("envelope sign COSE (terminal)", with(), []string{prompt("PIN") + " for slot 9c", canaryPIN2}, sign("cose")...))
	for _, format := range []string{"jws", "cose"} {
		b, err := os.ReadFile(filepath.Join(work, "artifact."+format))
		must(t, err)
		envelopes = append(envelopes, b)
	}

	// notation sign and verify with --debug, in both formats and RAW
	// mode, with the PIN from the environment and from pin_file, and once
	// wrong.
	n := &notationEnv{t: t, dir: dir("notation", 0o755), pin: canaryPIN2, logf: logFile,
		env: append([]string{"PATH=" + os.Getenv("PATH"), "NOTATION_EXPERIMENTAL=1"}, base...)}
	notation := func(what string, args ...string) (string, error) {
		processes++
		out, err := n.exec(args...)
		s.scan("notation "+what, []byte(out))
		return out, err
	}
	mustNotation := func(what string, args ...string) {
		t.Helper()
		if out, err := notation(what, args...); err != nil {
			t.Fatalf("notation %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	mustNotation("plugin install", "plugin", "install", "--file", harness.plugin, "--force")
	n.trust(readCert(t, cert))
	serialConfig := fmt.Sprintf("serial=%d", testSerial)
	mustNotation("key add", "key", "add", "canary-env", "--plugin", "piv", "--id", "9c", "--plugin-config", serialConfig)
	mustNotation("key add", "key", "add", "canary-file", "--plugin", "piv", "--id", "9c", "--plugin-config", serialConfig, "--plugin-config", "pin_file="+pinFile)
	mustNotation("key add", "key", "add", "canary-raw", "--plugin", "piv", "--id", "9c", "--plugin-config", serialConfig, "--plugin-config", "mode=raw")
	n.pin = canaryWrongPIN
	wrong := newLayout(t, "signed with a wrong PIN")
	if out, err := notation("sign, wrong PIN", "sign", "--debug", "--oci-layout", "--key", "canary-env", wrong.ref()); err == nil {
		t.Fatalf("notation sign with a wrong PIN succeeded:\n%s", out)
	}
	retries(2)
	var layouts []*ociLayout
	for _, c := range []struct{ key, format, pin string }{
		{"canary-env", "jws", canaryPIN2},
		{"canary-file", "cose", ""},
		{"canary-raw", "jws", canaryPIN2},
	} {
		l := newLayout(t, "signed by "+c.key)
		n.pin = c.pin
		mustNotation("sign "+c.key, "sign", "--debug", "--oci-layout", "--key", c.key, "--signature-format", c.format, l.ref())
		mustNotation("verify "+c.key, "verify", "--debug", "--oci-layout", "--scope", "local/e2e", l.ref())
		mustNotation("list "+c.key, "list", "--debug", "--oci-layout", l.ref())
		layouts = append(layouts, l)
	}
	retries(3)
	for _, l := range layouts {
		for digest, e := range l.signatures(t) {
			envelopes = append(envelopes, e)
			s.scan("signature manifest "+digest, l.blob(t, digest))
		}
	}
	for i, e := range envelopes {
		s.scanEnvelope(t, fmt.Sprintf("envelope %d", i), e)
	}

	// The debug log: written, private, and holding no secret.
	logText, err := os.ReadFile(logFile)
	must(t, err)
	if fi, err := os.Stat(logFile); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("the debug log's mode is %v, want 0600", fi.Mode())
	}
	for _, want := range []string{"generate-envelope failed: ACCESS_DENIED", "generate-signature succeeded", "envelope sign failed", "built and verified a application/cose envelope"} {
		if !bytes.Contains(logText, []byte(want)) {
			t.Errorf("the debug log lacks %q", want)
		}
	}

	// What the processes left in TMPDIR, planted secret included.
	plant := filepath.Join(tmp, plantedName)
	write(t, plant, []byte("a leak: "+base64.RawURLEncoding.EncodeToString([]byte("pin="+canaryPIN2))))
	left, err := os.ReadDir(tmp)
	must(t, err)
	var leftNames []string
	for _, e := range left {
		if e.Name() != plantedName {
			leftNames = append(leftNames, e.Name())
		}
	}
	t.Logf("the processes left %d entries in TMPDIR: %q", len(leftNames), leftNames)

	files := s.scanTree(t, testRoot, secretFiles)
	tmpScanned, tmpSkipped := s.scanChanged(tmpBefore, tempDirStamps(os.TempDir()))
	var planted bool
	for f := range s.findings {
		if strings.HasPrefix(f, plant+" ") {
			planted = true
			delete(s.findings, f)
		}
	}
	if !planted {
		t.Error("the scan missed the secret the test planted in TMPDIR: it cannot find leaks")
	}
	for _, f := range slices.Sorted(maps.Keys(s.findings)) {
		t.Errorf("leak: %s", f)
	}
	t.Logf("ran %d processes in %v; scanned %d outputs and files, %d bytes: %d files under the test's directories, %d new or changed files in %s (%d skipped: too large, or code), %d envelopes decoded",
		processes, time.Since(start).Round(time.Millisecond), s.items, s.bytes, files, tmpScanned, os.TempDir(), tmpSkipped, len(envelopes))
}

// TestSecretFilePermissions checks the files that hold a PIN (pin_file,
// --pin-file) or a management key (--management-key-file, --new-key-file):
// a file only its owner can read is taken, through a symbolic link too; a
// file others can read, directly or behind a link, or a file another
// user owns (who can then read it) is refused before the card is
// touched, without spending a retry and without echoing the secret.
func TestSecretFilePermissions(t *testing.T) {
	env := needCard(t)
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("only root can give a file to another user")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the test must run as root under CI, to give a file to another user")
	}
	provision(t, piv.AlgorithmEC256, nil)
	dir := t.TempDir()
	i := 0
	// file writes content with mode, owned by uid (-1: by this process),
	// and returns its path, or a symbolic link to it with link.
	file := func(content string, mode os.FileMode, uid int, link bool) string {
		i++
		p := writeMode(t, filepath.Join(dir, fmt.Sprintf("secret-%d", i)), content, mode)
		if uid >= 0 {
			must(t, os.Chown(p, uid, -1))
		}
		if !link {
			return p
		}
		l := p + ".link"
		must(t, os.Symlink(p, l))
		return l
	}
	const nobody = 65534
	for _, tc := range []struct {
		name    string
		mode    os.FileMode
		uid     int
		link    bool
		refused bool
		says    string // what the refusal says
	}{
		{"owner only", 0o600, -1, false, false, ""},
		{"owner read-only", 0o400, -1, false, false, ""},
		{"link to a file only its owner can read", 0o600, -1, true, false, ""},
		{"readable by all", 0o644, -1, false, true, "chmod 600"},
		{"readable by the group", 0o640, -1, false, true, "chmod 600"},
		{"link to a file readable by all", 0o644, -1, true, true, "chmod 600"},
		{"owned by another user", 0o600, nobody, false, true, ""},
		{"link to a file another user owns", 0o600, nobody, true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pinFile := file(piv.DefaultPIN+"\n", tc.mode, tc.uid, tc.link)
			env.Card.ResetStats()
			r := invoke(t, "generate-envelope", envelopeRequest("9c", map[string]string{"pin_file": pinFile}))
			if !tc.refused {
				if r.code != 0 {
					t.Fatalf("pin_file refused: %s", r.stderr)
				}
			} else {
				expectError(t, r, plugin.ErrorCodeValidation, "pin_file", tc.says)
				if n := env.Card.Stats().Commands; n != 0 {
					t.Errorf("the card got %d commands before pin_file was refused", n)
				}
			}
			if strings.Contains(r.stderr, piv.DefaultPIN) {
				t.Errorf("the error shows the PIN: %s", r.stderr)
			}
			if n := pinRetries(t, env); n != 3 {
				t.Errorf("%d PIN retries left, want 3", n)
			}
			if !tc.refused {
				return
			}
			r = runUser(t, "", nil, "envelope", "sign", "--descriptor", `{"mediaType":"text/plain","digest":"sha256:`+strings.Repeat("ab", 32)+`","size":1}`,
				"--out", filepath.Join(t.TempDir(), "x.sig"), "--pin-file", pinFile, serialFlag)
			mustFail(t, "envelope sign --pin-file", r, "--pin-file", tc.says)
			keyFile := file(canaryMgmtKey+"\n", tc.mode, tc.uid, tc.link)
			env.Card.ResetStats()
			r = runUser(t, "", nil, "management-key", "set", "--new-key-file", keyFile, serialFlag)
			mustFail(t, "management-key set --new-key-file", r, keyFile, tc.says)
			if n := env.Card.Stats().Commands; n != 0 {
				t.Errorf("the card got %d commands before the key file was refused", n)
			}
			if strings.Contains(strings.ToLower(r.stdout+r.stderr), canaryMgmtKey) {
				t.Errorf("the error shows the management key: %s", r.stderr)
			}
			if st := readCardState(t, env); !bytes.Equal(st.MgmtKey, piv.DefaultManagementKey) {
				t.Error("the management key changed")
			}
		})
	}
}
