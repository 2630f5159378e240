using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>One address space's page tables (<c>struct mm_struct</c>): the root, the <c>mmap_lock</c> that serialises
/// range operations with each other, the <c>page_table_lock</c> that guards the levels above PMD (and everything in
/// single-lock mode), per-level table and leaf counts, and the flush domain its CPU contexts listen to. The kernel's
/// own tables (init_mm) are one too.</summary>
internal sealed unsafe class MmStruct
{
    private static long s_nextId;

    private ulong[] _pool = new ulong[64];
    private MmuGatherCore? _cachedGather;

    public MmStruct(MemoryManager memory, bool kernel, bool fullCanonical = false)
    {
        Memory = memory;
        IsKernel = kernel;
        FullCanonical = fullCanonical;
        Root = new PageTableRoot((ulong)Interlocked.Increment(ref s_nextId), Paging.RootLevel(memory.Layout.Mode),
            fullCanonical ? ulong.MaxValue : memory.Layout.UserTop - 1);
        TableBits = kernel ? PageTableEntry.KernelTable : PageTableEntry.UserTable;
    }

    /// <summary>True for a guest address space (<c>AddressSpaceLayout.FullCanonical</c>): both canonical halves are
    /// its own, and its root holds no entry of init_mm.</summary>
    public bool FullCanonical { get; }

    /// <summary>The last address (inclusive) this address space maps: below the hole for a process, 2^64 − 1 for a
    /// guest.</summary>
    public ulong UserLast => Root.UserLast;

    /// <summary>The ranges a teardown walks, each inside one canonical half (a walk never crosses the hole):
    /// [0, user top) for a process, that and [higher-half start, 2^64) for a guest (an end of 0 means 2^64).</summary>
    public (ulong Start, ulong End)[] OwnedHalves => FullCanonical
        ? [(0, Paging.LowerHalfEnd(Memory.Layout.Mode)), (Paging.HigherHalfStart(Memory.Layout.Mode), 0)]
        : [(0, Memory.Layout.UserTop)];

    public MemoryManager Memory { get; }

    public bool IsKernel { get; }

    /// <summary>What the CPUs see of this address space; the properties below that read it are kept for the
    /// memory manager's code.</summary>
    public PageTableRoot Root { get; }

    /// <summary>Unique id (recorded in each table's descriptor as its owner, <c>pt_mm</c>).</summary>
    public ulong Id => Root.Id;

    public int RootLevel => Root.Level;

    /// <summary>Physical address of the root table (what CR3 holds).</summary>
    public ulong RootPa
    {
        get => Root.Pa;
        set => Root.Pa = value;
    }

    /// <summary>Bits of an entry pointing to a lower table.</summary>
    public ulong TableBits { get; }

    /// <summary>The PTE-fragment cursor (user address spaces; the kernel's PTE tables are single frames).</summary>
    public PteFragmentCursor Fragments { get; } = new();

    /// <summary><c>mm->mmap_lock</c> taken for writing: map, unmap, protect, dirty harvesting, region changes and
    /// teardown hold it for their whole check-allocate-commit sequence, so they are atomic with respect to each
    /// other. Demand faults do not take it (they hold their region's lock and the page-table locks), which is what
    /// lets them run concurrently with these operations on other tables. Reentrant (hot-add maps under it).</summary>
    public Lock MmapLock { get; } = new();

    /// <summary><c>mm->page_table_lock</c>: guards entries of PGD, P4D and PUD tables, of every table in
    /// single-lock mode, and of the kernel's tables.</summary>
    public RawSpinLock PageTableLock;

    /// <summary>Tables below the root by level (index 1 = PTE tables … 4 = P4D tables). Updated atomically:
    /// faults change them without the mmap lock.</summary>
    public long[] Tables { get; } = new long[6];

    /// <summary>Leaves by level (index 1 = 4 KiB pages, 2 = 2 MiB, 3 = 1 GiB), PROT_NONE included, except the
    /// 4 KiB pages demand faults install, which they count in <see cref="FaultedPages"/> (so a 4 KiB count is
    /// <see cref="LeafCount"/>; unmapping such a page subtracts it here). Updated atomically.</summary>
    public long[] Leaves { get; } = new long[4];

    /// <summary>4 KiB pages demand faults mapped: a per-CPU counter, as Linux keeps an mm's RSS
    /// (<c>mm->rss_stat</c>), so that faulting CPUs do not share one cache line.</summary>
    public PerCpuCounter FaultedPages { get; } = new();

    /// <summary>Leaves of one level (index as <see cref="Leaves"/>).</summary>
    public long LeafCount(int level) => level == 1 ? Volatile.Read(ref Leaves[1]) + FaultedPages.Value : Volatile.Read(ref Leaves[level]);

    /// <summary>The anonymous regions (VMAs); lookups take no lock, changes happen under <see cref="MmapLock"/>.</summary>
    public VmaTree Vmas { get; } = new();

    /// <summary>Tables cleared from this address space and queued in a gather whose flush has not been published
    /// yet; changed atomically (gathers queue tables under the split locks and flush under none). While there are
    /// any, CPU contexts may still hold walks through them in their paging-structure caches, so a map must make its
    /// entries visible explicitly.</summary>
    public long QueuedTables;

    /// <summary>Invalidation channel of this address space.</summary>
    public FlushDomain Flush => Root.Flush;

    /// <summary>Set once the address space is torn down.</summary>
    public bool Disposed
    {
        get => Root.TornDown;
        set => Root.TornDown = value;
    }

    /// <summary>Bytes mapped (all leaves).</summary>
    public ulong MappedBytes => (ulong)LeafCount(1) * Paging.PageSize + (ulong)LeafCount(2) * Paging.PmdSize + (ulong)LeafCount(3) * Paging.PudSize;

    /// <summary>The figure Linux reports as VmPTE, in pages: PTE + PMD + PUD tables (P4D tables and the PGD are
    /// not counted by <c>mm_pgtables_bytes</c>).</summary>
    public long VmPtePages => Tables[1] + Tables[2] + Tables[3];

    /// <summary>A scratch array of at least <paramref name="count"/> frame numbers for preallocated tables. Only
    /// used under <see cref="MmapLock"/>.</summary>
    public ulong[] Pool(long count)
    {
        if (count > _pool.Length) _pool = new ulong[Math.Max(count, _pool.Length * 2)];
        return _pool;
    }

    /// <summary>Takes <see cref="MmapLock"/> (<c>mmap_write_lock</c>) until the end of a <c>using</c>.</summary>
    public MmapLockScope LockMmap()
    {
        MmapLock.Enter();
        return new MmapLockScope(MmapLock);
    }

    /// <summary>Releases the mmap lock at the end of a <c>using</c>.</summary>
    public readonly ref struct MmapLockScope
    {
        private readonly Lock _lock;

        public MmapLockScope(Lock mmapLock) => _lock = mmapLock;

        public void Dispose() => _lock.Exit();
    }

    /// <summary>The gather reused by single operations (under <see cref="MmapLock"/>) so they allocate nothing.</summary>
    public MmuGatherCore RentGather()
    {
        MmuGatherCore gather = _cachedGather ??= new MmuGatherCore(this, owned: true);
        gather.Begin();
        return gather;
    }
}
