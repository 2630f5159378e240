using System;
using System.Collections.Generic;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Lib;
using FastPt.Mm;

namespace FastPt.HugeTlb;

/// <summary>What an optimization or a restore of one folio came to.</summary>
internal enum HvoStatus
{
    /// <summary>Done (or nothing to do).</summary>
    Done,

    /// <summary>The folio cannot be optimized (its vmemmap is self-hosted, or it is optimized already).</summary>
    Skipped,

    /// <summary>No frame for a PTE table, a shared tail page or the restored pages; nothing changed.</summary>
    OutOfMemory,
}

/// <summary>HugeTLB vmemmap optimization (<c>mm/hugetlb_vmemmap.c</c>), in the machine's design. A folio's
/// descriptors fill 8 vmemmap pages (2 MiB) or 4096 (1 GiB); optimizing keeps the head's page — copied into a newly
/// allocated page when one is free, so a boot or 2 MiB block is given back whole — maps every other page read-only
/// onto the head's page (Linux 6.x) or onto the shared tail page of the folio's zone and order (the 2026 series), and
/// frees the old pages: 7 of 8, 4095 of 4096. Restoring allocates the pages again, fills them with the tail
/// descriptors and maps them read-write.
/// <para>Ordering: the folio's refcount is frozen at 0 (a pool folio), then an RCU grace period passes before any
/// remap, so every speculative reader that could still write its refcount has left (<c>page_ref_add_unless</c> reads
/// the count inside its section); the new pages are filled before the release store of their PTE; the old pages are
/// freed only after the kernel TLB flush and another grace period (the gather's), so a lockless reader that
/// translated through the old mapping still reads the same descriptors.</para>
/// <para>Batches run a split pass (one flush), one grace period, then a remap pass whose freed pages go through one
/// gather (one flush, plus one each time its batch of pending frees fills); per-folio calls flush after every split
/// and every folio, as the kernel's single-folio path does.</para></summary>
internal sealed unsafe partial class HugetlbVmemmap
{
    private const ulong NoPage = ulong.MaxValue;
    private const byte Undecided = 0, Eligible = 1, Skip = 2;

    private readonly MemoryManager _memory;
    private readonly SharedTailPages? _sharedTails;
    // The working set of the last call, for the next one (null while a call has it).
    private Scratch? _scratch;

    public HugetlbVmemmap(MemoryManager memory)
    {
        _memory = memory;
        if (memory.Memmap.CompoundInfoIsMask) _sharedTails = new SharedTailPages(memory);
    }

    /// <summary>Test seam: runs where a split starts, after the walker saw a PMD leaf — the window in which another
    /// thread may split the same PMD first. Null outside tests.</summary>
    internal Action? BeforeSplitPmd { get; set; }

    /// <summary>True in the shared-tail design.</summary>
    public bool SharedTail => _sharedTails is not null;

    /// <summary>Shared tail pages allocated so far (one per zone and order in use).</summary>
    public int SharedTailPageCount => _sharedTails?.Count ?? 0;

    /// <summary>Vmemmap pages holding the descriptors of an order-<paramref name="order"/> folio.</summary>
    public static int VmemmapPages(int order) => (int)((KernelLayout.DescriptorSize << order) >> Paging.PageShift);

    /// <summary><c>HPageVmemmapOptimized</c>.</summary>
    public bool IsOptimized(ulong headPfn) =>
        (_memory.Memmap.Get(headPfn)->Private & HugetlbPageFlags.VmemmapOptimized) != 0;

    // ------------------------------------------------------------------------------------------ optimize

