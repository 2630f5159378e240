using System;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using System.Threading;

namespace FastPt.Mm;

/// <summary>The kernel's <c>struct mmu_gather</c>: cleared ranges and detached table pages are collected, the TLBs
/// are flushed once, and only then is anything freed (<c>tlb_gather_mmu</c> … <c>tlb_finish_mmu</c>). Mm code takes
/// this core; the public <c>MmuGather</c> is a handle over one that a user begins and disposes.</summary>
internal sealed class MmuGatherCore
{
    /// <summary>Pending frees after which the gather flushes and frees before collecting more.</summary>
    public const int BatchLimit = 4096;

    /// <summary>Above this many pages a range flush becomes a full flush (Linux
    /// <c>tlb_single_page_flush_ceiling</c>).</summary>
    public const ulong FullFlushCeilingPages = 33;

    /// <summary>Tables one batch page holds (<c>MAX_TABLE_BATCH</c>): its first word is the count.</summary>
    public const int TableBatchCapacity = Paging.EntriesPerTable - 1;

    private const ulong NoBatch = ulong.MaxValue;

    private readonly MmStruct _mm;
    private readonly bool _owned;
    // tlb_remove_table: tables go into batch pages (real frames) that are freed after an RCU grace period; the
    // tables for which no batch page could be allocated wait in _syncTables for tlb_remove_table_sync_one.
    private ulong _batchPfn = NoBatch;
    private int _batchCount;
    private ulong[] _fullBatches = new ulong[8];
    private int _fullBatchCount;
    private ulong[] _syncTables = new ulong[16];
    private int _syncCount;
    private int _tableCount;
    private ulong[] _pages = new ulong[16];
    private int _pageCount;
    // The range to flush, [_start, _last] inclusive (empty while start > last): a range may end at 2^64.
    private ulong _start = ulong.MaxValue;
    private ulong _last;
    private bool _active;
    private bool _freeing;
    private long _flushSequence;
    private int _flushes;
    private long _tablesFreed;
    private long _reservedPagesFreed;

    public MmuGatherCore(MmStruct mm, bool owned)
    {
        _mm = mm;
        _owned = owned;
        _active = !owned;
    }

    /// <summary>TLB flushes this gather has issued.</summary>
    public int Flushes => _flushes;

    /// <summary>Page-table pages this gather has freed.</summary>
    public long TablesFreed => _tablesFreed;

    /// <summary>Boot frames (memblock reservations, such as boot memmap) among the single frames this gather freed
    /// through the per-CPU path since <see cref="Begin"/>: they went to <c>free_reserved_page</c>.</summary>
    public long ReservedPagesFreed => _reservedPagesFreed;

    /// <summary>Table pages waiting for the flush.</summary>
    public int PendingTables => _tableCount;

    /// <summary>Tables and frames waiting for the flush.</summary>
    public int PendingFrees => _tableCount + _pageCount;

    public bool IsActive => _active;

    public MmStruct Mm => _mm;

    public void Begin()
    {
        if (_active) ThrowHelper.ThrowGatherInUse();
        _active = true;
        _flushes = 0;
        _tablesFreed = 0;
        _reservedPagesFreed = 0;
    }

    public void EnsureUsableFor(MmStruct mm)
    {
        if (!_active) ThrowHelper.ThrowGatherFinished();
        if (!ReferenceEquals(mm, _mm)) ThrowHelper.ThrowGatherOfAnotherSpace();
    }

    /// <summary>Records that translations of [start, end) changed and must be flushed (an end of 0 means 2^64).</summary>
    public void AddRange(ulong start, ulong end)
    {
        if (end == start) return;
        if (start < _start) _start = start;
        if (end - 1 > _last) _last = end - 1;
    }

    /// <summary>True when the batch is full: the caller flushes (<see cref="FlushIfFull"/>) as soon as it holds no
    /// page-table lock.</summary>
    public bool IsFull => _tableCount + _pageCount >= BatchLimit;

    /// <summary>Flushes and frees if the batch is full. Never call it holding a page-table lock: the flush waits for
    /// RCU readers, and a fault inside its read-side section may be spinning on that lock (the kernel's
    /// <c>zap_pte_range</c> likewise drops the PTE lock before <c>tlb_flush_mmu</c>).</summary>
    public void FlushIfFull()
    {
        if (IsFull) FlushAndFree();
    }

