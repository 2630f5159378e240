using System;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;

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

    private readonly MmStruct _mm;
    private readonly bool _owned;
    private ulong[] _tables = new ulong[64];
    private int _tableCount;
    private ulong[] _pages = new ulong[16];
    private int _pageCount;
    private ulong _start = ulong.MaxValue;
    private ulong _end;
    private bool _active;
    private bool _freeing;
    private long _flushSequence;
    private int _flushes;
    private long _tablesFreed;

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

    /// <summary>Table pages waiting for the flush.</summary>
    public int PendingTables => _tableCount;

    public bool IsActive => _active;

    public MmStruct Mm => _mm;

    public void Begin()
    {
        if (_active) throw new InvalidOperationException("gather already in use");
        _active = true;
        _flushes = 0;
        _tablesFreed = 0;
    }

    public void EnsureUsableFor(MmStruct mm)
    {
        if (!_active) ThrowHelper.ThrowGatherFinished();
        if (!ReferenceEquals(mm, _mm)) throw new ArgumentException("The gather belongs to another address space.");
    }

    /// <summary>Records that translations of [start, end) changed and must be flushed.</summary>
    public void AddRange(ulong start, ulong end)
    {
        if (start < _start) _start = start;
        if (end > _end) _end = end;
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
        if (_tableCount == _tables.Length) Array.Resize(ref _tables, _tables.Length * 2);
        _tables[_tableCount++] = tablePa | (uint)level;
    }

    /// <summary>Queues a whole detached subtree: the table at <paramref name="tablePa"/> (at
    /// <paramref name="level"/>) and every table below it. With <paramref name="freeFrames"/> (an anonymous region)
    /// the frames of its leaves go too, except the shared zero page.</summary>
    public unsafe void RemoveSubtree(ulong tablePa, int level, bool countLeaves, bool freeFrames = false)
    {
        ulong* table = _mm.Memory.Physical.TableForRead(tablePa);
        if (level > Paging.PteLevel)
        {
            for (int i = 0; i < Paging.EntriesPerTable; i++)
            {
                ulong entry = table[i];
                if (entry == 0) continue;
                if (PageTableEntry.IsLeaf(entry, level))
                {
                    if (countLeaves) System.Threading.Interlocked.Decrement(ref _mm.Leaves[level]);
                    if (freeFrames) RemoveAnonymousFrame(entry, level);
                }
                else
                {
                    RemoveSubtree(PageTableEntry.TableAddress(entry), level - 1, countLeaves, freeFrames);
                }
            }
        }
        else if (countLeaves || freeFrames)
        {
            int used = 0;
            for (int i = 0; i < Paging.EntriesPerTable; i++)
            {
                ulong entry = table[i];
                if (entry == 0) continue;
                used++;
                if (freeFrames) RemoveAnonymousFrame(entry, Paging.PteLevel);
            }
            if (countLeaves) System.Threading.Interlocked.Add(ref _mm.Leaves[1], -used);
        }
        RemoveTable(tablePa, level);
    }

    /// <summary>Queues the frame of an anonymous leaf (a 4 KiB page or a 2 MiB transparent huge page) unless it is
    /// the shared zero page.</summary>
    public void RemoveAnonymousFrame(ulong leaf, int level)
    {
        ulong pfn = PageTableEntry.LeafAddress(leaf, level) >> Paging.PageShift;
        if (pfn == _mm.Memory.ZeroPfn) return;
        RemovePages(pfn, Paging.LevelShift(level) - Paging.PageShift);
    }

    /// <summary>Queues data frames to free after the flush (<c>tlb_remove_page</c>). Never flushes: see
    /// <see cref="FlushIfFull"/>.</summary>
    public void RemovePages(ulong pfn, int order)
    {
        if (_pageCount == _pages.Length) Array.Resize(ref _pages, _pages.Length * 2);
        _pages[_pageCount++] = (pfn << 5) | (uint)order;
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
        if (_end > _start || haveFrees) FlushTlb();
        if (!haveFrees) return;
        // CPU contexts walk with only their busy flag raised: wait until each has seen the flush or left its
        // walk. Other lockless walkers (inspection, the kernel's own) run inside RCU read-side sections. Once both
        // are past, nobody can reach the detached tables or the frames any more.
        _mm.Flush.WaitForAcknowledgement(_mm.Flush.Generation);
        _mm.Memory.Rcu.Synchronize();
        var token = new FlushedToken(this, _flushSequence);
        _freeing = true;
        try
        {
            for (int i = 0; i < _tableCount; i++)
            {
                ulong item = _tables[i];
                _mm.Memory.PageTables.FreeFlushed(item >> Paging.PageShift, (int)(item & 7), token);
            }
            for (int i = 0; i < _pageCount; i++)
            {
                ulong item = _pages[i];
                _mm.Memory.FreePages(item >> 5, (int)(item & 31));
            }
        }
        finally
        {
            _freeing = false;
        }
        _tablesFreed += _tableCount;
        _tableCount = 0;
        _pageCount = 0;
    }

    private void FlushTlb()
    {
        ulong start = _start == ulong.MaxValue ? 0 : _start;
        ulong end = _end;
        FlushKind kind;
        if (_mm.IsKernel) kind = FlushKind.Kernel;
        else if (end <= start) kind = FlushKind.All; // only tables went away: drop cached partial walks
        else if ((end - start) >> Paging.PageShift > FullFlushCeilingPages) kind = FlushKind.All;
        else kind = end - start == Paging.PageSize ? FlushKind.Page : FlushKind.Range;
        _mm.Memory.FlushTlb(_mm, new FlushRequest(start, end, kind, _tableCount > 0));
        _flushSequence++;
        _flushes++;
        _start = ulong.MaxValue;
        _end = 0;
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
    /// while freeing after its flush; <see cref="PageTableAllocator.FreeFlushed"/> rejects any other.</summary>
    public readonly struct FlushedToken
    {
        private readonly MmuGatherCore? _owner;
        private readonly long _sequence;

        public FlushedToken(MmuGatherCore owner, long sequence)
        {
            _owner = owner;
            _sequence = sequence;
        }

        public void Validate()
        {
            if (_owner is null || !_owner._freeing || _owner._flushSequence != _sequence || _sequence == 0)
                throw new InvalidOperationException("page-table page freed without a completed TLB flush");
        }
    }
}
