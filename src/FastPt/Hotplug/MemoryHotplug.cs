using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Mm;

namespace FastPt.Hotplug;

/// <summary>Memory hot-add and hot-remove (<c>add_memory</c>/<c>online_pages</c>, <c>offline_pages</c>/
/// <c>remove_memory</c>): sections and subsections, the direct map, the vmemmap, and the accounting the kernel
/// exposes. Operations are serialised by the hotplug lock (<c>mem_hotplug_lock</c>); a refused or failed operation
/// changes nothing.</summary>
internal sealed unsafe class MemoryHotplug
{
    private readonly MemoryManager _memory;
    private readonly Vmemmap _vmemmap;
    private readonly Lock _hotplugLock = new();
    private readonly List<Altmap> _altmaps = new();

    public MemoryHotplug(MemoryManager memory)
    {
        _memory = memory;
        _vmemmap = new Vmemmap(memory);
    }

    /// <summary>Memmap pages the kernel accounts for <paramref name="pages"/> frames (<c>DIV_ROUND_UP(nr_pages *
    /// sizeof(struct page), PAGE_SIZE)</c>).</summary>
    private static long MemmapPagesFor(ulong pages) => (long)((pages * KernelLayout.DescriptorSize + Paging.PageSize - 1) >> Paging.PageShift);

    // ------------------------------------------------------------------------------------------ hot-add

    /// <summary><c>add_memory</c> and <c>online_pages</c>, in the engine's shape for "a failure changes nothing":
    /// check the direct map and the vmemmap and count every frame they need, take all of them at once (or refuse
    /// with nothing changed), then commit, which cannot fail. There is no undo path.</summary>
    public HotplugResult Add(ulong start, ulong size, HotAddOptions options)
    {
        if (!TryValidate(start, size, options.UseAltmap, out HotplugResult invalid)) return invalid;
        ulong startPfn = start >> Paging.PageShift, endPfn = (start + size) >> Paging.PageShift;
        var watch = Stopwatch.StartNew();
        lock (_hotplugLock)
        {
            if (!_memory.Sparse.RangeAbsent(startPfn, endPfn - startPfn))
                return Refuse(HotplugError.AlreadyPresent, start, size, "part of the range is already present");
            FastPtEventSource.Log.HotAddStart(start, size, options.UseAltmap);
            MmStruct initMm = _memory.InitMm;
            using (initMm.LockMmap())
            {
                Counters before = Counters.Take(_memory, _vmemmap);

                // Check: arch_add_memory's linear map, then the memmap of every section (sparse_add_section).
                ulong directVa = _memory.Layout.DirectMapAddress(start);
                var plan = new MapOperation.Plan(directVa, start, _memory.DirectMapLevels, 0,
                    PageTableEntry.KernelData, PageTableEntry.KernelData | PageTableEntry.Huge, PageTableEntry.KernelTable);
                PagingResult mapCheck = PageTableOps.CheckMap(initMm, directVa, size, plan, out TableDemand directDemand);
                if (!mapCheck.IsSuccess) throw new InvalidOperationException("the direct map of absent memory is in use: " + mapCheck);
                int directTables = checked((int)directDemand.Total);
                Altmap? altmap = options.UseAltmap ? new Altmap(startPfn, (ulong)MemmapPagesFor(endPfn - startPfn), endPfn - startPfn) : null;
                var request = new PopulateRequest(startPfn, endPfn, altmap, options.Population);
                PopulatePlan populate = _vmemmap.Plan(request);
                if (altmap is not null && (ulong)populate.AltmapBlocks * 512 > altmap.Free)
                    return RefuseAdd(start, size, $"the altmap holds {altmap.Free} frames, the memmap needs {populate.AltmapBlocks * 512}");

                // Preallocate everything, or nothing.
                if (!TryPreallocate(directTables, populate, out ulong[] frames, out ulong[] slotBlocks, out string shortage))
                    return RefuseAdd(start, size, shortage);

                // Commit: nothing below can fail.
                long[] leaves = (long[])initMm.Leaves.Clone();
                // A kernel table's constructor takes no split lock and cannot fail: constructed here, past the checks.
                var directPool = new TablePool(frames[..directTables], directDemand);
                for (int level = 1; level <= 4; level++)
                    for (long i = 0; i < directDemand[level]; i++)
                        _memory.PageTables.ConstructKernel(directPool.At(level, i), level, initMm.Id);
                PageTableOps.CommitMap(initMm, directVa, size, plan, ref directPool);
                Vmstat.Add(ref _memory.Stat.DirectMap4K, initMm.Leaves[1] - leaves[1]);
                Vmstat.Add(ref _memory.Stat.DirectMap2M, initMm.Leaves[2] - leaves[2]);
                Vmstat.Add(ref _memory.Stat.DirectMap1G, initMm.Leaves[3] - leaves[3]);
                long tables = 0, memmapFrames = 0;
                _vmemmap.Populate(request, frames.AsSpan(directTables), slotBlocks, ref tables, ref memmapFrames);
                Vmstat.Add(ref _memory.Stat.MemmapFrames, memmapFrames);
                for (ulong pfn = startPfn; pfn < endPfn;)
                {
                    ulong section = SparseMemory.SectionOf(pfn);
                    ulong n = request.PagesIn(section);
                    // section_activate: a runtime section's memmap is accounted per call; an early one has it all.
                    if (request.PopulationAt(_memory, _memory.Layout.DescriptorAddress(pfn)) != SectionPopulation.Skip)
                        Vmstat.Add(ref _memory.Stat.MemmapPages, MemmapPagesFor(n));
                    if (_memory.Sparse.AddSubsections(pfn, n, early: false)) _memory.Sparse.SetMovable(section, options.Movable);
                    pfn += n;
                }

                // online_pages: the altmap's frames host memmap and stay out of the buddy allocator.
                ulong firstOnline = startPfn;
                if (altmap is not null)
                {
                    for (ulong p = startPfn; p < startPfn + altmap.Free; p++)
                    {
                        PageDescriptor* d = _memory.Memmap.GetMutable(p);
                        d->Flags = PageFlags.VmemmapSelfHosted;
                        d->RefCount = 1;
                    }
                    firstOnline = startPfn + altmap.Free;
                    _altmaps.Add(altmap);
                }
                _memory.Buddy.FreeRange(firstOnline, endPfn);
                for (ulong s = SparseMemory.SectionOf(startPfn); s <= SparseMemory.SectionOf(endPfn - 1); s++) _memory.Sparse.SetOnline(s, true);
                Interlocked.Add(ref _memory.PresentPages, (long)(endPfn - startPfn));

                HotplugReport report = Counters.Take(_memory, _vmemmap).Report(before, start, size, watch.Elapsed, 0);
                FastPtEventSource.Log.HotAddStop(start, size, report.MemmapFramesDelta, report.PageTablesDelta, success: true);
                return new HotplugResult(report);
            }
        }
    }