    /// <summary>Queues a table that was just cleared from its parent (<c>pte_free_tlb</c>, <c>pmd_free_tlb</c>,
    /// …). Never flushes: see <see cref="FlushIfFull"/>.</summary>
    public void RemoveTable(ulong tablePa, int level)
    {
        System.Threading.Interlocked.Decrement(ref _mm.Tables[level]);
        // Counted under the mmap lock the clearing operation holds: a map, which takes that lock too, sees the count
        // and makes its entries visible to cached walks (PageTableOps.CommitMap).
        System.Threading.Interlocked.Increment(ref _mm.QueuedTables);
        TlbRemoveTable(tablePa | (uint)level);
        _tableCount++;
    }

    /// <summary><c>tlb_remove_table</c>: the table goes into the current batch page, allocated without waiting
    /// (<c>GFP_NOWAIT</c>) when there is none; when no frame is free it is kept aside to be freed after the flush
    /// behind <c>tlb_remove_table_sync_one</c> instead.</summary>
    private unsafe void TlbRemoveTable(ulong item)
    {
        if (_batchPfn == NoBatch)
        {
            if (!_mm.Memory.Buddy.TryAllocate(0, zero: false, out ulong pfn))
            {
                if (_syncCount == _syncTables.Length) Array.Resize(ref _syncTables, _syncTables.Length * 2);
                _syncTables[_syncCount++] = item;
                return;
            }
            _batchPfn = pfn;
            _batchCount = 0;
        }
        ulong* batch = _mm.Memory.Physical.TableForWrite(_batchPfn << Paging.PageShift);
        batch[1 + _batchCount++] = item;
        if (_batchCount == TableBatchCapacity) CloseBatch();
    }

    private unsafe void CloseBatch()
    {
        if (_batchPfn == NoBatch) return;
        _mm.Memory.Physical.TableForWrite(_batchPfn << Paging.PageShift)[0] = (ulong)_batchCount;
        if (_fullBatchCount == _fullBatches.Length) Array.Resize(ref _fullBatches, _fullBatches.Length * 2);
        _fullBatches[_fullBatchCount++] = _batchPfn;
        _batchPfn = NoBatch;
        _batchCount = 0;
    }

    /// <summary>Queues a whole detached subtree: the table at <paramref name="tablePa"/> (at
    /// <paramref name="level"/>, translating [<paramref name="start"/>, <paramref name="end"/>)) and every table
    /// below it, uncounting its leaves. With <paramref name="freeFrames"/> (an anonymous region) the frames of its
    /// leaves go too, except the shared zero page. A walk on <see cref="PageWalk"/>: tables are queued bottom-up as
    /// the walker leaves them.</summary>
    public void RemoveSubtree(ulong tablePa, int level, ulong start, ulong end, bool freeFrames = false)
    {
        var ops = new RemoveSubtreeOps { Gather = this, Leaves = _mm.Leaves, FreeFrames = freeFrames };
        PageWalk.WalkFrom(_mm.Memory.Physical, tablePa, level, start, end, ref ops);
        RemoveTable(tablePa, level);
    }

