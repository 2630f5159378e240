using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>Callbacks of the lockless walk (GUP-fast's <c>gup_fast_pgd_range</c> …
/// <c>gup_fast_pte_range</c>). Each gets the value the walker read once; none may read the tables itself.</summary>
internal interface ILocklessWalkOps
{
    /// <summary>A present leaf mapping [<paramref name="address"/>, +one page or huge leaf) with the rights of
    /// every level combined. False stops the walk.</summary>
    bool Leaf(ulong address, ulong entry, int level, int rights);

    /// <summary>A hole or a non-present entry (<paramref name="entry"/> is what was read, perhaps PROT_NONE).
    /// False stops the walk.</summary>
    bool Hole(ulong address, ulong entry, int level);

    /// <summary>The PMD changed under a PTE table the walker read (<c>pmd_same</c> failed): everything reported
    /// from <paramref name="address"/> on came from a table that may be unlinked and is forgotten; the walker
    /// reads that part again.</summary>
    void Rewind(ulong address);
}

/// <summary>How a lockless walk ended.</summary>
internal enum LocklessWalkStatus
{
    /// <summary>The whole range was reported.</summary>
    Completed,

    /// <summary>A callback stopped it.</summary>
    Stopped,

    /// <summary>The tables under one PMD kept changing (<see cref="PageWalk.LocklessRetries"/> times): the caller
    /// falls back to a walk under the page-table lock, as GUP-fast falls back to GUP.</summary>
    Unstable,

    /// <summary>Checked mode: an entry held the free poison — the walk reached a freed table.</summary>
    Poisoned,
}

// The lockless walk: no page-table lock, every entry read once, PTEs trusted only after the PMD they came through
// is re-read unchanged (pmd_same), all inside an RCU read-side section so that a table unlinked meanwhile is not
// freed under the walker (pte_free_defer and the gather's RCU table free wait for the section to end).
internal static unsafe partial class PageWalk
{
    /// <summary>Re-reads of one PMD after which a walk gives up as <see cref="LocklessWalkStatus.Unstable"/>.</summary>
    public const int LocklessRetries = 64;

    /// <summary>Walks [<paramref name="start"/>, <paramref name="end"/>) (4 KiB aligned) without any lock inside a
    /// read-side section of <paramref name="reader"/>. <paramref name="poisonedTable"/> names the freed table for
    /// <see cref="LocklessWalkStatus.Poisoned"/>.</summary>
    public static LocklessWalkStatus WalkLockless<TOps>(PhysicalMemory memory, ulong rootPa, int rootLevel, RcuReader reader,
        bool checkPoison, ulong start, ulong end, ref TOps ops, out ulong poisonedTable)
        where TOps : struct, ILocklessWalkOps
    {
        reader.Enter();
        try
        {
            poisonedTable = 0;
            return WalkLocklessTable(memory, rootPa, rootLevel, Rights.Unrestricted, checkPoison, start, end, ref ops, ref poisonedTable);
        }
        finally
        {
            reader.Exit();
        }
    }

    private static LocklessWalkStatus WalkLocklessTable<TOps>(PhysicalMemory memory, ulong tablePa, int level, int rights,
        bool checkPoison, ulong address, ulong end, ref TOps ops, ref ulong poisonedTable)
        where TOps : struct, ILocklessWalkOps
    {
        ulong* table = memory.TableForRead(tablePa);
        do
        {
            ulong next = Paging.AddrEnd(level, address, end);
            ulong* slot = table + Paging.Index(level, address);
            int retries = 0;
        Again:
            ulong entry = Volatile.Read(ref *slot); // read once: the walk descends through this value only
            if (checkPoison && entry == PageTableEntry.Poison)
            {
                poisonedTable = tablePa;
                return LocklessWalkStatus.Poisoned;
            }
            if ((entry & PageTableEntry.Present) == 0)
            {
                if (!ops.Hole(address, entry, level)) return LocklessWalkStatus.Stopped;
            }
            else if (PageTableEntry.IsLeaf(entry, level))
            {
                if (level > Paging.PudLevel) return LocklessWalkStatus.Stopped; // PS is reserved above the PUD
                if (!ops.Leaf(address, entry, level, Rights.Combine(rights, entry))) return LocklessWalkStatus.Stopped;
            }
            else
            {
                int below = Rights.Combine(rights, entry);
                ulong childPa = PageTableEntry.TableAddress(entry);
                if (childPa >= memory.MaxPhysicalAddress) return LocklessWalkStatus.Stopped;
                LocklessWalkStatus status = level - 1 == Paging.PteLevel
                    ? WalkLocklessPtes(memory, childPa, below, checkPoison, address, next, ref ops, ref poisonedTable)
                    : WalkLocklessTable(memory, childPa, level - 1, below, checkPoison, address, next, ref ops, ref poisonedTable);
                // Poison read inside the section is an early free whatever the PMD says now: pmd_same would hide it
                // (a freed table was unlinked first, so the re-check always fails), so it is reported before.
                if (status == LocklessWalkStatus.Poisoned) return status;
                if (level == Paging.PmdLevel && Volatile.Read(ref *slot) != entry)
                {
                    // pmd_same failed: the PTE table may have been collapsed or reclaimed while it was read. What it
                    // said is not trusted, a stop included; the RCU section keeps its memory valid until we leave.
                    ops.Rewind(address);
                    if (++retries == LocklessRetries) return LocklessWalkStatus.Unstable;
                    goto Again;
                }
                if (status != LocklessWalkStatus.Completed) return status;
            }
            address = next;
        }
        while (address != end);
        return LocklessWalkStatus.Completed;
    }

    private static LocklessWalkStatus WalkLocklessPtes<TOps>(PhysicalMemory memory, ulong tablePa, int rights, bool checkPoison,
        ulong address, ulong end, ref TOps ops, ref ulong poisonedTable)
        where TOps : struct, ILocklessWalkOps
    {
        ulong* pte = memory.TableForRead(tablePa) + Paging.Index(Paging.PteLevel, address);
        for (; address != end; address += Paging.PageSize, pte++)
        {
            ulong entry = Volatile.Read(ref *pte);
            if (checkPoison && entry == PageTableEntry.Poison)
            {
                poisonedTable = tablePa;
                return LocklessWalkStatus.Poisoned;
            }
            bool go = (entry & PageTableEntry.Present) == 0
                ? ops.Hole(address, entry, Paging.PteLevel)
                : ops.Leaf(address, entry, Paging.PteLevel, Rights.Combine(rights, entry));
            if (!go) return LocklessWalkStatus.Stopped;
        }
        return LocklessWalkStatus.Completed;
    }
}
