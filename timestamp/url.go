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
// and the plugin sends none to a TSA. Errors show the URL as Redact does.
func CheckURL(raw string) error {
	if raw == "" {
		return errors.New("no timestamp authority URL given: give the http or https URL of an RFC 3161 timestamp authority")
	}
	if len(raw) > maxURL {
		return fmt.Errorf("the timestamp authority URL is %d bytes long, more than the limit of %d: give the TSA's http or https URL", len(raw), maxURL)
	}
	shown := Redact(raw)
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

// Redact returns a URL as logs and messages may show it: its scheme, host
// and path, without what may hold a secret. A user name and password
// become "…@", a query "?…" and a fragment "#…", so that a reader sees
// that they were there. It works on any string, a URL that does not parse
// included, and never repeats what follows the first "?" or "#", nor what
// precedes the last "@" of the authority.
func Redact(raw string) string {
	rest, mark := raw, ""
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest, mark = rest[:i], rest[i:i+1]+"…"
	}
	start := 0
	if i := strings.Index(rest, "://"); i >= 0 {
		start = i + len("://")
	}
	end := len(rest)
	if j := strings.IndexByte(rest[start:], '/'); j >= 0 {
		end = start + j
	}
	if at := strings.LastIndex(rest[start:end], "@"); at >= 0 {
		rest = rest[:start] + "…@" + rest[start+at+1:]
	}
	return rest + mark
}

// redactedError shows an error of the HTTP client or of tspclient-go, whose
// messages repeat the whole URL they were given, as Redact shows that URL.
// It unwraps to the original error, for errors.Is and errors.As.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error { return e.err }

// redactError returns err with every form of raw in its message, as given
// and as net/url writes it back, replaced by Redact(raw).
func redactError(err error, raw string) error {
	if err == nil {
		return nil
	}
	shown := Redact(raw)
	msg := err.Error()
	forms := []string{raw}
	if u, perr := url.Parse(raw); perr == nil {
		forms = append(forms, u.String(), u.Redacted())
	}
	for _, f := range forms {
		if f != "" && f != shown {
			msg = strings.ReplaceAll(msg, f, shown)
		}
	}
	return &redactedError{err: err, msg: msg}
}
