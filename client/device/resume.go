package device

import (
	"context"
	"io/fs"
	"path"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// Finishing a cut try rather than starting the step over.
//
// A device that checks right after a publish gets a step of whole objects
// (the server makes the bundle patch in the background), and a cut
// connection leaves part of those objects in DIR/tmp. Its next check may
// carry the step with the patch instead, which fetches none of those
// objects: taking it would throw their bytes away. resumeTarget keeps them
// when finishing the whole objects costs fewer bytes than the new step.

// tmpHolding is what DIR/tmp holds toward one object: have bytes of a
// representation total bytes long (-1: unknown), or the whole object,
// verified (done).
type tmpHolding struct {
	have, total int64
	done        bool
}

// tmpHoldings lists what DIR/tmp holds toward each object.
func (u *updater) tmpHoldings() map[manifest.Digest]tmpHolding {
	ents, err := fs.ReadDir(u.st.root.FS(), tmpDir)
	if err != nil {
		return nil
	}
	out := make(map[manifest.Digest]tmpHolding)
	for _, e := range ents {
		name, part := strings.CutSuffix(e.Name(), ".part")
		d, err := manifest.ParseDigest(name)
		if err != nil || e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		h := out[d]
		if !part {
			h.done, h.have = true, info.Size()
			out[d] = h
			continue
		}
		if h.done {
			continue
		}
		h.have, h.total = info.Size(), -1
		var meta partMeta
		if err := u.st.readJSON(path.Join(tmpDir, name+".meta"), &meta); err == nil && meta.Total >= h.have {
			h.total = meta.Total
		}
		out[d] = h
	}
	return out
}

// left is the bytes still to fetch of an object of size bytes (all of
// them when nothing is held).
func (h tmpHolding) left(size int64) int64 {
	switch {
	case h.done:
		return 0
	case h.total > 0:
		return max(h.total-h.have, 0)
	}
	return max(size-h.have, 0)
}

// resumeTarget returns the signed target's manifest when the whole objects
// the update needs beyond the bundle from, less what DIR/tmp already holds
// of them, come to fewer bytes than what is left of up's step; nil when
// DIR/tmp holds nothing toward them, the step is cheaper, or the manifest
// cannot be had (the step then decides, as when nothing was cut).
func (u *updater) resumeTarget(ctx context.Context, from *manifest.Manifest, up *api.Update) *manifest.Manifest {
	held := u.tmpHoldings()
	stepHeld := held[up.Step.Digest]
	delete(held, up.Step.Digest)
	if len(held) == 0 {
		return nil
	}
	target, err := u.targetManifest(ctx, up.Target)
	if err != nil {
		return nil
	}
	have := make(map[manifest.Digest]bool, from.Len())
	for _, e := range from.Entries() {
		have[e.Digest] = true
	}
	var objectsLeft int64
	usesHeld := false
	for _, e := range target.Entries() {
		if have[e.Digest] {
			continue
		}
		have[e.Digest] = true
		h, ok := held[e.Digest]
		usesHeld = usesHeld || ok
		objectsLeft += h.left(e.Size)
	}
	if !usesHeld || objectsLeft >= stepHeld.left(up.Step.Size) {
		return nil
	}
	u.log.Info("finishing the whole objects a cut try left rather than fetching the step",
		"objects_left", objectsLeft, "step", up.Step.Size)
	return target
}
