package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

// Config is one upstream type's part of an `upstreams` entry in the config
// file: the keys other than the common ones (id, type, name, claims,
// bare_subject), decoded strictly from YAML into the type's struct (a key
// it has no yaml tag for is a config error). Each upstream package owns
// its Config; the command keeps only a registry of type → new Config.
type Config interface {
	// Validate returns every problem at once (errors.Join), each starting
	// with the key it concerns. It reads secret files to check them, so
	// that a config that validates is one Open accepts.
	Validate() error
	// Open makes the provider of a validated config, reading its secret
	// files.
	Open(ctx context.Context, d Deps) (Provider, error)
}

// Deps are what Open may use.
type Deps struct {
	// ID is the entry's id.
	ID string
	// HTTPClient makes the upstream's calls (nil: a default client).
	HTTPClient *http.Client
	// Logger is the upstream's logger (never nil from the command).
	Logger *slog.Logger
	// Dev is true in serve --dev, the only place a "dev" upstream runs.
	Dev bool
	// Issuer is the provider's URL; Mount serves an upstream's own pages
	// (the dev upstream's fake QR page) under path on the provider's
	// server.
	Issuer string
	Mount  func(path string, h http.Handler)
}

// ReadSecretFile reads a secret from a file, trimming white space. Errors
// name the file, never its content.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}

// Secret returns the secret of a key that may be given inline (value) or
// in a file (file), reading the file. Exactly one must be set; problems
// name key or key_file, with what (e.g. "with inapp_app_key") after
// "required" when neither is set.
func Secret(key, value, file, what string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("%s: set only one of %s and %s_file", key, key, key)
	case value == "" && file == "":
		if what != "" {
			what = " " + what
		}
		return "", fmt.Errorf("%s: required%s (or %s_file)", key, what, key)
	case file != "":
		s, err := ReadSecretFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", key, err)
		}
		return s, nil
	}
	return value, nil
}

// Warner is implemented by configs that can be valid and still likely
// wrong (a feature that will not work as configured). config check prints
// the warnings; serve logs them.
type Warner interface {
	// Warnings returns one line per problem, each starting with its key.
	Warnings() []string
}
