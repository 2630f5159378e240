using System;
using System.Collections.Generic;
using System.Threading;
using FastPt.Diagnostics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>The simulated kernel's memory manager: owns the machine's RAM, the sparse sections, the memmap, the
/// allocators and the kernel page tables (init_mm), and boots them in the kernel's order: memblock, direct map,
/// vmemmap, then the buddy allocator takes over.</summary>
internal sealed unsafe class MemoryManager : IDisposable
{
    private readonly Lock _mmListLock = new();
    private readonly List<MmStruct> _userMms = new();
    private bool _disposed;

    /// <summary>Boots on <paramref name="options"/>, which <see cref="MachineOptions.Validated"/> checked and copied.</summary>
    public MemoryManager(MachineOptions options, IProgress<BootProgress>? progress = null, bool deferredInit = true)
    {
        Options = options;
        Layout = KernelLayout.For(options.PagingMode);
        Checked = options.CheckedMode;
        Physical = new PhysicalMemory(options.MaxPhysicalAddress, options.AdviseHostHugePages);
        try
        {
            Sparse = new SparseMemory(options.MaxPhysicalAddress);
            Rcu = new RcuDomain(new RcuEvents());
            Stat.Rcu = Rcu; // the Meter reads its grace periods and callbacks
            Memmap = new Memmap(Physical, Rcu, Layout, Checked, compoundInfoIsMask: options.HugeTlbVmemmapDesign == HvoDesign.SharedTail);
            Buddy = new BuddyAllocator(Memmap, Sparse, Physical, Stat, Checked);
            PageTableLocks = new SplitPageTableLocks(options.PageTableLocks, Memmap,
                new PtlockCache(Buddy, Memmap, Physical, Checked), Stat, Checked);
            PageTables = new PageTableAllocator(Buddy, Memmap, Stat, PageTableLocks);
            Fragments = new PteFragments(this, options.PteFragmentsPerBlock, options.PteFreeDeferScheme);
            PageTables.Fragments = Fragments;
            TableBatches = new MmuGatherCore.RcuTableBatch(this);
            InitMm = new MmStruct(this, kernel: true);
            Boot(progress, deferredInit);
        }
        catch
        {
            Physical.Dispose();
            Sparse?.Dispose();
            throw;
        }
    }

    /// <summary>Forwards what the RCU domain reports to the EventSource (Sync cannot call Diagnostics' users).</summary>
    private sealed class RcuEvents : IRcuObserver
    {
        public void GracePeriodEnded(long gracePeriods, int callbacks) => FastPtEventSource.Log.GracePeriod(gracePeriods, callbacks);

        public void ReaderAbandoned(int threadId, int nesting, RcuAbandonment reason) =>
            FastPtEventSource.Log.RcuReaderAbandoned(threadId, nesting, (int)reason);
    }

    public MachineOptions Options { get; }
    public KernelLayout Layout { get; }
    public bool Checked { get; }
    public PhysicalMemory Physical { get; }
    public SparseMemory Sparse { get; }
    public RcuDomain Rcu { get; }
    public Memmap Memmap { get; }
    public BuddyAllocator Buddy { get; }
    public PageTableAllocator PageTables { get; }

    /// <summary>The split page-table locks of every address space.</summary>
    public SplitPageTableLocks PageTableLocks { get; }

    /// <summary>The RCU side of the gather's table frees (<c>tlb_remove_table_rcu</c>).</summary>
    public MmuGatherCore.RcuTableBatch TableBatches { get; }

    /// <summary>PTE tables as fragments of page-table blocks, and the <c>pte_free_defer</c> scheme.</summary>
    public PteFragments Fragments { get; }
    public Vmstat Stat { get; } = new();
    public Memblock Memblock { get; } = new();

    /// <summary>The kernel's page tables.</summary>
    public MmStruct InitMm { get; }

    /// <summary>The shared zero page (<c>ZERO_PAGE</c>): never written, never freed.</summary>
    public ulong ZeroPfn { get; private set; }

    /// <summary>Frames of RAM present (boot and hot-added).</summary>
    public long PresentPages;