    private static HotplugResult RefuseAdd(ulong start, ulong size, string message)
    {
        FastPtEventSource.Log.HotAddStop(start, size, 0, 0, success: false);
        return Refuse(HotplugError.OutOfMemory, start, size, message);
    }

    /// <summary>Takes the frames of a hot-add from ZONE_NORMAL in one all-or-nothing step: the direct map's
    /// tables, the vmemmap's tables and base pages, and a 2 MiB block for as many block slots as can have one
    /// (the rest fall back to a PTE table and base pages, as <c>vmemmap_populate_hugepages</c> does). Blocks go to
    /// the slots whose fallback would cost most; the most blocks that still let everything fit are taken.</summary>
    private bool TryPreallocate(int directTables, PopulatePlan populate, out ulong[] frames, out ulong[] slotBlocks, out string shortage)
    {
        List<int> costs = populate.BlockFallbackFrames;
        int[] byCost = new int[costs.Count];
        for (int i = 0; i < byCost.Length; i++) byCost[i] = i;
        Array.Sort(byCost, (a, b) => costs[a] != costs[b] ? costs[b].CompareTo(costs[a]) : a.CompareTo(b));
        long baseFrames = directTables + populate.Frames;
        long allFallback = 0;
        foreach (int cost in costs) allFallback += cost;
        slotBlocks = new ulong[costs.Count];
        // Each attempt is all or nothing; one that loses a race with another allocation is recounted.
        for (int attempt = 0; attempt < 8; attempt++)
        {
            long free = _memory.Buddy.ZoneFreePages(MemoryZone.Normal);
            int blocks = (int)Math.Min(costs.Count, _memory.Buddy.KernelBlocksFree(9));
            long saved = 0;
            for (int i = 0; i < blocks; i++) saved += costs[byCost[i]];
            while (blocks > 0 && free - 512L * blocks < baseFrames + allFallback - saved) saved -= costs[byCost[--blocks]];
            long need = baseFrames + allFallback - saved;
            if (free - 512L * blocks < need)
            {
                frames = [];
                shortage = $"{need} frames and {blocks} 2 MiB blocks of kernel memory needed for the range's page tables and memmap, {free} frames free";
                return false;
            }
            frames = new ulong[need];
            var blockPfns = new ulong[blocks];
            if (!_memory.Buddy.TryAllocateKernel(blockPfns, 9, frames, zero: true)) continue;
            Array.Clear(slotBlocks);
            for (int i = 0; i < blocks; i++) slotBlocks[byCost[i]] = blockPfns[i] + 1;
            shortage = "";
            return true;
        }
        frames = [];
        shortage = "kernel memory kept changing under concurrent allocations";
        return false;
    }