    /// <summary>The walk of <see cref="RemoveSubtree"/>: reads only (the subtree is detached, nobody else edits it).
    /// Leaf counts change atomically: faults in other regions of the address space count theirs meanwhile.</summary>
    private unsafe struct RemoveSubtreeOps : IPageWalkOps
    {
        public MmuGatherCore Gather;
        public long[] Leaves;
        public bool FreeFrames;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0) return WalkAction.Continue;
            if (!PageTableEntry.IsLeaf(value, level)) return WalkAction.Descend;
            System.Threading.Interlocked.Decrement(ref Leaves[level]);
            if (FreeFrames) Gather.RemoveAnonymousFrame(value, level);
            return WalkAction.Continue;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            var span = new ReadOnlySpan<ulong>(ptes, count);
            System.Threading.Interlocked.Add(ref Leaves[Paging.PteLevel], -(count - span.Count(0UL)));
            if (FreeFrames)
                foreach (ulong value in span)
                    if (value != 0) Gather.RemoveAnonymousFrame(value, Paging.PteLevel);
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next)
        {
            Gather.RemoveTable(PageTableEntry.TableAddress(*entry), level - 1);
            return WalkAction.Continue;
        }
    }

    /// <summary>Queues the frame of an anonymous leaf (a 4 KiB page or a 2 MiB transparent huge page) unless it is
    /// the shared zero page.</summary>
    public void RemoveAnonymousFrame(ulong leaf, int level)
    {
        ulong pfn = PageTableEntry.LeafAddress(leaf, level) >> Paging.PageShift;
        if (pfn == _mm.Memory.ZeroPfn) return;
        RemovePages(pfn, Paging.LevelShift(level) - Paging.PageShift, perCpu: true);
    }

    /// <summary>Queues data frames to free after the flush (<c>tlb_remove_page</c>). Never flushes: see
    /// <see cref="FlushIfFull"/>. <paramref name="perCpu"/>: a single frame goes onto this CPU's per-CPU list
    /// (<c>free_unref_page</c>, as user frames and HVO's vmemmap pages do); larger blocks, and frames without the
    /// mark, go straight to the buddy lists (or <c>free_reserved_page</c> for boot memory).</summary>
    public void RemovePages(ulong pfn, int order, bool perCpu = false)
    {
        if (_pageCount == _pages.Length) Array.Resize(ref _pages, _pages.Length * 2);
        // pfn, a per-CPU mark, the order.
        _pages[_pageCount++] = (pfn << 6) | (perCpu ? 32u : 0u) | (uint)order;
    }

    /// <summary><see cref="RemovePages"/> of single frames for the per-CPU lists, flushing and freeing each time the
    /// batch fills (<see cref="FlushIfFull"/>: call it holding no page-table lock).</summary>
    public void RemoveSinglePages(ReadOnlySpan<ulong> pfns)
    {
        foreach (ulong pfn in pfns)
        {
            if (_pageCount == _pages.Length) Array.Resize(ref _pages, _pages.Length * 2);
            _pages[_pageCount++] = (pfn << 6) | 32u;
            if (IsFull) FlushAndFree();
        }
    }

    /// <summary>Flushes what was collected, waits out lockless walkers, then frees (<c>tlb_finish_mmu</c>).</summary>
    public void Finish()
    {
        if (!_active) return;
        FlushAndFree();
        if (_owned) _active = false;
    }

    private void FlushAndFree()
    {
        bool haveFrees = _tableCount + _pageCount > 0;
        if (_last >= _start || haveFrees) FlushTlb();
        // The flush just published drops every cached walk through the queued tables.
        System.Threading.Interlocked.Add(ref _mm.QueuedTables, -_tableCount);
        if (!haveFrees) return;
        MemoryManager memory = _mm.Memory;
        // CPU contexts walk with only their busy flag raised: wait until each has seen the flush (and dropped its
        // cached partial walks) or left its walk. After that only lockless walkers in RCU read-side sections
        // (lockless translation, inspection, the kernel's descriptor walks) can still reach a detached table.
        _mm.Flush.WaitForAcknowledgement(_mm.Flush.Generation);
        CloseBatch();
        bool synchronized = false;
        if (_pageCount > 0 || _syncCount > 0)
        {
            // Data frames are freed after a grace period; so are the tables no batch page could hold
            // (tlb_remove_table_sync_one: walkers in read-side sections are the ones it must wait for here).
            memory.Rcu.Synchronize();
            synchronized = true;
        }
        var token = new FlushedToken(this, _flushSequence);
        _freeing = true;
        try
        {
            for (int i = 0; i < _syncCount; i++) FreeTable(memory, _syncTables[i], token);
            Vmstat.Add(ref memory.Stat.TableSyncFrees, _syncCount);
            for (int i = 0; i < _fullBatchCount; i++)
            {
                // A grace period already passed after the flush: the batch needs no other.
                if (synchronized) RcuTableBatch.FreeBatch(memory, _fullBatches[i], token);
                else memory.TableBatches.Queue(_fullBatches[i]);
            }
            for (int i = 0; i < _pageCount;)
            {
                ulong item = _pages[i];
                if (item % 64 != 32)
                {
                    memory.FreePages(item >> 6, (int)(item & 31));
                    i++;
                    continue;
                }
                // A run of single frames for the per-CPU lists, decoded in place (the list is emptied below): one
                // list-lock hold for the run (free_unref_folios).
                int run = i;
                for (; run < _pageCount && _pages[run] % 64 == 32; run++) _pages[run] >>= 6;
                _reservedPagesFreed += memory.Buddy.FreeHotBulk(_pages.AsSpan(i, run - i));
                i = run;
            }
        }
        finally
        {
            _freeing = false;
        }
        _tablesFreed += _tableCount;
        _tableCount = 0;
        _syncCount = 0;
        _fullBatchCount = 0;
        _pageCount = 0;
        // Free the batches now when no reader holds a grace period up (the common case), else later.
        if (!synchronized) memory.Rcu.Poll();
    }

    private static void FreeTable(MemoryManager memory, ulong item, in FlushedToken token) =>
        memory.PageTables.FreeFlushed(item >> Paging.PageShift, (int)(item & 7), token);

    private void FlushTlb()
    {
        bool empty = _last < _start;
        ulong start = empty ? 0 : _start;
        ulong end = empty ? 0 : _last + 1; // 0 when the range ends at 2^64
        FlushKind kind;
        if (_mm.IsKernel) kind = FlushKind.Kernel;
        else if (empty) kind = FlushKind.All; // only tables went away: drop cached partial walks
        else if ((_last - start) >> Paging.PageShift >= FullFlushCeilingPages) kind = FlushKind.All;
        else kind = _last - start == Paging.PageSize - 1 ? FlushKind.Page : FlushKind.Range;
        _mm.Memory.FlushTlb(_mm, new FlushRequest(start, end, kind, _tableCount > 0));
        _flushSequence++;
        _flushes++;
        _start = ulong.MaxValue;
        _last = 0;
        if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.TlbFlush(_mm.Id, kind, start, end, _mm.Flush.Contexts.Length);
    }

    /// <summary>Ends a gather a user began: takes the page-table lock, flushes once, frees what was collected, and
    /// leaves the gather unusable.</summary>
    public void Release()
    {
        if (!_active) return;
        if (_mm.Memory.IsDisposed)
        {
            // The machine is gone and all its memory with it: there is nothing left to flush or free.
            _active = false;
            return;
        }
        using (_mm.LockMmap())
        {
            Finish();
        }
        _active = false;
    }

    /// <summary>Proof that a flush covering the items being freed has happened. Only the gather makes one, only
    /// while freeing after its flush, and the RCU callback of a batch the gather queued after its flush;
    /// <see cref="PageTableAllocator.FreeFlushed"/> rejects any other.</summary>
    public readonly struct FlushedToken
    {
        private readonly object? _owner;
        private readonly long _sequence;

        internal FlushedToken(MmuGatherCore owner, long sequence)
        {
            _owner = owner;
            _sequence = sequence;
        }

        internal FlushedToken(RcuTableBatch owner)
        {
            _owner = owner;
            _sequence = 1;
        }

        public void Validate()
        {
            bool valid = _owner switch
            {
                MmuGatherCore g => g._freeing && g._flushSequence == _sequence && _sequence != 0,
                RcuTableBatch b => b.Freeing,
                _ => false,
            };
            if (!valid) ThrowHelper.ThrowInvariant("page-table page freed without a completed TLB flush");
        }
    }

    /// <summary>The RCU side of <c>tlb_remove_table</c> (<c>tlb_remove_table_rcu</c>): a batch page the gather
    /// queued after its flush is freed, with every table it lists, once a grace period has passed.</summary>
    internal sealed unsafe class RcuTableBatch : Sync.IRcuCallback
    {
        private readonly MemoryManager _memory;
        private int _freeing;

        public RcuTableBatch(MemoryManager memory) => _memory = memory;

        /// <summary>True while a batch is being freed after its grace period.</summary>
        public bool Freeing => Volatile.Read(ref _freeing) != 0;

        /// <summary><c>tlb_remove_table_free</c>: <c>call_rcu</c> on the batch.</summary>
        public void Queue(ulong batchPfn)
        {
            long count = (long)_memory.Physical.TableForRead(batchPfn << Paging.PageShift)[0];
            Vmstat.Add(ref _memory.Stat.TableBatchesQueued, 1);
            Vmstat.Add(ref _memory.Stat.RcuPendingTableBytes, count * (long)Paging.PageSize);
            _memory.Rcu.CallRcu(this, batchPfn);
        }

        public void Invoke(ulong batchPfn)
        {
            long count = (long)_memory.Physical.TableForRead(batchPfn << Paging.PageShift)[0];
            Vmstat.Add(ref _memory.Stat.RcuPendingTableBytes, -count * (long)Paging.PageSize);
            // Callbacks run one batch at a time (the domain's poller), so the flag is this thread's.
            Volatile.Write(ref _freeing, 1);
            try
            {
                FreeBatch(_memory, batchPfn, new FlushedToken(this));
            }
            finally
            {
                Volatile.Write(ref _freeing, 0);
            }
        }

        /// <summary><c>__tlb_remove_table_free</c>: frees every table of the batch, then the batch page.</summary>
        public static void FreeBatch(MemoryManager memory, ulong batchPfn, in FlushedToken token)
        {
            ulong* batch = memory.Physical.TableForRead(batchPfn << Paging.PageShift);
            int count = (int)batch[0];
            for (int i = 0; i < count; i++) FreeTable(memory, batch[1 + i], token);
            memory.Buddy.Free(batchPfn, 0);
        }
    }
}
