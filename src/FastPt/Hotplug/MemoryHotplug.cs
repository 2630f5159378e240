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
    private const ulong SectionMemmapBytes = SparseMemory.PagesPerSection * KernelLayout.DescriptorSize;

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

    public HotplugReport Add(ulong start, ulong size, HotAddOptions options)
    {
        Validate(start, size, options.UseAltmap);
        ulong startPfn = start >> Paging.PageShift, endPfn = (start + size) >> Paging.PageShift;
        var watch = Stopwatch.StartNew();
        FastPtEventSource.Log.HotAddStart(start, size, options.UseAltmap);
        lock (_hotplugLock)
        {
            if (!_memory.Sparse.RangeAbsent(startPfn, endPfn - startPfn))
                throw Refuse(HotplugError.AlreadyPresent, start, size, "part of the range is already present");
            MmStruct initMm = _memory.InitMm;
            using (initMm.LockTables())
            {
                Counters before = Counters.Take(_memory, _vmemmap);

                // arch_add_memory: the linear map first.
                long[] leaves = (long[])initMm.Leaves.Clone();
                var plan = new MapOperation.Plan(_memory.Layout.DirectMapAddress(start), start, _memory.DirectMapLevels, 0,
                    PageTableEntry.KernelData, PageTableEntry.KernelData | PageTableEntry.Huge, PageTableEntry.KernelTable);
                PagingResult mapped = PageTableOps.Map(initMm, _memory.Layout.DirectMapAddress(start), size, plan);
                if (!mapped.IsSuccess)
                {
                    FastPtEventSource.Log.HotAddStop(start, size, 0, 0, success: false);
                    throw Refuse(HotplugError.OutOfMemory, start, size, "no memory for the direct map's page tables: " + mapped);
                }
                Vmstat.Add(ref _memory.Stat.DirectMap4K, initMm.Leaves[1] - leaves[1]);
                Vmstat.Add(ref _memory.Stat.DirectMap2M, initMm.Leaves[2] - leaves[2]);
                Vmstat.Add(ref _memory.Stat.DirectMap1G, initMm.Leaves[3] - leaves[3]);

                Altmap? altmap = null;
                if (options.UseAltmap)
                {
                    ulong memmapPages = (ulong)MemmapPagesFor(endPfn - startPfn);
                    altmap = new Altmap(startPfn, memmapPages, endPfn - startPfn);
                }

                // __add_pages: section by section (sparse_add_section).
                long tables = 0, frames = 0;
                for (ulong pfn = startPfn; pfn < endPfn;)
                {
                    ulong n = Math.Min(endPfn, (SparseMemory.SectionOf(pfn) + 1) << SparseMemory.PfnSectionShift) - pfn;
                    if (!ActivateSection(pfn, n, altmap, options.Population, options.Movable, ref tables, ref frames))
                    {
                        // Undo: the sections done so far, the linear map. Nothing stays changed.
                        RemoveRange(startPfn, pfn, endPfn, altmap, offline: false);
                        FastPtEventSource.Log.HotAddStop(start, size, 0, 0, success: false);
                        throw Refuse(HotplugError.OutOfMemory, start, size, "no memory for the new range's memmap");
                    }
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
                return report;
            }
        }
    }

    /// <summary><c>section_activate</c>: the memmap of [pfn, pfn + n) within one section, then the subsection map.</summary>
    private bool ActivateSection(ulong pfn, ulong n, Altmap? altmap, VmemmapPopulation population, bool movable, ref long tables, ref long frames)
    {
        ulong section = SparseMemory.SectionOf(pfn);
        // An early section's memmap covers the whole section already.
        bool early = _memory.Sparse.IsEarly(section);
        if (!(n < SparseMemory.PagesPerSection && early))
        {
            ulong startVa = _memory.Layout.DescriptorAddress(pfn), endVa = _memory.Layout.DescriptorAddress(pfn + n);
            // x86 vmemmap_populate: base pages below a whole section's memmap, 2 MiB blocks from there on.
            bool huge = population == VmemmapPopulation.PmdBlocksAlways || altmap is not null || endVa - startVa >= SectionMemmapBytes;
            if (!_vmemmap.Populate(startVa, endVa, altmap, huge, ref tables, ref frames))
            {
                Vmstat.Add(ref _memory.Stat.MemmapFrames, frames);
                frames = 0;
                DepopulateLocked(startVa, endVa, altmap);
                return false;
            }
            Vmstat.Add(ref _memory.Stat.MemmapFrames, frames);
            frames = 0;
            Vmstat.Add(ref _memory.Stat.MemmapPages, MemmapPagesFor(n));
        }
        bool sectionWasEmpty = _memory.Sparse.SubsectionMapOf(section) == 0;
        _memory.Sparse.AddSubsections(pfn, n, early: false);
        if (sectionWasEmpty) _memory.Sparse.SetMovable(section, movable);
        return true;
    }

    // ------------------------------------------------------------------------------------------ hot-remove

    public HotplugReport Remove(ulong start, ulong size)
    {
        Validate(start, size, altmap: false);
        ulong startPfn = start >> Paging.PageShift, endPfn = (start + size) >> Paging.PageShift;
        var watch = Stopwatch.StartNew();
        lock (_hotplugLock)
        {
            if (!_memory.Sparse.RangePresent(startPfn, endPfn - startPfn))
                throw Refuse(HotplugError.NotPresent, start, size, "part of the range is not present");
            Altmap? altmap = null;
            foreach (Altmap a in _altmaps)
            {
                ulong aEnd = a.BasePfn + a.RangePages;
                if (a.BasePfn >= endPfn || aEnd <= startPfn) continue;
                if (a.BasePfn < startPfn || aEnd > endPfn || altmap is not null)
                    throw Refuse(HotplugError.InvalidArgument, start, size,
                        $"memory added with an altmap at pfn 0x{a.BasePfn:x} must be removed whole, alone");
                altmap = a;
            }
            // offline_pages: every frame must be free, except the memmap this range hosts for itself.
            ulong checkFrom = altmap is not null ? altmap.BasePfn + altmap.Free : startPfn;
            if ((altmap is not null && !_memory.Buddy.IsRangeFree(startPfn, altmap.BasePfn, out ulong busy))
                || !_memory.Buddy.IsRangeFree(checkFrom, endPfn, out busy))
                throw Refuse(HotplugError.Busy, start, size, $"frame 0x{busy:x} (pfn) is in use; offline the memory first");

            FastPtEventSource.Log.HotRemoveStart(start, size);
            using (_memory.InitMm.LockTables())
            {
                Counters before = Counters.Take(_memory, _vmemmap);
                (int flushes, long tablesFreed) = RemoveRange(startPfn, endPfn, endPfn, altmap, offline: true);
                if (altmap is not null)
                {
                    if (altmap.Allocated != 0) ThrowHelper.ThrowAltmapNotEmpty(altmap.Allocated);
                    _altmaps.Remove(altmap);
                }
                HotplugReport report = Counters.Take(_memory, _vmemmap).Report(before, start, size, watch.Elapsed, flushes);
                FastPtEventSource.Log.HotRemoveStop(start, size, -report.MemmapFramesDelta, tablesFreed, report.BytesMarkedUnused, success: true);
                return report;
            }
        }
    }

    /// <summary>Takes [startPfn, endPfn) out: offline, <c>section_deactivate</c> per section (vmemmap) up to
    /// <paramref name="sectionsEndPfn"/>, the linear map of all of it, one gather for everything; then every address
    /// space is flushed before the host memory goes. Also undoes a hot-add that failed half-way (whose sections are
    /// only partly activated). Returns the flushes issued and the page-table pages freed.</summary>
    private (int Flushes, long TablesFreed) RemoveRange(ulong startPfn, ulong sectionsEndPfn, ulong endPfn, Altmap? altmap, bool offline)
    {
        ulong start = startPfn << Paging.PageShift, end = endPfn << Paging.PageShift;
        if (offline)
        {
            ulong from = altmap is not null ? altmap.BasePfn + altmap.Free : startPfn;
            _memory.Buddy.Isolate(from, endPfn);
            for (ulong p = startPfn; p < from; p++) _memory.Memmap.GetMutable(p)->Flags = 0;
            Interlocked.Add(ref _memory.PresentPages, -(long)(endPfn - startPfn));
        }
        MmStruct initMm = _memory.InitMm;
        MmuGatherCore gather = initMm.RentGather();
        try
        {
            for (ulong pfn = startPfn; pfn < sectionsEndPfn;)
            {
                ulong n = Math.Min(sectionsEndPfn, (SparseMemory.SectionOf(pfn) + 1) << SparseMemory.PfnSectionShift) - pfn;
                DeactivateSection(pfn, n, altmap, gather);
                pfn += n;
            }
            if (end > start) RemoveDirectMap(start, end, gather);
            gather.Finish();
        }
        catch
        {
            gather.Finish();
            throw;
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

    private void DepopulateLocked(ulong startVa, ulong endVa, Altmap? altmap)
    {
        MmuGatherCore gather = _memory.InitMm.RentGather();
        try
        {
            Depopulate(startVa, endVa, altmap, gather);
        }
        finally
        {
            gather.Finish();
        }
    }

    /// <summary><c>kernel_physical_mapping_remove</c>.</summary>
    private void RemoveDirectMap(ulong start, ulong end, MmuGatherCore gather)
    {
        MmStruct initMm = _memory.InitMm;
        // At most one 1 GiB leaf at each end can be cut in part; such a leaf is split into 2 MiB leaves.
        var pool = new ulong[2];
        if (!_memory.Buddy.TryAllocateBulk(pool, zero: true))
            ThrowHelper.ThrowInvariant("no frame to split a direct-map leaf");
        var ops = new RemovePagetableOps { Memory = _memory, Vmemmap = _vmemmap, Gather = gather, Direct = true, SplitPool = pool };
        ulong va = _memory.Layout.DirectMapAddress(start);
        PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, va, va + (end - start), ref ops);
        ops.Commit();
        for (int i = ops.SplitPoolUsed; i < pool.Length; i++) _memory.Buddy.Free(pool[i], 0);
    }

    // ------------------------------------------------------------------------------------------ helpers

    private void Validate(ulong start, ulong size, bool altmap)
    {
        if (size == 0 || start + size < start)
            throw Refuse(HotplugError.OutOfRange, start, size, "the range is empty or wraps");
        ulong align = altmap ? SparseMemory.SectionSize : SparseMemory.SubsectionSize;
        if ((start & (align - 1)) != 0 || (size & (align - 1)) != 0)
            throw Refuse(HotplugError.Misaligned, start, size, altmap
                ? "memory with an altmap is added in whole 128 MiB sections"
                : "start and size must be multiples of a 2 MiB subsection");
        if (start + size > _memory.Physical.MaxPhysicalAddress || start + size > _memory.Layout.DirectMapSize)
            throw Refuse(HotplugError.OutOfRange, start, size, $"the machine's physical addresses end at 0x{_memory.Physical.MaxPhysicalAddress:x}");
    }

    private static HotplugException Refuse(HotplugError error, ulong start, ulong size, string message) =>
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
