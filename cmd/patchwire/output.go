package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/patchwire/patchwire/client"
)

// printJSON writes v as indented JSON on stdout.
func printJSON(env *cliEnv, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.stdout, string(b))
	return err
}

// timeLayout is how tables show a creation time: to the minute.
const timeLayout = "2006-01-02 15:04"

// newTable starts a table on stdout: a tabwriter with the CLI's column
// layout and tabwriter flags (0, or e.g. tabwriter.AlignRight), header
// already written. Flush it after the rows.
func newTable(env *cliEnv, flags uint, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', flags)
	fmt.Fprintln(tw, header)
	return tw
}

// listOfApp runs a list command of one app (`NAME --app A [--json]`):
// fetch asks the server, and printList prints what it answers.
func listOfApp[T any](ctx context.Context, env *cliEnv, args []string, name string,
	fetch func(*client.Client, context.Context, string) ([]T, error), header string, row func(T) string) error {
	cmd := newAPICommand(name, env)
	app := cmd.requireApp()
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	items, err := fetch(c, ctx, *app)
	if err != nil {
		return err
	}
	return printList(env, *asJSON, items, header, row)
}

// printList prints items as JSON when asJSON, or else as a table: header,
// then the line row(item) for each item.
func printList[T any](env *cliEnv, asJSON bool, items []T, header string, row func(T) string) error {
	if asJSON {
		return printJSON(env, items)
	}
	tw := newTable(env, 0, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

func joinKeys[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// humanBytes renders n as B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
