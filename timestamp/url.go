package timestamp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxURL bounds the length of a timestamp authority URL.
const maxURL = 2048

// CheckURL checks the URL of a timestamp authority without contacting it:
// an absolute http or https URL of at most 2048 bytes that names a host
// and holds no user name or password. Credentials have no place there:
// notation stores pluginConfig in plain text and prints it with --debug,
// and the plugin sends none to a TSA. Errors never repeat a password.
func CheckURL(raw string) error {
	if raw == "" {
		return errors.New("no timestamp authority URL given: give the http or https URL of an RFC 3161 timestamp authority")
	}
	if len(raw) > maxURL {
		return fmt.Errorf("the timestamp authority URL is %d bytes long, more than the limit of %d: give the TSA's http or https URL", len(raw), maxURL)
	}
	shown := redact(raw)
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the whole URL
		}
		return fmt.Errorf("timestamp authority URL %q does not parse: %v; give an http or https URL such as http://timestamp.example.com/", shown, err)
	}
	switch {
	case u.User != nil:
		return fmt.Errorf("timestamp authority URL %q holds a user name or password, which would be stored and logged in plain text: remove them and use a TSA that takes requests without credentials", shown)
	case u.Scheme == "":
		return fmt.Errorf("timestamp authority URL %q has no scheme: write http:// or https:// in front of it", shown)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("timestamp authority URL %q has scheme %q: only http and https are supported", shown, u.Scheme)
	case u.Host == "":
		return fmt.Errorf("timestamp authority URL %q names no host: give a URL such as http://timestamp.example.com/", shown)
	}
	return nil
}

// redact hides what may be a user name and password in a URL, parsable
// or not, for messages: everything up to the last "@" of its authority.
func redact(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	}
	end := len(raw)
	if j := strings.IndexAny(raw[start:], "/?#"); j >= 0 {
		end = start + j
	}
	if at := strings.LastIndex(raw[start:end], "@"); at >= 0 {
		return raw[:start] + "…@" + raw[start+at+1:]
	}
	return raw
}
