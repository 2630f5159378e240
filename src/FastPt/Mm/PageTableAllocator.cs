using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Internals;

namespace FastPt.Mm;

/// <summary>Allocation of page-table pages with their constructor and destructor (<c>pagetable_alloc</c>,
/// <c>pagetable_pte_ctor</c>/<c>pagetable_pmd_ctor</c>, <c>pagetable_dtor</c>). The constructor sets up the
/// table's split lock and can fail; every allocation path handles that before anything is published, and every free
/// path runs the destructor. The only frees of a table that was ever reachable take a token that
/// <see cref="MmuGatherCore"/> hands out after its flush, so freeing before flushing cannot be written.</summary>
internal sealed unsafe class PageTableAllocator
{
    private readonly BuddyAllocator _buddy;
    private readonly Memmap _memmap;
    private readonly Vmstat _stat;
    private int _injectSucceed = -1;
    private int _injectFail;

    public PageTableAllocator(BuddyAllocator buddy, Memmap memmap, Vmstat stat, SplitPageTableLocks locks)
    {
        _buddy = buddy;
        _memmap = memmap;
        _stat = stat;
        Locks = locks;
    }

    /// <summary>The split page-table locks the constructor sets up.</summary>
    public SplitPageTableLocks Locks { get; }

    /// <summary>Fault injection for tests (like the kernel's <c>failslab</c>): after <paramref name="succeed"/> more
    /// constructors of user PTE and PMD tables succeed, the next <paramref name="fail"/> fail, in every lock mode.
    /// <c>InjectConstructorFailures(-1, 0)</c> turns it off.</summary>
    internal void InjectConstructorFailures(int succeed, int fail = 1)
    {
        Volatile.Write(ref _injectFail, fail);
        Volatile.Write(ref _injectSucceed, succeed);
    }

    /// <summary>Constructors that failed (injected or for want of a lock).</summary>
    public long ConstructorFailures;

    private bool InjectedFailure()
    {
        if (Volatile.Read(ref _injectSucceed) < 0) return false;
        if (Interlocked.Decrement(ref _injectSucceed) >= 0) return false;
        if (Interlocked.Decrement(ref _injectFail) >= 0) return true;
        Volatile.Write(ref _injectSucceed, -1);
        return false;
    }

    /// <summary>Allocates and constructs <paramref name="pfns"/>.Length zeroed tables for <paramref name="level"/>;
    /// all or none (a failed constructor undoes the others).</summary>
    public bool TryAllocate(Span<ulong> pfns, int level, ulong ownerId, bool kernel)
    {
        if (!_buddy.TryAllocateBulk(pfns, zero: true)) return false;
        for (int i = 0; i < pfns.Length; i++)
        {
            if (TryConstruct(pfns[i], level, ownerId, kernel)) continue;
            for (int j = 0; j < i; j++) Destruct(pfns[j], level);
            foreach (ulong pfn in pfns) _buddy.Free(pfn, 0);
            return false;
        }
        return true;
    }

    /// <summary>Allocates and constructs one zeroed table (<c>pte_alloc_one</c>, <c>pmd_alloc_one</c>, …).</summary>
    public bool TryAllocateOne(int level, ulong ownerId, bool kernel, out ulong pfn)
    {
        if (!_buddy.TryAllocate(0, zero: true, out pfn)) return false;
        if (TryConstruct(pfn, level, ownerId, kernel)) return true;
        _buddy.Free(pfn, 0);
        pfn = 0;
        return false;
    }

    /// <summary>Allocates and constructs one zeroed table for <paramref name="mm"/>: a user address space's PTE table
    /// is a fragment from its cursor (<c>pte_fragment_alloc</c>), every other table a frame of its own.</summary>
    public bool TryAllocateOne(MmStruct mm, int level, out ulong pfn)
    {
        if (level != Paging.PteLevel || mm.IsKernel) return TryAllocateOne(level, mm.Id, mm.IsKernel, out pfn);
        pfn = 0;
        if (!Fragments.TryReserve(mm, 1)) return false;
        pfn = Fragments.Take(mm);
        return true;
    }