    // ------------------------------------------------------------------------------------------ hot-remove

    /// <summary><c>offline_pages</c> and <c>remove_memory</c>. Everything that can refuse is decided first, in one
    /// step of the buddy allocator: every frame must be free (except the memmap an altmap range hosts for itself)
    /// and the tables for splitting the 1 GiB direct-map leaves the range cuts must be there. Only then does
    /// anything change; the teardown itself allocates nothing (as the kernel's <c>remove_pagetable</c>).</summary>
    public HotplugResult Remove(ulong start, ulong size)
    {
        if (!TryValidate(start, size, altmap: false, out HotplugResult invalid)) return invalid;
        ulong startPfn = start >> Paging.PageShift, endPfn = (start + size) >> Paging.PageShift;
        var watch = Stopwatch.StartNew();
        lock (_hotplugLock)
        {
            if (!_memory.Sparse.RangePresent(startPfn, endPfn - startPfn))
                return Refuse(HotplugError.NotPresent, start, size, "part of the range is not present");
            Altmap? altmap = null;
            foreach (Altmap a in _altmaps)
            {
                ulong aEnd = a.BasePfn + a.RangePages;
                if (a.BasePfn >= endPfn || aEnd <= startPfn) continue;
                if (a.BasePfn < startPfn || aEnd > endPfn || altmap is not null)
                    return Refuse(HotplugError.InvalidArgument, start, size,
                        $"memory added with an altmap at pfn 0x{a.BasePfn:x} must be removed whole, alone");
                altmap = a;
            }
            FastPtEventSource.Log.HotRemoveStart(start, size);
            using (_memory.InitMm.LockMmap())
            {
                Counters before = Counters.Take(_memory, _vmemmap);
                var splitTables = new ulong[DirectMapSplitsNeeded(start, start + size)];
                ulong keepStart = altmap?.BasePfn ?? startPfn, keepEnd = altmap is null ? startPfn : altmap.BasePfn + altmap.Free;
                switch (_memory.Buddy.TryOffline(startPfn, endPfn, keepStart, keepEnd, splitTables, out ulong busy))
                {
                    case OfflineResult.Busy:
                        FastPtEventSource.Log.HotRemoveStop(start, size, 0, 0, 0, success: false);
                        return Refuse(HotplugError.Busy, start, size, $"frame 0x{busy:x} (pfn) is in use; offline the memory first");
                    case OfflineResult.NoFrames:
                        FastPtEventSource.Log.HotRemoveStop(start, size, 0, 0, 0, success: false);
                        return Refuse(HotplugError.OutOfMemory, start, size,
                            $"{splitTables.Length} free frame(s) of kernel memory outside the range needed to split the 1 GiB direct-map leaves it cuts");
                }
                (int flushes, long tablesFreed) = RemoveRange(startPfn, endPfn, altmap, splitTables);
                if (altmap is not null)
                {
                    if (altmap.Allocated != 0) ThrowHelper.ThrowAltmapNotEmpty(altmap.Allocated);
                    _altmaps.Remove(altmap);
                }
                HotplugReport report = Counters.Take(_memory, _vmemmap).Report(before, start, size, watch.Elapsed, flushes);
                FastPtEventSource.Log.HotRemoveStop(start, size, -report.MemmapFramesDelta, tablesFreed, report.BytesMarkedUnused, success: true);
                return new HotplugResult(report);
            }
        }
    }