    /// <summary>Optimizes the vmemmap of <paramref name="folios"/> (frozen pool folios), batched or one at a time.
    /// Folios that cannot be optimized are skipped; a folio that runs out of memory is left exactly as it was (what
    /// its walk had remapped is restored; splits no optimized folio uses are merged back). Returns the folios
    /// optimized.</summary>
    public int Optimize(ReadOnlySpan<Folio> folios, bool batched, HvoCounters counters)
    {
        if (folios.Length == 0) return 0;
        FastPtEventSource.Log.VmemmapBatchStart(optimize: true, folios.Length);
        long flushesBefore = HvoCounters.Read(ref counters.Flushes);
        Scratch scratch = TakeScratch();
        List<SplitRecord> splits = scratch.Splits;
        ulong[] oldPages = scratch.PagesFor(VmemmapPages(MaxOrderOf(folios)));
        MmuGatherCore gather = scratch.Gather;
        var tally = new OptimizeTally();
        int optimized = 0;
        bool failed = false;
        if (batched)
        {
            HvoCounters.Add(ref counters.Batches, 1);
            // Whether each folio is to be optimized, decided once (the remap pass reads it back), and where its head's
            // descriptors are mapped (found once, reused by the split and remap passes).
            Span<byte> eligible = scratch.EligibleFor(folios.Length);
            Span<HeadMapping> heads = scratch.HeadsFor(folios.Length);
            // The split pass: one flush for all the splits. The first out-of-memory ends it: the remap pass can
            // still split with the pages the folios before it give back.
            for (int i = 0; i < folios.Length; i++)
            {
                eligible[i] = ShouldOptimize(folios[i], counters, out heads[i]) ? Eligible : Skip;
                // A vmemmap inside one PMD whose head is PTE-mapped is split already: no second walk from the top.
                if (eligible[i] == Eligible && heads[i].Pmd == 0 && SplitFolio(folios[i], flushEachSplit: false, splits, counters) == HvoStatus.OutOfMemory) break;
            }
            if (splits.Count > 0) FlushKernel(counters);
            // The refcounts are frozen: after this grace period no speculative reader is still writing one.
            _memory.Rcu.Synchronize();
            gather.Begin();
            for (int i = 0; i < folios.Length; i++)
            {
                Folio folio = folios[i];
                if (eligible[i] == Undecided) eligible[i] = ShouldOptimize(folio, counters, out heads[i]) ? Eligible : Skip;
                if (eligible[i] != Eligible) continue;
                // The next folio's head page is copied one folio from now: start loading it (the split pass read
                // the page that backs it; a split keeps the same pages, and a prefetch is only a hint).
                if (i + 1 < folios.Length && eligible[i + 1] == Eligible)
                    PageCopy.Prefetch(_memory.Physical.ReadPointer(heads[i + 1].Page << Paging.PageShift));
                HvoStatus status = OptimizeFolio(folio, heads[i], gather, flushEachSplit: false, splits, oldPages, counters, ref tally);
                if (status == HvoStatus.OutOfMemory && gather.PendingFrees > 0)
                {
                    // Free what the folios before gave back, then try this one again.
                    tally.BootPages += FinishGather(gather, counters);
                    gather.Begin();
                    status = OptimizeFolio(folio, heads[i], gather, flushEachSplit: false, splits, oldPages, counters, ref tally);
                }
                if (status == HvoStatus.Done) optimized++;
                else failed = true;
            }
            tally.BootPages += FinishGather(gather, counters);
        }
        else
        {
            foreach (Folio folio in folios)
            {
                if (!ShouldOptimize(folio, counters, out _)) continue;
                // Split first (a flush per split), so the head copy below never takes the frame a split needs.
                if (SplitFolio(folio, flushEachSplit: true, splits, counters) == HvoStatus.OutOfMemory)
                {
                    HvoCounters.Add(ref counters.OptimizeFailures, 1);
                    failed = true;
                    continue;
                }
                _memory.Rcu.Synchronize();
                gather.Begin();
                HvoStatus status = OptimizeFolio(folio, default, gather, flushEachSplit: true, splits, oldPages, counters, ref tally);
                tally.BootPages += FinishGather(gather, counters);
                if (status == HvoStatus.Done) optimized++;
                else failed = true;
            }
        }
        tally.Publish(_memory.Stat, counters);
        if (failed) MergeBackUnusedSplits(splits, gather, counters);
        ReturnScratch(scratch);
        FastPtEventSource.Log.VmemmapBatchStop(optimize: true, folios.Length, tally.PagesFreed, 0,
            (int)(HvoCounters.Read(ref counters.Flushes) - flushesBefore));
        return optimized;
    }

