using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Hardware;

/// <summary>Outcome of a hardware page walk.</summary>
internal enum WalkStatus : byte
{
    /// <summary>Translated; access permitted.</summary>
    Ok,

    /// <summary>An entry on the way was not present (a hole, or a PROT_NONE leaf).</summary>
    NotPresent,

    /// <summary>The leaf was found but the access is not allowed by the combined rights of all levels.</summary>
    ProtectionFault,

    /// <summary>An entry pointed outside physical memory.</summary>
    BadPhysicalAddress,

    /// <summary>Checked mode: an entry holds the free-poison pattern, so the walk reached a freed table.</summary>
    Poisoned,
}

/// <summary>Rights accumulated over the levels of a walk, as x86 combines them: writable and user only if every
/// level allows it, no-execute if any level forbids execution.</summary>
internal static class Rights
{
    public const int Writable = 1;
    public const int User = 2;
    public const int NoExecute = 4;

    /// <summary>What a walk starting at the root inherits: nothing restricted yet.</summary>
    public const int Unrestricted = Writable | User;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Combine(int rights, ulong entry) =>
        // Branch-free, as the hardware ANDs R/W and U/S and ORs XD down the levels: the entry's bits 1-2 (R/W, U/S)
        // shifted onto Writable and User mask the rights, its bit 63 (XD) shifted onto NoExecute is or-ed in.
        (rights & (((int)(entry >> 1) & (Writable | User)) | NoExecute)) | ((int)(entry >> 61) & NoExecute);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Allows(int rights, AccessKind access, bool user) =>
        (!user || (rights & User) != 0)
        && (access != AccessKind.Write || (rights & Writable) != 0)
        && (access != AccessKind.Execute || (rights & NoExecute) == 0);
}

/// <summary>What a walk found. For a failed walk, <see cref="Level"/> and <see cref="Entry"/> describe the entry
/// where it stopped.</summary>
internal struct WalkResult
{
    /// <summary>The leaf entry (after the walk's A/D updates), or the entry that stopped the walk.</summary>
    public ulong Entry;

    /// <summary>Level of <see cref="Entry"/>: 1 for a PTE, 2 for a 2 MiB leaf, 3 for a 1 GiB leaf.</summary>
    public int Level;

    /// <summary>Physical address of the table holding <see cref="Entry"/>.</summary>
    public ulong TablePa;

    /// <summary>The translated physical address (valid when the walk succeeded).</summary>
    public ulong PhysAddr;

    /// <summary>Combined <see cref="Rights"/> of all levels down to the leaf.</summary>
    public int Rights;

    /// <summary>The PMD table the walk went through (0 if it did not reach level 2), and the rights of the
    /// entries above it: what a paging-structure cache entry for the PUD level holds.</summary>
    public ulong PmdTablePa;
    public int RightsAbovePmd;

    /// <summary>The PTE table the walk went through (0 if it did not reach level 1), and the rights above it.</summary>
    public ulong PteTablePa;
    public int RightsAbovePte;
}

