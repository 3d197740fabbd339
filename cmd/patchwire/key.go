package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchwire/patchwire/api"
)

func runKey(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "key", args, map[string]func(context.Context, *cliEnv, []string) error{
		"create":  runKeyCreate,
		"list":    runKeyList,
		"delete":  runKeyDelete,
		"signing": runKeySigning,
		"whoami":  runKeyWhoami,
		"capgo":   runKeyCapgo,
		"release": runKeyRelease,
	})
}

// runKeyWhoami prints the key the CLI calls with: its id, scope, apps and
// channels.
func runKeyWhoami(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("key whoami", env)
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	me, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, me)
	}
	fmt.Fprintf(env.stdout, "Key %s (%s): scope %s, apps %s, channels %s\n", me.KeyID, me.Name, me.Scope,
		orAll(me.Apps, me.Scope != api.ScopeUpload), orAll(me.Channels, me.Scope != api.ScopeUpload))
	return nil
}

// orAll joins names, or is "*" (all) when the list is empty and all is
// what an empty list means, else "-".
func orAll(names []string, all bool) string {
	switch {
	case len(names) > 0:
		return strings.Join(names, ",")
	case all:
		return "*"
	}
	return "-"
}

// appList collects repeated or comma-separated --app flags.
type appList []string

func (a *appList) String() string { return strings.Join(*a, ",") }
func (a *appList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*a = append(*a, s)
		}
	}
	return nil
}

func runKeyCreate(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("key create", env)
	var req api.CreateKeyRequest
	cmd.StringVar(&req.Scope, "scope", api.ScopeUpload, "read, upload, write or admin (see the README's scope table)")
	cmd.Var((*appList)(&req.Apps), "app", "app the key acts on (repeat or comma-separate; required for upload, none = every app for read and write)")
	cmd.Var((*appList)(&req.Channels), "channels", "channels an upload key may point at a bundle, as bundle upload --channel does (comma-separate)")
	cmd.StringVar(&req.Name, "name", "", "a name to recognise the key by")
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	out, err := c.CreateKey(ctx, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, out)
	}
	fmt.Fprintln(env.stdout, out.Secret)
	fmt.Fprintf(env.stderr, "Created %s key %s; the secret above is shown only once.\n", out.Key.Scope, out.Key.ID)
	return nil
}

func runKeyList(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("key list", env)
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	keys, err := c.ListKeys(ctx)
	if err != nil {
		return err
	}
	return printList(env, *asJSON, keys, "ID\tSCOPE\tAPPS\tCHANNELS\tNAME\tCREATED", func(k api.Key) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", k.ID, k.Scope, orAll(k.Apps, k.Scope != api.ScopeUpload), orAll(k.Channels, k.Scope == api.ScopeAdmin || k.Scope == api.ScopeWrite), k.Name, k.CreatedAt.Format(timeLayout))
	})
}

func runKeyDelete(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("key delete", env)
	c, rest, err := cmd.connect(env, args, "KEY_ID")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.DeleteKey(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Deleted key %s\n", rest[0])
	return nil
}
