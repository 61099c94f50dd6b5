package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/idp/keys"
)

// TestKeysRewrap: master-key rotation as docs/operations-backup.md tells
// it, from the command line: after `keys rewrap` the database works with
// the new key (the same signing keys) and no longer with the old one.
func TestKeysRewrap(t *testing.T) {
	env := storeEnv(t)
	oldKey := keys.GenerateMasterKey()
	env["DINGOIDC_SECRET_KEY_FILE"] = writeFile(t, "old-key", oldKey+"\n")
	first := decodeJSON[keyView](t, mustRun(t, env, "keys", "rotate", "--json").stdout)

	// Flags and the new key are checked before anything is opened.
	if r := runCLI(t, env, "keys", "rewrap"); r.err == nil || !strings.Contains(r.err.Error(), "--new-key-file is required") {
		t.Errorf("without --new-key-file: %v", r.err)
	}
	if r := runCLI(t, env, "keys", "rewrap", "--new-key-file", filepath.Join(t.TempDir(), "missing")); r.err == nil || !strings.Contains(r.err.Error(), "new master key") {
		t.Errorf("missing new key file: %v", r.err)
	}
	short := writeFile(t, "short", "c2hvcnQ=\n")
	if r := runCLI(t, env, "keys", "rewrap", "--new-key-file", short); r.err == nil || !strings.Contains(r.err.Error(), "want 32") {
		t.Errorf("short new key: %v", r.err)
	}

	newKeyFile := writeFile(t, "new-key", keys.GenerateMasterKey()+"\n")
	r := mustRun(t, env, "keys", "rewrap", "--new-key-file", newKeyFile)
	if !strings.Contains(r.stdout, "re-encrypted 1 signing key(s)") || !strings.Contains(r.stdout, "set secret_key_file to "+newKeyFile) {
		t.Errorf("rewrap output:\n%s", r.stdout)
	}
	ev := lastAudit(t, openTestStore(t, env), 1)[0]
	if ev.Action != "keys.rewrap" || ev.Actor != "cli" {
		t.Errorf("audit %+v", ev)
	}

	// The old key no longer opens the keys; the new one does, with the same kid.
	if r := runCLI(t, env, "keys", "rotate"); r.err == nil {
		t.Error("keys rotate with the old master key still works after the rewrap")
	}
	env["DINGOIDC_SECRET_KEY_FILE"] = newKeyFile
	mustRun(t, env, "keys", "rotate")
	list := decodeJSON[[]keyView](t, mustRun(t, env, "keys", "list", "--json").stdout)
	if len(list) != 2 || list[0].ID != first.ID {
		t.Errorf("after rewrap and rotate: %+v, want %s first", list, first.ID)
	}

	// The new key given as the new key again: refused.
	if r := runCLI(t, env, "keys", "rewrap", "--new-key-file", newKeyFile); r.err == nil || !strings.Contains(r.err.Error(), "holds the current master key") {
		t.Errorf("rewrap to the current key: %v", r.err)
	}
	// Run again with the old config (an operator unsure whether it ran):
	// nothing to do.
	env["DINGOIDC_SECRET_KEY_FILE"] = writeFile(t, "old-key", oldKey+"\n")
	out := decodeJSON[rewrapView](t, mustRun(t, env, "keys", "rewrap", "--new-key-file", newKeyFile, "--json").stdout)
	if out.Rewrapped != 0 || out.Already != 2 {
		t.Errorf("second rewrap: %+v", out)
	}
}
