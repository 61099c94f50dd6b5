// Package migrations holds dingoidc's goose SQL migrations, one folder per
// database dialect, embedded into the binary.
package migrations

import (
	"embed"
	"io/fs"
)

// FS holds every migration: postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS

// SQLite returns the SQLite migrations, rooted at their folder, ready for
// goose.NewProvider.
func SQLite() fs.FS { return sub("sqlite") }

// Postgres returns the Postgres migrations, rooted at their folder, ready for
// goose.NewProvider.
func Postgres() fs.FS { return sub("postgres") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(FS, dir)
	if err != nil {
		// fs.Sub only fails for an invalid path; dir is a constant.
		panic("migrations: " + err.Error())
	}
	return f
}
