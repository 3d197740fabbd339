package main

import (
	"context"
	"fmt"

	"github.com/patchwire/patchwire/api"
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
	cmd := newAPICommand("app add", env)
	c, rest, err := cmd.connect(env, args, "APP_ID")
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
	cmd := newAPICommand("app list", env)
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	apps, err := c.ListApps(ctx)
	if err != nil {
		return err
	}
	return printList(env, *asJSON, apps, "APP\tCREATED", func(a api.App) string {
		return a.ID + "\t" + a.CreatedAt.Format(timeLayout)
	})
}