    /// <summary>Allocates and constructs every table of <paramref name="demand"/> into a pool over
    /// <paramref name="mm"/>'s scratch array; all or none. A user address space's PTE tables are fragments its cursor
    /// reserves (blocks allocated and constructed, split locks included, up front). On failure
    /// <paramref name="failure"/> says why.</summary>
    public bool TryAllocatePool(MmStruct mm, in TableDemand demand, out TablePool pool, out string? failure)
    {
        bool fragments = !mm.IsKernel;
        long pte = fragments ? demand[Paging.PteLevel] : 0;
        long total = demand.Total - pte;
        ulong[] frames = mm.Pool(total);
        pool = new TablePool(frames, demand, fragments ? mm : null);
        failure = null;
        if (demand.Total == 0) return true;
        Span<ulong> all = frames.AsSpan(0, (int)total);
        if (total > 0 && !_buddy.TryAllocateBulk(all, zero: true))
        {
            failure = $"{demand} needed, {_buddy.FreePages} frames free";
            pool = TablePool.Empty;
            return false;
        }
        // The PTE fragments next (their blocks' frames before any constructor), then the other constructors.
        long failuresBefore = Interlocked.Read(ref ConstructorFailures);
        if (pte > 0 && !Fragments.TryReserve(mm, checked((int)pte)))
        {
            foreach (ulong pfn in all) _buddy.Free(pfn, 0);
            failure = Interlocked.Read(ref ConstructorFailures) != failuresBefore
                ? "the constructor of a level-1 table failed (no page-table lock could be allocated)"
                : $"{demand} needed, {_buddy.FreePages} frames free";
            pool = TablePool.Empty;
            return false;
        }
        int lowest = fragments ? Paging.PmdLevel : Paging.PteLevel;
        // Top-down, in the order a walk installs them; the pool lays levels out bottom-up.
        for (int level = 4; level >= lowest; level--)
        {
            for (long i = 0; i < demand[level]; i++)
            {
                if (TryConstruct(pool.At(level, i), level, mm.Id, mm.IsKernel)) continue;
                // Undo: destruct what was constructed, then give every frame back.
                for (long j = 0; j < i; j++) Destruct(pool.At(level, j), level);
                DestructLevelsAbove(pool, demand, level);
                foreach (ulong pfn in all) _buddy.Free(pfn, 0);
                if (pte > 0) Fragments.Unreserve(mm, checked((int)pte));
                failure = $"the constructor of a level-{level} table failed (no page-table lock could be allocated)";
                pool = TablePool.Empty;
                return false;
            }
        }
        return true;
    }

    private void DestructLevelsAbove(in TablePool pool, in TableDemand demand, int level)
    {
        for (int done = level + 1; done <= 4; done++)
            for (long j = 0; j < demand[done]; j++) Destruct(pool.At(done, j), done);
    }

    /// <summary>Frees every table of <paramref name="pool"/> the commit did not take (fragments go back to the
    /// cursor's reservation).</summary>
    public void ReleaseUnused(in TablePool pool)
    {
        int lowest = Paging.PteLevel;
        if (pool.FragmentsOf is MmStruct mm)
        {
            Fragments.Unreserve(mm, checked((int)(pool.Count(Paging.PteLevel) - pool.Used(Paging.PteLevel))));
            lowest = Paging.PmdLevel;
        }
        for (int level = lowest; level <= 4; level++)
            for (long i = pool.Used(level); i < pool.Count(level); i++) FreeUnpublished(pool.At(level, i), level);
    }

    /// <summary>The constructor: marks the page as a table of <paramref name="level"/>, sets up its split lock
    /// (which can fail: then the page is left as it was) and accounts it.</summary>
    public bool TryConstruct(ulong pfn, int level, ulong ownerId, bool kernel)
    {
        bool splitLock = Locks.HasSplitLock(level, kernel);
        if (!kernel && level <= Paging.PmdLevel && InjectedFailure())
        {
            Interlocked.Increment(ref ConstructorFailures);
            return false;
        }
        PageDescriptor* d = _memmap.GetMutable(pfn);
        if (splitLock && !Locks.TryInit(pfn, d))
        {
            Interlocked.Increment(ref ConstructorFailures);
            return false;
        }
        if (!splitLock) d->Private = 0;
        d->Flags = (d->Flags & (PageFlags.Reserved | PageFlags.BootMemory | PageFlags.Allocated | PageFlags.HasPtlock))
            | PageFlags.Table | ((ulong)level << PageFlags.LevelShift) | (kernel ? PageFlags.KernelTable : 0);
        d->Mapping = ownerId;
        d->FragmentRefCount = 0;
        Diagnostics.FastPtEventSource.Log.TableAlloc(ownerId, level, pfn, kernel);
        Vmstat.Add(ref _stat.PageTablePages, 1);
        Vmstat.Add(ref (kernel ? _stat.KernelTables : _stat.UserTables)[level], 1);
        return true;
    }

