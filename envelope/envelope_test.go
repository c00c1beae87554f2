package envelope

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

type fakeFormat string

func (f fakeFormat) MediaType() string                { return string(f) }
func (f fakeFormat) Sign(SignRequest) ([]byte, error) { return nil, errors.New("fake") }

func TestRegistry(t *testing.T) {
	var r registry
	if _, err := r.lookup(MediaTypeJWS); err == nil {
		t.Fatal("lookup in an empty registry succeeded")
	} else if want := `unsupported signature envelope type "application/jose+json": no envelope format is registered`; err.Error() != want {
		t.Errorf("empty registry error = %q, want %q", err, want)
	}

	r.register(fakeFormat(MediaTypeJWS))
	r.register(fakeFormat(MediaTypeCOSE))
	f, err := r.lookup(MediaTypeJWS)
	if err != nil || f.MediaType() != MediaTypeJWS {
		t.Fatalf("lookup(%q) = %v, %v", MediaTypeJWS, f, err)
	}
	if got, want := r.mediaTypes(), []string{MediaTypeCOSE, MediaTypeJWS}; !slices.Equal(got, want) {
		t.Errorf("mediaTypes() = %q, want %q", got, want)
	}

	_, err = r.lookup("application/pkcs7")
	var ue *UnsupportedFormatError
	if !errors.As(err, &ue) {
		t.Fatalf("lookup(unknown) error = %v (%T), want *UnsupportedFormatError", err, err)
	}
	if ue.MediaType != "application/pkcs7" || !slices.Equal(ue.Supported, []string{MediaTypeCOSE, MediaTypeJWS}) {
		t.Errorf("UnsupportedFormatError = %+v", ue)
	}
	if want := `unsupported signature envelope type "application/pkcs7": use one of application/cose, application/jose+json`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	// Media types match exactly, as notation sends them.
	if _, err := r.lookup(strings.ToUpper(MediaTypeJWS)); err == nil {
		t.Error("lookup is not case-sensitive")
	}
}

func TestRegisterPanics(t *testing.T) {
	for name, f := range map[string]Format{
		"nil":              nil,
		"empty":            fakeFormat(""),
		"duplicate of jws": fakeFormat(MediaTypeJWS),
	} {
		t.Run(name, func(t *testing.T) {
			var r registry
			r.register(fakeFormat(MediaTypeJWS))
			defer func() {
				if recover() == nil {
					t.Error("register did not panic")
				}
			}()
			r.register(f)
		})
	}
}

func TestVerifyRejectsGarbage(t *testing.T) {
	for _, tc := range []struct{ mt, env, want string }{
		{MediaTypeJWS, "", "parse application/jose+json envelope"},
		{MediaTypeJWS, "{}", "verify application/jose+json envelope"},
		{MediaTypeJWS, `{"payload":"e30","protected":"e30","header":{"x5c":[]},"signature":"AA"}`, "certificate chain is not present"},
		{"application/pkcs7", "{}", `media type "application/pkcs7" is not supported`},
	} {
		_, err := Verify(tc.mt, []byte(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Verify(%q, %q) error = %v, want it to contain %q", tc.mt, tc.env, err, tc.want)
		}
	}
}