    /// <summary><c>vmemmap_should_optimize_folio</c>, plus the self-hosted check the kernel makes on the walk's
    /// first PMD: memmap on hot-added memory (an altmap) must stay where it is. <paramref name="head"/> says where
    /// the head's descriptor is mapped (<see cref="HeadMapping"/>).</summary>
    private bool ShouldOptimize(Folio folio, HvoCounters counters, out HeadMapping head)
    {
        head = default;
        if (VmemmapPages(folio.Order) <= 1 || IsOptimized(folio.HeadPfn)) return false;
        ulong va = _memory.Layout.DescriptorAddress(folio.HeadPfn);
        // The walk the remap makes, stopped at the head's entry (in a read-side section, as every lockless walk of
        // tables a merge-back may free), instead of a hardware-walker lookup and a second walk from the top later.
        var lookup = new HeadLookupOps();
        MmStruct initMm = _memory.InitMm;
        _memory.Rcu.ReadLock();
        try
        {
            PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, va, va + Paging.PageSize, ref lookup);
        }
        finally
        {
            _memory.Rcu.ReadUnlock();
        }
        if (!PageTableEntry.IsPresent(lookup.Leaf))
            throw new InvalidOperationException($"BUG: the descriptor of HugeTLB folio 0x{folio.HeadPfn:x} is not mapped");
        ulong backing = (PageTableEntry.LeafAddress(lookup.Leaf, lookup.Level) + (va & (Paging.LevelSize(lookup.Level) - 1))) >> Paging.PageShift;
        head.Page = backing;
        ulong last = va + ((ulong)KernelLayout.DescriptorSize << folio.Order) - 1;
        if (lookup.Level == Paging.PteLevel && Paging.AlignDown(va, Paging.PmdSize) == Paging.AlignDown(last, Paging.PmdSize))
            head.Pmd = (nint)lookup.Pmd;
        if ((_memory.Memmap.Get(backing)->Flags & PageFlags.VmemmapSelfHosted) == 0) return true;
        HvoCounters.Add(ref counters.SelfHostedSkipped, 1);
        return false;
    }

    /// <summary>The split pass for one folio (<c>hugetlb_vmemmap_split_folio</c>): every PMD leaf mapping its
    /// vmemmap becomes a PTE table.</summary>
    private HvoStatus SplitFolio(Folio folio, bool flushEachSplit, List<SplitRecord> splits, HvoCounters counters)
    {
        ulong start = _memory.Layout.DescriptorAddress(folio.HeadPfn);
        var ops = new SplitOps { Owner = this, FlushEachSplit = flushEachSplit, Splits = splits, Counters = counters };
        MmStruct initMm = _memory.InitMm;
        PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, start, start + ((ulong)KernelLayout.DescriptorSize << folio.Order), ref ops);
        return ops.Failed ? HvoStatus.OutOfMemory : HvoStatus.Done;
    }

    /// <summary><c>__hugetlb_vmemmap_optimize_folio</c> on a frozen folio: remap and queue the old pages on
    /// <paramref name="gather"/>, or, out of memory half-way, put back what was remapped.</summary>
    private HvoStatus OptimizeFolio(Folio folio, in HeadMapping head, MmuGatherCore gather, bool flushEachSplit, List<SplitRecord> splits,
        ulong[] oldPages, HvoCounters counters, ref OptimizeTally tally)
    {
        Memmap memmap = _memory.Memmap;
        ulong start = _memory.Layout.DescriptorAddress(folio.HeadPfn);
        ulong end = start + ((ulong)KernelLayout.DescriptorSize << folio.Order);
        int pages = VmemmapPages(folio.Order);
        ulong tail = NoPage;
        int zone = (memmap.Get(folio.HeadPfn)->Flags & PageFlags.ZoneMovable) != 0 ? 1 : 0;
        bool tailAllocated = false;
        if (_sharedTails is not null && !_sharedTails.TryGet(zone, folio.Order, out tail, out tailAllocated))
        {
            HvoCounters.Add(ref counters.OptimizeFailures, 1);
            return HvoStatus.OutOfMemory;
        }
        // A new page for the head's descriptors, so that the old page goes back with the rest (GFP_NORETRY: without
        // one, the old page stays and is reused): alloc_pages_node of order 0, from this CPU's list, where the pages
        // the last folios gave back are.
        bool newHead = _memory.Buddy.TryAllocateHot(zero: false, out ulong newHeadPfn, movable: false);
        if (!newHead) newHeadPfn = NoPage;

        // Set before the walk copies the head's page, so the copy carries it: until the flush, this thread may still
        // reach the old page.
        memmap.OptimizedFolioAdded();
        memmap.GetMutable(folio.HeadPfn)->Private |= HugetlbPageFlags.VmemmapOptimized;

        var ops = new RemapOps
        {
            Owner = this, Physical = _memory.Physical, Start = start, NewHead = newHeadPfn, Tail = _sharedTails is null ? newHeadPfn : tail,
            OldPages = oldPages, Splits = splits, Counters = counters,
        };
        MmStruct initMm = _memory.InitMm;
        // Under init_mm's mmap lock, as MergeBackUnusedSplits: the walk reads each PTE (the old page) and then writes
        // the remapped one, and a merge-back of the same block by another thread's failed Optimize checks that its
        // PTEs still map the block page for page, reinstalls the leaf and frees the table. Without the lock that check
        // could pass between this walk's read and its write: the remap then went into a detached table and the pages
        // it queued were freed while the leaf still mapped them (a boot page freed twice, or the block's first frame
        // neither reserved nor allocated when the leaf was split again). With it, a merge-back sees this folio's
        // PTEs either all unmapped from the block (walk done: no identity, no merge) or not yet touched (then this
        // walk meets the leaf and splits it again itself); an undone walk puts the identity back before the lock
        // drops, so a merge-back after it is right. TrySplitPmd re-enters the lock (System.Threading.Lock is
        // reentrant); nothing here waits for a grace period while holding it.
        using (initMm.LockMmap())
        {
            // The PMD entry over the whole vmemmap of the folio, found by should-optimize: while it holds a PTE table
            // (read under this lock, which every split and merge-back of it takes), that table maps all of the
            // folio's vmemmap pages and the remap is its PTE range, with no walk from the top. Only the entry's
            // place is reused, never its value: a vmemmap PMD table is freed only when hot-remove depopulates the
            // memmap of its range, and hot-remove refuses a range with an allocated frame (Busy) — every frame of a
            // folio being optimized is allocated, before this call and after it. A leaf there (merged back since) takes
            // the walk, which splits it.
            ulong pmd = head.Pmd == 0 ? 0 : ReadEntry((ulong*)head.Pmd);
            if (PageTableEntry.IsTable(pmd, Paging.PmdLevel))
                ops.PteRange(_memory.Physical.TableForWrite(PageTableEntry.TableAddress(pmd)) + Paging.Index(Paging.PteLevel, start), start, end);
            else
                PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, start, end, ref ops);
            // Put back the old pages where the walk had got to.
            if (ops.Failed && ops.Walked > 0)
            {
                var undo = new UndoRemapOps { OldPages = oldPages };
                PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, start, start + ((ulong)ops.Walked << Paging.PageShift), ref undo);
            }
        }
        // A split the walk had to make (a merge-back undid the split pass's) gets the per-split flush now; batched,
        // the gather's flush covers it as it covers the split pass's.
        if (ops.SplitOnTheWay && flushEachSplit)
            FlushKernel(counters, Paging.AlignDown(start, Paging.PmdSize), Paging.AlignDown(end - 1, Paging.PmdSize) + Paging.PmdSize);
        if (ops.Failed)
        {
            // Flush at once (nothing may keep the new mappings), and only then clear the flag, through the old head
            // page again.
            HvoCounters.Add(ref counters.RemapsUndone, ops.Walked);
            FlushKernel(counters, start, end);
            // A reader may still hold a translation onto the fake heads from before the flush until its read-side
            // section ends: the static key drops only after that.
            _memory.Rcu.Synchronize();
            memmap.GetMutable(folio.HeadPfn)->Private &= ~HugetlbPageFlags.VmemmapOptimized;
            memmap.OptimizedFolioRemoved();
            // The new head page and a tail page allocated for this folio may have been mapped: they go after the
            // gather's flush and grace period.
            if (newHead) gather.RemovePages(newHeadPfn, 0, perCpu: true);
            _sharedTails?.Release(zone, folio.Order, tailAllocated, gather);
            HvoCounters.Add(ref counters.OptimizeFailures, 1);
            return HvoStatus.OutOfMemory;
        }

        gather.AddRange(start, end);
        // free_vmemmap_page: each page goes to this CPU's list (__free_page), not to the buddy lists one zone-lock
        // acquisition and one coalescing at a time; boot memmap (free_bootmem_page) to free_reserved_page. Which of
        // them were boot memory (nr_memmap_boot_pages, the rest nr_memmap_pages) the free counts as it reads their
        // descriptors (the gather's ReservedPagesFreed), so they are not read here too. Every page of the folio is
        // remapped already and no page-table lock is held: a full batch may be flushed and freed on the way
        // (tlb_flush_mmu), the flush covering the range added above.
        int first = newHead ? 0 : 1;
        gather.RemoveSinglePages(oldPages.AsSpan(first, pages - first));
        tally.OldPages += pages - first;
        tally.Folios++;
        if (newHead) tally.HeadPagesCopied++;
        return HvoStatus.Done;
    }

    /// <summary>What the optimizations of one call gave back, published with one interlocked add per counter when
    /// the call ends rather than a dozen per folio.</summary>
    private struct OptimizeTally
    {
        // Old vmemmap pages queued for freeing; the boot memory among them, counted by the frees; head pages copied
        // (each new head page is memmap now: the net count given back is one less per folio).
        public long OldPages, BootPages, Folios, HeadPagesCopied;

        /// <summary>Net <c>nr_memmap_pages</c> given back.</summary>
        public readonly long RuntimePages => OldPages - BootPages - HeadPagesCopied;

        /// <summary>Net memmap pages freed: <c>nr_memmap_boot_pages</c> and <c>nr_memmap_pages</c> drop by it.</summary>
        public readonly long PagesFreed => BootPages + RuntimePages;

        public readonly void Publish(Vmstat stat, HvoCounters counters)
        {
            if (Folios == 0) return;
            Vmstat.Add(ref stat.MemmapBootPages, -BootPages);
            Vmstat.Add(ref stat.MemmapPages, -RuntimePages);
            Vmstat.Add(ref stat.MemmapFrames, -PagesFreed);
            Vmstat.Add(ref stat.HvoPagesFreed, PagesFreed);
            Vmstat.Add(ref stat.HvoFoliosOptimized, Folios);
            HvoCounters.Add(ref counters.PagesFreed, PagesFreed);
            HvoCounters.Add(ref counters.FoliosOptimized, Folios);
            HvoCounters.Add(ref counters.HeadPagesCopied, HeadPagesCopied);
        }
    }

    // ------------------------------------------------------------------------------------------ restore

    /// <summary>Restores the vmemmap of <paramref name="folios"/> (frozen folios leaving the pool), batched (one
    /// grace period and one flush) or one at a time. Stops at the first folio whose pages cannot be allocated, which
    /// is left exactly as it was. Returns how many folios from the start of the span are restored (or were not
    /// optimized).</summary>
    public int Restore(ReadOnlySpan<Folio> folios, bool batched, HvoCounters counters)
    {
        if (folios.Length == 0) return 0;
        FastPtEventSource.Log.VmemmapBatchStart(optimize: false, folios.Length);
        long flushesBefore = HvoCounters.Read(ref counters.Flushes);
        Scratch scratch = TakeScratch();
        ulong[] newPages = scratch.PagesFor(VmemmapPages(MaxOrderOf(folios)));
        var tally = new RestoreTally();
        if (batched) HvoCounters.Add(ref counters.Batches, 1);
        int done = 0, remapped = 0;
        bool synchronized = false;
        for (; done < folios.Length; done++)
        {
            Folio folio = folios[done];
            if (!IsOptimized(folio.HeadPfn)) continue;
            if (!batched || !synchronized)
            {
                _memory.Rcu.Synchronize();
                synchronized = true;
            }
            if (!RestoreFolio(folio, newPages, ref tally))
            {
                HvoCounters.Add(ref counters.RestoreFailures, 1);
                break;
            }
            remapped++;
            if (!batched) Restored(folio, counters, flush: true, ref tally);
        }
        if (batched && remapped > 0)
        {
            // One flush for the batch, then one grace period: a reader that translated a tail onto its fake head
            // before the flush holds that translation until its read-side section ends (the simulated CPU's
            // descriptor pointer), so only then is no fake head left to see and the static key may drop.
            FlushKernel(counters);
            _memory.Rcu.Synchronize();
            for (int i = 0; i < done; i++)
                if (IsOptimized(folios[i].HeadPfn)) Restored(folios[i], counters, flush: false, ref tally);
        }
        tally.Publish(_memory.Stat, counters);
        ReturnScratch(scratch);
        FastPtEventSource.Log.VmemmapBatchStop(optimize: false, folios.Length, 0, tally.Pages,
            (int)(HvoCounters.Read(ref counters.Flushes) - flushesBefore));
        return done;
    }

    /// <summary><c>vmemmap_remap_alloc</c>: all pages first (or none, and nothing changed), then each tail vmemmap
    /// page gets one, filled with tail descriptors and mapped read-write.</summary>
    private bool RestoreFolio(Folio folio, ulong[] newPages, ref RestoreTally tally)
    {
        int pages = VmemmapPages(folio.Order) - 1;
        Span<ulong> fresh = newPages.AsSpan(0, pages);
        if (!AllocateVmemmapPages(fresh)) return false;
        ulong start = _memory.Layout.DescriptorAddress(folio.HeadPfn);
        ulong headPage = BackingOf(start) >> Paging.PageShift;
        ulong source;
        if (_sharedTails is not null)
        {
            int zone = (_memory.Memmap.Get(folio.HeadPfn)->Flags & PageFlags.ZoneMovable) != 0 ? 1 : 0;
            source = _sharedTails.Existing(zone, folio.Order);
        }
        else
        {
            source = headPage;
        }
        var ops = new RestoreOps { Memory = _memory, Expected = source, NewPages = newPages, ResetHead = _sharedTails is null };
        MmStruct initMm = _memory.InitMm;
        PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, start + Paging.PageSize,
            start + ((ulong)KernelLayout.DescriptorSize << folio.Order), ref ops);
        tally.Pages += pages;
        tally.Folios++;
        return true;
    }

    /// <summary><c>alloc_vmemmap_page_list</c>: single ZONE_NORMAL frames from this CPU's list (refilled from the
    /// buddy lists a batch at a time; taken under one hold of its lock rather than one per page), then, if its zone
    /// ran dry there, one by one from what other CPUs' lists hold; all or none. The free frames are counted first,
    /// so that a refusal takes nothing (the exhaustion sweeps compare the whole allocator); only a racing allocation
    /// can make a later frame fail, and then the ones taken go back onto the list, as the kernel's error path frees
    /// them.</summary>
    private bool AllocateVmemmapPages(Span<ulong> fresh)
    {
        BuddyAllocator buddy = _memory.Buddy;
        if (buddy.ZoneFreePages(MemoryZone.Normal) < fresh.Length) return false;
        for (int i = buddy.TryAllocateHotBulk(fresh); i < fresh.Length; i++)
        {
            if (buddy.TryAllocateHot(zero: false, out fresh[i], movable: false)) continue;
            for (int j = 0; j < i; j++) buddy.FreeHot(fresh[j]);
            return false;
        }
        return true;
    }

    /// <summary>What the restores of one call allocated and unflagged, published once when the call ends.</summary>
    private struct RestoreTally
    {
        public long Pages, Folios, Unflagged;

        public readonly void Publish(Vmstat stat, HvoCounters counters)
        {
            if (Folios == 0) return;
            Vmstat.Add(ref stat.MemmapPages, Pages);
            Vmstat.Add(ref stat.MemmapFrames, Pages);
            Vmstat.Add(ref stat.HvoPagesRestored, Pages);
            Vmstat.Add(ref stat.HvoFoliosOptimized, -Unflagged);
            HvoCounters.Add(ref counters.PagesRestored, Pages);
            HvoCounters.Add(ref counters.FoliosRestored, Folios);
        }
    }

    /// <summary>A restored folio loses its optimized flag (its head page never moved, so this write reaches the
    /// mapped page) and, once the flush is done, its share of the static key.</summary>
    private void Restored(Folio folio, HvoCounters counters, bool flush, ref RestoreTally tally)
    {
        if (flush)
        {
            ulong start = _memory.Layout.DescriptorAddress(folio.HeadPfn);
            FlushKernel(counters, start, start + ((ulong)KernelLayout.DescriptorSize << folio.Order));
            // Readers holding a translation from before the flush finish their sections before the key drops.
            _memory.Rcu.Synchronize();
        }
        _memory.Memmap.GetMutable(folio.HeadPfn)->Private &= ~HugetlbPageFlags.VmemmapOptimized;
        _memory.Memmap.OptimizedFolioRemoved();
        tally.Unflagged++;
        if (_sharedTails is not null)
        {
            int zone = (_memory.Memmap.Get(folio.HeadPfn)->Flags & PageFlags.ZoneMovable) != 0 ? 1 : 0;
            _sharedTails.Release(zone, folio.Order, allocatedNow: false, gather: null);
        }
    }

    // ------------------------------------------------------------------------------------------ splits

    /// <summary>Where a folio's head descriptor is mapped, as should-optimize found it: <see cref="Page"/> backs it;
    /// <see cref="Pmd"/>, when not 0, is the PMD entry under which one PTE table maps the folio's whole vmemmap (so
    /// nothing to split, and the remap may start from it).</summary>
    private struct HeadMapping
    {
        public ulong Page;
        public nint Pmd;
    }

    /// <summary>A PMD leaf of the vmemmap this call split: where its entry is, and what it was.</summary>
    private readonly record struct SplitRecord(nint Entry, ulong Leaf, ulong TablePfn, bool Reserved);

    /// <summary><c>vmemmap_split_pmd</c>: a PTE table mapping the same 512 pages replaces the PMD leaf (PTEs
    /// written before the release store of the PMD that publishes them). A buddy block becomes 512 pages that can be
    /// freed one by one; a boot block's pages are reserved pages already. False when no frame is free.</summary>
    private bool TrySplitPmd(ulong* pmd, ulong address, bool flush, List<SplitRecord> splits, HvoCounters counters)
    {
        BeforeSplitPmd?.Invoke();
        // The walker saw a leaf, but another thread's split pass may have installed its table since (two folios whose
        // descriptors share this 2 MiB block). Checked here, on the value the check under the lock compares with:
        // without it, that value was the other thread's table entry, which the check then found unchanged, so the
        // "block" at its table's address (the 2 MiB around a PTE table page — a boot vmemmap block, say) was split
        // and mapped as this block's vmemmap, and the remap freed pages of it that other descriptors still used
        // (a boot vmemmap page freed twice; split_page of a frame neither reserved nor allocated).
        ulong leaf = ReadEntry(pmd);
        if (!PageTableEntry.IsLeaf(leaf, Paging.PmdLevel)) return true;
        if (!_memory.Buddy.TryAllocate(0, zero: false, out ulong tablePfn)) return false;
        ulong blockPa = PageTableEntry.LeafAddress(leaf, Paging.PmdLevel);
        ulong* ptes = _memory.Physical.TableForWrite(tablePfn << Paging.PageShift);
        for (int i = 0; i < Paging.EntriesPerTable; i++) ptes[i] = (blockPa + ((ulong)i << Paging.PageShift)) | PageTableEntry.KernelData;
        MmStruct initMm = _memory.InitMm;
        _memory.PageTables.ConstructKernel(tablePfn, Paging.PteLevel, initMm.Id);
        using (initMm.LockMmap())
        {
            if (ReadEntry(pmd) != leaf)
            {
                // Someone else split it first.
                _memory.PageTables.FreeUnpublished(tablePfn, Paging.PteLevel);
                return true;
            }
            ulong blockPfn = blockPa >> Paging.PageShift;
            bool reserved = (_memory.Memmap.Get(blockPfn)->Flags & PageFlags.Reserved) != 0;
            if (!reserved) _memory.Buddy.SplitPage(blockPfn, Paging.PmdShift - Paging.PageShift);
            // Release: the PTEs written above are visible to any walker that reads the new PMD.
            System.Threading.Volatile.Write(ref *pmd, (tablePfn << Paging.PageShift) | PageTableEntry.KernelTable);
            System.Threading.Interlocked.Increment(ref initMm.Tables[Paging.PteLevel]);
            System.Threading.Interlocked.Decrement(ref initMm.Leaves[Paging.PmdLevel]);
            System.Threading.Interlocked.Add(ref initMm.Leaves[Paging.PteLevel], Paging.EntriesPerTable);
            splits.Add(new SplitRecord((nint)pmd, leaf, tablePfn, reserved));
        }
        HvoCounters.Add(ref counters.Splits, 1);
        if (flush) FlushKernel(counters, Paging.AlignDown(address, Paging.PmdSize), Paging.AlignDown(address, Paging.PmdSize) + Paging.PmdSize);
        return true;
    }

    /// <summary>After a failed optimization: every split of this call whose PTEs still map the original block
    /// read-write, page for page (no folio in it was optimized), becomes the PMD leaf it was; the tables go after one
    /// flush. So a failure leaves the vmemmap as it found it.</summary>
    private void MergeBackUnusedSplits(List<SplitRecord> splits, MmuGatherCore gather, HvoCounters counters)
    {
        if (splits.Count == 0) return;
        MmStruct initMm = _memory.InitMm;
        gather.Begin();
        using (initMm.LockMmap())
        {
            foreach (SplitRecord split in splits)
            {
                var pmd = (ulong*)split.Entry;
                if (ReadEntry(pmd) != ((split.TablePfn << Paging.PageShift) | PageTableEntry.KernelTable)) continue;
                ulong blockPa = PageTableEntry.LeafAddress(split.Leaf, Paging.PmdLevel);
                ulong* ptes = _memory.Physical.TableForRead(split.TablePfn << Paging.PageShift);
                bool identity = true;
                for (int i = 0; i < Paging.EntriesPerTable && identity; i++)
                    identity = ptes[i] == ((blockPa + ((ulong)i << Paging.PageShift)) | PageTableEntry.KernelData);
                if (!identity) continue;
                System.Threading.Volatile.Write(ref *pmd, split.Leaf);
                if (!split.Reserved) _memory.Buddy.UnsplitPage(blockPa >> Paging.PageShift, Paging.PmdShift - Paging.PageShift);
                System.Threading.Interlocked.Increment(ref initMm.Leaves[Paging.PmdLevel]);
                System.Threading.Interlocked.Add(ref initMm.Leaves[Paging.PteLevel], -Paging.EntriesPerTable);
                gather.RemoveTable(split.TablePfn << Paging.PageShift, Paging.PteLevel);
                HvoCounters.Add(ref counters.SplitsMergedBack, 1);
            }
        }
        FinishGather(gather, counters);
    }

    // ------------------------------------------------------------------------------------------ helpers

    /// <summary>What an optimize or restore call works with, kept for the next call so that a call allocates
    /// nothing: the gather (its list of pages to free grows to a batch once), the old or new pages of a folio, the
    /// splits, the batch's eligibility marks.</summary>
    private sealed class Scratch
    {
        public readonly MmuGatherCore Gather;
        public readonly List<SplitRecord> Splits = new();
        private ulong[] _pages = [];
        private byte[] _eligible = [];
        private HeadMapping[] _heads = [];

        public Scratch(MmStruct initMm) => Gather = new MmuGatherCore(initMm, owned: true);

        public ulong[] PagesFor(int count) => _pages.Length >= count ? _pages : _pages = new ulong[count];

        /// <summary>Room for <paramref name="count"/> head mappings (written before they are read).</summary>
        public Span<HeadMapping> HeadsFor(int count)
        {
            if (_heads.Length < count) _heads = new HeadMapping[count];
            return _heads.AsSpan(0, count);
        }

        /// <summary><paramref name="count"/> marks, all <see cref="Undecided"/>.</summary>
        public Span<byte> EligibleFor(int count)
        {
            if (_eligible.Length < count) _eligible = new byte[count];
            Span<byte> marks = _eligible.AsSpan(0, count);
            marks.Clear();
            return marks;
        }
    }

    /// <summary>The cached scratch, or a new one when another call holds it (calls may run on several threads).</summary>
    private Scratch TakeScratch() => System.Threading.Interlocked.Exchange(ref _scratch, null) ?? new Scratch(_memory.InitMm);

    /// <summary>Keeps <paramref name="scratch"/> for the next call. A call that threw does not get here: its gather
    /// may still be active, and the next call makes a new one.</summary>
    private void ReturnScratch(Scratch scratch)
    {
        scratch.Splits.Clear();
        System.Threading.Volatile.Write(ref _scratch, scratch);
    }

    /// <summary>The physical address backing the kernel virtual address <paramref name="va"/>.</summary>
    private ulong BackingOf(ulong va)
    {
        if (!PageTableOps.Lookup(_memory.InitMm, va, out ulong entry, out int level))
            throw new InvalidOperationException($"BUG: vmemmap address 0x{va:x} is not mapped");
        return PageTableEntry.LeafAddress(entry, level) + (va & (Paging.LevelSize(level) - 1) & Paging.PageMask);
    }

    /// <summary>A kernel TLB flush of [start, end) (everything when no range is given: <c>flush_tlb_all</c>).</summary>
    private void FlushKernel(HvoCounters counters, ulong start = 0, ulong end = ulong.MaxValue)
    {
        _memory.FlushTlb(_memory.InitMm, new FlushRequest(start, end, FlushKind.Kernel, TablesFreed: false));
        HvoCounters.Add(ref counters.Flushes, 1);
        if (FastPtEventSource.Log.IsEnabled())
            FastPtEventSource.Log.TlbFlush(_memory.InitMm.Id, FlushKind.Kernel, start, end, _memory.InitMm.Flush.Contexts.Length);
    }

    /// <summary>Ends a gather: flush, grace period, frees; its flushes are counted. Returns the boot frames it
    /// freed (since its <c>Begin</c>, as its flushes).</summary>
    private static long FinishGather(MmuGatherCore gather, HvoCounters counters)
    {
        // Flushes counts from Begin: the final one and every flush of a batch that filled on the way.
        gather.Finish();
        HvoCounters.Add(ref counters.Flushes, gather.Flushes);
        return gather.ReservedPagesFreed;
    }

    private static int MaxOrderOf(ReadOnlySpan<Folio> folios)
    {
        int order = 0;
        foreach (Folio f in folios) order = Math.Max(order, f.Order);
        return order;
    }

    private static ulong ReadEntry(ulong* entry) => System.Threading.Volatile.Read(ref *entry);
}
