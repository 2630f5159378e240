using System;
using FastPt.Geometry;

namespace FastPt.Mm;

/// <summary>Allocation of page-table pages with their constructor and destructor (<c>pagetable_alloc</c>,
/// <c>pagetable_ctor</c>/<c>pagetable_dtor</c>). Every free path runs the destructor; the only frees of a table
/// that was ever reachable take a token that <see cref="MmuGatherCore"/> hands out after its flush, so freeing
/// before flushing cannot be written.</summary>
internal sealed unsafe class PageTableAllocator
{
    private readonly BuddyAllocator _buddy;
    private readonly Memmap _memmap;
    private readonly Vmstat _stat;

    public PageTableAllocator(BuddyAllocator buddy, Memmap memmap, Vmstat stat)
    {
        _buddy = buddy;
        _memmap = memmap;
        _stat = stat;
    }

    /// <summary>Allocates and constructs <paramref name="pfns"/>.Length zeroed tables for <paramref name="level"/>;
    /// all or none.</summary>
    public bool TryAllocate(Span<ulong> pfns, int level, ulong ownerId, bool kernel)
    {
        if (!_buddy.TryAllocateBulk(pfns, zero: true)) return false;
        foreach (ulong pfn in pfns) Construct(pfn, level, ownerId, kernel);
        return true;
    }

    /// <summary>The constructor: marks the page as a table of <paramref name="level"/>, initialises its split
    /// lock and accounts it.</summary>
    public void Construct(ulong pfn, int level, ulong ownerId, bool kernel)
    {
        PageDescriptor* d = _memmap.GetMutable(pfn);
        d->Flags = (d->Flags & (PageFlags.Reserved | PageFlags.BootMemory | PageFlags.Allocated))
            | PageFlags.Table | ((ulong)level << PageFlags.LevelShift) | (kernel ? PageFlags.KernelTable : 0);
        d->Mapping = ownerId;
        d->Private = 0;
        d->FragmentRefCount = 0;
        Diagnostics.FastPtEventSource.Log.TableAlloc(ownerId, level, pfn, kernel);
        Vmstat.Add(ref _stat.PageTablePages, 1);
        Vmstat.Add(ref (kernel ? _stat.KernelTables : _stat.UserTables)[level], 1);
    }

    /// <summary>The destructor: checks the page really is a constructed table and undoes the accounting.</summary>
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
        d->Flags &= ~(PageFlags.Table | PageFlags.LevelMask | PageFlags.KernelTable);
        d->Mapping = 0;
        d->Private = 0;
        Vmstat.Add(ref _stat.PageTablePages, -1);
        Vmstat.Add(ref (kernel ? _stat.KernelTables : _stat.UserTables)[level], -1);
    }

    /// <summary>Frees a table that was never linked into any page table (a rolled-back or unused preallocation):
    /// nothing can have cached it, so no flush is needed.</summary>
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
        Destruct(pfn, level);
        if ((_memmap.Get(pfn)->Flags & PageFlags.Reserved) != 0) _buddy.FreeReserved(pfn, 0); // a boot page table
        else _buddy.Free(pfn, 0);
    }

    /// <summary>Level name helper for messages.</summary>
    public static string Describe(int level, PagingMode mode) => Paging.LevelName(level, mode);
}
