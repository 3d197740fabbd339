package patcher

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/patchwire/patchwire/delta"
)

// Encoding patches. Every patch is an ordinary patch of its codec, so any
// encoder that writes the format will do. For "zstd-dict" the zstd command
// line tool, when installed, writes patches 20–30 % smaller than the Go
// encoder (its -19 level parses optimally; klauspost/compress's best level
// does not, see docs/architecture.md): the patcher then uses it, keeping
// the Go encoder's patch instead for inputs under zstdCLIMin bytes when
// that is smaller, and the Go encoder alone when the tool fails. Patches are made in the background, so its slower
// encode (about 4 MB/s) delays only when the better plan appears. Whatever
// made a patch, the patcher applies it back with the Go decoder, which is
// what devices run, and hashes the output before storing it.

// zstdCLIMin: smaller inputs are encoded both ways and the smaller patch
// kept (for a change of a few files the tool's patch is often a hundred
// bytes smaller, which is much of what a device downloads; encoding twice
// costs little at that size).
const zstdCLIMin = 16 << 10

// The special values of Options.ZstdCLI.
const (
	// ZstdCLIAuto uses `zstd` from PATH when there is one.
	ZstdCLIAuto = ""
	// ZstdCLIOff always uses the Go encoder.
	ZstdCLIOff = "off"
)

// encoder encodes patches, with the zstd tool when configured.
type encoder struct {
	zstd   string // path of the zstd tool, "" for none
	tmpDir string // where its inputs are written
	log    *slog.Logger
}

// newEncoder resolves cfg (ZstdCLIAuto, ZstdCLIOff or a path).
func newEncoder(cfg, tmpDir string, log *slog.Logger) *encoder {
	if tmpDir == "" {
		tmpDir = os.TempDir()
	}
	e := &encoder{tmpDir: tmpDir, log: log}
	switch cfg {
	case ZstdCLIOff:
	case ZstdCLIAuto:
		if p, err := exec.LookPath("zstd"); err == nil {
			e.zstd = p
		}
	default:
		e.zstd = cfg
	}
	return e
}

// encode encodes the concatenation of new against the concatenation of
// dict with codec.
func (e *encoder) encode(ctx context.Context, codec delta.Codec, dict, new [][]byte) ([]byte, error) {
	if codec.Name() == delta.NameZstdDict && e.zstd != "" {
		p, err := e.zstdCLI(ctx, dict, new)
		if err == nil && delta.BundleSize(new) >= zstdCLIMin {
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			e.log.Warn("zstd tool failed; using the Go encoder", "zstd", e.zstd, "err", err)
		} else if g, gerr := delta.EncodeBundle(codec, dict, new); gerr == nil && len(g) < len(p) {
			return g, nil
		}
		if err == nil {
			return p, nil
		}
	}
	return delta.EncodeBundle(codec, dict, new)
}

// zstdCLI runs `zstd -19 --long=N --patch-from=OLD NEW` with a window
// covering old and new.
func (e *encoder) zstdCLI(ctx context.Context, dict, new [][]byte) ([]byte, error) {
	total := delta.BundleSize(dict) + delta.BundleSize(new)
	if total > delta.ZstdMaxPair {
		return nil, fmt.Errorf("%d bytes: %w", total, delta.ErrTooLarge)
	}
	if err := os.MkdirAll(e.tmpDir, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(e.tmpDir, "patch-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	old, nw, out := filepath.Join(dir, "old"), filepath.Join(dir, "new"), filepath.Join(dir, "patch")
	if err := writeParts(old, dict); err != nil {
		return nil, err
	}
	if err := writeParts(nw, new); err != nil {
		return nil, err
	}
	long := max(10, bits.Len64(uint64(max(total-1, 1))))
	cmd := exec.CommandContext(ctx, e.zstd, "-19", fmt.Sprintf("--long=%d", long), "-q", "-f", "--no-progress",
		"--patch-from="+old, nw, "-o", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return os.ReadFile(out)
}

// writeParts writes the concatenation of parts to name.
func writeParts(name string, parts [][]byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := f.Write(p); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
