using System;
using System.Collections.Generic;

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
/// usually set.</summary>
public sealed class MachineOptions
{
    /// <summary>Boot RAM as one range starting at physical address 0 (ignored when <see cref="MemoryMap"/> is set).
    /// Default 1 GiB.</summary>
    public ulong MemorySize { get; set; } = 1UL << 30;

    /// <summary>Explicit boot memory map (like e820), for machines with holes. Each range must be 2 MiB aligned.</summary>
    public IReadOnlyList<MemoryRange>? MemoryMap { get; set; }

    /// <summary>4- or 5-level paging for every address space of the machine.</summary>
    public PagingMode PagingMode { get; set; } = PagingMode.FourLevel;

    /// <summary>Physical address width: the exclusive upper bound of physical addresses, leaving room for
    /// hot-added memory. Default 64 TiB (46 bits, the x86-64 4-level limit). Costs nothing until used.</summary>
    public ulong MaxPhysicalAddress { get; set; } = 1UL << 46;

    /// <summary>Allow 1 GiB leaves (the CPU's gbpages feature). Default on.</summary>
    public bool GigabytePages { get; set; } = true;

    /// <summary>Map the direct map with 2 MiB and 1 GiB leaves where aligned (default on). Off gives a 4 KiB direct
    /// map, as a kernel with <c>debug_pagealloc</c> or without PSE has.</summary>
    public bool DirectMapHugePages { get; set; } = true;

    /// <summary>Checked mode: freed page tables and frames are poisoned, and every walk, translation and cached
    /// partial walk that reaches freed memory is reported with <see cref="UseAfterFreeException"/>. Costs speed;
    /// meant for tests and for studying reclamation bugs.</summary>
    public bool CheckedMode { get; set; }

    /// <summary>Ask the host kernel for transparent huge pages (<c>MADV_HUGEPAGE</c>) on the 2 MiB host chunks
    /// that back simulated memory. Linux only; ignored elsewhere.</summary>
    public bool AdviseHostHugePages { get; set; }

    /// <summary>Entries of each CPU context's TLB (a power of two). Default 1024.</summary>
    public int TlbEntries { get; set; } = 1024;

    /// <summary>Entries of each CPU context's paging-structure cache (a power of two) per level. Default 512 (the PMD-level cache then covers 1 GiB of 4 KiB pages).</summary>
    public int PagingStructureCacheEntries { get; set; } = 512;

    /// <summary>Makes every flush wait until all CPU contexts of the address space have acknowledged it (QEMU's
    /// "synced" flushes). When off, contexts honour a flush before their next translation, which is enough for
    /// translations; waiting also covers a context that is in the middle of copying bytes. Default on.</summary>
    public bool SyncedFlushes { get; set; } = true;

    /// <summary>PTE tables per page-table block: 1 (x86: one table per 4 KiB frame), 2, 4, 8 or 16 (powerpc's
    /// 64 KiB pages hold 16 fragments). Every table stays an x86 table of 512 entries; the block becomes one
    /// naturally aligned 8 to 64 KiB buddy block whose fragments share one descriptor's refcount and RCU head, and
    /// an address space hands them out from a cursor. Default 1.</summary>
    public int PteFragmentsPerBlock { get; set; } = 1;

    /// <summary>How a PTE table removed while lockless walkers may read it is freed after an RCU grace period
    /// (<c>pte_free_defer</c>). Default <see cref="PteFreeDeferScheme.MarkAndDeferAtLastReference"/>, the scheme
    /// Linux merged.</summary>
    public PteFreeDeferScheme PteFreeDeferScheme { get; set; } = PteFreeDeferScheme.MarkAndDeferAtLastReference;

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

    internal void Validate()
    {
        if (MaxPhysicalAddress == 0 || (MaxPhysicalAddress & ((1UL << 27) - 1)) != 0)
            throw new ArgumentException("MaxPhysicalAddress must be a non-zero multiple of 128 MiB.", nameof(MaxPhysicalAddress));
        int maxBits = PagingMode == PagingMode.FiveLevel ? 52 : 46;
        if (MaxPhysicalAddress > 1UL << maxBits)
            throw new ArgumentException($"MaxPhysicalAddress exceeds {maxBits} bits for {PagingMode} paging.", nameof(MaxPhysicalAddress));
        if (TlbEntries < 1 || (TlbEntries & (TlbEntries - 1)) != 0)
            throw new ArgumentException("TlbEntries must be a power of two.", nameof(TlbEntries));
        if (PagingStructureCacheEntries < 1 || (PagingStructureCacheEntries & (PagingStructureCacheEntries - 1)) != 0)
            throw new ArgumentException("PagingStructureCacheEntries must be a power of two.", nameof(PagingStructureCacheEntries));
        if (PteFragmentsPerBlock is not (1 or 2 or 4 or 8 or 16))
            throw new ArgumentException("PteFragmentsPerBlock must be 1, 2, 4, 8 or 16.", nameof(PteFragmentsPerBlock));
        if (!Enum.IsDefined(HugeTlbVmemmapDesign))
            throw new ArgumentException($"Unknown HugeTlbVmemmapDesign {(int)HugeTlbVmemmapDesign}.", nameof(HugeTlbVmemmapDesign));
        if (!Enum.IsDefined(PteFreeDeferScheme))
            throw new ArgumentException($"Unknown PteFreeDeferScheme {(int)PteFreeDeferScheme}.", nameof(PteFreeDeferScheme));
        IReadOnlyList<MemoryRange> map = EffectiveMemoryMap();
        if (map.Count == 0) throw new ArgumentException("The machine needs memory.", nameof(MemoryMap));
        ulong previousEnd = 0;
        bool first = true;
        foreach (MemoryRange r in map)
        {
            if (r.Size == 0 || (r.Start.Value & 0x1FFFFF) != 0 || (r.Size & 0x1FFFFF) != 0)
                throw new ArgumentException($"Memory range {r.Start}+0x{r.Size:x} is not a non-empty multiple of 2 MiB.", nameof(MemoryMap));
            if (r.End.Value > MaxPhysicalAddress || r.End.Value < r.Start.Value)
                throw new ArgumentException($"Memory range {r.Start}+0x{r.Size:x} exceeds MaxPhysicalAddress.", nameof(MemoryMap));
            if (!first && r.Start.Value < previousEnd)
                throw new ArgumentException("Memory ranges must be sorted and must not overlap.", nameof(MemoryMap));
            previousEnd = r.End.Value;
            first = false;
        }
    }
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
