using System;
using FastPt.HugeTlb;
using FastPt.Internals;

namespace FastPt;

/// <summary>The machine's HugeTLB pool (<see cref="Machine.HugeTlb"/>): 2 MiB and 1 GiB folios taken from the buddy
/// allocator, sized like <c>/sys/kernel/mm/hugepages/hugepages-*kB/nr_hugepages</c>, handed out to be mapped as one
/// 2 MiB or 1 GiB leaf, and the HugeTLB vmemmap optimization (HVO) of their page descriptors in the machine's
/// <see cref="HvoDesign"/>. Every method may be called from several threads.</summary>
/// <example>
/// <code>
/// using var machine = new Machine(new MachineOptions { MemorySize = 8UL &lt;&lt; 30, HugeTlbOptimizeVmemmap = true });
/// machine.HugeTlb.SetPoolSize(PageSize.Size2M, 512);                       // 3584 memmap pages freed
/// HugeTlbFolio folio = machine.HugeTlb.AllocateFolio(PageSize.Size2M);
/// using var space = machine.CreateAddressSpace();
/// machine.HugeTlb.MapFolio(space, (VirtAddr)0x4000_0000, folio, Protection.ReadWrite);
/// </code>
/// </example>
public sealed class HugeTlbPool
{
    private readonly Machine _machine;
    private readonly HugeTlbPoolCore _core;

    internal HugeTlbPool(Machine machine, HugeTlbPoolCore core)
    {
        _machine = machine;
        _core = core;
    }

    internal HugeTlbPoolCore Core => _core;

    /// <summary>The machine's HVO design (<see cref="MachineOptions.HugeTlbVmemmapDesign"/>).</summary>
    public HvoDesign Design => _core.Vmemmap.SharedTail ? HvoDesign.SharedTail : HvoDesign.Linux6x;

    /// <summary><c>vm.hugetlb_optimize_vmemmap</c>: when on, folios allocated from then on get their vmemmap
    /// optimized; switching it off leaves optimized folios optimized until they leave the pool. Starts as
    /// <see cref="MachineOptions.HugeTlbOptimizeVmemmap"/>.</summary>
    public bool OptimizeVmemmap
    {
        get
        {
            _machine.ThrowIfDisposed();
            return _core.OptimizeVmemmap;
        }
        set
        {
            _machine.ThrowIfDisposed();
            _core.OptimizeVmemmap = value;
        }
    }

    /// <summary>The pool counts of <paramref name="size"/> (2 MiB or 1 GiB).</summary>
    public HugeTlbPoolCounts GetCounts(PageSize size)
    {
        _machine.ThrowIfDisposed();
        return _core.Counts(Hstate(size));
    }

