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

    /// <summary>Combined rights of all levels: writable, user, no-execute (hardware combines them).</summary>
    public bool Writable;

    /// <summary>All levels allow user access.</summary>
    public bool UserAllowed;

    /// <summary>Some level forbids execution.</summary>
    public bool NoExecute;
}

/// <summary>The MMU's page walker: reads the tables in simulated physical memory exactly as x86-64 hardware does,
/// combining rights across levels and setting Accessed (and Dirty on writes) with atomic updates. It never
/// allocates or frees anything.</summary>
internal static unsafe class HardwareWalker
{
    /// <summary>Walks from the root table at <paramref name="rootPa"/> for <paramref name="va"/>.</summary>
    /// <param name="memory">Physical memory holding the tables.</param>
    /// <param name="rootPa">Physical address of the root table (CR3).</param>
    /// <param name="rootLevel">4 or 5.</param>
    /// <param name="va">The address (already checked canonical).</param>
    /// <param name="access">Read, write or execute.</param>
    /// <param name="user">A user-mode access (needs U/S at every level).</param>
    /// <param name="updateAccessedDirty">Set A (and D for writes) like hardware. Off for inspection walks.</param>
    /// <param name="checkPoison">Checked mode: report entries holding the free-poison pattern.</param>
    /// <param name="result">What the walk found.</param>
    public static WalkStatus Walk(PhysicalMemory memory, ulong rootPa, int rootLevel, ulong va, AccessKind access,
        bool user, bool updateAccessedDirty, bool checkPoison, out WalkResult result)
    {
        ulong* entries = stackalloc ulong[5];
        ulong* pointers = stackalloc ulong[5];
    Restart:
        result = default;
        ulong tablePa = rootPa;
        bool writable = true, userOk = true, noExec = false;
        int level = rootLevel;
        int depth = 0;
        ulong entry;
        while (true)
        {
            if (tablePa >= memory.MaxPhysicalAddress)
            {
                result.Level = level;
                result.TablePa = tablePa;
                return WalkStatus.BadPhysicalAddress;
            }
            ulong* slot = memory.TableForRead(tablePa) + Paging.Index(level, va);
            entry = Volatile.Read(ref *slot);
            result.Entry = entry;
            result.Level = level;
            result.TablePa = tablePa;
            if (checkPoison && entry == PageTableEntry.Poison) return WalkStatus.Poisoned;
            if ((entry & PageTableEntry.Present) == 0) return WalkStatus.NotPresent;
            writable &= (entry & PageTableEntry.Writable) != 0;
            userOk &= (entry & PageTableEntry.User) != 0;
            noExec |= (entry & PageTableEntry.NoExecute) != 0;
            entries[depth] = entry;
            pointers[depth] = tablePa + (ulong)(Paging.Index(level, va) * 8);
            depth++;
            if (level == 1 || (entry & PageTableEntry.Huge) != 0)
            {
                if (level > 3) return WalkStatus.NotPresent; // PS is reserved above the PUD: not a valid leaf.
                break;
            }
            tablePa = PageTableEntry.TableAddress(entry);
            level--;
        }

        result.Writable = writable;
        result.UserAllowed = userOk;
        result.NoExecute = noExec;
        ulong offsetMask = Paging.LevelSize(level) - 1;
        result.PhysAddr = PageTableEntry.LeafAddress(entry, level) | (va & offsetMask);
        if (result.PhysAddr >= memory.MaxPhysicalAddress) return WalkStatus.BadPhysicalAddress;

        bool allowed = (!user || userOk)
            && (access != AccessKind.Write || writable)
            && (access != AccessKind.Execute || !noExec);
        if (!allowed) return WalkStatus.ProtectionFault;

        if (updateAccessedDirty)
        {
            // Only a permitted access leaves a trace, and only through entries that did not change under us:
            // a concurrent clear must never be resurrected by an A-bit update.
            for (int i = 0; i < depth; i++)
            {
                ulong want = entries[i] | PageTableEntry.Accessed;
                if (i == depth - 1 && access == AccessKind.Write) want |= PageTableEntry.Dirty;
                if (want == entries[i]) continue;
                ulong* p = (ulong*)memory.WritePointer(pointers[i]);
                if (Interlocked.CompareExchange(ref *p, want, entries[i]) != entries[i]) goto Restart;
                if (i == depth - 1) result.Entry = want;
            }
        }
        return WalkStatus.Ok;
    }
}