    /// <summary>Boot in the kernel's order. <paramref name="deferredInit"/> off writes every reserved descriptor
    /// and links every free block at boot, as the kernel without deferred struct-page init does: the
    /// representation the deferred one is checked against.</summary>
    private void Boot(IProgress<BootProgress>? progress, bool deferredInit)
    {
        IReadOnlyList<MemoryRange> map = Options.EffectiveMemoryMap();
        ulong ram = 0;
        foreach (MemoryRange r in map) ram += r.Size;
        ulong done = 0;
        foreach (MemoryRange r in map)
        {
            Memblock.AddMemory(r.Start.Value, r.Size);
            ulong pfn = r.Start.Pfn, end = r.End.Pfn;
            while (pfn < end)
            {
                ulong sectionEnd = (SparseMemory.SectionOf(pfn) + 1) << SparseMemory.PfnSectionShift;
                ulong n = Math.Min(sectionEnd, end) - pfn;
                Sparse.AddSubsections(pfn, n, early: true);
                pfn += n;
            }
            PresentPages += (long)(r.Size >> Paging.PageShift);
            progress?.Report(new BootProgress(BootPhase.MemoryMap, done += r.Size, ram));
        }

        // The root table, then the direct map and the vmemmap, all from memblock. Their descriptors do not exist
        // yet, so the table constructors run once the memmap is there.
        var deferred = new List<ulong>();
        InitMm.RootPa = BootAllocate(Paging.PageSize, Paging.PageSize);
        deferred.Add(InitMm.RootPa | (uint)InitMm.RootLevel);
        Memmap.KernelRootPa = InitMm.RootPa;
        // empty_zero_page: a reserved frame that stays zero, mapped read-only by read faults of zero-page regions.
        ZeroPfn = BootAllocate(Paging.PageSize, Paging.PageSize) >> Paging.PageShift;

        int directLevels = DirectMapLevels;
        done = 0;
        foreach (MemoryRange r in map)
        {
            // In pieces, for progress; the tables and leaves are the same as one walk over the range gives.
            for (ulong at = 0; at < r.Size; at += BootMapPiece)
            {
                ulong length = Math.Min(BootMapPiece, r.Size - at);
                var plan = new MapOperation.Plan(Layout.DirectMapAddress(r.Start.Value + at), r.Start.Value + at, directLevels, 0,
                    PageTableEntry.KernelData, PageTableEntry.KernelData | PageTableEntry.Huge, PageTableEntry.KernelTable);
                BootMap(plan, length, deferred);
                progress?.Report(new BootProgress(BootPhase.DirectMap, done += length, ram));
            }
        }
        Stat.DirectMap4K = InitMm.Leaves[1];
        Stat.DirectMap2M = InitMm.Leaves[2];
        Stat.DirectMap1G = InitMm.Leaves[3];

        List<MemmapRun> memmap = SparseInit(deferred, progress);

        // reserve_bootmem_region: every memblock allocation is PG_reserved boot memory. Registered before the
        // table constructors run, which keep those flags (the kernel writes them the other way round; the
        // descriptors come out the same).
        foreach (Memblock.Region r in Memblock.Reserved)
        {
            ulong first = r.Base >> Paging.PageShift, last = r.End >> Paging.PageShift;
            foreach (MemmapRun run in memmap)
            {
                ulong from = Math.Max(first, run.StartPfn), to = Math.Min(last, run.EndPfn);
                if (from < to) Memmap.DeferReservedInit(from, to, run.BackingPa + ((from - run.StartPfn) << KernelLayout.DescriptorShift));
            }
        }
        if (!deferredInit) Memmap.InitialiseAllDeferred();
        progress?.Report(new BootProgress(BootPhase.Reserve, Memblock.ReservedBytes, Memblock.ReservedBytes));

        foreach (ulong item in deferred)
            PageTables.ConstructKernel(item >> Paging.PageShift, (int)(item & 7), InitMm.Id);

        // memblock_free_all: the rest goes to the buddy allocator.
        ulong free = 0, freed = 0;
        foreach (Memblock.Region r in Memblock.FreeRanges()) free += r.Size;
        foreach (Memblock.Region r in Memblock.FreeRanges())
        {
            Buddy.FreeRange(r.Base >> Paging.PageShift, r.End >> Paging.PageShift, deferMaxOrder: deferredInit);
            progress?.Report(new BootProgress(BootPhase.FreeMemory, freed += r.Size, free));
        }
        for (ulong s = 0; s < Sparse.SectionCount; s++)
            if ((Sparse.FlagsOf(s) & SparseMemory.HasMemmap) != 0) Sparse.SetOnline(s, true);
    }

    /// <summary>Bytes of the direct map (or, for the memmap, of RAM) one boot mapping walk covers between two
    /// progress reports.</summary>
    private const ulong BootMapPiece = 64UL << 30;

    /// <summary>Frames [StartPfn, EndPfn) whose descriptors lie contiguously from physical BackingPa.</summary>
    private readonly record struct MemmapRun(ulong StartPfn, ulong EndPfn, ulong BackingPa);

