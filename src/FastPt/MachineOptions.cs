using System;
using System.Collections.Generic;
using FastPt.Internals;

namespace FastPt;

/// <summary>A range of physical memory present at boot.</summary>
/// <param name="Start">Physical start; a multiple of 2 MiB.</param>
/// <param name="Size">Bytes; a multiple of 2 MiB.</param>
public readonly record struct MemoryRange(PhysAddr Start, ulong Size)
{
    /// <summary>Exclusive end.</summary>
    public PhysAddr End => Start + Size;
}

/// <summary>How the simulated machine is built. Every option has a sensible default; only the memory size is
/// usually set. Options are set once, in an object initializer; <see cref="Machine"/> validates them when it is
/// built (an <see cref="ArgumentException"/> names the option at fault) and keeps its own copy, so nothing a caller
/// does later reaches the machine.</summary>
public sealed class MachineOptions
{
    /// <summary>The smallest machine: 32 MiB of RAM, of which at least <see cref="MinimumFreeAtBoot"/> is left
    /// after the boot memmap. Below it a machine boots but its kernel cannot even hot-add a gigabyte (16 MiB of
    /// memmap) or run the CLI's scenarios.</summary>
    public const ulong MinimumMemorySize = 32UL << 20;

    /// <summary>RAM a machine must have beyond its boot memmap (one 2 MiB block per 128 MiB section holding RAM):
    /// 16 MiB.</summary>
    public const ulong MinimumFreeAtBoot = 16UL << 20;

    /// <summary>The largest <see cref="TlbEntries"/> and <see cref="PagingStructureCacheEntries"/>: 65,536.</summary>
    public const int MaximumCacheEntries = 1 << 16;

    /// <summary>Boot RAM as one range starting at physical address 0 (ignored when <see cref="MemoryMap"/> is set):
    /// a multiple of 2 MiB, at least <see cref="MinimumMemorySize"/>. Default 1 GiB.</summary>
    public ulong MemorySize { get; init; } = 1UL << 30;

    /// <summary>Explicit boot memory map (like e820), for machines with holes: sorted, non-overlapping ranges, each
    /// a non-empty multiple of 2 MiB at a 2 MiB boundary, holding <see cref="MinimumMemorySize"/> in all. The
    /// machine keeps a copy.</summary>
    public IReadOnlyList<MemoryRange>? MemoryMap { get; init; }

    /// <summary>4- or 5-level paging for every address space of the machine.</summary>
    public PagingMode PagingMode { get; init; } = PagingMode.FourLevel;

    /// <summary>Physical address width: the exclusive upper bound of physical addresses, leaving room for
    /// hot-added memory. Default 64 TiB (46 bits, the x86-64 4-level limit). Costs nothing until used.</summary>
    public ulong MaxPhysicalAddress { get; init; } = 1UL << 46;

    /// <summary>Allow 1 GiB leaves (the CPU's gbpages feature). Default on.</summary>
    public bool GigabytePages { get; init; } = true;

    /// <summary>Map the direct map with 2 MiB and 1 GiB leaves where aligned (default on). Off gives a 4 KiB direct
    /// map, as a kernel with <c>debug_pagealloc</c> or without PSE has.</summary>
    public bool DirectMapHugePages { get; init; } = true;

    /// <summary>Checked mode: freed page tables and frames are poisoned, and every walk, translation and cached
    /// partial walk that reaches freed memory is reported with <see cref="UseAfterFreeException"/>. Costs speed;
    /// meant for tests and for studying reclamation bugs.</summary>
    public bool CheckedMode { get; init; }

    /// <summary>Ask the host kernel for transparent huge pages (<c>MADV_HUGEPAGE</c>) on the 2 MiB host chunks
    /// that back simulated memory. Linux only; ignored elsewhere.</summary>
    public bool AdviseHostHugePages { get; init; }

    /// <summary>Entries of each CPU context's 4 KiB TLB (a power of two, 1 to <see cref="MaximumCacheEntries"/>): 2-way
    /// set-associative with LRU replacement (a one-entry TLB has one way). Default 1024 (512 sets).</summary>
    public int TlbEntries { get; init; } = 1024;

    /// <summary>Entries of each CPU context's paging-structure cache per level (a power of two, 1 to
    /// <see cref="MaximumCacheEntries"/>). Default 512 (the PMD-level cache then covers 1 GiB of 4 KiB pages).</summary>
    public int PagingStructureCacheEntries { get; init; } = 512;

    /// <summary>Makes every flush wait until all CPU contexts of the address space have acknowledged it (QEMU's
    /// "synced" flushes). When off, contexts honour a flush before their next translation, which is enough for
    /// translations; waiting also covers a context that is in the middle of copying bytes. Default on.</summary>
    public bool SyncedFlushes { get; init; } = true;

    /// <summary>How page tables are locked (<see cref="PageTableLockMode"/>): a split lock inside each PTE and PMD
    /// table's descriptor (default), a separately allocated lock with owner tracking and hold-time statistics, or one
    /// lock per address space for everything.</summary>
    public PageTableLockMode PageTableLocks { get; init; } = PageTableLockMode.Inline;

