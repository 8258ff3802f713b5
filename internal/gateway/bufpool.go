/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import "sync"

// maxPooledBuffer is the largest buffer kept for reuse: a full page of the
// default page size (50 entries of about 1 kB) and more. A larger buffer
// (a page of the largest page size a region may allow) is left to the
// garbage collector, so that what the pools hold stays small.
const maxPooledBuffer = 128 << 10

// bufferPool keeps the buffers the gateway reads the record service's
// answers into, and writes its own answers to, for the next response: a
// search of 20 entries used to allocate about 40 kB for the two, which made
// the garbage collector run, and slow the answers in flight, more often.
//
// A buffer is put back only by its one owner, once nothing refers to it
// any more: the record service's answer once the caller's answer is
// written (reservation.release, which may be called more than once, puts
// it back at most once), the caller's answer once it is written. What a
// pool holds is not counted in the memory budget: it is at most one
// buffer of maxPooledBuffer for each response that was in flight at once,
// and sync.Pool drops what is not reused within two garbage collections.
type bufferPool struct{ pool sync.Pool }

// get is an empty buffer with room for size bytes.
func (p *bufferPool) get(size int) *[]byte {
	if size <= maxPooledBuffer {
		if buf, ok := p.pool.Get().(*[]byte); ok {
			if cap(*buf) >= size {
				return buf
			}
			p.pool.Put(buf)
		}
	}
	buf := make([]byte, 0, size)
	return &buf
}

// put gives a buffer back for reuse, emptied. Nothing may refer to its
// bytes any more.
func (p *bufferPool) put(buf *[]byte) {
	if buf == nil || cap(*buf) > maxPooledBuffer || cap(*buf) == 0 {
		return
	}
	*buf = (*buf)[:0]
	p.pool.Put(buf)
}

// The pools of upstream answers and of the gateway's own answers.
var (
	upstreamBodies bufferPool
	answerBodies   bufferPool
)