    /// <summary>Takes the offlined [startPfn, endPfn) out: <c>section_deactivate</c> per section (vmemmap), the
    /// linear map (splitting cut 1 GiB leaves with <paramref name="splitTables"/>), one gather for everything;
    /// then every address space is flushed before the host memory goes. Returns the flushes issued and the
    /// page-table pages freed.</summary>
    private (int Flushes, long TablesFreed) RemoveRange(ulong startPfn, ulong endPfn, Altmap? altmap, ulong[] splitTables)
    {
        ulong start = startPfn << Paging.PageShift, end = endPfn << Paging.PageShift;
        if (altmap is not null)
            for (ulong p = altmap.BasePfn; p < altmap.BasePfn + altmap.Free; p++) _memory.Memmap.GetMutable(p)->Flags = 0;
        Interlocked.Add(ref _memory.PresentPages, -(long)(endPfn - startPfn));
        MmStruct initMm = _memory.InitMm;
        MmuGatherCore gather = initMm.RentGather();
        try
        {
            for (ulong pfn = startPfn; pfn < endPfn;)
            {
                ulong n = Math.Min(endPfn, (SparseMemory.SectionOf(pfn) + 1) << SparseMemory.PfnSectionShift) - pfn;
                DeactivateSection(pfn, n, altmap, gather);
                pfn += n;
            }
            RemoveDirectMap(start, end, gather, splitTables);
        }
        finally
        {
            gather.Finish();
        }
        int flushes = gather.Flushes;
        long tablesFreed = gather.TablesFreed;
        // Nothing may keep a host pointer into the range once its memory goes back to the host.
        flushes += _memory.FlushAllUserSpaces();
        _memory.Physical.Release(start, end - start);
        return (flushes, tablesFreed);
    }

    /// <summary><c>section_deactivate</c>: clear the subsections; a runtime section's memmap for them goes now, an
    /// early section's (populated whole at boot) only when the section is empty.</summary>
    private void DeactivateSection(ulong pfn, ulong n, Altmap? altmap, MmuGatherCore gather)
    {
        ulong section = SparseMemory.SectionOf(pfn);
        bool early = _memory.Sparse.IsEarly(section);
        bool empty = _memory.Sparse.RemoveSubsections(pfn, n);
        if (!early)
        {
            Vmstat.Add(ref _memory.Stat.MemmapPages, -MemmapPagesFor(n));
            Depopulate(_memory.Layout.DescriptorAddress(pfn), _memory.Layout.DescriptorAddress(pfn + n), altmap, gather);
        }
        else if (empty)
        {
            ulong sectionStart = section << SparseMemory.PfnSectionShift;
            Vmstat.Add(ref _memory.Stat.MemmapBootPages, -MemmapPagesFor(SparseMemory.PagesPerSection));
            Depopulate(_memory.Layout.DescriptorAddress(sectionStart),
                _memory.Layout.DescriptorAddress(sectionStart + SparseMemory.PagesPerSection), null, gather);
        }
    }