    /// <summary>The constructor of a kernel table, which takes no split lock and therefore cannot fail (boot's
    /// deferred constructors, vmemmap populate).</summary>
    public void ConstructKernel(ulong pfn, int level, ulong ownerId)
    {
        if (!TryConstruct(pfn, level, ownerId, kernel: true))
            throw new InvalidOperationException("the constructor of a kernel table cannot fail");
    }

    /// <summary>The destructor: checks the page really is a constructed table, frees its split lock and undoes
    /// the accounting.</summary>
    private void Destruct(ulong pfn, int level)
    {
        PageDescriptor* d = _memmap.GetMutable(pfn);
        if ((d->Flags & PageFlags.Table) == 0)
            ThrowHelper.ThrowNotATable(pfn);
        int recorded = PageFlags.LevelOf(d->Flags);
        if (recorded != level)
            ThrowHelper.ThrowTableLevelMismatch(pfn, recorded, level);
        bool kernel = (d->Flags & PageFlags.KernelTable) != 0;
        Diagnostics.FastPtEventSource.Log.TableFree(d->Mapping, level, pfn, kernel);
        Locks.Free(pfn, d);
        d->Flags &= ~(PageFlags.Table | PageFlags.LevelMask | PageFlags.KernelTable);
        d->Mapping = 0;
        d->Private = 0;
        Vmstat.Add(ref _stat.PageTablePages, -1);
        Vmstat.Add(ref (kernel ? _stat.KernelTables : _stat.UserTables)[level], -1);
    }

    /// <summary>The PTE fragment allocator (set once by the memory manager).</summary>
    public PteFragments Fragments { get; set; } = null!;

    /// <summary>Frees a table that was never linked into any page table (a rolled-back or unused preallocation, or
    /// the table a fault allocated and another thread beat it to): nothing can have cached it, so no flush is
    /// needed.</summary>
    public void FreeUnpublished(ulong pfn, int level)
    {
        if (level == Paging.PteLevel && (_memmap.Get(pfn)->Flags & PageFlags.PteFragment) != 0)
        {
            Fragments.Free(pfn);
            return;
        }
        Destruct(pfn, level);
        _buddy.Free(pfn, 0);
    }

    /// <summary>Frees a table that was reachable until it was cleared from its parent. Only
    /// <see cref="MmuGatherCore"/> can make the token, and only after it flushed.</summary>
    public void FreeFlushed(ulong pfn, int level, in MmuGatherCore.FlushedToken token)
    {
        token.Validate();
        FreeAfterFlush(pfn, level);
    }

    /// <summary>The free of <see cref="FreeFlushed"/>, with the destructor optional: only the test-only gather that
    /// reproduces Linux's <c>pmd_free_tlb</c> leak (seed 004) skips it, on PMD tables.</summary>
    private void FreeAfterFlush(ulong pfn, int level)
    {
        if (level == Paging.PteLevel && (_memmap.Get(pfn)->Flags & PageFlags.PteFragment) != 0)
        {
            Fragments.Free(pfn); // pte_fragment_free: the block goes with its last fragment
            return;
        }
        if (level == Paging.PmdLevel && SkipPmdDestructorOnGather) FreeWithoutDestructor(pfn);
        else Destruct(pfn, level);
        if ((_memmap.Get(pfn)->Flags & PageFlags.Reserved) != 0) _buddy.FreeReserved(pfn, 0); // a boot page table
        else _buddy.Free(pfn, 0);
    }

    /// <summary>Test-only: reproduce the bug the seed fixed — PMD tables freed through the gather
    /// (<c>pmd_free_tlb</c>) without <c>pgtable_pmd_page_dtor</c>, which leaks their allocated lock.</summary>
    internal bool SkipPmdDestructorOnGather;

