package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
)

func runWebhook(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "webhook", args, map[string]func(context.Context, *cliEnv, []string) error{
		"add":           runWebhookAdd,
		"list":          runWebhookList,
		"remove":        runWebhookRemove,
		"deliveries":    runWebhookDeliveries,
		"redeliver":     runWebhookRedeliver,
		"rotate-secret": runWebhookRotateSecret,
	})
}

// runWebhookAdd registers a hook and prints its secret, shown only once.
func runWebhookAdd(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("webhook add", env)
	app := cmd.requireApp()
	var req api.CreateWebhookRequest
	cmd.StringVar(&req.URL, "url", "", "http(s) URL the events are POSTed to (required)")
	cmd.Var((*appList)(&req.Events), "events", "event types, comma-separated: bundle.uploaded, channel.changed (required)")
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	if req.URL == "" || len(req.Events) == 0 {
		return fmt.Errorf("webhook add: --url and --events are required (e.g. --events bundle.uploaded,channel.changed)")
	}
	out, err := c.CreateWebhook(ctx, *app, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, out)
	}
	fmt.Fprintln(env.stdout, out.Secret)
	fmt.Fprintf(env.stderr, "Added webhook %s of %s for %s -> %s; the secret above signs its deliveries and is shown only once.\n",
		out.ID, out.App, strings.Join(out.Events, ","), out.URL)
	return nil
}

func runWebhookList(ctx context.Context, env *cliEnv, args []string) error {
	return listOfApp(ctx, env, args, "webhook list", (*client.Client).ListWebhooks, "ID\tEVENTS\tURL\tCREATED\tPREVIOUS SECRET EXPIRES", func(h api.Webhook) string {
		prev := "-"
		if h.PreviousSecretExpires != nil {
			prev = h.PreviousSecretExpires.Local().Format(timeLayout)
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", h.ID, strings.Join(h.Events, ","), h.URL, h.CreatedAt.Format(timeLayout), prev)
	})
}

func runWebhookRemove(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("webhook remove", env)
	c, rest, err := cmd.connect(env, args, "WEBHOOK_ID")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.DeleteWebhook(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Removed webhook %s and its pending deliveries\n", rest[0])
	return nil
}

func runWebhookDeliveries(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("webhook deliveries", env)
	app := cmd.requireApp()
	hook := cmd.String("hook", "", "only this webhook's deliveries")
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	ds, err := c.WebhookDeliveries(ctx, *app, *hook)
	if err != nil {
		return err
	}
	return printList(env, *asJSON, ds, "DELIVERY\tHOOK\tEVENT\tTYPE\tSTATUS\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR", func(d api.WebhookDelivery) string {
		next := "-"
		if d.NextAttempt != nil {
			next = d.NextAttempt.Local().Format("2006-01-02 15:04:05")
		}
		lastErr := d.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s", d.ID, d.Hook, d.Event, d.Type, d.Status, d.Attempts, next, lastErr)
	})
}

func runWebhookRedeliver(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("webhook redeliver", env)
	app := cmd.requireApp()
	c, rest, err := cmd.connect(env, args, "DELIVERY_ID")
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.RedeliverWebhook(ctx, *app, rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Delivery %s (%s) of webhook %s is queued again\n", d.ID, d.Type, d.Hook)
	return nil
}