    /// <summary>PTE tables per page-table block: 1 (x86: one table per 4 KiB frame), 2, 4, 8 or 16 (powerpc's
    /// 64 KiB pages hold 16 fragments). Every table stays an x86 table of 512 entries; the block becomes one
    /// naturally aligned 8 to 64 KiB buddy block whose fragments share one descriptor's refcount and RCU head, and
    /// an address space hands them out from a cursor. Default 1.</summary>
    public int PteFragmentsPerBlock { get; init; } = 1;

    /// <summary>How a PTE table removed while lockless walkers may read it is freed after an RCU grace period
    /// (<c>pte_free_defer</c>). Default <see cref="PteFreeDeferScheme.MarkAndDeferAtLastReference"/>, the scheme
    /// Linux merged.</summary>
    public PteFreeDeferScheme PteFreeDeferScheme { get; init; } = PteFreeDeferScheme.MarkAndDeferAtLastReference;

    /// <summary>The HugeTLB vmemmap optimization's design: how tail descriptors name their head, and so what an
    /// optimized folio's tail vmemmap pages map (see <see cref="HvoDesign"/>). Fixed for the machine's life, as the
    /// encoding is in every compound page. Default <see cref="HvoDesign.Linux6x"/>.</summary>
    public HvoDesign HugeTlbVmemmapDesign { get; init; } = HvoDesign.Linux6x;

    /// <summary><c>vm.hugetlb_optimize_vmemmap</c> at boot (the kernel's <c>hugetlb_free_vmemmap=on</c>); it can be
    /// changed later through <see cref="HugeTlbPool.OptimizeVmemmap"/>. Default off, as in a kernel built without
    /// <c>CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP_DEFAULT_ON</c>.</summary>
    public bool HugeTlbOptimizeVmemmap { get; init; }

    internal IReadOnlyList<MemoryRange> EffectiveMemoryMap() =>
        MemoryMap ?? new[] { new MemoryRange(new PhysAddr(0), MemorySize) };

    /// <summary>Checks every option and returns a copy the caller cannot reach (the memory map copied into a
    /// read-only list). Throws <see cref="ArgumentException"/> whose parameter name is the option at fault.</summary>
    internal MachineOptions Validated()
    {
        if (!Enum.IsDefined(PagingMode))
            throw new ArgumentException($"PagingMode {(int)PagingMode} is neither FourLevel nor FiveLevel.", nameof(PagingMode));
        int maxBits = PagingMode == PagingMode.FiveLevel ? 52 : 46;
        if (MaxPhysicalAddress == 0 || (MaxPhysicalAddress & ((1UL << 27) - 1)) != 0 || MaxPhysicalAddress > 1UL << maxBits)
            throw new ArgumentException($"MaxPhysicalAddress 0x{MaxPhysicalAddress:x} must be a non-zero multiple of 128 MiB of at most {maxBits} bits for {PagingMode} paging.", nameof(MaxPhysicalAddress));
        CheckCacheEntries(TlbEntries, nameof(TlbEntries));
        CheckCacheEntries(PagingStructureCacheEntries, nameof(PagingStructureCacheEntries));
        if (!Enum.IsDefined(PageTableLocks))
            throw new ArgumentException($"Unknown PageTableLocks mode {(int)PageTableLocks}.", nameof(PageTableLocks));
        if (PteFragmentsPerBlock is not (1 or 2 or 4 or 8 or 16))
            throw new ArgumentException($"PteFragmentsPerBlock {PteFragmentsPerBlock} must be 1, 2, 4, 8 or 16.", nameof(PteFragmentsPerBlock));
        if (!Enum.IsDefined(HugeTlbVmemmapDesign))
            throw new ArgumentException($"HugeTlbVmemmapDesign {(int)HugeTlbVmemmapDesign} is neither Linux6x nor SharedTail.", nameof(HugeTlbVmemmapDesign));
        if (!Enum.IsDefined(PteFreeDeferScheme))
            throw new ArgumentException($"PteFreeDeferScheme {(int)PteFreeDeferScheme} is neither MarkAndDeferAtLastReference nor DeferredRefcount.", nameof(PteFreeDeferScheme));
        MemoryRange[]? map = null;
        if (MemoryMap is null)
        {
            if (MemorySize < MinimumMemorySize || (MemorySize & 0x1FFFFF) != 0 || MemorySize > MaxPhysicalAddress)
                throw new ArgumentException($"MemorySize 0x{MemorySize:x} must be a multiple of 2 MiB from {MinimumMemorySize >> 20} MiB to MaxPhysicalAddress (0x{MaxPhysicalAddress:x}).", nameof(MemorySize));
        }
        else
        {
            map = [.. MemoryMap];
            CheckMemoryMap(map);
        }
        return new MachineOptions
        {
            MemorySize = MemorySize,
            MemoryMap = map is null ? null : Array.AsReadOnly(map),
            PagingMode = PagingMode,
            MaxPhysicalAddress = MaxPhysicalAddress,
            GigabytePages = GigabytePages,
            DirectMapHugePages = DirectMapHugePages,
            CheckedMode = CheckedMode,
            AdviseHostHugePages = AdviseHostHugePages,
            TlbEntries = TlbEntries,
            PagingStructureCacheEntries = PagingStructureCacheEntries,
            SyncedFlushes = SyncedFlushes,
            PageTableLocks = PageTableLocks,
            PteFragmentsPerBlock = PteFragmentsPerBlock,
            PteFreeDeferScheme = PteFreeDeferScheme,
            HugeTlbVmemmapDesign = HugeTlbVmemmapDesign,
            HugeTlbOptimizeVmemmap = HugeTlbOptimizeVmemmap,
        };
    }