    private void FreeWithoutDestructor(ulong pfn)
    {
        // What the buggy kernel did: the page goes back to the allocator with its ptl still allocated. The table
        // accounting is undone (the kernel's dec_zone_page_state was there), the lock is not.
        PageDescriptor* d = _memmap.GetMutable(pfn);
        int level = PageFlags.LevelOf(d->Flags);
        bool kernel = (d->Flags & PageFlags.KernelTable) != 0;
        d->Flags &= ~(PageFlags.Table | PageFlags.LevelMask | PageFlags.KernelTable | PageFlags.HasPtlock);
        d->Mapping = 0;
        d->Private = 0;
        Vmstat.Add(ref _stat.PageTablePages, -1);
        Vmstat.Add(ref (kernel ? _stat.KernelTables : _stat.UserTables)[level], -1);
    }

    // ------------------------------------------------------------------ page-table blocks (PTE fragments)
    //
    // The constructor and destructor hooks of page-table memory live here, and only here: Construct/Destruct for a
    // single table frame, ConstructPteBlock/DestructPteBlock for a block of PTE fragments (every fragment frame's
    // per-table state is set up with its block and torn down with it, as Linux runs pagetable_pte_ctor once per
    // ptdesc). The split page-table lock of each fragment is set up in TryConstructPteBlock (ptlock_init can fail
    // there, and the block goes back untouched) and freed in DestructPteBlock, so a retired fragment's lock lives
    // until its block's grace period is over, as the kernel frees a deferred table's ptlock in the RCU callback.

    /// <summary>Allocates a naturally aligned block of 2^<paramref name="order"/> zeroed frames for PTE tables, not
    /// constructed yet (<see cref="TryConstructPteBlock"/>): an operation allocates every frame it needs before any
    /// constructor runs, so a constructor that cannot get its lock is told apart from a shortage of frames.</summary>
    public bool TryAllocatePteBlockFrames(int order, out ulong head) => _buddy.TryAllocate(order, zero: true, out head);

    /// <summary>Gives back the frames of a block <see cref="TryConstructPteBlock"/> never constructed.</summary>
    public void FreePteBlockFrames(ulong head, int order) => _buddy.Free(head, order);

    /// <summary>Constructs the block at <paramref name="head"/>: every frame a level-1 table fragment owned by
    /// <paramref name="ownerId"/> with a split lock of its own (<c>pagetable_pte_ctor</c> per ptdesc), the first
    /// frame's descriptor holding <c>pt_frag_refcount</c> = fragments (all reserved by the cursor) and a free RCU
    /// head. The constructor can fail (injected, or no lock record in allocated mode): then the block's descriptors
    /// are as they were and its frames still the caller's.</summary>
    public bool TryConstructPteBlock(ulong head, ulong ownerId, int order)
    {
        int fragments = 1 << order;
        bool splitLock = Locks.HasSplitLock(Paging.PteLevel, kernel: false);
        if (InjectedFailure())
        {
            Interlocked.Increment(ref ConstructorFailures);
            return false;
        }
        for (int i = 0; i < fragments; i++)
        {
            PageDescriptor* d = _memmap.GetMutable(head + (ulong)i);
            d->Flags = (d->Flags & PageFlags.Allocated) | PageFlags.Table | (1UL << PageFlags.LevelShift)
                | PageFlags.PteFragment | (i == 0 ? PageFlags.PteBlock : 0);
            d->Mapping = ownerId;
            d->Private = 0; // the fragment's split-lock slot
            d->FragmentRefCount = 0;
            if (!splitLock || Locks.TryInit(head + (ulong)i, d)) continue;
            // Undo: the locks of the fragments before this one, then every descriptor touched.
            Interlocked.Increment(ref ConstructorFailures);
            for (int j = 0; j <= i; j++)
            {
                PageDescriptor* u = _memmap.GetMutable(head + (ulong)j);
                Locks.Free(head + (ulong)j, u);
                u->Flags &= j == 0 ? PageFlags.Allocated : 0;
                u->Mapping = 0;
                u->Private = 0;
            }
            return false;
        }
        PageDescriptor* h = _memmap.GetMutable(head);
        h->FragmentRefCount = fragments;
        h->RcuNext = 0;
        h->RcuFunc = 0;
        Vmstat.Add(ref _stat.PageTablePages, fragments);
        Vmstat.Add(ref _stat.PteBlocks, 1);
        Vmstat.Add(ref _stat.PteBlocksAllocated, 1);
        Vmstat.Add(ref _stat.PteFragmentsFree, fragments);
        return true;
    }

