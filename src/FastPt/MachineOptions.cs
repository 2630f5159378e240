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

    /// <summary>How page tables are locked (<see cref="PageTableLockMode"/>): a split lock inside each PTE and PMD
    /// table's descriptor (default), a separately allocated lock with owner tracking and hold-time statistics, or one
    /// lock per address space for everything.</summary>
    public PageTableLockMode PageTableLocks { get; set; } = PageTableLockMode.Inline;

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
        if (!Enum.IsDefined(PageTableLocks))
            throw new ArgumentException($"Unknown PageTableLocks mode {(int)PageTableLocks}.", nameof(PageTableLocks));
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
