package bench

import (
	"os/exec"
	"strings"
)

// toolVersion is the first line a tool prints for args, "" on failure.
func toolVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}