/// <summary>The MMU's page walker: reads the tables in simulated physical memory exactly as x86-64 hardware does,
/// combining rights across levels and setting Accessed (and Dirty on writes) with atomic updates. It never
/// allocates or frees anything. A walk may start below the root, from a cached partial walk.</summary>
internal static unsafe class HardwareWalker
{
    /// <summary>Walks from the root table at <paramref name="rootPa"/> for <paramref name="va"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static WalkStatus Walk(PhysicalMemory memory, ulong rootPa, int rootLevel, ulong va, AccessKind access,
        bool user, bool updateAccessedDirty, bool checkPoison, out WalkResult result) =>
        WalkFrom(memory, rootPa, rootLevel, Rights.Unrestricted, va, access, user, updateAccessedDirty, checkPoison, out result);

    /// <summary>Walks from the table at <paramref name="tablePa"/>, which is at <paramref name="level"/>, with the
    /// rights <paramref name="inheritedRights"/> of the entries above it.</summary>
    /// <param name="memory">Physical memory holding the tables.</param>
    /// <param name="tablePa">The table to start from (the root, or a cached lower table).</param>
    /// <param name="level">Its level.</param>
    /// <param name="inheritedRights">Rights of the levels above (<see cref="Rights.Unrestricted"/> at the root).</param>
    /// <param name="va">The address (already checked canonical).</param>
    /// <param name="access">Read, write or execute.</param>
    /// <param name="user">A user-mode access (needs U/S at every level).</param>
    /// <param name="updateAccessedDirty">Set A (and D for writes) like hardware. Off for inspection walks.</param>
    /// <param name="checkPoison">Checked mode: report entries holding the free-poison pattern.</param>
    /// <param name="result">What the walk found.</param>
    public static WalkStatus WalkFrom(PhysicalMemory memory, ulong tablePa, int level, int inheritedRights, ulong va,
        AccessKind access, bool user, bool updateAccessedDirty, bool checkPoison, out WalkResult result)
    {
        ulong startTable = tablePa;
        int startLevel = level;
    Restart:
        result.PmdTablePa = 0;
        result.RightsAbovePmd = 0;
        result.PteTablePa = 0;
        result.RightsAbovePte = 0;
        result.PhysAddr = 0;
        tablePa = startTable;
        level = startLevel;
        int rights = inheritedRights;
        bool upperAccessed = true;
        ulong* slot;
        ulong entry;
        ulong* pmdSlot = null;
        ulong pmdEntry = 0;
        while (true)
        {
            result.Level = level;
            result.TablePa = tablePa;
            if (tablePa >= memory.MaxPhysicalAddress)
            {
                result.Entry = 0;
                result.Rights = rights;
                return WalkStatus.BadPhysicalAddress;
            }
            if (level == Paging.PmdLevel)
            {
                result.PmdTablePa = tablePa;
                result.RightsAbovePmd = rights;
            }
            else if (level == Paging.PteLevel)
            {
                result.PteTablePa = tablePa;
                result.RightsAbovePte = rights;
            }
            slot = (ulong*)memory.ReadPointer(tablePa + (ulong)(Paging.Index(level, va) * 8));
            entry = Volatile.Read(ref *slot);
            // pmd_same: a PTE read from a table that was unlinked (collapsed, reclaimed) meanwhile is not trusted;
            // the walk starts again and sees what the PMD holds now.
            if (pmdSlot != null && Volatile.Read(ref *pmdSlot) != pmdEntry) goto Restart;
            result.Entry = entry;
            result.Rights = rights;
            if (checkPoison && entry == PageTableEntry.Poison) return WalkStatus.Poisoned;
            if ((entry & PageTableEntry.Present) == 0) return WalkStatus.NotPresent;
            rights = Rights.Combine(rights, entry);
            if (level == Paging.PteLevel || (entry & PageTableEntry.Huge) != 0)
            {
                if (level > Paging.PudLevel) return WalkStatus.NotPresent; // PS is reserved above the PUD
                break;
            }
            upperAccessed &= (entry & PageTableEntry.Accessed) != 0;
            if (level == Paging.PmdLevel)
            {
                pmdSlot = slot;
                pmdEntry = entry;
            }
            tablePa = PageTableEntry.TableAddress(entry);
            level--;
        }

        result.Rights = rights;
        result.PhysAddr = PageTableEntry.LeafAddress(entry, level) | (va & (Paging.LevelSize(level) - 1));
        if (result.PhysAddr >= memory.MaxPhysicalAddress) return WalkStatus.BadPhysicalAddress;
        if (!Rights.Allows(rights, access, user)) return WalkStatus.ProtectionFault;
        if (!updateAccessedDirty) return WalkStatus.Ok;

        // Only a permitted access leaves a trace, and only through entries that did not change under us: a
        // concurrent clear must never be resurrected by an A-bit update. Table entries are created with A set,
        // so normally only the leaf needs it.
        if (!upperAccessed && !SetUpperAccessed(memory, startTable, startLevel, level, va)) goto Restart;
        ulong want = entry | PageTableEntry.Accessed | (access == AccessKind.Write ? PageTableEntry.Dirty : 0);
        if (want != entry)
        {
            ulong* writable = (ulong*)memory.WritePointer(result.TablePa + (ulong)(Paging.Index(level, va) * 8));
            if (Interlocked.CompareExchange(ref *writable, want, entry) != entry) goto Restart;
            result.Entry = want;
        }
        return WalkStatus.Ok;
    }

    /// <summary>Sets A on the table entries above <paramref name="leafLevel"/> that lack it; false if one changed
    /// meanwhile (the walk then restarts).</summary>
    private static bool SetUpperAccessed(PhysicalMemory memory, ulong tablePa, int level, int leafLevel, ulong va)
    {
        for (; level > leafLevel; level--)
        {
            ulong* slot = (ulong*)memory.WritePointer(tablePa + (ulong)(Paging.Index(level, va) * 8));
            ulong entry = Volatile.Read(ref *slot);
            if ((entry & PageTableEntry.Present) == 0 || (entry & PageTableEntry.Huge) != 0) return false;
            if ((entry & PageTableEntry.Accessed) == 0
                && Interlocked.CompareExchange(ref *slot, entry | PageTableEntry.Accessed, entry) != entry) return false;
            tablePa = PageTableEntry.TableAddress(entry);
        }
        return true;
    }
}
