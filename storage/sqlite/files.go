package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// FileMode is the mode of the database file and its -wal and -shm files:
// they hold users, sessions and grants, and sealed signing keys.
const FileMode fs.FileMode = 0o600

// secureFiles creates the database file with FileMode when it does not
// exist (SQLite would create it 0644 less the umask, and creates -wal and
// -shm with the database file's mode), and takes group and world access
// away from existing ones.
func secureFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&FileMode); err != nil {
				return fmt.Errorf("restrict %s to %#o: %w", p, FileMode, err)
			}
		}
	}
	return nil
}