    /// <summary>Resizes the persistent pool of <paramref name="size"/> to <paramref name="count"/> folios
    /// (<c>nr_hugepages</c>), allocating and optimizing, or restoring and freeing, as one batch or folio by folio.
    /// Like the kernel, it does what it can: the result says how far it got and why not further (no free block; no
    /// frames to restore a folio's vmemmap, in which case that folio stays in the pool, nothing lost, and the next
    /// resize tries it again).</summary>
    public HugeTlbResizeResult TrySetPoolSize(PageSize size, long count, HvoBatching batching = HvoBatching.Batched)
    {
        _machine.ThrowIfDisposed();
        Hstate h = Hstate(size);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (!Enum.IsDefined(batching)) throw new ArgumentOutOfRangeException(nameof(batching));
        long limit = (long)(_machine.Options.MaxPhysicalAddress / size.Bytes());
        if (count > limit)
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} folios of {size.ShortName()} exceed the machine's physical address space");
        return _core.Resize(h, count, batching == HvoBatching.Batched);
    }

    /// <summary>Like <see cref="TrySetPoolSize"/>, throwing <see cref="HugeTlbException"/> when the pool is not
    /// exactly <paramref name="count"/> folios afterwards.</summary>
    public HugeTlbResizeResult SetPoolSize(PageSize size, long count, HvoBatching batching = HvoBatching.Batched)
    {
        HugeTlbResizeResult result = TrySetPoolSize(size, count, batching);
        result.ThrowIfFailed();
        return result;
    }

    /// <summary>Sets <c>nr_overcommit_hugepages</c>: how many surplus folios <see cref="AllocateFolio"/> may create
    /// from the buddy allocator when the pool has none free.</summary>
    public void SetOvercommit(PageSize size, long count)
    {
        _machine.ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _core.SetOvercommit(Hstate(size), count);
    }

    /// <summary>Takes a folio of <paramref name="size"/> from the pool (or makes a surplus one within the
    /// overcommit). Its memory reads as zero. False when there is none.</summary>
    public bool TryAllocateFolio(PageSize size, out HugeTlbFolio folio) => TryAllocateFolio(size, out folio, out _);

    /// <summary>Like <see cref="TryAllocateFolio(PageSize, out HugeTlbFolio)"/>, saying why not.</summary>
    public bool TryAllocateFolio(PageSize size, out HugeTlbFolio folio, out HugeTlbError error)
    {
        _machine.ThrowIfDisposed();
        error = _core.TryAllocate(Hstate(size), out Folio f);
        folio = error == HugeTlbError.None ? new HugeTlbFolio(PhysAddr.FromPfn(f.HeadPfn), size) : default;
        return error == HugeTlbError.None;
    }

    /// <summary>Takes a folio of <paramref name="size"/> from the pool; throws <see cref="HugeTlbException"/> when
    /// there is none.</summary>
    public HugeTlbFolio AllocateFolio(PageSize size)
    {
        if (TryAllocateFolio(size, out HugeTlbFolio folio, out HugeTlbError error)) return folio;
        throw new HugeTlbException(error, error == HugeTlbError.NoFreeFolio
            ? $"the {size.ShortName()} pool has no free folio and no overcommit left"
            : $"the buddy allocator has no free {size.ShortName()} block for a surplus folio");
    }

    /// <summary>Gives a folio back (<c>free_huge_folio</c>): onto the free list, or, when the pool has surplus,
    /// back to the buddy allocator after its vmemmap is restored. The caller must have unmapped it.</summary>
    public HugeTlbResult TryFreeFolio(HugeTlbFolio folio)
    {
        _machine.ThrowIfDisposed();
        return _core.Free(Hstate(folio.Size), folio.Pfn);
    }

    /// <summary>Like <see cref="TryFreeFolio"/>, throwing <see cref="HugeTlbException"/> on failure.</summary>
    public void FreeFolio(HugeTlbFolio folio) => TryFreeFolio(folio).ThrowIfFailed();

    /// <summary>Maps <paramref name="folio"/> at <paramref name="va"/> in <paramref name="space"/> as one leaf of its
    /// size (a PMD or PUD entry with PS), as a HugeTLB fault does. The folio must be handed out by this pool.</summary>
    public PagingResult TryMapFolio(AddressSpace space, VirtAddr va, HugeTlbFolio folio, Protection protection)
    {
        _machine.ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(space);
        if (!ReferenceEquals(space.Machine, _machine)) ThrowHelper.ThrowArgument("The address space belongs to another machine.", nameof(space));
        if (!_core.IsInUse(Hstate(folio.Size), folio.Pfn, out string why)) ThrowHelper.ThrowArgument(why, nameof(folio));
        return space.TryMap(va, folio.Address, folio.Bytes, protection, folio.Size);
    }

    /// <summary>Like <see cref="TryMapFolio"/>, throwing <see cref="PagingException"/> on failure.</summary>
    public void MapFolio(AddressSpace space, VirtAddr va, HugeTlbFolio folio, Protection protection) =>
        TryMapFolio(space, va, folio, protection).ThrowIfFailed();

    /// <summary>True when the vmemmap of <paramref name="folio"/> is optimized now.</summary>
    public bool IsVmemmapOptimized(HugeTlbFolio folio)
    {
        _machine.ThrowIfDisposed();
        Hstate(folio.Size);
        return _machine.Memory.Sparse.PfnValid(folio.Pfn) && _core.Vmemmap.IsOptimized(folio.Pfn);
    }

    /// <summary>A snapshot of the pool and HVO counters.</summary>
    public HugeTlbStatistics GetStatistics()
    {
        _machine.ThrowIfDisposed();
        return new HugeTlbStatistics
        {
            Design = Design,
            OptimizeVmemmap = _core.OptimizeVmemmap,
            SharedTailPages = _core.Vmemmap.SharedTailPageCount,
            Size2M = SizeStatistics(_core.For(PageSize.Size2M)),
            Size1G = SizeStatistics(_core.For(PageSize.Size1G)),
        };
    }

    private HugeTlbSizeStatistics SizeStatistics(Hstate h)
    {
        HvoCounters c = h.Counters;
        long optimized = HvoCounters.Read(ref c.FoliosOptimized), restored = HvoCounters.Read(ref c.FoliosRestored);
        return new HugeTlbSizeStatistics
        {
            Counts = _core.Counts(h),
            FoliosAllocated = System.Threading.Volatile.Read(ref h.FoliosAllocated),
            FoliosFreed = System.Threading.Volatile.Read(ref h.FoliosFreed),
            FoliosOptimizedNow = optimized - restored,
            FoliosOptimized = optimized,
            FoliosRestored = restored,
            VmemmapPagesFreed = HvoCounters.Read(ref c.PagesFreed),
            VmemmapPagesRestored = HvoCounters.Read(ref c.PagesRestored),
            Batches = HvoCounters.Read(ref c.Batches),
            Flushes = HvoCounters.Read(ref c.Flushes),
            VmemmapSplits = HvoCounters.Read(ref c.Splits),
            VmemmapSplitsMergedBack = HvoCounters.Read(ref c.SplitsMergedBack),
            OptimizeFailures = HvoCounters.Read(ref c.OptimizeFailures),
            RestoreFailures = HvoCounters.Read(ref c.RestoreFailures),
            VmemmapRemapsUndone = HvoCounters.Read(ref c.RemapsUndone),
            SelfHostedSkipped = HvoCounters.Read(ref c.SelfHostedSkipped),
            HeadPagesCopied = HvoCounters.Read(ref c.HeadPagesCopied),
        };
    }

    private Hstate Hstate(PageSize size)
    {
        if (size is not (PageSize.Size2M or PageSize.Size1G))
            throw new ArgumentOutOfRangeException(nameof(size), $"HugeTLB pages are 2 MiB or 1 GiB, not {size}");
        return _core.For(size);
    }
}
