package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/patchwire/patchwire/api"
)

func runKey(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "key", args, map[string]func(context.Context, *cliEnv, []string) error{
		"create":  runKeyCreate,
		"list":    runKeyList,
		"delete":  runKeyDelete,
		"signing": runKeySigning,
	})
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
	fs := newFlags("key create", env.stderr)
	conn := addConnFlags(fs)
	var req api.CreateKeyRequest
	var apps appList
	fs.StringVar(&req.Scope, "scope", api.ScopeUpload, "admin, upload or read")
	fs.Var(&apps, "app", "app the key may upload to (repeat or comma-separate; upload scope)")
	fs.StringVar(&req.Name, "name", "", "a name to recognise the key by")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	req.Apps = apps
	c, err := conn.client(env)
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
	fs := newFlags("key list", env.stderr)
	conn := addConnFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	c, err := conn.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	keys, err := c.ListKeys(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, keys)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCOPE\tAPPS\tNAME\tCREATED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Scope, strings.Join(k.Apps, ","), k.Name, k.CreatedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func runKeyDelete(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("key delete", env.stderr)
	conn := addConnFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 1, "KEY_ID"); err != nil {
		return err
	}
	c, err := conn.client(env)
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