    /// <summary><c>sparse_init</c>: a full section's memmap (exactly one 2 MiB block) for every present section,
    /// carved in ascending order from one memblock allocation for them all (<c>sparse_buffer_init</c>), so that
    /// consecutive sections have consecutive memmap and the vmemmap of a run of sections is one linear mapping.
    /// When no single range can hold the buffer, each block comes from memblock on its own, as in the kernel.
    /// Returns where the descriptors of each run of present sections are.</summary>
    private List<MemmapRun> SparseInit(List<ulong> deferred, IProgress<BootProgress>? progress)
    {
        long present = 0;
        for (ulong s = 0; s < Sparse.SectionCount; s++)
            if ((Sparse.FlagsOf(s) & SparseMemory.HasMemmap) != 0) present++;
        bool buffered = Memblock.TryAllocate((ulong)present * Paging.PmdSize, Paging.PmdSize, out ulong buffer);
        var runs = new List<MemmapRun>();
        ulong total = (ulong)present * SparseMemory.SectionSize, done = 0;
        for (ulong s = 0; s < Sparse.SectionCount;)
        {
            if ((Sparse.FlagsOf(s) & SparseMemory.HasMemmap) == 0)
            {
                s++;
                continue;
            }
            // A run of present sections, at most one progress piece long; one block each without a buffer.
            ulong count = 1;
            while (buffered && count < BootMapPiece / SparseMemory.SectionSize && s + count < Sparse.SectionCount
                && (Sparse.FlagsOf(s + count) & SparseMemory.HasMemmap) != 0) count++;
            ulong block = buffered ? buffer : BootAllocate(Paging.PmdSize, Paging.PmdSize);
            var plan = new MapOperation.Plan(Layout.DescriptorAddress(s << SparseMemory.PfnSectionShift), block, 1 << 2, 2,
                PageTableEntry.KernelData, PageTableEntry.KernelData | PageTableEntry.Huge, PageTableEntry.KernelTable);
            BootMap(plan, count * Paging.PmdSize, deferred);
            Stat.MemmapBootPages += 512 * (long)count;
            Stat.MemmapFrames += 512 * (long)count;
            var run = new MemmapRun(s << SparseMemory.PfnSectionShift, (s + count) << SparseMemory.PfnSectionShift, block);
            if (runs.Count > 0 && runs[^1].EndPfn == run.StartPfn
                && runs[^1].BackingPa + ((runs[^1].EndPfn - runs[^1].StartPfn) << KernelLayout.DescriptorShift) == block)
                runs[^1] = runs[^1] with { EndPfn = run.EndPfn };
            else
                runs.Add(run);
            if (buffered) buffer += count * Paging.PmdSize;
            s += count;
            progress?.Report(new BootProgress(BootPhase.Memmap, done += count * SparseMemory.SectionSize, total));
        }
        return runs;
    }

    /// <summary>Leaf levels the direct map may use.</summary>
    public int DirectMapLevels => !Options.DirectMapHugePages ? 1 << 1
        : (1 << 1) | (1 << 2) | (Options.GigabytePages ? 1 << 3 : 0);

    private ulong BootAllocate(ulong size, ulong align)
    {
        if (!Memblock.TryAllocate(size, align, out ulong pa))
            throw new InvalidOperationException($"Not enough memory to boot: memblock cannot allocate {size} bytes.");
        return pa;
    }

    private void BootMap(in MapOperation.Plan plan, ulong length, List<ulong> deferred)
    {
        var check = new MapOperation.CheckOps { Plan = plan };
        PageWalk.Walk(Physical, InitMm.RootPa, InitMm.RootLevel, plan.VirtualStart, plan.VirtualStart + length, ref check);
        if (!check.Failure.IsSuccess) throw new InvalidOperationException("boot mapping conflict: " + check.Failure);
        var frames = new ulong[check.TablesNeeded.Total];
        for (int i = 0; i < frames.Length; i++) frames[i] = BootAllocate(Paging.PageSize, Paging.PageSize) >> Paging.PageShift;
        var commit = new MapOperation.CommitOps(plan, InitMm, new TablePool(frames, check.TablesNeeded)) { DeferredConstruct = deferred };
        PageWalk.Walk(Physical, InitMm.RootPa, InitMm.RootLevel, plan.VirtualStart, plan.VirtualStart + length, ref commit);
        if (commit.Pool.TotalUsed != frames.Length)
            throw new InvalidOperationException($"boot map used {commit.Pool.TotalUsed} of {frames.Length} counted tables");
    }

    /// <summary>Creates the page tables of a new user address space: a root whose kernel half is copied from
    /// init_mm (as <c>pgd_alloc</c> does), so kernel addresses translate the same in every address space — unless
    /// <paramref name="fullCanonical"/> (a guest), whose root stays empty in both halves.</summary>
    public MmStruct CreateUserMm(bool fullCanonical = false)
    {
        ThrowIfDisposed();
        var mm = new MmStruct(this, kernel: false, fullCanonical);
        Span<ulong> root = stackalloc ulong[1];
        if (!Buddy.TryAllocateBulk(root, zero: true))
            ThrowHelper.ThrowPaging(new PagingResult(PagingError.OutOfFrames, default, null, "no frame for a root table"));
        if (!PageTables.TryConstruct(root[0], mm.RootLevel, mm.Id, kernel: false))
            ThrowHelper.ThrowInvariant("the constructor of a root table cannot fail");
        mm.RootPa = root[0] << Paging.PageShift;
        lock (_mmListLock)
        {
            CopyKernelHalf(mm);
            _userMms.Add(mm);
        }
        return mm;
    }

