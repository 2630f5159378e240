using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>One entry on a walk: where it is, the table (and level) holding it, and the entry one level up that
/// links that table in, with the value it had. A helper that takes the table's lock re-checks that link, because a
/// concurrent unmap may free a table that became empty (the kernel excludes this with <c>mmap_lock</c>; here range
/// operations free empty tables while faults run in other regions).</summary>
internal readonly unsafe struct WalkSlot
{
    public WalkSlot(ulong* entry, ulong tablePa, int level, ulong* parent, ulong parentValue)
    {
        Entry = entry;
        TablePa = tablePa;
        Level = level;
        Parent = parent;
        ParentValue = parentValue;
    }

    /// <summary>The entry.</summary>
    public ulong* Entry { get; }

    /// <summary>Physical address of the table holding <see cref="Entry"/>.</summary>
    public ulong TablePa { get; }

    /// <summary>Level of that table.</summary>
    public int Level { get; }

    /// <summary>The entry pointing to the table, or null for the root.</summary>
    public ulong* Parent { get; }

    /// <summary>What <see cref="Parent"/> held when the walk went through it.</summary>
    public ulong ParentValue { get; }

    /// <summary>True while the table is still linked where the walk found it. Meaningful under the table's lock.</summary>
    public bool StillLinked => Parent == null || Volatile.Read(ref *Parent) == ParentValue;
}

/// <summary>The split page-table lock helpers, with the kernel's meaning (<c>include/linux/mm.h</c>): which lock
/// guards a table, and the map-and-lock helpers that re-check what they locked. Every helper that hands out a
/// pointer into a PTE table expects the caller inside an RCU read-side section (<c>pte_offset_map</c> takes
/// <c>rcu_read_lock</c>): a table detached meanwhile is then still memory, and the re-check finds it gone.</summary>
internal static unsafe class PageTableLocking
{
    /// <summary><c>pte_lockptr</c>: the lock of the PTE table at <paramref name="pteTablePa"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageTableLock PteLockptr(MmStruct mm, ulong pteTablePa) =>
        mm.Memory.PageTableLocks.LockOf(mm, pteTablePa, Paging.PteLevel);

    /// <summary><c>pmd_lockptr</c>: the lock guarding the entries of the PMD table at <paramref name="pmdTablePa"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageTableLock PmdLockptr(MmStruct mm, ulong pmdTablePa) =>
        mm.Memory.PageTableLocks.LockOf(mm, pmdTablePa, Paging.PmdLevel);

    /// <summary><c>pmd_lock</c>: takes and returns the PMD table's lock.</summary>
    public static PageTableLock PmdLock(MmStruct mm, ulong pmdTablePa)
    {
        PageTableLock ptl = PmdLockptr(mm, pmdTablePa);
        ptl.Lock();
        return ptl;
    }

    /// <summary>The lock of the entries of a table at <paramref name="level"/>: the split lock of a PTE or PMD
    /// table, <c>page_table_lock</c> above (<c>pud_lockptr</c> and up).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageTableLock LockOfTable(MmStruct mm, ulong tablePa, int level) =>
        mm.Memory.PageTableLocks.LockOf(mm, tablePa, level);

    /// <summary><c>huge_pte_lockptr</c>: the lock of a huge leaf in the table at <paramref name="tablePa"/> — the PMD
    /// table's split lock for a 2 MiB leaf, <c>page_table_lock</c> for a 1 GiB one.</summary>
    public static PageTableLock HugePteLockptr(MmStruct mm, int leafLevel, ulong tablePa) =>
        leafLevel == Paging.PmdLevel ? PmdLockptr(mm, tablePa) : LockOfTable(mm, tablePa, leafLevel);

    /// <summary><c>huge_pte_lock</c>: takes and returns <see cref="HugePteLockptr"/>.</summary>
    public static PageTableLock HugePteLock(MmStruct mm, int leafLevel, ulong tablePa)
    {
        PageTableLock ptl = HugePteLockptr(mm, leafLevel, tablePa);
        ptl.Lock();
        return ptl;
    }

