using System;
using System.Collections.Generic;
using System.Threading;
using FastPt.Geometry;
using FastPt.Internals;
using FastPt.Mm;

namespace FastPt;

/// <summary>A simulated x86-64 machine: physical memory, the kernel page tables (direct map and vmemmap) built at
/// boot, the buddy allocator, and the address spaces created on it. Dispose it to give every host byte back.</summary>
/// <example>
/// <code>
/// using var machine = new Machine(new MachineOptions { MemorySize = 4UL &lt;&lt; 30 });
/// using var space = machine.CreateAddressSpace();
/// PhysAddr frames = machine.AllocatePhysical(2UL &lt;&lt; 20);
/// space.Map((VirtAddr)0x4000_0000, frames, 2UL &lt;&lt; 20, Protection.ReadWrite);   // one 2 MiB leaf
/// space.Write((VirtAddr)0x4000_1000, 42UL);
/// </code>
/// </example>
public sealed unsafe partial class Machine : IDisposable
{
    private readonly MemoryManager _memory;
    private readonly Hotplug.MemoryHotplug _hotplug;
    private readonly Lock _spacesLock = new();
    private readonly HashSet<AddressSpace> _spaces = new();
    private int _disposed;

    /// <summary>Boots a machine. With no options: 1 GiB of RAM, 4-level paging. The options are validated (an
    /// <see cref="ArgumentException"/> names the one at fault) and copied: <see cref="Options"/> is the machine's
    /// own snapshot. With <paramref name="progress"/>, each step of the boot is reported to it on the calling
    /// thread (booting 64 TiB takes a second or more).</summary>
    public Machine(MachineOptions? options = null, IProgress<BootProgress>? progress = null)
        : this(options, progress, deferredInit: true)
    {
    }

    /// <summary>Boots a machine; with <paramref name="deferredInit"/> off, every reserved descriptor is written and
    /// every free block linked at boot (the representation the deferred one is checked against).</summary>
    internal Machine(MachineOptions? options, IProgress<BootProgress>? progress, bool deferredInit)
    {
        Options = (options ?? new MachineOptions()).Validated();
        // The engine reads a copy of its own: not even a reflection write to Options reaches native code.
        _memory = new MemoryManager(Options.Validated(), progress, deferredInit);
        _hotplug = new Hotplug.MemoryHotplug(_memory);
        HugeTlb = new HugeTlbPool(this, new HugeTlb.HugeTlbPoolCore(_memory, Options.HugeTlbOptimizeVmemmap));
        Diagnostics.FastPtMeter.Register(_memory.Stat);
    }

    internal MemoryManager Memory => _memory;

    /// <summary>The options the machine was built with: a validated copy, immutable.</summary>
    public MachineOptions Options { get; }

    /// <summary>4- or 5-level paging.</summary>
    public PagingMode PagingMode => _memory.Layout.Mode;

    /// <summary>Start of the kernel's direct map of physical memory.</summary>
    public VirtAddr DirectMapBase => new(_memory.Layout.PageOffset);

    /// <summary>Start of the vmemmap (the page descriptor array).</summary>
    public VirtAddr VmemmapBase => new(_memory.Layout.VmemmapBase);

    /// <summary>Exclusive upper bound of physical addresses.</summary>
    public PhysAddr MaxPhysicalAddress => new(_memory.Physical.MaxPhysicalAddress);

    /// <summary>Host bytes written into (2 MiB per chunk written): an upper bound of the host memory the simulated
    /// memory costs right now.</summary>
    public long HostBytes => _memory.Physical.HostBytes;

    /// <summary>Host arenas (address-space reservations of 128 MiB, one per section touched) held right now.</summary>
    public long HostArenas => _memory.Physical.LiveArenas;

    /// <summary>Creates an empty user address space.</summary>
    public AddressSpace CreateAddressSpace() => CreateAddressSpace(AddressSpaceLayout.User);

