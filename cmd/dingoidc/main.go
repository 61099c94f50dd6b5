// Command dingoidc is an OpenID Connect provider that logs people in with
// a QR scan in DingTalk or Zhezhengding. Run `dingoidc -h` for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dingoidc:", err)
		os.Exit(1)
	}
}

// cli is one invocation's environment.
type cli struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

// command is one entry of the command table: a top-level command, or a
// subcommand of a group ("client create").
type command struct {
	name    string // "serve", "client create"
	summary string
	run     func(c *cli, ctx context.Context, name string, args []string) error // a method expression of cli
}

// commands lists every command, in the order usage shows them.
func commands() []command {
	return []command{
		{"serve", "run the provider", func(c *cli, ctx context.Context, _ string, args []string) error {
			return serveCmd(ctx, args, c.getenv, c.stdout, c.stderr)
		}},
		{"migrate up", "apply pending database migrations", (*cli).migrateUp},
		{"migrate status", "list migrations and whether they are applied", (*cli).migrateStatus},
		{"client create", "register a client; its secret is shown once", (*cli).clientCreate},
		{"client list", "list clients", (*cli).clientList},
		{"client show", "show one client", (*cli).clientShow},
		{"client update", "change a client", (*cli).clientUpdate},
		{"client delete", "delete a client and revoke its grants", (*cli).clientDelete},
		{"client rotate-secret", "give a client a new secret, shown once", (*cli).clientRotateSecret},
		{"keys list", "list signing keys", (*cli).keysList},
		{"keys rotate", "publish the next signing key (--now: sign with it within 30s)", (*cli).keysRotate},
		{"keys rewrap", "re-encrypt the signing keys under a new master key (--new-key-file)", (*cli).keysRewrap},
		{"user list", "list users", (*cli).userList},
		{"user disable", "disable a user, ending its sessions and grants", (*cli).userDisable},
		{"user enable", "enable a disabled user", (*cli).userEnable},
		{"admin token create", "create an admin API token (--name, --scope read|write, --ttl); shown once", (*cli).adminTokenCreate},
		{"admin token list", "list admin API tokens", (*cli).adminTokenList},
		{"admin token revoke", "revoke an admin API token", (*cli).adminTokenRevoke},
		{"config check", "validate the config and print a summary without secrets", (*cli).configCheck},
		{"upstream check", "check the upstreams against the real services before going live", (*cli).upstreamCheck},
		{"simulate", "run the Zhezhengding (浙政钉) simulator standalone", func(c *cli, ctx context.Context, _ string, args []string) error {
			return simulateCmd(ctx, args, c.getenv, c.stdout, c.stderr)
		}},
		{"version", "print the version", (*cli).version},
	}
}

// run is the whole program: it parses args (without the program name),
// reads the environment only through getenv and writes only to stdout and
// stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	err := c.dispatch(ctx, args)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

// errHelpShown ends a command after -h printed its usage.
var errHelpShown = errors.New("help shown")

func (c *cli) dispatch(ctx context.Context, args []string) error {
	cmds := commands()
	if len(args) == 0 {
		c.usage(c.stderr, cmds, "")
		return errors.New("missing command")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return c.dispatch(ctx, append(slices.Clone(args[1:]), "-h"))
		}
		c.usage(c.stdout, cmds, "")
		return nil
	}
	// A group name alone, or followed by an unknown word or -h.
	group := args[0]
	for _, cmd := range cmds {
		if cmd.name == group {
			return cmd.run(c, ctx, cmd.name, args[1:])
		}
		if len(args) > 1 && cmd.name == group+" "+args[1] {
			return cmd.run(c, ctx, cmd.name, args[2:])
		}
		if len(args) > 2 && cmd.name == group+" "+args[1]+" "+args[2] { // admin token create
			return cmd.run(c, ctx, cmd.name, args[3:])
		}
	}
	var inGroup bool
	for _, cmd := range cmds {
		if strings.HasPrefix(cmd.name, group+" ") {
			inGroup = true
		}
	}
	if !inGroup {
		c.usage(c.stderr, cmds, "")
		return fmt.Errorf("unknown command %q", group)
	}
	if len(args) > 1 && isHelpFlag(args[1]) {
		c.usage(c.stdout, cmds, group)
		return nil
	}
	c.usage(c.stderr, cmds, group)
	if len(args) == 1 {
		return fmt.Errorf("%s: missing subcommand", group)
	}
	return fmt.Errorf("%s: unknown subcommand %q", group, args[1])
}