    /// <summary><c>pte_offset_map_lock</c>: maps the PTE table the PMD entry of <paramref name="pmd"/> points to,
    /// takes its lock and re-checks the PMD entry (<c>pmd_same</c>); if it changed meanwhile (the table was freed,
    /// or replaced by a leaf) it unlocks and retries. Returns the PTE for <paramref name="va"/> with the lock held,
    /// or null (no lock held) when the entry is not a table.</summary>
    public static ulong* PteOffsetMapLock(MmStruct mm, in WalkSlot pmd, ulong va, out PageTableLock ptl)
    {
        PhysicalMemory physical = mm.Memory.Physical;
        while (true)
        {
            ulong pmdValue = Volatile.Read(ref *pmd.Entry);
            if (!PageTableEntry.IsTable(pmdValue, Paging.PmdLevel))
            {
                ptl = default;
                return null;
            }
            ulong tablePa = PageTableEntry.TableAddress(pmdValue);
            ptl = PteLockptr(mm, tablePa);
            ptl.Lock();
            if (Volatile.Read(ref *pmd.Entry) == pmdValue) return physical.TableForWrite(tablePa) + Paging.Index(Paging.PteLevel, va);
            ptl.Unlock();
        }
    }

    /// <summary><c>pte_alloc_map_lock</c>: <see cref="PteAlloc"/> then <see cref="PteOffsetMapLock"/>. Null when no
    /// table could be allocated or the PMD entry is (or became) a huge leaf; <paramref name="outOfMemory"/> tells
    /// which.</summary>
    public static ulong* PteAllocMapLock(MmStruct mm, in WalkSlot pmd, ulong va, out PageTableLock ptl, out bool outOfMemory)
    {
        outOfMemory = false;
        while (true)
        {
            if (Volatile.Read(ref *pmd.Entry) == 0)
            {
                TableInstall install = PteAlloc(mm, pmd);
                if (install == TableInstall.OutOfMemory)
                {
                    outOfMemory = true;
                    ptl = default;
                    return null;
                }
                if (install == TableInstall.ParentGone)
                {
                    ptl = default;
                    return null;
                }
            }
            ulong* pte = PteOffsetMapLock(mm, pmd, va, out ptl);
            if (pte != null || Volatile.Read(ref *pmd.Entry) != 0) return pte;
            // The table went away between the install and the lock (an unmap freed it empty): allocate again.
        }
    }

    /// <summary>What <see cref="PteAlloc"/> and <see cref="InstallTable"/> did.</summary>
    public enum TableInstall
    {
        /// <summary>This call installed a new table.</summary>
        Installed,

        /// <summary>Another thread won: its table (or leaf) is there and ours was discarded.</summary>
        Raced,

        /// <summary>The table holding the entry was unlinked meanwhile; the caller must walk again.</summary>
        ParentGone,

        /// <summary>No frame, or the constructor failed.</summary>
        OutOfMemory,
    }

    /// <summary><c>__pte_alloc</c>: allocates and constructs a PTE table outside any lock, then installs it under the
    /// PMD lock if the entry is still none (<c>pmd_install</c>) or discards it if another thread won.</summary>
    public static TableInstall PteAlloc(MmStruct mm, in WalkSlot pmd) => AllocateAndInstall(mm, pmd);

    /// <summary><c>__pmd_alloc</c>, <c>__pud_alloc</c>, <c>__p4d_alloc</c> and <c>__pte_alloc</c> in one: a table
    /// for the level below <paramref name="slot"/>, allocated outside the lock and installed under the lock of the
    /// entry's table (PMD lock, or <c>page_table_lock</c> above), or discarded if another thread won.</summary>
    public static TableInstall AllocateAndInstall(MmStruct mm, in WalkSlot slot)
    {
        int level = slot.Level - 1;
        if (!mm.Memory.PageTables.TryAllocateOne(mm, level, out ulong pfn)) return TableInstall.OutOfMemory;
        TableInstall result = InstallTable(mm, slot, pfn);
        if (result != TableInstall.Installed) mm.Memory.PageTables.FreeUnpublished(pfn, level);
        return result;
    }

    /// <summary>Installs the constructed, zeroed table <paramref name="tablePfn"/> into the none entry of
    /// <paramref name="slot"/> under that entry's lock (<c>pmd_populate</c> and friends), re-checking under the lock
    /// that the entry is still none and its table still linked. The caller frees the table if this did not install it.</summary>
    public static TableInstall InstallTable(MmStruct mm, in WalkSlot slot, ulong tablePfn)
    {
        PageTableLock ptl = LockOfTable(mm, slot.TablePa, slot.Level);
        ptl.Lock();
        TableInstall result;
        if (!slot.StillLinked) result = TableInstall.ParentGone;
        else if (Volatile.Read(ref *slot.Entry) != 0) result = TableInstall.Raced;
        else
        {
            Interlocked.Increment(ref mm.Tables[slot.Level - 1]);
            // The table is zero and constructed; the release store publishes it only after that (smp_wmb in
            // pmd_install): a walker that sees the entry sees an initialised table.
            Volatile.Write(ref *slot.Entry, (tablePfn << Paging.PageShift) | mm.TableBits);
            result = TableInstall.Installed;
        }
        ptl.Unlock();
        return result;
    }
}
