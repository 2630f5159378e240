using System;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>One address space's page tables (<c>struct mm_struct</c>): the root, the <c>page_table_lock</c> that
/// serialises changes, per-level table and leaf counts, and the flush domain its CPU contexts listen to. The
/// kernel's own tables (init_mm) are one too.</summary>
internal sealed unsafe class MmStruct
{
    private static long s_nextId;

    private ulong[] _pool = new ulong[64];
    private MmuGatherCore? _cachedGather;

    public MmStruct(MemoryManager memory, bool kernel)
    {
        Memory = memory;
        IsKernel = kernel;
        Root = new PageTableRoot((ulong)Interlocked.Increment(ref s_nextId), Paging.RootLevel(memory.Layout.Mode));
        TableBits = kernel ? PageTableEntry.KernelTable : PageTableEntry.UserTable;
        Reservation = new TableReservation(this);
    }

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

    /// <summary>Page-table reservations of the operation running under <see cref="PageTableLock"/>.</summary>
    public TableReservation Reservation { get; private set; } = null!;

    /// <summary><c>mm->page_table_lock</c>.</summary>
    public Lock PageTableLock { get; } = new();

    /// <summary>Tables below the root by level (index 1 = PTE tables … 4 = P4D tables).</summary>
    public long[] Tables { get; } = new long[6];

    /// <summary>Leaves by level (index 1 = 4 KiB pages, 2 = 2 MiB, 3 = 1 GiB), PROT_NONE included.</summary>
    public long[] Leaves { get; } = new long[4];

    /// <summary>Tables cleared from this address space and queued in a gather whose flush has not been published
    /// yet (under <see cref="PageTableLock"/>). While there are any, CPU contexts may still hold walks through
    /// them in their paging-structure caches, so a map must make its entries visible explicitly.</summary>
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
    public ulong MappedBytes => (ulong)Leaves[1] * Paging.PageSize + (ulong)Leaves[2] * Paging.PmdSize + (ulong)Leaves[3] * Paging.PudSize;

    /// <summary>The figure Linux reports as VmPTE, in pages: PTE + PMD + PUD tables (P4D tables and the PGD are
    /// not counted by <c>mm_pgtables_bytes</c>).</summary>
    public long VmPtePages => Tables[1] + Tables[2] + Tables[3];

    /// <summary>A scratch array of at least <paramref name="count"/> frame numbers for preallocated tables. Only
    /// used under <see cref="PageTableLock"/>.</summary>
    public ulong[] Pool(long count)
    {
        if (count > _pool.Length) _pool = new ulong[Math.Max(count, _pool.Length * 2)];
        return _pool;
    }

    /// <summary>Takes <see cref="PageTableLock"/>, counting (and tracing) the times another thread held it.</summary>
    public TableLockScope LockTables()
    {
        if (!PageTableLock.TryEnter())
        {
            Vmstat.Add(ref Memory.Stat.PageTableLockContentions, 1);
            Diagnostics.FastPtEventSource.Log.LockContended(RootLevel, RootPa >> Paging.PageShift, 0);
            PageTableLock.Enter();
        }
        return new TableLockScope(PageTableLock);
    }

    /// <summary>Releases the page-table lock at the end of a <c>using</c>.</summary>
    public readonly ref struct TableLockScope
    {
        private readonly Lock _lock;

        public TableLockScope(Lock tableLock) => _lock = tableLock;

        public void Dispose() => _lock.Exit();
    }

    /// <summary>The gather reused by single operations (under <see cref="PageTableLock"/>) so they allocate nothing.</summary>
    public MmuGatherCore RentGather()
    {
        MmuGatherCore gather = _cachedGather ??= new MmuGatherCore(this, owned: true);
        gather.Begin();
        return gather;
    }
}
