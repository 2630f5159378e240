using System;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>One address space's PTE-fragment cursor (powerpc's <c>mm->context.pte_frag</c>): the block it hands
/// fragments out of, the next fragment, and the blocks allocated ahead for an operation that reserved more
/// fragments than the cursor holds. Fragments are never handed out twice: a freed fragment stays with its block
/// until the block's last fragment goes.</summary>
internal sealed class PteFragmentCursor
{
    // Guards the fields below: operations reserve and take under it, teardown destroys under it.
    public RawSpinLock Lock;
    public bool HasBlock;
    public ulong BlockPfn;
    public int Next;
    public ulong[] Spare = new ulong[4];
    public int SpareCount;
    public int Reserved;
}

/// <summary>PTE tables as fragments of page-table blocks (<c>arch/powerpc/mm/pgtable-frag.c</c>): a block is
/// <see cref="PerBlock"/> naturally aligned frames (1 on x86, up to 16 like powerpc's 64 KiB pages); each frame is
/// an ordinary x86 PTE table, and the block's first descriptor holds <c>pt_frag_refcount</c> and the one RCU head
/// every fragment shares. All refcount arithmetic is interlocked; frees go through the machine's
/// <see cref="IPteFreeDeferScheme"/>, which also implements <c>pte_free_defer</c>.</summary>
/// <remarks>Operations reserve what their commit pass will take (<see cref="TryReserve"/>: all or nothing, new
/// blocks allocated up front), take fragments that cannot fail (<see cref="Take"/>), and give back what they did
/// not use (<see cref="Unreserve"/>), so a refused operation leaves the cursor and the allocator as they were.</remarks>
internal sealed unsafe class PteFragments
{
    private readonly MemoryManager _memory;
    private readonly PageTableAllocator _tables;
    private readonly Vmstat _stat;

    public PteFragments(MemoryManager memory, int perBlock, PteFreeDeferScheme scheme)
    {
        _memory = memory;
        _tables = memory.PageTables;
        _stat = memory.Stat;
        PerBlock = perBlock;
        Order = System.Numerics.BitOperations.Log2((uint)perBlock);
        Scheme = scheme == PteFreeDeferScheme.DeferredRefcount
            ? new DeferredRefcountScheme(memory, Order)
            : new MarkAndDeferScheme(memory, Order);
    }

    /// <summary>PTE tables per block (<c>PTE_FRAG_NR</c>).</summary>
    public int PerBlock { get; }

    /// <summary>Buddy order of a block.</summary>
    public int Order { get; }

    /// <summary>The free/defer scheme chosen for the machine.</summary>
    public IPteFreeDeferScheme Scheme { get; }

    /// <summary>First frame of the block holding <paramref name="pfn"/>.</summary>
    public ulong HeadOf(ulong pfn) => pfn & ~(ulong)(PerBlock - 1);

    /// <summary>Makes sure <paramref name="count"/> more fragments can be taken from <paramref name="mm"/>'s cursor,
    /// allocating (and constructing) blocks as needed. All or nothing: false leaves everything as it was.</summary>
    public bool TryReserve(MmStruct mm, int count)
    {
        if (count == 0) return true;
        PteFragmentCursor c = mm.Fragments;
        c.Lock.Enter();
        try
        {
            int available = (c.HasBlock ? PerBlock - c.Next : 0) + c.SpareCount * PerBlock - c.Reserved;
            int missing = count - available;
            int blocks = missing <= 0 ? 0 : (missing + PerBlock - 1) / PerBlock;
            // Every block's frames first, then the constructors (which may need frames for their locks).
            int got = 0;
            for (; got < blocks; got++)
            {
                if (!_tables.TryAllocatePteBlockFrames(Order, out ulong head)) break;
                if (c.SpareCount == c.Spare.Length) Array.Resize(ref c.Spare, c.Spare.Length * 2);
                c.Spare[c.SpareCount++] = head;
            }
            int constructed = 0;
            if (got == blocks)
                for (; constructed < blocks; constructed++)
                    if (!_tables.TryConstructPteBlock(c.Spare[c.SpareCount - blocks + constructed], mm.Id, Order)) break;
            if (constructed < blocks)
            {
                // Give back what this call allocated, newest first: never published, so freed at once.
                for (int i = got - 1; i >= 0; i--)
                {
                    ulong head = c.Spare[--c.SpareCount];
                    if (i < constructed) FreeUntouched(head);
                    else _tables.FreePteBlockFrames(head, Order);
                }
                return false;
            }
            c.Reserved += count;
            return true;
        }
        finally
        {
            c.Lock.Exit();
        }
    }

