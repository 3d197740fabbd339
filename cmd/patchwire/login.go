package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/patchwire/patchwire/client"
)

// savedLogin is what `patchwire login` keeps in the user config dir.
type savedLogin struct {
	Server   string `json:"server"`
	Key      string `json:"key"`
	CA       string `json:"ca,omitempty"`
	Insecure bool   `json:"insecure,omitempty"`
}

// configPath is $PATCHWIRE_CONFIG or <user config dir>/patchwire/config.json.
func configPath(env *cliEnv) (string, error) {
	if p := env.getenv("PATCHWIRE_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no user config dir (set PATCHWIRE_CONFIG): %w", err)
	}
	return filepath.Join(dir, "patchwire", "config.json"), nil
}

func loadLogin(env *cliEnv) (savedLogin, error) {
	var l savedLogin
	p, err := configPath(env)
	if err != nil {
		return l, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("%s: %w", p, err)
	}
	return l, nil
}

func runLogin(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("login", env.stderr)
	var l savedLogin
	fs.StringVar(&l.Server, "server", "", "server URL, e.g. https://updates.example.com:8443")
	fs.StringVar(&l.Key, "key", "", "API key")
	fs.StringVar(&l.CA, "ca", "", "PEM file of the server's CA or self-signed certificate")
	fs.BoolVar(&l.Insecure, "insecure", false, "do not verify the server's certificate (development only)")
	if _, err := parsePositional(fs, args); err != nil {
		return err
	}
	if l.Server == "" || l.Key == "" {
		return usageError("login needs --server URL and --key KEY")
	}
	if l.CA != "" {
		abs, err := filepath.Abs(l.CA)
		if err != nil {
			return err
		}
		l.CA = abs
	}
	c, err := client.New(client.Config{Server: l.Server, Key: l.Key, CAFile: l.CA, Insecure: l.Insecure})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ListApps(ctx); err != nil {
		return fmt.Errorf("checking the key against %s: %w", l.Server, err)
	}
	p, err := configPath(env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(l, "", "  ")
	if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Logged in to %s; saved in %s\n", l.Server, p)
	return nil
}

// connFlags are the flags every API command takes to override the saved login.
type connFlags struct {
	server, key, ca string
	insecure, http3 bool
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.server, "server", "", "server URL (default: saved login, or $PATCHWIRE_SERVER)")
	fs.StringVar(&c.key, "key", "", "API key (default: saved login, or $PATCHWIRE_API_KEY)")
	fs.StringVar(&c.ca, "ca", "", "PEM file of the server's CA (default: saved login, or $PATCHWIRE_CA)")
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the server's certificate")
	fs.BoolVar(&c.http3, "http3", false, "talk HTTP/3 (QUIC) instead of TCP")
	return c
}

// client builds an API client: flags, then environment, then saved login.
func (c *connFlags) client(env *cliEnv) (*client.Client, error) {
	l, err := loadLogin(env)
	if err != nil {
		return nil, err
	}
	pick := func(flagValue, envName, saved string) string {
		if flagValue != "" {
			return flagValue
		}
		if v := env.getenv(envName); v != "" {
			return v
		}
		return saved
	}
	return client.New(client.Config{
		Server:   pick(c.server, "PATCHWIRE_SERVER", l.Server),
		Key:      pick(c.key, "PATCHWIRE_API_KEY", l.Key),
		CAFile:   pick(c.ca, "PATCHWIRE_CA", l.CA),
		Insecure: c.insecure || l.Insecure || env.getenv("PATCHWIRE_INSECURE") == "1",
		HTTP3:    c.http3,
	})
}

// apiCommand is the command line of a command that talks to the API: its
// flag set, which has the connection flags (addConnFlags) besides the
// command's own.
type apiCommand struct {
	*flag.FlagSet
	name string     // the command, e.g. "bundle list"
	conn *connFlags // the connection flags
	app  *string    // --app, when requireApp added it
}

// newAPICommand returns the command line of API command name, with the
// connection flags; the command adds its own flags to it.
func newAPICommand(name string, env *cliEnv) *apiCommand {
	fs := newFlags(name, env.stderr)
	return &apiCommand{FlagSet: fs, name: name, conn: addConnFlags(fs)}
}

// requireApp adds the flag --app, which parse then requires ("NAME needs
// --app APP_ID"), and returns it.
func (a *apiCommand) requireApp() *string {
	a.app = a.String("app", "", "app id (required)")
	return a.app
}

// parse parses args, checks that exactly the named positional arguments
// were given (parsePositional) and that --app was when requireApp added it,
// and returns the positional arguments.
func (a *apiCommand) parse(args []string, names ...string) ([]string, error) {
	rest, err := parsePositional(a.FlagSet, args, names...)
	if err != nil {
		return nil, err
	}
	if a.app != nil && *a.app == "" {
		return nil, usageError(a.name + " needs --app APP_ID")
	}
	return rest, nil
}

// client connects to the server the flags, environment or saved login name
// (connFlags.client). The caller closes it.
func (a *apiCommand) client(env *cliEnv) (*client.Client, error) {
	return a.conn.client(env)
}

// connect is parse, then client, for a command that checks nothing else
// before it talks to the server. The caller closes the client.
func (a *apiCommand) connect(env *cliEnv, args []string, names ...string) (*client.Client, []string, error) {
	rest, err := a.parse(args, names...)
	if err != nil {
		return nil, nil, err
	}
	c, err := a.client(env)
	if err != nil {
		return nil, nil, err
	}
	return c, rest, nil
}
