package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("patchwire "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parseArgs parses flags that may come before, between or after positional
// arguments ("bundle upload ./dist --app X" as well as "--app X ./dist"),
// and returns the positional ones. "--" ends flag parsing.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(args []string, n int, what string) error {
	if len(args) != n {
		return usageError(fmt.Sprintf("want %s, got %d arguments: %s", what, len(args), strings.Join(args, " ")))
	}
	return nil
}

// parsePositional parses args as parseArgs does and checks that exactly the
// named positional arguments were given (none when names is empty), with
// wantArgs's message; it returns them.
func parsePositional(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	rest, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	what := "no arguments"
	if len(names) > 0 {
		what = strings.Join(names, " ")
	}
	if err := wantArgs(rest, len(names), what); err != nil {
		return nil, err
	}
	return rest, nil
}

// applyEnv sets every flag not given on the command line from the
// environment variable PATCHWIRE_<FLAG> (upper case, '-' as '_').
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := "PATCHWIRE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}
