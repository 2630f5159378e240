using System.Runtime.CompilerServices;

namespace FastPt.Hardware;

/// <summary>The x86-64 page-table entry format (Intel SDM vol. 3, 4.5), bit for bit, plus the one software
/// convention Linux adds: a PROT_NONE leaf is not present but keeps its frame and carries bit 8.</summary>
internal static class PageTableEntry
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong WriteThrough = 1UL << 3;
    public const ulong CacheDisable = 1UL << 4;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;

    /// <summary>PS: the entry is a 2 MiB (PMD) or 1 GiB (PUD) leaf. At PTE level this bit is PAT.</summary>
    public const ulong Huge = 1UL << 7;
    public const ulong Global = 1UL << 8;

    /// <summary>Linux <c>_PAGE_PROTNONE</c>: reuses the global bit of a non-present entry.</summary>
    public const ulong ProtNone = Global;

    /// <summary>PAT bit of a huge leaf (bit 12), which is why huge frame numbers start above it.</summary>
    public const ulong HugePat = 1UL << 12;
    public const ulong NoExecute = 1UL << 63;

    /// <summary>Physical-address bits 12..51 of a 4 KiB leaf or a table pointer.</summary>
    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

    /// <summary>Linux <c>_PAGE_TABLE</c>: how a user table entry points to the next table.</summary>
    public const ulong UserTable = Present | Writable | User | Accessed | Dirty;

    /// <summary>Linux <c>_KERNPG_TABLE</c>: how a kernel table entry points to the next table.</summary>
    public const ulong KernelTable = Present | Writable | Accessed | Dirty;

    /// <summary>Linux <c>PAGE_KERNEL</c> (without encryption bits): kernel data, global, not executable.</summary>
    public const ulong KernelData = Present | Writable | Accessed | Dirty | Global | NoExecute;

    /// <summary>Linux <c>PAGE_KERNEL_RO</c>.</summary>
    public const ulong KernelReadOnly = Present | Accessed | Dirty | Global | NoExecute;

    /// <summary>What freed page-table pages are filled with in checked mode (the kernel's POISON_FREE byte).
    /// Bits 52..62 are set, which no entry FastPt writes ever has, so a walker that loads it knows.</summary>
    public const ulong Poison = 0x6b6b_6b6b_6b6b_6b6b;

    /// <summary>Bits that describe access rights and attributes of a leaf (everything but the frame).</summary>
    public const ulong AttributeMask = ~AddressMask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNone(ulong entry) => entry == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsPresent(ulong entry) => (entry & Present) != 0;

    /// <summary>True for a leaf at <paramref name="level"/>: every present PTE, or a PMD/PUD with PS,
    /// or a PROT_NONE entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsLeaf(ulong entry, int level) =>
        level == 1 ? entry != 0 : (entry & Huge) != 0;

    /// <summary>True for an entry pointing to a lower table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsTable(ulong entry, int level) => level > 1 && (entry & (Present | Huge)) == Present;

    /// <summary>Frame mask of a leaf at <paramref name="level"/> (bits 12, 21 or 30 up to 51).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong LeafAddressMask(int level) => AddressMask & ~((1UL << (12 + 9 * (level - 1))) - 1);

    /// <summary>Physical address a leaf at <paramref name="level"/> maps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong LeafAddress(ulong entry, int level) => entry & LeafAddressMask(level);

    /// <summary>Physical address of the table an entry points to.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong TableAddress(ulong entry) => entry & AddressMask;

    /// <summary>Leaf attribute bits for a user mapping with <paramref name="protection"/> at <paramref name="level"/>.</summary>
    public static ulong UserLeafBits(Protection protection, int level)
    {
        ulong bits;
        if (protection == Protection.None)
        {
            bits = ProtNone | User | NoExecute;
        }
        else
        {
            bits = Present | User;
            if ((protection & Protection.Write) != 0) bits |= Writable;
            if ((protection & Protection.Execute) == 0) bits |= NoExecute;
        }
        if (level > 1) bits |= Huge;
        return bits;
    }

    /// <summary>The protection a leaf grants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Protection ProtectionOf(ulong entry)
    {
        if ((entry & Present) == 0) return Protection.None;
        Protection p = Protection.Read;
        if ((entry & Writable) != 0) p |= Protection.Write;
        if ((entry & NoExecute) == 0) p |= Protection.Execute;
        return p;
    }

    /// <summary>The bits a protection change rewrites: the rights. Everything else of a leaf is kept.</summary>
    private const ulong RightsBits = Present | Writable | User | NoExecute;

    /// <summary>Replaces the access rights of a leaf and keeps every other bit — frame, PS, A, D, PWT, PCD, PAT
    /// (bit 7 of a PTE, bit 12 of a huge leaf), G and the software bits — as the kernel's <c>pgprot_modify</c>
    /// keeps <c>_PAGE_CHG_MASK</c>. Bit 8 is G on a present leaf and the PROT_NONE marker on a PROT_NONE leaf
    /// (Linux shares it the same way, user pages never being global), so G does not survive a trip through
    /// PROT_NONE.</summary>
    public static ulong WithProtection(ulong entry, Protection protection, int level)
    {
        ulong kept = entry & ~RightsBits;
        if ((entry & Present) == 0 || protection == Protection.None) kept &= ~Global; // the marker, not G
        return kept | UserLeafBits(protection, level);
    }

    /// <summary>True when changing <paramref name="before"/> into <paramref name="after"/> takes a right away
    /// (so cached translations must be flushed).</summary>
    public static bool IsDowngrade(ulong before, ulong after)
    {
        if ((before & Present) != 0 && (after & Present) == 0) return true;
        if ((before & Writable) != 0 && (after & Writable) == 0) return true;
        if ((before & NoExecute) == 0 && (after & NoExecute) != 0) return true;
        return (before & AddressMask) != (after & AddressMask);
    }
}