    private static void CheckCacheEntries(int entries, string name)
    {
        if (entries < 1 || entries > MaximumCacheEntries || (entries & (entries - 1)) != 0)
            throw new ArgumentException($"{name} {entries} must be a power of two from 1 to {MaximumCacheEntries}.", name);
    }

    private void CheckMemoryMap(MemoryRange[] map)
    {
        if (map.Length == 0) ThrowHelper.ThrowArgument("The memory map holds no range: the machine needs memory.", nameof(MemoryMap));
        ulong previousEnd = 0, total = 0, sections = 0, lastSection = ulong.MaxValue;
        for (int i = 0; i < map.Length; i++)
        {
            MemoryRange r = map[i];
            if (r.Size == 0 || (r.Start.Value & 0x1FFFFF) != 0 || (r.Size & 0x1FFFFF) != 0)
                ThrowHelper.ThrowArgument($"Memory range {r.Start}+0x{r.Size:x} is not a non-empty multiple of 2 MiB at a 2 MiB boundary.", nameof(MemoryMap));
            if (r.Size > MaxPhysicalAddress || r.Start.Value > MaxPhysicalAddress - r.Size)
                ThrowHelper.ThrowArgument($"Memory range {r.Start}+0x{r.Size:x} exceeds MaxPhysicalAddress (0x{MaxPhysicalAddress:x}).", nameof(MemoryMap));
            if (i > 0 && r.Start.Value < previousEnd)
                ThrowHelper.ThrowArgument("Memory ranges must be sorted and must not overlap.", nameof(MemoryMap));
            previousEnd = r.End.Value;
            total += r.Size;
            ulong first = r.Start.Value >> 27, last = (r.End.Value - 1) >> 27;
            sections += last - first + 1 - (first == lastSection ? 1UL : 0);
            lastSection = last;
        }
        if (total < MinimumMemorySize)
            ThrowHelper.ThrowArgument($"The memory map holds {total >> 20} MiB of RAM; a machine needs at least {MinimumMemorySize >> 20} MiB.", nameof(MemoryMap));
        ulong memmap = sections * (2UL << 20);
        if (total < memmap + MinimumFreeAtBoot)
            ThrowHelper.ThrowArgument($"The memory map spreads {total >> 20} MiB of RAM over {sections} sections, whose boot memmap takes {memmap >> 20} MiB; at least {MinimumFreeAtBoot >> 20} MiB must remain.", nameof(MemoryMap));
    }
}

/// <summary>How the page tables of a machine are locked (<c>Documentation/mm/split_page_table_lock.rst</c>). In every
/// mode the levels above PMD and the kernel's own tables use the address space's <c>page_table_lock</c>.</summary>
public enum PageTableLockMode
{
    /// <summary>Split locks: every PTE and PMD table has a spinlock inside its page descriptor's 8-byte private
    /// word (a <c>spinlock_t</c> that fits in a long). Faults on different tables run in parallel.</summary>
    Inline = 0,

    /// <summary>Split locks allocated separately (<c>ALLOC_SPLIT_PTLOCKS</c>, as with lock debugging): the descriptor
    /// holds the address of a 64-byte lock that tracks its owner (recursion and wrong-owner release are reported) and
    /// hold times. The locks come from a slab of machine frames, so the table constructor fails when memory is
    /// exhausted, and that failure is handled everywhere.</summary>
    Allocated = 1,

    /// <summary>No split locks: one lock per address space (<c>page_table_lock</c>) for every table, as a kernel
    /// without <c>USE_SPLIT_PTE_PTLOCKS</c>. For comparison.</summary>
    SingleLock = 2,
}

/// <summary>The two refcount schemes of <c>pte_free_defer</c> for page-table blocks whose fragments share one RCU
/// head (see <c>docs/architecture.md</c> for their difference in behaviour and cost).</summary>
public enum PteFreeDeferScheme
{
    /// <summary>The scheme Linux merged (powerpc <c>pte_free_defer</c> with <c>PageActive</c>): a deferral marks
    /// the block and drops its fragment's reference at once; whoever drops the last reference of a marked block
    /// queues the block's RCU head, once. A block is freed one grace period after its last fragment went.</summary>
    MarkAndDeferAtLastReference = 0,

    /// <summary>The seed's <c>PTE_FREE_DEFERRED</c> scheme: a deferral raises the block's refcount by 0x10000;
    /// the first one queues the shared RCU head, later ones only count; the callback drops one deferral and
    /// re-queues the head once if more arrived during its grace period.</summary>
    DeferredRefcount = 1,
}
