package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

func runApp(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "app", args, map[string]func(context.Context, *cliEnv, []string) error{
		"add":  runAppAdd,
		"list": runAppList,
	})
}

// subcommand dispatches "group verb ..." to verb.
func subcommand(ctx context.Context, env *cliEnv, group string, args []string, verbs map[string]func(context.Context, *cliEnv, []string) error) error {
	if len(args) == 0 {
		return usageError(fmt.Sprintf("usage: patchwire %s <%s> ...", group, joinKeys(verbs)))
	}
	f, ok := verbs[args[0]]
	if !ok {
		return usageError(fmt.Sprintf("unknown command \"%s %s\"; want one of: %s", group, args[0], joinKeys(verbs)))
	}
	return f(ctx, env, args[1:])
}

func runAppAdd(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("app add", env.stderr)
	conn := addConnFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 1, "APP_ID"); err != nil {
		return err
	}
	c, err := conn.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	app, err := c.CreateApp(ctx, rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Added app %s\n", app.ID)
	return nil
}

func runAppList(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("app list", env.stderr)
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
	apps, err := c.ListApps(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, apps)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tCREATED")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\n", a.ID, a.CreatedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
