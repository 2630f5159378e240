using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

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

        /// <summary>Adds to <paramref name="demand"/> the page-table pages, by level, needed under an empty entry at
        /// <paramref name="level"/> for [address, next).</summary>
        public void TablesBelowEmpty(int level, ulong address, ulong next, ref TableDemand demand)
        {
            if (level == Paging.PteLevel || CanPlaceLeaf(level, address, next)) return;
            int child = level - 1;
            demand.Add(child, 1);
            if (child == Paging.PteLevel) return;
            for (ulong a = address; a != next;)
            {
                ulong n = Paging.AddrEnd(child, a, next);
                TablesBelowEmpty(child, a, n, ref demand);
                a = n;
            }
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
        public TableDemand TablesNeeded;
        public PagingResult Failure;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (value == 0)
            {
                Plan.TablesBelowEmpty(level, address, next, ref TablesNeeded);
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

    /// <summary>The commit pass: installs leaves and the preallocated, constructed tables. Cannot fail. Each entry
    /// is written under the lock of its table (PTE or PMD split lock, <c>page_table_lock</c> above): faults in
    /// regions that share a table run meanwhile and may install a table where the check pass saw none — then the
    /// commit uses theirs and its own goes back unused.</summary>
    internal struct CommitOps : IPageWalkOps
    {
        public Plan Plan;
        public MmStruct Mm;
        public TablePool Pool;
        public WalkTables Tables;

        /// <summary>Leaves this commit installed.</summary>
        public long LeavesInstalled;

        /// <summary>At boot the memmap does not exist yet, so table constructors run later: the frames and levels
        /// are collected here (frame &lt;&lt; 12 | level) instead.</summary>
        public System.Collections.Generic.List<ulong>? DeferredConstruct;

        public CommitOps(in Plan plan, MmStruct mm, in TablePool pool)
        {
            Plan = plan;
            Mm = mm;
            Pool = pool;
            Tables[mm.RootLevel] = mm.RootPa;
        }

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = Volatile.Read(ref *entry);
            if (value == 0)
            {
                bool leaf = Plan.CanPlaceLeaf(level, address, next);
                PageTableLock ptl = PageTableLocking.LockOfTable(Mm, Tables[level], level);
                ptl.Lock();
                value = *entry;
                if (value == 0)
                {
                    if (leaf)
                    {
                        Volatile.Write(ref *entry, Plan.LeafEntry(level, address));
                        ptl.Unlock();
                        Interlocked.Increment(ref Mm.Leaves[level]);
                        LeavesInstalled++;
                        return WalkAction.Continue;
                    }
                    ulong pfn = Pool.Take(level - 1);
                    DeferredConstruct?.Add((pfn << Paging.PageShift) | (uint)(level - 1));
                    Interlocked.Increment(ref Mm.Tables[level - 1]);
                    // The table is zero and constructed: the release store publishes it only after that.
                    value = (pfn << Paging.PageShift) | Plan.TableBits;
                    Volatile.Write(ref *entry, value);
                }
                ptl.Unlock();
                // A fault can only have put a table here (its region shares this table's range with ours); a leaf
                // or a table where our leaf goes would mean it faulted outside its region.
                if (leaf || !PageTableEntry.IsTable(value, level))
                    throw new InvalidOperationException($"map commit found 0x{value:x} at level {level} for 0x{address:x}, which its check pass saw empty");
            }
            // The check pass proved a non-empty entry is a table.
            Tables[level - 1] = PageTableEntry.TableAddress(value);
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            PageTableLock ptl = PageTableLocking.PteLockptr(Mm, Tables[Paging.PteLevel]);
            ptl.Lock();
            FillPtes(ptes, count, Plan.LeafEntry(Paging.PteLevel, address));
            ptl.Unlock();
            Interlocked.Add(ref Mm.Leaves[1], count);
            LeavesInstalled += count;
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
