using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Internals;

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
            ThrowHelper.ThrowNotATable(pfn);
        int recorded = PageFlags.LevelOf(d->Flags);
        if (recorded != level)
            ThrowHelper.ThrowTableLevelMismatch(pfn, recorded, level);
        bool kernel = (d->Flags & PageFlags.KernelTable) != 0;
        Diagnostics.FastPtEventSource.Log.TableFree(d->Mapping, level, pfn, kernel);
        d->Flags &= ~(PageFlags.Table | PageFlags.LevelMask | PageFlags.KernelTable);
        d->Mapping = 0;
        d->Private = 0;
        Vmstat.Add(ref _stat.PageTablePages, -1);
        Vmstat.Add(ref (kernel ? _stat.KernelTables : _stat.UserTables)[level], -1);
    }

    /// <summary>The PTE fragment allocator (set once by the memory manager).</summary>
    public PteFragments Fragments { get; set; } = null!;

    /// <summary>Frees a table that was never linked into any page table (a rolled-back or unused preallocation):
    /// nothing can have cached it, so no flush is needed.</summary>
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
        if (level == Paging.PteLevel && (_memmap.Get(pfn)->Flags & PageFlags.PteFragment) != 0)
        {
            Fragments.Free(pfn); // pte_fragment_free: the block goes with its last fragment
            return;
        }
        Destruct(pfn, level);
        if ((_memmap.Get(pfn)->Flags & PageFlags.Reserved) != 0) _buddy.FreeReserved(pfn, 0); // a boot page table
        else _buddy.Free(pfn, 0);
    }

    // ------------------------------------------------------------------ page-table blocks (PTE fragments)
    //
    // The constructor and destructor hooks of page-table memory live here, and only here: Construct/Destruct for a
    // single table frame, ConstructPteBlock/DestructPteBlock for a block of PTE fragments (every fragment frame's
    // per-table state is set up with its block and torn down with it, as Linux runs pagetable_pte_ctor once per
    // ptdesc). A split page-table lock's constructor and destructor join these four; a constructor that can fail
    // belongs in TryAllocatePteBlock (or before Construct, in the operation's preallocation).

    /// <summary>Allocates a naturally aligned block of 2^<paramref name="order"/> zeroed frames for PTE tables and
    /// constructs it: every frame a level-1 table fragment owned by <paramref name="ownerId"/>, the first frame's
    /// descriptor holding <c>pt_frag_refcount</c> = fragments (all reserved by the cursor) and a free RCU head.</summary>
    public bool TryAllocatePteBlock(ulong ownerId, int order, out ulong head)
    {
        if (!_buddy.TryAllocate(order, zero: true, out head)) return false;
        int fragments = 1 << order;
        for (int i = 0; i < fragments; i++)
        {
            PageDescriptor* d = _memmap.GetMutable(head + (ulong)i);
            d->Flags = (d->Flags & PageFlags.Allocated) | PageFlags.Table | (1UL << PageFlags.LevelShift)
                | PageFlags.PteFragment | (i == 0 ? PageFlags.PteBlock : 0);
            d->Mapping = ownerId;
            d->Private = 0; // the fragment's split-lock slot
            d->FragmentRefCount = 0;
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