    /// <summary>Tears a user address space down and forgets it.</summary>
    public void DestroyUserMm(MmStruct mm)
    {
        lock (_mmListLock) _userMms.Remove(mm);
        PageTableOps.TeardownUser(mm);
    }

    /// <summary>True once the machine was disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Number of live user address spaces.</summary>
    public int UserMmCount
    {
        get { lock (_mmListLock) return _userMms.Count; }
    }

    /// <summary><c>sync_global_pgds</c>: copies the kernel half of init_mm's root into every user root.</summary>
    public void SyncKernelTopLevel()
    {
        lock (_mmListLock)
        {
            foreach (MmStruct mm in _userMms) CopyKernelHalf(mm);
        }
    }

    private void CopyKernelHalf(MmStruct mm)
    {
        if (mm.FullCanonical) return; // a guest's higher half is its own: no kernel entry may appear there
        ulong* kernelRoot = Physical.TableForRead(InitMm.RootPa);
        ulong* userRoot = Physical.TableForWrite(mm.RootPa);
        for (int i = Paging.EntriesPerTable / 2; i < Paging.EntriesPerTable; i++)
            if (userRoot[i] != kernelRoot[i]) Volatile.Write(ref userRoot[i], kernelRoot[i]);
    }

    /// <summary>Frees frames whatever their origin: boot-reserved frames through <c>free_reserved_page</c>, others
    /// back to the buddy allocator.</summary>
    public void FreePages(ulong pfn, int order)
    {
        if ((Memmap.Get(pfn)->Flags & PageFlags.Reserved) != 0) Buddy.FreeReserved(pfn, order);
        else Buddy.Free(pfn, order);
    }

    /// <summary>A full, synced flush of every user address space (before host memory behind a range goes away).
    /// Returns the flushes issued.</summary>
    public int FlushAllUserSpaces()
    {
        MmStruct[] mms;
        lock (_mmListLock) mms = _userMms.ToArray();
        foreach (MmStruct mm in mms)
        {
            long generation = mm.Flush.Publish(new FlushRequest(0, Layout.UserTop, FlushKind.All, TablesFreed: false));
            Vmstat.Add(ref Stat.TlbFlushesPublished, 1);
            mm.Flush.WaitForAcknowledgement(generation);
            if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.TlbFlush(mm.Id, FlushKind.All, 0, Layout.UserTop, mm.Flush.Contexts.Length);
        }
        return mms.Length;
    }

    /// <summary>A map just filled entries of <paramref name="mm"/> while a gather (of this thread or another) still
    /// holds tables it cleared: a context's paging-structure cache may point into [va, va + length) through such a
    /// queued table and fault on the new mapping until the gather finishes. Linux never meets this (munmap finishes
    /// its gather under mmap_lock); here the map publishes a request that only drops the paging-structure caches
    /// (an empty range: the range had no leaves to flush). It does not wait: a context's miss path checks the
    /// generation (and the publish signals its hit word) before it refills, and the generation is published after
    /// the new entries were stored (the publish lock's release orders them), so every translation that starts after the map returns walks the new tables.
    /// Finishing the other gathers instead would cost a synced flush and an RCU grace period per map.</summary>
    public static void InvalidateCachedWalks(MmStruct mm, ulong va, ulong length)
    {
        mm.Flush.Publish(new FlushRequest(va, va, FlushKind.Range, TablesFreed: true));
        if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.TlbFlush(mm.Id, FlushKind.Range, va, va + length, mm.Flush.Contexts.Length);
    }

    /// <summary>Publishes a TLB flush of <paramref name="mm"/> to its CPU contexts (and, for the kernel, to every
    /// thread's view of kernel memory).</summary>
    public void FlushTlb(MmStruct mm, in FlushRequest request)
    {
        long generation = mm.Flush.Publish(request);
        Vmstat.Add(ref Stat.TlbFlushesPublished, 1);
        if (mm.IsKernel) Memmap.FlushKernelTlb();
        if (Options.SyncedFlushes) mm.Flush.WaitForAcknowledgement(generation);
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) ThrowHelper.ThrowMachineDisposed();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        MmStruct[] mms;
        lock (_mmListLock) mms = _userMms.ToArray();
        foreach (MmStruct mm in mms) DestroyUserMm(mm);
        Rcu.Dispose();
        Sparse.Dispose();
        Physical.Dispose();
    }
}
