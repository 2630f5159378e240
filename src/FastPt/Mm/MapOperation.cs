using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;

namespace FastPt.Mm;

/// <summary>Mapping a virtual range onto a physical range with the largest leaves alignment allows. Two walks:
/// a read-only check that finds any conflict and counts the tables needed, then (after every table was
/// allocated up front) a commit walk that cannot fail. A failed map therefore changes nothing.</summary>
internal static unsafe class MapOperation
{
    /// <summary>Parameters shared by both passes.</summary>
    internal readonly struct Plan
    {
        public Plan(ulong va, ulong pa, int allowedLevels, int forcedLevel, ulong leafBits4K, ulong leafBitsHuge, ulong tableBits)
        {
            VirtualStart = va;
            PhysicalStart = pa;
            AllowedLevels = allowedLevels;
            ForcedLevel = forcedLevel;
            LeafBits4K = leafBits4K;
            LeafBitsHuge = leafBitsHuge;
            TableBits = tableBits;
        }

        public ulong VirtualStart { get; }
        public ulong PhysicalStart { get; }

        /// <summary>Bit L set when leaves at level L may be used (bit 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB).</summary>
        public int AllowedLevels { get; }

        /// <summary>0 for automatic choice, else the only leaf level allowed.</summary>
        public int ForcedLevel { get; }

        public ulong LeafBits4K { get; }
        public ulong LeafBitsHuge { get; }
        public ulong TableBits { get; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong PhysicalFor(ulong va) => PhysicalStart + (va - VirtualStart);

        /// <summary>True when [address, next) can be one leaf at <paramref name="level"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool CanPlaceLeaf(int level, ulong address, ulong next)
        {
            if ((AllowedLevels & (1 << level)) == 0) return false;
            ulong size = Paging.LevelSize(level);
            return next - address == size && (PhysicalFor(address) & (size - 1)) == 0;
        }

        /// <summary>Page-table pages needed under an empty entry at <paramref name="level"/> for [address, next);
        /// <paramref name="pteTables"/> grows by the PTE tables among them.</summary>
        public long TablesBelowEmpty(int level, ulong address, ulong next, ref long pteTables)
        {
            if (level == Paging.PteLevel || CanPlaceLeaf(level, address, next)) return 0;
            int child = level - 1;
            if (child == Paging.PteLevel)
            {
                pteTables++;
                return 1;
            }
            long count = 1;
            for (ulong a = address; a != next;)
            {
                ulong n = Paging.AddrEnd(child, a, next);
                count += TablesBelowEmpty(child, a, n, ref pteTables);
                a = n;
            }
            return count;
        }

        public ulong LeafEntry(int level, ulong address) =>
            PhysicalFor(address) | (level == Paging.PteLevel ? LeafBits4K : LeafBitsHuge);
    }

    /// <summary>Describes a leaf for error reports.</summary>
    public static Mapping Describe(ulong entry, int level, ulong address)
    {
        ulong size = Paging.LevelSize(level);
        return new Mapping(new VirtAddr(address & ~(size - 1)),
            new PhysAddr(PageTableEntry.LeafAddress(entry, level)), Paging.LeafSize(level),
            PageTableEntry.ProtectionOf(entry), (entry & PageTableEntry.Accessed) != 0,
            (entry & PageTableEntry.Dirty) != 0);
    }

    /// <summary>The check pass: finds the first conflict and counts tables per level that the commit will need.</summary>
    internal struct CheckOps : IPageWalkOps
    {
        public Plan Plan;

        /// <summary>Tables the commit needs, all levels; <see cref="PteTablesNeeded"/> of them PTE tables.</summary>
        public long TablesNeeded;
        public long PteTablesNeeded;
        public PagingResult Failure;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0)
            {
                TablesNeeded += Plan.TablesBelowEmpty(level, address, next, ref PteTablesNeeded);
                return WalkAction.Continue;
            }
            if (PageTableEntry.IsLeaf(value, level))
            {
                PagingError error = Plan.ForcedLevel != 0 && level > Plan.ForcedLevel
                    ? PagingError.HugeParentEntry
                    : PagingError.AlreadyMapped;
                Failure = new PagingResult(error, new VirtAddr(address), Describe(value, level, address));
                return WalkAction.Stop;
            }
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            int hit = new ReadOnlySpan<ulong>(ptes, count).IndexOfAnyExcept(0UL);
            if (hit < 0) return WalkAction.Continue;
            ulong at = address + ((ulong)hit << Paging.PageShift);
            Failure = new PagingResult(PagingError.AlreadyMapped, new VirtAddr(at), Describe(ptes[hit], 1, at));
            return WalkAction.Stop;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next)
        {
            if (Plan.ForcedLevel == level)
            {
                // A table where the forced leaf must go, with nothing mapped under it in range.
                Failure = new PagingResult(PagingError.AlreadyMapped, new VirtAddr(address), null,
                    "a page table occupies the place of the requested leaf");
                return WalkAction.Stop;
            }
            return WalkAction.Continue;
        }
    }

    /// <summary>The commit pass: installs leaves and the preallocated tables. Cannot fail.</summary>
    internal struct CommitOps : IPageWalkOps
    {
        public Plan Plan;
        public MmStruct Mm;

        /// <summary>Where tables come from at run time; null at boot, where <see cref="Pool"/> holds memblock frames.</summary>
        public TableReservation? Tables;
        public ulong* Pool;
        public int PoolUsed;
        public int PoolSize;

        /// <summary>At boot the memmap does not exist yet, so table constructors run later: the frames and levels
        /// are collected here (frame &lt;&lt; 12 | level) instead.</summary>
        public System.Collections.Generic.List<ulong>? DeferredConstruct;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            if (*entry != 0) return WalkAction.Descend; // the check pass proved it is a table
            if (Plan.CanPlaceLeaf(level, address, next))
            {
                System.Threading.Volatile.Write(ref *entry, Plan.LeafEntry(level, address));
                Mm.Leaves[level]++;
                return WalkAction.Continue;
            }
            ulong pfn;
            if (Tables is not null)
            {
                pfn = Tables.Take(level - 1);
                PoolUsed++;
            }
            else
            {
                if (PoolUsed == PoolSize) ThrowHelper.ThrowInvariant("map commit ran out of preallocated tables");
                pfn = Pool[PoolUsed++];
                if (DeferredConstruct is null) Mm.Memory.PageTables.Construct(pfn, level - 1, Mm.Id, Mm.IsKernel);
                else DeferredConstruct.Add((pfn << Paging.PageShift) | (uint)(level - 1));
            }
            Mm.Tables[level - 1]++;
            // The table is zero (allocated zeroed); publishing it with a release store means no walker can see
            // it before it is.
            System.Threading.Volatile.Write(ref *entry, (pfn << Paging.PageShift) | Plan.TableBits);
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            FillPtes(ptes, count, Plan.LeafEntry(Paging.PteLevel, address));
            Mm.Leaves[1] += count;
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }

    /// <summary>Writes <paramref name="count"/> consecutive PTEs starting with <paramref name="first"/>, each mapping
    /// the next 4 KiB frame. Vectorised: eight entries per 512-bit store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FillPtes(ulong* ptes, int count, ulong first)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && count >= 8)
        {
            Vector512<ulong> value = Vector512.Create(first) + Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7) * 4096UL;
            Vector512<ulong> step = Vector512.Create(8UL * 4096);
            for (; i + 8 <= count; i += 8)
            {
                value.Store(ptes + i);
                value += step;
            }
        }
        else if (Vector256.IsHardwareAccelerated && count >= 4)
        {
            Vector256<ulong> value = Vector256.Create(first) + Vector256.Create(0UL, 1, 2, 3) * 4096UL;
            Vector256<ulong> step = Vector256.Create(4UL * 4096);
            for (; i + 4 <= count; i += 4)
            {
                value.Store(ptes + i);
                value += step;
            }
        }
        for (; i < count; i++) ptes[i] = first + ((ulong)i << Paging.PageShift);
    }
}
