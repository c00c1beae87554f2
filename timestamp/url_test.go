package timestamp_test

import (
	"context"
	"crypto"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
	"github.com/notation-piv/notation-piv/timestamp"
)

// TestCheckURL feeds CheckURL hostile TSA URLs: each is refused with a
// message that says what to do and never repeats the password.
func TestCheckURL(t *testing.T) {
	const secret = "s3cret"
	for _, tc := range []struct {
		url  string
		want string // "" for valid
	}{
		{"http://tsa.example.com/", ""},
		{"https://tsa.example.com:8443/rfc3161?policy=1", ""},
		{"HTTP://tsa.example.com/", ""},
		{"", "no timestamp authority URL given"},
		{"ftp://tsa.example.com/", `has scheme "ftp": only http and https are supported`},
		{"file:///etc/passwd", `has scheme "file"`},
		{"javascript:alert(1)", `has scheme "javascript"`},
		{"data:text/plain,hello", `has scheme "data"`},
		{"tsa.example.com/rfc3161", "has no scheme: write http:// or https:// in front of it"},
		{"//tsa.example.com/rfc3161", "has no scheme"},
		{"http:///rfc3161", "names no host"},
		{"http://user:" + secret + "@tsa.example.com/", "holds a user name or password"},
		{"https://" + secret + "@tsa.example.com/", "holds a user name or password"},
		{"user:" + secret + "@tsa.example.com", `has scheme "user"`},
		{"http://user:" + secret + "@[::1/", "does not parse"},
		{"http://tsa.example.com/\n", "does not parse"},
		{"http://tsa.example.com:port/", "does not parse"},
		{"http://tsa.example.com/" + strings.Repeat("a", 2048), "more than the limit of 2048"},
	} {
		err := timestamp.CheckURL(tc.url)
		if tc.want == "" {
			if err != nil {
				t.Errorf("CheckURL(%q): %v", tc.url, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckURL(%q) = %v, want an error with %q", tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("CheckURL(%q) repeats the password: %v", tc.url, err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("CheckURL(%q): a message of %d bytes", tc.url[:40], len(err.Error()))
		}
	}
}

// TestRedact shows URLs, valid or not, without their query, fragment or
// user info, marked where they were.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://tsa.example.com/", "http://tsa.example.com/"},
		{"https://tsa.example.com:8443/rfc3161", "https://tsa.example.com:8443/rfc3161"},
		{"https://tsa.example.com/rfc3161?token=s3cret", "https://tsa.example.com/rfc3161?…"},
		{"https://tsa.example.com?token=s3cret", "https://tsa.example.com?…"},
		{"https://tsa.example.com/#s3cret", "https://tsa.example.com/#…"},
		{"https://tsa.example.com/?a=1#s3cret", "https://tsa.example.com/?…"},
		{"http://user:s3cret@tsa.example.com/p?token=s3cret", "http://…@tsa.example.com/p?…"},
		{"http://s3cret@tsa.example.com", "http://…@tsa.example.com"},
		{"http://tsa.example.com/a@b", "http://tsa.example.com/a@b"},
		{"http://u@s3cret@tsa.example.com/", "http://…@tsa.example.com/"},
		{"user:s3cret@tsa.example.com", "…@tsa.example.com"},
		{"http://user:s3cret@[::1/", "http://…@[::1/"},
		{"http://tsa.example.com/?s3cret\n", "http://tsa.example.com/?…"},
		{"?s3cret", "?…"},
		{"", ""},
	} {
		got := timestamp.Redact(tc.url)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.url, got, tc.want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q repeats the secret", tc.url, got)
		}
	}
}

// TestStampRedactsURL asks TSAs that fail in every way through a URL with
// a token in its query and a fragment: no error repeats them, although
// the HTTP client and tspclient-go put the whole URL in their messages.
func TestStampRedactsURL(t *testing.T) {
	const secret = "tok3n-s3cret"
	tsa := timestamptest.Start(t)
	closed := httptest.NewServer(nil)
	closed.Close()
	check := func(name string, cfg timestamp.Config, want string) {
		t.Helper()
		_, err := cfg.Stamp(context.Background(), signature(t, 64), crypto.SHA256)
		switch {
		case err == nil:
			t.Errorf("%s: Stamp succeeded", name)
		case strings.Contains(err.Error(), secret):
			t.Errorf("%s: the error repeats the query: %v", name, err)
		case !strings.Contains(err.Error(), want):
			t.Errorf("%s: error %q lacks %q", name, err, want)
		}
	}
	query := "?token=" + secret + "#" + secret
	for _, fault := range timestamptest.Faults() {
		tsa.SetFault(fault)
		check(fault.String(), timestamp.Config{URL: tsa.URL + query, Roots: tsa.Roots()}, "timestamp authority "+tsa.URL+"?…: ")
	}
	tsa.SetFault(timestamptest.None)
	tsa.SetDelay(time.Second)
	check("slow", timestamp.Config{URL: tsa.URL + query, Roots: tsa.Roots(), Timeout: 100 * time.Millisecond}, "no answer within 100ms")
	tsa.SetDelay(0)
	check("closed port", timestamp.Config{URL: closed.URL + "/tsa" + query, Roots: tsa.Roots()}, closed.URL+"/tsa?…: cannot reach it")
	check("no root", timestamp.Config{URL: tsa.URL + query}, tsa.URL+"?… has no trusted root")
	check("negative timeout", timestamp.Config{URL: tsa.URL + query, Roots: tsa.Roots(), Timeout: -time.Second}, "negative timeout")
	check("credentials", timestamp.Config{URL: "http://user:" + secret + "@" + strings.TrimPrefix(tsa.URL, "http://") + query, Roots: tsa.Roots()}, "holds a user name or password")
	if tsa.Requests() == 0 {
		t.Error("the TSA was never asked")
	}
}
