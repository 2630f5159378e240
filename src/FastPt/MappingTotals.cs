using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Mm;

namespace FastPt;

/// <summary>Runs, leaves and bytes of one page size, as <see cref="MappingTotals"/> counts them.</summary>
/// <param name="Runs">Runs of leaves, merged as <see cref="AddressSpace.Dump"/> merges them (same size and
/// protection, consecutive virtual and physical addresses).</param>
/// <param name="Leaves">Leaves (one per page of this size).</param>
/// <param name="Bytes">Bytes the leaves map.</param>
public readonly record struct MappingCount(long Runs, long Leaves, ulong Bytes);

/// <summary>What a virtual range maps, by page size, counted in one walk with no limit: the accounting
/// counterpart of a dump, which lists runs and stops at its limit. A leaf only partly inside the range counts
/// whole, as in a dump.</summary>
/// <param name="Size4K">4 KiB leaves.</param>
/// <param name="Size2M">2 MiB leaves.</param>
/// <param name="Size1G">1 GiB leaves.</param>
public readonly record struct MappingTotals(MappingCount Size4K, MappingCount Size2M, MappingCount Size1G)
{
    /// <summary>The counts of leaves of <paramref name="size"/>.</summary>
    public MappingCount Of(PageSize size) => size switch
    {
        PageSize.Size4K => Size4K,
        PageSize.Size2M => Size2M,
        _ => Size1G,
    };

    /// <summary>All page sizes together.</summary>
    public MappingCount Total => new(Size4K.Runs + Size2M.Runs + Size1G.Runs, Size4K.Leaves + Size2M.Leaves + Size1G.Leaves,
        Size4K.Bytes + Size2M.Bytes + Size1G.Bytes);

    /// <summary>Counts the leaves of [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="mm"/>
    /// under the RCU read lock, as <see cref="PageTableOps.Dump"/> reads them.</summary>
    internal static MappingTotals Count(MmStruct mm, ulong start, ulong end)
    {
        var ops = new CountOps();
        MemoryManager memory = mm.Memory;
        memory.Rcu.ReadLock();
        try
        {
            PageWalk.Walk(memory.Physical, mm.RootPa, mm.RootLevel, start, end, ref ops);
        }
        finally
        {
            memory.Rcu.ReadUnlock();
        }
        return new MappingTotals(ops.Counts[1], ops.Counts[2], ops.Counts[3]);
    }

    /// <summary>Inspection walk that counts what the dump walk would list, keeping only the last run.</summary>
    private unsafe struct CountOps : IPageWalkOps
    {
        public CountOps()
        {
        }

        // Index = leaf level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB).
        public MappingCount[] Counts = new MappingCount[4];
        private ulong _lastVirtualEnd;
        private ulong _lastPhysicalEnd;
        private int _lastLevel;
        private Protection _lastProtection;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0) return WalkAction.Continue;
            if (PageTableEntry.IsLeaf(value, level))
            {
                ulong size = Paging.LevelSize(level);
                Add(Paging.AlignDown(address, size), size, value, level);
                return WalkAction.Continue;
            }
            return (value & PageTableEntry.Present) != 0 ? WalkAction.Descend : WalkAction.Continue;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a != end; a += Paging.PageSize, ptes++)
            {
                ulong value = *ptes;
                if (value != 0) Add(a, Paging.PageSize, value, Paging.PteLevel);
            }
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        private void Add(ulong va, ulong size, ulong entry, int level)
        {
            Protection protection = PageTableEntry.ProtectionOf(entry);
            ulong pa = PageTableEntry.LeafAddress(entry, level);
            // The merge rule of the dump: one run while size, rights and both addresses continue.
            bool continues = _lastLevel == level && _lastProtection == protection && _lastVirtualEnd == va && _lastPhysicalEnd == pa;
            MappingCount count = Counts[level];
            Counts[level] = new MappingCount(count.Runs + (continues ? 0 : 1), count.Leaves + 1, count.Bytes + size);
            _lastLevel = level;
            _lastProtection = protection;
            _lastVirtualEnd = va + size;
            _lastPhysicalEnd = pa + size;
        }
    }
}