    /// <summary>Takes a reserved fragment (<c>pte_fragment_alloc</c> from the cursor): cannot fail.</summary>
    public ulong Take(MmStruct mm)
    {
        PteFragmentCursor c = mm.Fragments;
        ulong pfn;
        c.Lock.Enter();
        try
        {
            if (c.Reserved <= 0) throw new InvalidOperationException("a PTE fragment was taken without a reservation");
            if (!c.HasBlock)
            {
                if (c.SpareCount == 0) throw new InvalidOperationException("PTE fragment reservation without a block");
                c.BlockPfn = c.Spare[--c.SpareCount];
                c.Next = 0;
                c.HasBlock = true;
            }
            pfn = c.BlockPfn + (ulong)c.Next++;
            c.Reserved--;
            // The last fragment handed out: the cursor lets the block go (its refcount now counts live tables).
            if (c.Next == PerBlock) c.HasBlock = false;
        }
        finally
        {
            c.Lock.Exit();
        }
        _tables.HandOutFragment(pfn);
        return pfn;
    }

    /// <summary>Gives back <paramref name="count"/> reserved fragments that were not taken; blocks allocated
    /// ahead that are no longer needed are freed (nothing was taken from them).</summary>
    public void Unreserve(MmStruct mm, int count)
    {
        if (count == 0) return;
        PteFragmentCursor c = mm.Fragments;
        c.Lock.Enter();
        try
        {
            c.Reserved -= count;
            if (c.Reserved < 0) throw new InvalidOperationException("more PTE fragments given back than reserved");
            int needed = c.Reserved - (c.HasBlock ? PerBlock - c.Next : 0);
            int keep = needed <= 0 ? 0 : (needed + PerBlock - 1) / PerBlock;
            while (c.SpareCount > keep) FreeUntouched(c.Spare[--c.SpareCount]);
        }
        finally
        {
            c.Lock.Exit();
        }
    }

    /// <summary>Teardown of the cursor (<c>pte_frag_destroy</c>): the fragments never handed out drop their
    /// references; the block goes if nothing else holds it (after a grace period if a fragment was deferred).</summary>
    public void Destroy(MmStruct mm)
    {
        PteFragmentCursor c = mm.Fragments;
        ulong head = 0;
        int unused = 0;
        c.Lock.Enter();
        try
        {
            if (c.Reserved != 0) throw new InvalidOperationException("address space torn down with PTE fragments reserved");
            if (c.HasBlock)
            {
                head = c.BlockPfn;
                unused = PerBlock - c.Next;
                c.HasBlock = false;
            }
            while (c.SpareCount > 0) FreeUntouched(c.Spare[--c.SpareCount]);
        }
        finally
        {
            c.Lock.Exit();
        }
        if (unused > 0)
        {
            Vmstat.Add(ref _stat.PteFragmentsFree, -unused);
            Scheme.DropReferences(head, unused);
        }
    }

    /// <summary><c>pte_fragment_free</c>: a PTE table whose flush (and, through the gather, grace period) is done.</summary>
    public void Free(ulong pfn)
    {
        _tables.RetireFragment(pfn);
        Scheme.DropReferences(HeadOf(pfn), 1);
    }

    /// <summary><c>pte_free_defer</c>: frees the PTE table at <paramref name="tablePa"/>, just unlinked from the
    /// PMD of <paramref name="va"/> in <paramref name="mm"/>, once every lockless walker that may still read it has
    /// left its RCU read-side section. Deferring a table still linked is a clear error.</summary>
    public void FreeDefer(MmStruct mm, ulong tablePa, ulong va)
    {
        ulong pfn = tablePa >> Paging.PageShift;
        if (StillLinked(mm, tablePa, va))
            throw new InvalidOperationException($"pte_free_defer of PTE table 0x{tablePa:x} still linked in the PMD of 0x{va:x}");
        _tables.RetireFragment(pfn);
        Vmstat.Add(ref _stat.TablesDeferred, 1);
        bool queued = Scheme.Defer(HeadOf(pfn));
        FastPtEventSource.Log.TableDeferred(pfn, queued);
    }

    private bool StillLinked(MmStruct mm, ulong tablePa, ulong va)
    {
        ulong table = mm.RootPa;
        for (int level = mm.RootLevel; level > Paging.PmdLevel; level--)
        {
            ulong entry = Volatile.Read(ref _memory.Physical.TableForRead(table)[Paging.Index(level, va)]);
            if ((entry & PageTableEntry.Present) == 0 || PageTableEntry.IsLeaf(entry, level)) return false;
            table = PageTableEntry.TableAddress(entry);
        }
        ulong pmd = Volatile.Read(ref _memory.Physical.TableForRead(table)[Paging.Index(Paging.PmdLevel, va)]);
        return (pmd & PageTableEntry.Present) != 0 && !PageTableEntry.IsLeaf(pmd, Paging.PmdLevel)
            && PageTableEntry.TableAddress(pmd) == tablePa;
    }

    /// <summary>Frees a block no fragment was ever taken from (never published: no flush or grace period).</summary>
    private void FreeUntouched(ulong head)
    {
        PageDescriptor* h = _memory.Memmap.GetMutable(head);
        if (Interlocked.Add(ref h->FragmentRefCount, -PerBlock) != 0)
            throw new InvalidOperationException($"spare page-table block 0x{head:x} had fragments taken");
        _tables.DestructPteBlock(head, Order, unused: PerBlock);
    }
}
