package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// warnReadableSecrets warns when the SQLite database or the master key file
// can be read by group or others: whoever reads the key can forge every
// token, whoever reads the database sees every user. The database is
// restricted to 0600 when it opens (storage/sqlite); the key file is the
// operator's to fix.
func warnReadableSecrets(cfg *FileConfig, logger *slog.Logger) {
	if cfg.Storage.Driver == "sqlite" {
		for _, p := range []string{cfg.Storage.Path, cfg.Storage.Path + "-wal", cfg.Storage.Path + "-shm"} {
			if m, ok := groupOrWorldReadable(p); ok {
				logger.Warn("database file is readable by group or others; dingoidc restricts it to 0600", "path", p, "mode", m)
			}
		}
	}
	key := cfg.SecretKeyFile
	if key == "" && cfg.SecretKey == "" && cfg.dev {
		key = filepath.Join(cfg.DataDir, devKeyFileName)
	}
	if key != "" {
		if m, ok := groupOrWorldReadable(key); ok {
			logger.Warn("master key file is readable by group or others: chmod 600 it", "path", key, "mode", m)
		}
	}
}

// groupOrWorldReadable reports a file's mode when group or others may read it.
func groupOrWorldReadable(path string) (string, bool) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return "", false
	}
	if m := st.Mode().Perm(); m&0o044 != 0 {
		return fmt.Sprintf("%#o", m), true
	}
	return "", false
}
