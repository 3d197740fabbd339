// Command patchwire is the whole of patchwire in one binary: the server
// (`patchwire serve`) and the CLI that CI and operators use against it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand (or group of them).
type command struct {
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what every command may use: its output streams and environment.
type cliEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() map[string]command {
	return map[string]command{
		"serve":   {"run the server", runServe},
		"login":   {"save the server URL and API key for later commands", runLogin},
		"app":     {"add and list apps", runApp},
		"bundle":  {"upload, list and delete bundle versions", runBundle},
		"key":     {"create, list and delete API keys", runKey},
		"channel": {"create channels, set their bundle, roll out, roll back", runChannel},
		"device":  {"pin a device to a channel (override); the reference device updater (seed, update, start, ready, status)", runDevice},
		"webhook": {"send an app's events (bundle uploaded, channel changed) to URLs, signed; see their deliveries", runWebhook},
		"stats":   {"per-bundle device statistics: devices, downloads, installs, failures, rollbacks", runStats},
		"store":   {"back up, restore and verify the store (backup works on a running server)", runStore},
		"bench":   {"measure bytes per update (vs zip, Capgo, zstd, bsdiff) and server load (vs nginx)", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if err := run(ctx, env, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "patchwire:", err)
		}
		os.Exit(exitCode(err))
	}
}

// run dispatches args to a subcommand.
func run(ctx context.Context, env *cliEnv, args []string) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stdout, cmds)
		if len(args) == 0 {
			return usageError("no command given")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(env.stderr, cmds)
		return usageError(fmt.Sprintf("unknown command %q", args[0]))
	}
	return c.run(ctx, env, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: patchwire <command> [arguments]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `patchwire <command> -h` for a command's flags.")
}

// usageErr is a mistake in the command line (exit status 2).
type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usageError(msg string) error { return usageErr{msg} }

func exitCode(err error) int {
	var ue usageErr
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}
