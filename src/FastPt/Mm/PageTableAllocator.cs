using System;
using System.Threading;
using FastPt.Geometry;

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

    /// <summary>Allocates and constructs every table of <paramref name="demand"/> into a pool over
    /// <paramref name="mm"/>'s scratch array; all or none. On failure <paramref name="failure"/> says why.</summary>
    public bool TryAllocatePool(MmStruct mm, in TableDemand demand, out TablePool pool, out string? failure)
    {
        long total = demand.Total;
        ulong[] frames = mm.Pool(total);
        pool = new TablePool(frames, demand);
        failure = null;
        if (total == 0) return true;
        Span<ulong> all = frames.AsSpan(0, (int)total);
        if (!_buddy.TryAllocateBulk(all, zero: true))
        {
            failure = $"{demand} needed, {_buddy.FreePages} frames free";
            return false;
        }
        // Top-down, in the order a walk installs them; the pool lays levels out bottom-up.
        for (int level = 4; level >= 1; level--)
        {
            for (long i = 0; i < demand[level]; i++)
            {
                if (TryConstruct(pool.At(level, i), level, mm.Id, mm.IsKernel)) continue;
                // Undo: destruct what was constructed, then give every frame back.
                for (long j = 0; j < i; j++) Destruct(pool.At(level, j), level);
                for (int done = level + 1; done <= 4; done++)
                    for (long j = 0; j < demand[done]; j++) Destruct(pool.At(done, j), done);
                foreach (ulong pfn in all) _buddy.Free(pfn, 0);
                failure = $"the constructor of a level-{level} table failed (no page-table lock could be allocated)";
                pool = TablePool.Empty;
                return false;
            }
        }
        return true;
    }

    /// <summary>Frees every table of <paramref name="pool"/> the commit did not take.</summary>
    public void ReleaseUnused(in TablePool pool)
    {
        for (int level = 1; level <= 4; level++)
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
            throw new InvalidOperationException($"destructor on pfn 0x{pfn:x} which is not a page table");
        int recorded = PageFlags.LevelOf(d->Flags);
        if (recorded != level)
            throw new InvalidOperationException($"table pfn 0x{pfn:x} is level {recorded}, freed as level {level}");
        bool kernel = (d->Flags & PageFlags.KernelTable) != 0;
        Diagnostics.FastPtEventSource.Log.TableFree(d->Mapping, level, pfn, kernel);
        Locks.Free(pfn, d);
        d->Flags &= ~(PageFlags.Table | PageFlags.LevelMask | PageFlags.KernelTable);
        d->Mapping = 0;
        d->Private = 0;
        Vmstat.Add(ref _stat.PageTablePages, -1);
        Vmstat.Add(ref (kernel ? _stat.KernelTables : _stat.UserTables)[level], -1);
    }

    /// <summary>Frees a table that was never linked into any page table (a rolled-back or unused preallocation, or
    /// the table a fault allocated and another thread beat it to): nothing can have cached it, so no flush is
    /// needed.</summary>
    public void FreeUnpublished(ulong pfn, int level)
    {
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

    /// <summary>Level name helper for messages.</summary>
    public static string Describe(int level, PagingMode mode) => Paging.LevelName(level, mode);
}