// usage lists the commands (of one group, or all).
func (c *cli) usage(w io.Writer, cmds []command, group string) {
	if group == "" {
		fmt.Fprint(w, `Usage: dingoidc <command> [<subcommand>] [flags] [args]

dingoidc is an OpenID Connect provider that logs people in with a QR scan
in DingTalk (钉钉) or Zhezhengding (浙政钉).

Commands:
`)
	} else {
		fmt.Fprintf(w, "Usage: dingoidc %s <subcommand> [flags] [args]\n\nSubcommands:\n", group)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cmd := range cmds {
		if group == "" || strings.HasPrefix(cmd.name, group+" ") {
			fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
		}
	}
	tw.Flush()
	fmt.Fprint(w, `
Every command takes --config FILE (default $DINGOIDC_CONFIG; without one,
defaults and DINGOIDC_* variables apply), --json where it prints data, and
-h for its flags.
`)
}

// cmdOptions are the flags every command has.
type cmdOptions struct {
	config string
	json   bool
}

// flagSet is a command's flags with its usage text.
type flagSet struct {
	*flag.FlagSet
	name  string
	usage func(w io.Writer)
}

// flagSet returns the flag set of a command with the common flags. args
// is the positional-argument synopsis ("ID"), about a paragraph of help.
func (c *cli) flagSet(name, args, about string) (*flagSet, *cmdOptions) {
	fs := &flagSet{FlagSet: flag.NewFlagSet("dingoidc "+name, flag.ContinueOnError), name: name}
	fs.SetOutput(io.Discard) // errors are returned; usage is printed by us
	o := &cmdOptions{}
	fs.StringVar(&o.config, "config", c.getenv("DINGOIDC_CONFIG"),
		"config `FILE` (default $DINGOIDC_CONFIG; none: defaults and DINGOIDC_* variables)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	fs.usage = func(w io.Writer) {
		synopsis := "dingoidc " + name + " [flags]"
		if args != "" {
			synopsis += " " + args
		}
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs, o
}

// parse parses flags anywhere among the arguments (flag stops at the first
// positional one; "--" ends the flags) and checks the number of positional
// arguments. -h prints the usage to stdout and returns errHelpShown; a
// usage error prints it to stderr.
func (c *cli) parse(fs *flagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelpFlag(a) {
			fs.usage(c.stdout)
			return nil, errHelpShown
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.usage(c.stderr)
			return nil, fmt.Errorf("%s: %w", fs.name, err)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minArgs:
		fs.usage(c.stderr)
		return nil, fmt.Errorf("%s: missing argument", fs.name)
	case len(pos) > maxArgs:
		fs.usage(c.stderr)
		return nil, fmt.Errorf("%s: unexpected argument %q", fs.name, pos[maxArgs])
	}
	return pos, nil
}

func isHelpFlag(a string) bool {
	switch a {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

// load loads and validates the config for an admin command.
func (c *cli) load(o *cmdOptions) (*FileConfig, error) {
	return loadConfig(o.config, c.getenv, loadOptions{})
}

// stringList is a repeatable string flag. Once given, it replaces the
// default; an empty value clears the list.
type stringList struct {
	values []string
	set    bool
}

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.values, ",")
}

func (l *stringList) Set(v string) error {
	l.set = true
	if v == "" {
		l.values = nil
		return nil
	}
	l.values = append(l.values, v)
	return nil
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// newTable returns an aligned-table writer; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// formatTime writes a time for tables: UTC, to the second, "-" for zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// nonNil returns an empty slice for nil, so JSON shows [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
