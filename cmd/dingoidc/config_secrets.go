package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dingoidc/dingoidc/idp/keys"
)

// MasterKey returns the 32-byte master key: secret_key, or the contents of
// secret_key_file, or in dev mode without either a key generated into
// data_dir.
func (c *FileConfig) MasterKey() ([]byte, error) {
	switch {
	case c.SecretKey != "":
		return keys.ParseMasterKey(c.SecretKey.Value())
	case c.SecretKeyFile != "":
		s, err := readSecretFile(c.SecretKeyFile)
		if err != nil {
			return nil, err
		}
		return keys.ParseMasterKey(s.Value())
	case c.dev:
		return devMasterKey(c.DataDir)
	}
	return nil, errors.New("no master key: set secret_key_file, secret_key, DINGOIDC_SECRET_KEY_FILE or DINGOIDC_SECRET_KEY")
}

// devMasterKey returns the dev-mode master key kept in
// <dataDir>/master-key, creating the directory and the key (mode 0600) on
// first use.
func devMasterKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, devKeyFileName)
	if s, err := readSecretFile(path); err == nil {
		return keys.ParseMasterKey(s.Value())
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("dev master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process won the race
		return devMasterKey(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("dev master key: %w", err)
	}
	key := keys.GenerateMasterKey()
	_, werr := f.WriteString(key + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("dev master key: write %s: %w", path, werr)
	}
	return keys.ParseMasterKey(key)
}

// DSN returns the Postgres DSN from storage.dsn or storage.dsn_file.
func (c *FileConfig) DSN() (Secret, error) {
	if c.Storage.DSN != "" {
		return c.Storage.DSN, nil
	}
	if c.Storage.DSNFile != "" {
		return readSecretFile(c.Storage.DSNFile)
	}
	return "", errors.New("storage.dsn or storage.dsn_file is required for postgres")
}

// readSecretFile reads a secret from a file, trimming white space. Errors
// name the file, never its content.
func readSecretFile(path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return Secret(s), nil
}
