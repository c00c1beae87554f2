package timestamp_test

import (
	"strings"
	"testing"

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