    /// <summary>Creates an empty address space with the given <paramref name="layout"/>:
    /// <see cref="AddressSpaceLayout.User"/> for a process (the lower half, as <see cref="CreateAddressSpace()"/>),
    /// <see cref="AddressSpaceLayout.FullCanonical"/> for a guest whose kernel lives in the higher half (every
    /// canonical address up to 2^64, no kernel entry in its root).</summary>
    public AddressSpace CreateAddressSpace(AddressSpaceLayout layout)
    {
        ThrowIfDisposed();
        if (layout is not (AddressSpaceLayout.User or AddressSpaceLayout.FullCanonical))
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "unknown address-space layout");
        var space = new AddressSpace(this, _memory, layout);
        lock (_spacesLock) _spaces.Add(space);
        return space;
    }

    internal void Forget(AddressSpace space)
    {
        lock (_spacesLock) _spaces.Remove(space);
    }

    /// <summary>Allocates physically contiguous, naturally aligned frames for data from the buddy allocator:
    /// <paramref name="size"/> is rounded up to a power of two of 4 KiB pages (at most 1 GiB). The frames read
    /// as zero. Data is movable: it comes from ZONE_MOVABLE (hot-added memory) when it can, then ZONE_NORMAL.</summary>
    public PhysAddr AllocatePhysical(ulong size)
    {
        if (!TryAllocatePhysical(size, out PhysAddr pa))
            ThrowHelper.ThrowNoFreeBlock(size);
        return pa;
    }

    /// <summary>Like <see cref="AllocatePhysical"/>, returning false when no block is free.</summary>
    public bool TryAllocatePhysical(ulong size, out PhysAddr pa)
    {
        ThrowIfDisposed();
        int order = OrderFor(size);
        if (_memory.Buddy.TryAllocateUser(order, out ulong pfn))
        {
            pa = PhysAddr.FromPfn(pfn);
            return true;
        }
        pa = default;
        return false;
    }

    /// <summary>Frees a block from <see cref="AllocatePhysical"/>, given its address and the size it was allocated
    /// with (rounded up the same way). Anything else is refused with <see cref="ArgumentException"/> and nothing
    /// freed: an address that does not start an allocated block (freed already, never allocated, inside a block),
    /// a block of another size, or the kernel's own frames.</summary>
    public void FreePhysical(PhysAddr pa, ulong size)
    {
        ThrowIfDisposed();
        int order = OrderFor(size);
        if ((pa.Value & ((4096UL << order) - 1)) != 0)
            ThrowHelper.ThrowArgument($"{pa} is not aligned to a block of {size} bytes, so it cannot start one.", nameof(pa));
        if (!_memory.Sparse.PfnValid(pa.Pfn)) ThrowHelper.ThrowArgument($"{pa} is not in present memory.", nameof(pa));
        switch (_memory.Buddy.TryFreeUser(pa.Pfn, order, out int allocatedOrder))
        {
            case UserFree.Freed:
                return;
            case UserFree.WrongSize:
                ThrowHelper.ThrowArgument($"{pa} starts a block of {4096UL << allocatedOrder} bytes, freed as {4096UL << order}.", nameof(size));
                break;
            case UserFree.NotUserData:
                ThrowHelper.ThrowArgument($"{pa} is the kernel's memory (page tables, memmap or boot memory), not a block from AllocatePhysical.", nameof(pa));
                break;
            default:
                ThrowHelper.ThrowArgument($"{pa} does not start an allocated block (freed already, never allocated, or inside a block).", nameof(pa));
                break;
        }
    }

    private static int OrderFor(ulong size)
    {
        if (size == 0 || size > 1UL << 30) ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "size must be 1 byte to 1 GiB");
        ulong pages = (size + 4095) >> 12;
        int order = 0;
        while ((1UL << order) < pages) order++;
        return order;
    }

    /// <summary>Reads physical memory.</summary>
    public void ReadPhysical(PhysAddr pa, Span<byte> destination)
    {
        ThrowIfDisposed();
        CheckPhysical(pa, (ulong)destination.Length);
        _memory.Memmap.InitialiseBacking(pa.Value, (ulong)destination.Length);
        _memory.Physical.Read(pa.Value, destination);
    }

    /// <summary>Writes physical memory.</summary>
    public void WritePhysical(PhysAddr pa, ReadOnlySpan<byte> source)
    {
        ThrowIfDisposed();
        CheckPhysical(pa, (ulong)source.Length);
        _memory.Memmap.InitialiseBacking(pa.Value, (ulong)source.Length);
        _memory.Physical.Write(pa.Value, source);
    }

    private void CheckPhysical(PhysAddr pa, ulong length)
    {
        if (length == 0) return;
        ulong last = pa.Value + length - 1;
        if (last < pa.Value || last >= _memory.Physical.MaxPhysicalAddress || !_memory.Sparse.RangePresent(pa.Pfn, (last >> 12) - pa.Pfn + 1))
            ThrowHelper.ThrowNotPresentMemory(pa, length, nameof(pa));
    }

    /// <summary>The kernel page-table leaf mapping a kernel virtual address (direct map or vmemmap), or null.</summary>
    public Mapping? LookupKernel(VirtAddr va)
    {
        ThrowIfDisposed();
        if (!Paging.IsCanonical(va.Value, PagingMode)) return null;
        if (!PageTableOps.Lookup(_memory.InitMm, va.Value, out ulong entry, out int level)) return null;
        return MapOperation.Describe(entry, level, va.Value);
    }

    /// <summary>How the kernel maps [<paramref name="start"/>, +<paramref name="length"/>), as runs (at most
    /// <paramref name="maxRuns"/>). The range may end exactly at 2^64; it must be canonical and lie in one half of
    /// the address space.</summary>
    public IReadOnlyList<MappingRun> DumpKernel(VirtAddr start, ulong length, int maxRuns = 100_000)
    {
        ThrowIfDisposed();
        if (length == 0 || length - 1 > ulong.MaxValue - start.Value)
            throw new ArgumentOutOfRangeException(nameof(length), $"{start}+0x{length:x} is empty or goes past 2^64.");
        ulong last = start.Value + (length - 1);
        if (!Paging.IsCanonical(start.Value, PagingMode) || !Paging.IsCanonical(last, PagingMode) || (long)(start.Value ^ last) < 0)
            throw new ArgumentOutOfRangeException(nameof(start), $"{start}+0x{length:x} is not a canonical range of one half of the address space.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRuns);
        return PageTableOps.Dump(_memory.InitMm, start.Value, start.Value + length, maxRuns); // an end of 2^64 is 0
    }

    /// <summary>Counts what the kernel maps in [<paramref name="start"/>, +<paramref name="length"/>) by page size,
    /// with no limit: the figures a <see cref="DumpKernel"/> of the whole range would sum to.</summary>
    public MappingTotals CountKernelMappings(VirtAddr start, ulong length)
    {
        ThrowIfDisposed();
        if (length == 0 || start.Value + length < start.Value) throw new ArgumentOutOfRangeException(nameof(length));
        return MappingTotals.Count(_memory.InitMm, start.Value, start.Value + length);
    }

    /// <summary>Kernel page-table pages by level (index 1 = PTE … 5), the root included.</summary>
    public IReadOnlyList<long> KernelPageTables => (long[])_memory.InitMm.Tables.Clone();

    /// <summary>Hot-adds [<paramref name="start"/>, +<paramref name="size"/>) (a multiple of 2 MiB subsections):
    /// builds its memmap in the vmemmap (2 MiB blocks, 4 KiB pages, or an altmap in the range itself), its direct
    /// map, and onlines its frames into the buddy allocator. Every frame the metadata needs is taken before
    /// anything changes, so a refusal — misaligned, out of range, already present, or out of memory for the
    /// metadata — is a result with nothing changed.</summary>
    public HotplugResult TryAddMemory(PhysAddr start, ulong size, HotAddOptions? options = null)
    {
        ThrowIfDisposed();
        return _hotplug.Add(start.Value, size, options ?? new HotAddOptions());
    }

    /// <summary>Like <see cref="TryAddMemory"/>, throwing <see cref="HotplugException"/> (nothing changed) when
    /// the add is refused.</summary>
    public HotplugReport AddMemory(PhysAddr start, ulong size, HotAddOptions? options = null) =>
        TryAddMemory(start, size, options).ThrowIfFailed();

    /// <summary>Hot-removes [<paramref name="start"/>, +<paramref name="size"/>): offlines its frames, frees its
    /// memmap (marking partly used vmemmap pages and blocks with 0xFD, freeing each when all of it is marked),
    /// removes its direct map and frees page-table pages that became empty, all through one gather. A refusal is a
    /// result with nothing changed: a frame still in use (<see cref="HotplugError.Busy"/>), no free kernel frame
    /// for splitting a 1 GiB direct-map leaf the range cuts (<see cref="HotplugError.OutOfMemory"/>), a range not
    /// present, misaligned, or not matching how it was added.</summary>
    public HotplugResult TryRemoveMemory(PhysAddr start, ulong size)
    {
        ThrowIfDisposed();
        return _hotplug.Remove(start.Value, size);
    }

    /// <summary>Like <see cref="TryRemoveMemory"/>, throwing <see cref="HotplugException"/> (nothing changed) when
    /// the removal is refused.</summary>
    public HotplugReport RemoveMemory(PhysAddr start, ulong size) => TryRemoveMemory(start, size).ThrowIfFailed();

    /// <summary>Waits until every callback queued with RCU has run (<c>rcu_barrier</c>): page tables freed by
    /// collapse and by unmaps while lockless walkers were active are back in the allocator when it returns. Must
    /// not be called from inside a lockless walk's callback.</summary>
    public void RcuBarrier()
    {
        ThrowIfDisposed();
        _memory.Rcu.Barrier();
    }

    /// <summary>A snapshot of the memory counters.</summary>
    public MemoryStatistics GetStatistics()
    {
        ThrowIfDisposed();
        Vmstat s = _memory.Stat;
        (long lockAcquisitions, double holdSeconds, double maxHoldSeconds) = _memory.PageTableLocks.AllocatedLockStatistics();
        var orders = new long[BuddyAllocator.Orders];
        for (int o = 0; o < orders.Length; o++) orders[o] = _memory.Buddy.FreeBlocks(o);
        return new MemoryStatistics
        {
            PresentPages = Volatile.Read(ref _memory.PresentPages),
            ManagedPages = _memory.Buddy.ManagedPages,
            FreePages = _memory.Buddy.FreePages,
            MovableFreePages = _memory.Buddy.ZoneFreePages(MemoryZone.Movable),
            MovableManagedPages = _memory.Buddy.ZoneManagedPages(MemoryZone.Movable),
            FreeBlocksPerOrder = orders,
            PerCpuPages = _memory.Buddy.PerCpuPages,
            PageTablePages = Vmstat.Read(ref s.PageTablePages),
            KernelPageTablesByLevel = (long[])s.KernelTables.Clone(),
            UserPageTablesByLevel = (long[])s.UserTables.Clone(),
            MemmapPages = Vmstat.Read(ref s.MemmapPages),
            MemmapBootPages = Vmstat.Read(ref s.MemmapBootPages),
            MemmapFrames = Vmstat.Read(ref s.MemmapFrames),
            DirectMap4KiB = Vmstat.Read(ref s.DirectMap4K) * 4,
            DirectMap2MiB = Vmstat.Read(ref s.DirectMap2M) * 2048,
            DirectMap1GiB = Vmstat.Read(ref s.DirectMap1G) * 1024 * 1024,
            PresentSections = _memory.Sparse.PresentSections,
            OnlineSections = _memory.Sparse.OnlineSections,
            AddressSpaces = _memory.UserMmCount,
            HostBytes = _memory.Physical.HostBytes,
            RcuGracePeriods = _memory.Rcu.GracePeriods,
            RcuPendingCallbacks = _memory.Rcu.PendingCallbacks,
            RcuCallbacksRun = _memory.Rcu.CallbacksInvoked,
            RcuAbandonedReaders = _memory.Rcu.AbandonedReaders,
            RcuPendingTableBytes = Vmstat.Read(ref s.RcuPendingTableBytes),
            PteBlocks = Vmstat.Read(ref s.PteBlocks),
            PteBlocksAllocated = Vmstat.Read(ref s.PteBlocksAllocated),
            PteBlocksFreed = Vmstat.Read(ref s.PteBlocksFreed),
            PteFragmentsInUse = Vmstat.Read(ref s.PteFragmentsInUse),
            PteFragmentsFree = Vmstat.Read(ref s.PteFragmentsFree),
            TablesDeferred = Vmstat.Read(ref s.TablesDeferred),
            DeferredHeadsQueued = Vmstat.Read(ref s.DeferredHeadsQueued),
            Redeferrals = Vmstat.Read(ref s.Redeferrals),
            DeferredBlocksFreed = Vmstat.Read(ref s.DeferredBlocksFreed),
            TableBatchesQueued = Vmstat.Read(ref s.TableBatchesQueued),
            TableSyncFrees = Vmstat.Read(ref s.TableSyncFrees),
            CollapsesInPlace = Vmstat.Read(ref s.CollapsesInPlace),
            CollapsesWithCopy = Vmstat.Read(ref s.CollapsesWithCopy),
            KernelDescriptorWalks = _memory.Memmap.Walks,
            PtlocksAllocated = Vmstat.Read(ref s.PtlocksAllocated),
            PtlocksFreed = Vmstat.Read(ref s.PtlocksFreed),
            UseAfterFreeDetected = Vmstat.Read(ref s.UseAfterFreeDetected),
            PageTableLockContentions = Vmstat.Read(ref s.PageTableLockContentions),
            PtlockSlabPages = _memory.PageTableLocks.Cache.SlabPages,
            PageFaults = s.PageFaults.Value,
            ThpFaultAlloc = Vmstat.Read(ref s.ThpFaultAlloc),
            ThpFaultFallback = Vmstat.Read(ref s.ThpFaultFallback),
            ZeroPageFaults = Vmstat.Read(ref s.ZeroPageFaults),
            ZeroPageCopies = Vmstat.Read(ref s.ZeroPageCopies),
            AllocatedLockAcquisitions = lockAcquisitions,
            AllocatedLockHoldTime = TimeSpan.FromSeconds(holdSeconds),
            AllocatedLockMaxHold = TimeSpan.FromSeconds(maxHoldSeconds),
        };
    }

    internal void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0) ThrowHelper.ThrowObjectDisposed(nameof(Machine));
    }

    /// <summary>Tears down every address space and returns all host memory. Later calls on the machine or its
    /// address spaces throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        AddressSpace[] spaces;
        lock (_spacesLock) spaces = [.. _spaces];
        foreach (AddressSpace space in spaces) space.Dispose();
        // After the address spaces, so that their CPUs' counts are in the totals the Meter keeps.
        Diagnostics.FastPtMeter.Unregister(_memory.Stat);
        _memory.Dispose();
    }
}
