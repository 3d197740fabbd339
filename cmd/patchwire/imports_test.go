package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirections guards the package layering of docs/architecture.md:
// each package may import only the patchwire packages listed for it.
func TestImportDirections(t *testing.T) {
	allowed := map[string][]string{
		"manifest":                         {},
		"delta":                            {},
		"step":                             {"delta", "manifest"},
		"api":                              {"manifest"},
		"checksig":                         {"api"},
		"store":                            {"api", "checksig", "manifest", "webhook"},
		"webhook":                          {},
		"server/webhooks":                  {"api", "store", "webhook"},
		"resolver":                         {"manifest"},
		"server/catalog":                   {"api", "resolver", "store"},
		"server/capgo":                     {"api", "manifest", "resolver", "server/catalog", "store"},
		"server/patcher":                   {"api", "delta", "manifest", "resolver", "step", "store"},
		"server/native":                    {"api", "checksig", "resolver", "server/catalog", "server/patcher"},
		"server":                           {"api", "checksig", "delta", "manifest", "resolver", "server/capgo", "server/catalog", "server/console", "server/internal/http2", "server/native", "server/patcher", "server/webhooks", "store"},
		"server/internal/http2":            {"server/internal/http2/httpcommon", "server/internal/http2/httpsfv"},
		"server/internal/http2/httpcommon": {},
		"server/internal/http2/httpsfv":    {},
		"server/console":                   {},
		"bench/viteapp":                    {},
		"client":                           {"api", "manifest"},
		"client/device":                    {"api", "checksig", "delta", "manifest", "step"},
		"client/capgo":                     {"api", "manifest"},
		"server/servertest":                {"client", "server", "store", "api", "manifest"},
		"store/s3test":                     {"store/internal/testserver"},
		"store/pgtest":                     {"store/internal/testserver"},
		"store/internal/testserver":        {},
	}
	const mod = "github.com/patchwire/patchwire/"
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "../../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			name, ours := strings.CutPrefix(imp, mod)
			if !ours {
				continue
			}
			found := false
			for _, a := range ok {
				found = found || a == name
			}
			if !found {
				t.Errorf("%s imports %s, which docs/architecture.md does not allow", pkg, name)
			}
		}
	}
}