    /// <summary>Hands fragment <paramref name="pfn"/> out as a PTE table (the cursor gave it away).</summary>
    public void HandOutFragment(ulong pfn)
    {
        PageDescriptor* d = _memmap.GetMutable(pfn);
        while (true)
        {
            ulong flags = Volatile.Read(ref d->Flags);
            if ((flags & (PageFlags.PteFragment | PageFlags.FragmentInUse | PageFlags.FragmentRetired)) != PageFlags.PteFragment)
                throw new InvalidOperationException($"PTE fragment 0x{pfn:x} handed out twice");
            if (Interlocked.CompareExchange(ref d->Flags, flags | PageFlags.FragmentInUse, flags) == flags) break;
        }
        Vmstat.Add(ref _stat.UserTables[1], 1);
        Vmstat.Add(ref _stat.PteFragmentsInUse, 1);
        Vmstat.Add(ref _stat.PteFragmentsFree, -1);
        Diagnostics.FastPtEventSource.Log.TableAlloc(d->Mapping, 1, pfn, kernel: false);
    }

    /// <summary>Ends the life of a PTE table that is a fragment: freeing (or deferring) one twice, or one never
    /// handed out, is a clear error. Its memory goes with the block.</summary>
    public void RetireFragment(ulong pfn)
    {
        PageDescriptor* d = _memmap.GetMutable(pfn);
        while (true)
        {
            ulong flags = Volatile.Read(ref d->Flags);
            if ((flags & PageFlags.PteFragment) == 0)
                throw new InvalidOperationException($"pfn 0x{pfn:x} is not a PTE fragment");
            if ((flags & PageFlags.FragmentRetired) != 0)
                throw new InvalidOperationException($"PTE fragment 0x{pfn:x} freed twice");
            if ((flags & PageFlags.FragmentInUse) == 0)
                throw new InvalidOperationException($"PTE fragment 0x{pfn:x} freed but never handed out");
            ulong retired = (flags & ~PageFlags.FragmentInUse) | PageFlags.FragmentRetired;
            if (Interlocked.CompareExchange(ref d->Flags, retired, flags) == flags) break;
        }
        Vmstat.Add(ref _stat.UserTables[1], -1);
        Vmstat.Add(ref _stat.PteFragmentsInUse, -1);
        Diagnostics.FastPtEventSource.Log.TableFree(d->Mapping, 1, pfn, kernel: false);
    }

    /// <summary>The destructor of a block whose refcount reached zero: no fragment may still be in use, the RCU head
    /// must be free; every fragment's per-table state goes, then the block goes back to the buddy allocator
    /// (poisoned in checked mode). <paramref name="unused"/> counts fragments never handed out.</summary>
    public void DestructPteBlock(ulong head, int order, int unused)
    {
        PageDescriptor* h = _memmap.GetMutable(head);
        if ((h->Flags & PageFlags.PteBlock) == 0)
            throw new InvalidOperationException($"pfn 0x{head:x} is not the head of a page-table block");
        if (h->FragmentRefCount != 0 || h->RcuFunc != 0)
            throw new InvalidOperationException($"page-table block 0x{head:x} freed with refcount {h->FragmentRefCount} and RCU head {(h->RcuFunc != 0 ? "queued" : "free")}");
        int fragments = 1 << order;
        for (int i = 0; i < fragments; i++)
        {
            PageDescriptor* d = _memmap.GetMutable(head + (ulong)i);
            if ((d->Flags & PageFlags.FragmentInUse) != 0)
                throw new InvalidOperationException($"page-table block 0x{head:x} freed while its fragment 0x{head + (ulong)i:x} is still a live PTE table");
            Locks.Free(head + (ulong)i, d); // ptlock_free of each fragment's lock, with its block
            d->Flags &= i == 0 ? PageFlags.Allocated : 0;
            d->Mapping = 0;
            d->Private = 0;
        }
        h->RcuNext = 0;
        Vmstat.Add(ref _stat.PageTablePages, -fragments);
        Vmstat.Add(ref _stat.PteBlocks, -1);
        Vmstat.Add(ref _stat.PteBlocksFreed, 1);
        Vmstat.Add(ref _stat.PteFragmentsFree, -unused);
        _buddy.Free(head, order);
    }

    /// <summary>Level name helper for messages.</summary>
    public static string Describe(int level, PagingMode mode) => Paging.LevelName(level, mode);
}
