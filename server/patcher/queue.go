package patcher

import "container/heap"

// queued is a waiting job and its priority: how many devices run its base.
type queued struct {
	job     job
	devices int64
}

// jobQueue is a max-heap of waiting jobs by devices (container/heap), with
// the position of each job so a job scheduled again can be raised. Ties go
// to the job queued first (seq), so equal priorities keep their order.
type jobQueue struct {
	items []queued
	seqs  []uint64
	seq   uint64
	index map[job]int
}

// Len is the number of waiting jobs.
func (q *jobQueue) Len() int { return len(q.items) }

// Less puts more devices first, then the older job.
func (q *jobQueue) Less(i, j int) bool {
	if q.items[i].devices != q.items[j].devices {
		return q.items[i].devices > q.items[j].devices
	}
	return q.seqs[i] < q.seqs[j]
}

// Swap swaps two jobs and their positions.
func (q *jobQueue) Swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.seqs[i], q.seqs[j] = q.seqs[j], q.seqs[i]
	q.index[q.items[i].job] = i
	q.index[q.items[j].job] = j
}

// Push appends a queued (heap.Push).
func (q *jobQueue) Push(x any) {
	it := x.(queued)
	q.index[it.job] = len(q.items)
	q.items = append(q.items, it)
	q.seqs = append(q.seqs, q.seq)
	q.seq++
}

// Pop removes the last queued (heap.Pop).
func (q *jobQueue) Pop() any {
	n := len(q.items) - 1
	it := q.items[n]
	q.items, q.seqs = q.items[:n], q.seqs[:n]
	delete(q.index, it.job)
	return it
}

// raise gives a waiting job at least devices priority; a job not waiting
// (running, or not queued) is left alone.
func (q *jobQueue) raise(j job, devices int64) {
	i, ok := q.index[j]
	if !ok || q.items[i].devices >= devices {
		return
	}
	q.items[i].devices = devices
	heap.Fix(q, i)
}
