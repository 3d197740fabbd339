package main

import (
	"context"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/api"
)

// runWebhookRotateSecret gives a hook a new secret and prints it, shown
// only once; the previous one keeps signing until --expire-previous-in.
func runWebhookRotateSecret(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("webhook rotate-secret", env)
	var req api.RotateWebhookSecretRequest
	cmd.StringVar(&req.ExpirePreviousIn, "expire-previous-in", api.DefaultExpirePrevious.String(),
		"how long the previous secret keeps signing deliveries beside the new one (0: stop at once; at most 168h)")
	asJSON := cmd.Bool("json", false, "print JSON")
	c, rest, err := cmd.connect(env, args, "WEBHOOK_ID")
	if err != nil {
		return err
	}
	defer c.Close()
	out, err := c.RotateWebhookSecret(ctx, rest[0], req)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, out)
	}
	fmt.Fprintln(env.stdout, out.Secret)
	fmt.Fprintf(env.stderr, "Rotated the secret of webhook %s; the secret above signs its deliveries from now on and is shown only once.\n", out.ID)
	if out.PreviousSecretExpires != nil {
		fmt.Fprintf(env.stderr, "The previous secret signs them too until %s (in %s): give the receiver the new one before then.\n",
			out.PreviousSecretExpires.Local().Format(time.RFC3339), time.Until(*out.PreviousSecretExpires).Round(time.Minute))
	} else {
		fmt.Fprintln(env.stderr, "The previous secret stopped signing at once.")
	}
	return nil
}
