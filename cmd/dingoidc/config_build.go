package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/dingoidc/dingoidc/idp/keys"
)

// keysOptions returns the signing-key schedule for keys.NewManager.
func (c *FileConfig) keysOptions(logger *slog.Logger) keys.Options {
	return keys.Options{
		RotationPeriod:   c.Keys.RotationPeriod.D(),
		PublishAhead:     c.Keys.PublishAhead.D(),
		CacheTTL:         c.Keys.CacheTTL.D(),
		MaxTokenLifetime: max(c.Tokens.IDTokenTTL.D(), c.Tokens.AccessTokenTTL.D()),
		Logger:           logger,
	}
}

// newLogger returns the slog logger the config asks for, writing to w.
func (c *FileConfig) newLogger(w io.Writer) *slog.Logger {
	level, _ := parseLogLevel(c.Log.Level) // validated
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// splitList splits a comma- or space-separated environment value.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}