    /// <summary><c>vmemmap_free</c>.</summary>
    private void Depopulate(ulong startVa, ulong endVa, Altmap? altmap, MmuGatherCore gather)
    {
        MmStruct initMm = _memory.InitMm;
        var ops = new RemovePagetableOps { Memory = _memory, Vmemmap = _vmemmap, Gather = gather, Altmap = altmap, Direct = false, SplitPool = [] };
        PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, startVa, endVa, ref ops);
        ops.Commit();
    }

    /// <summary><c>kernel_physical_mapping_remove</c>: a 1 GiB leaf the range cuts in part is split into 2 MiB
    /// leaves with a table from <paramref name="splitTables"/>, which holds one per such leaf.</summary>
    private void RemoveDirectMap(ulong start, ulong end, MmuGatherCore gather, ulong[] splitTables)
    {
        MmStruct initMm = _memory.InitMm;
        // The split tables were reserved with the range (all or nothing); a kernel table's constructor takes no
        // split lock and cannot fail, so constructing them here, past the last check, keeps the removal atomic.
        foreach (ulong pfn in splitTables) _memory.PageTables.ConstructKernel(pfn, Paging.PmdLevel, initMm.Id);
        var ops = new RemovePagetableOps { Memory = _memory, Vmemmap = _vmemmap, Gather = gather, Direct = true, SplitPool = splitTables };
        ulong va = _memory.Layout.DirectMapAddress(start);
        PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, va, va + (end - start), ref ops);
        ops.Commit();
        if (ops.SplitPoolUsed != splitTables.Length)
            throw new InvalidOperationException($"the direct map needed {ops.SplitPoolUsed} splits, {splitTables.Length} were counted");
    }

    /// <summary>How many 1 GiB direct-map leaves [start, end) cuts in part. Ranges are whole 2 MiB subsections,
    /// so only a 1 GiB leaf can be cut: at most one at each end, one when both ends fall in the same leaf.</summary>
    private int DirectMapSplitsNeeded(ulong start, ulong end)
    {
        bool startCut = CutsGigabyteLeaf(start), endCut = CutsGigabyteLeaf(end);
        if (startCut && endCut && Paging.AlignDown(start, Paging.PudSize) == Paging.AlignDown(end, Paging.PudSize)) return 1;
        return (startCut ? 1 : 0) + (endCut ? 1 : 0);
    }

    /// <summary>True when <paramref name="boundary"/> falls strictly inside a 1 GiB leaf of the direct map.</summary>
    private bool CutsGigabyteLeaf(ulong boundary)
    {
        if (Paging.IsAligned(boundary, Paging.PudShift) || boundary >= _memory.Layout.DirectMapSize) return false;
        return PageTableOps.Lookup(_memory.InitMm, _memory.Layout.DirectMapAddress(boundary), out _, out int level)
            && level == Paging.PudLevel;
    }

    // ------------------------------------------------------------------------------------------ helpers

    private bool TryValidate(ulong start, ulong size, bool altmap, out HotplugResult refusal)
    {
        refusal = default;
        if (size == 0 || size - 1 > ulong.MaxValue - start)
            refusal = Refuse(HotplugError.OutOfRange, start, size, "the range is empty or goes past 2^64");
        else if (((start | size) & ((altmap ? SparseMemory.SectionSize : SparseMemory.SubsectionSize) - 1)) != 0)
            refusal = Refuse(HotplugError.Misaligned, start, size, altmap
                ? "memory with an altmap is added in whole 128 MiB sections"
                : "start and size must be multiples of a 2 MiB subsection");
        else if (size > _memory.Physical.MaxPhysicalAddress || start > _memory.Physical.MaxPhysicalAddress - size
            || start + size > _memory.Layout.DirectMapSize)
            refusal = Refuse(HotplugError.OutOfRange, start, size, $"the machine's physical addresses end at 0x{_memory.Physical.MaxPhysicalAddress:x}");
        return refusal.Error == HotplugError.None;
    }

    private static HotplugResult Refuse(HotplugError error, ulong start, ulong size, string message) =>
        new(error, new PhysAddr(start), size, message);

    /// <summary>The counters a report is the difference of.</summary>
    private readonly record struct Counters(long MemmapPages, long MemmapBootPages, long MemmapFrames, long KernelTables,
        long Marked, int PartialFreed, long Managed)
    {
        public static Counters Take(MemoryManager m, Vmemmap v)
        {
            long tables = 0;
            foreach (long t in m.Stat.KernelTables) tables += t;
            return new Counters(Vmstat.Read(ref m.Stat.MemmapPages), Vmstat.Read(ref m.Stat.MemmapBootPages),
                Vmstat.Read(ref m.Stat.MemmapFrames), tables, v.BytesMarkedUnused, v.PartialBlocksFreed, m.Buddy.ManagedPages);
        }

        public HotplugReport Report(Counters before, ulong start, ulong size, TimeSpan elapsed, int flushes) => new()
        {
            Start = new PhysAddr(start),
            Size = size,
            MemmapPagesDelta = MemmapPages - before.MemmapPages,
            MemmapBootPagesDelta = MemmapBootPages - before.MemmapBootPages,
            MemmapFramesDelta = MemmapFrames - before.MemmapFrames,
            PageTablesDelta = KernelTables - before.KernelTables,
            BytesMarkedUnused = Marked - before.Marked,
            PartialBlocksFreed = PartialFreed - before.PartialFreed,
            ManagedPagesDelta = Managed - before.Managed,
            Flushes = flushes,
            Elapsed = elapsed,
        };
    }
}
