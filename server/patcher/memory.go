package patcher

import (
	"context"
	"sync"

	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/resolver"
)

// budget is a weighted semaphore of bytes: the memory patch jobs running at
// once may use. A job asking for more than the whole budget gets all of it
// (it runs alone) rather than never running.
type budget struct {
	mu    sync.Mutex
	free  *sync.Cond
	total int64
	used  int64
}

func newBudget(total int64) *budget {
	b := &budget{total: total}
	b.free = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes (at most the whole budget) are free, or ctx
// ends, and returns the function that gives them back.
func (b *budget) acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), b.total)
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.free.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used+n > b.total && ctx.Err() == nil {
		b.free.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.used += n
	return func() {
		b.mu.Lock()
		b.used -= n
		b.free.Broadcast()
		b.mu.Unlock()
	}, nil
}

// inUse is the bytes held now.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// jobMemory estimates the peak memory of making the patches keys of c: the
// dictionary and the delivered files read into one buffer each, the
// delivered files kept for the job, the applied-back copy, and the
// encoder's own state: zstd's window and match tables (about twice its
// input), bsdiff's suffix array (8 bytes per dictionary byte) and output.
func jobMemory(c *resolver.Changes, keys []resolver.PatchKey) int64 {
	in := c.DictionarySize + c.DeliverSize
	peak := int64(0)
	for _, k := range keys {
		var enc int64
		switch k.Codec {
		case delta.NameZstdDict:
			enc = 2 * in
		case delta.NameBsdiff:
			enc = 9*c.DictionarySize + 2*c.DeliverSize
		}
		peak = max(peak, enc)
	}
	if peak == 0 {
		return 0
	}
	return in + 2*c.DeliverSize + peak
}
