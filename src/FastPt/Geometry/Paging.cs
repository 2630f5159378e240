using System.Runtime.CompilerServices;

namespace FastPt.Geometry;

/// <summary>x86-64 paging geometry: level shifts, indices and range helpers (the kernel's
/// <c>pgd_index</c>…<c>pte_index</c> and <c>p?d_addr_end</c>). Pure functions.</summary>
/// <remarks>Levels are numbered from the leaf: 1 = PTE, 2 = PMD, 3 = PUD, 4 = P4D (the PGD in 4-level
/// paging, where the P4D is folded into it), 5 = PGD in 5-level paging.</remarks>
internal static class Paging
{
    public const int PageShift = 12;
    public const ulong PageSize = 1UL << PageShift;
    public const ulong PageMask = ~(PageSize - 1);
    public const int EntriesPerTable = 512;
    public const int EntryBits = 9;

    public const int PteLevel = 1;
    public const int PmdLevel = 2;
    public const int PudLevel = 3;
    public const int P4dLevel = 4;
    public const int Pgd5Level = 5;

    public const int PmdShift = 21;
    public const int PudShift = 30;
    public const ulong PmdSize = 1UL << PmdShift;
    public const ulong PudSize = 1UL << PudShift;

    /// <summary>Shift of the address range one entry at <paramref name="level"/> maps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LevelShift(int level) => PageShift + EntryBits * (level - 1);

    /// <summary>Bytes one entry at <paramref name="level"/> maps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong LevelSize(int level) => 1UL << LevelShift(level);

    /// <summary>Index of <paramref name="address"/> in a table at <paramref name="level"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Index(int level, ulong address) => (int)((address >> LevelShift(level)) & (EntriesPerTable - 1));

    /// <summary>The end of the entry at <paramref name="level"/> that holds <paramref name="address"/>, clipped
    /// to <paramref name="end"/> (exclusive). Safe at the top of the address space, like <c>pmd_addr_end</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AddrEnd(int level, ulong address, ulong end)
    {
        ulong size = LevelSize(level);
        ulong boundary = (address + size) & ~(size - 1);
        return boundary - 1 < end - 1 ? boundary : end;
    }

    /// <summary>True when <paramref name="value"/> is a multiple of 2^<paramref name="shift"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAligned(ulong value, int shift) => (value & ((1UL << shift) - 1)) == 0;

    /// <summary>Rounds <paramref name="value"/> down to a multiple of <paramref name="size"/> (a power of two).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AlignDown(ulong value, ulong size) => value & ~(size - 1);

    /// <summary>Rounds <paramref name="value"/> up to a multiple of <paramref name="size"/> (a power of two).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AlignUp(ulong value, ulong size) => (value + size - 1) & ~(size - 1);

    /// <summary>Number of virtual-address bits translated in <paramref name="mode"/>: 48 or 57.</summary>
    public static int VirtualBits(PagingMode mode) => mode == PagingMode.FiveLevel ? 57 : 48;

    /// <summary>The level of the root table (4 or 5).</summary>
    public static int RootLevel(PagingMode mode) => (int)mode;

    /// <summary>True when bits 63..(virtual bits - 1) of <paramref name="address"/> are all equal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsCanonical(ulong address, PagingMode mode)
    {
        int shift = VirtualBits(mode) - 1;
        long top = (long)address >> shift;
        return top == 0 || top == -1;
    }

    /// <summary>First address above the lower canonical half: 2^47 (4-level) or 2^56 (5-level).</summary>
    public static ulong LowerHalfEnd(PagingMode mode) => 1UL << (VirtualBits(mode) - 1);

    /// <summary>First address of the higher canonical half: 2^64 − 2^47 or 2^64 − 2^56 (sign-extended).</summary>
    public static ulong HigherHalfStart(PagingMode mode) => 0UL - LowerHalfEnd(mode);

    /// <summary>True when [<paramref name="first"/>, <paramref name="last"/>] (inclusive) lies inside one canonical
    /// half, so that a walk over it never reaches the non-canonical hole: both ends canonical with the same bit 63.</summary>
    public static bool InOneHalf(ulong first, ulong last, PagingMode mode) =>
        first <= last && IsCanonical(first, mode) && IsCanonical(last, mode) && (long)(first ^ last) >= 0;

    /// <summary>The kernel's name of a level in <paramref name="mode"/>.</summary>
    public static string LevelName(int level, PagingMode mode) => level switch
    {
        PteLevel => "PTE",
        PmdLevel => "PMD",
        PudLevel => "PUD",
        P4dLevel => mode == PagingMode.FiveLevel ? "P4D" : "PGD",
        Pgd5Level => "PGD",
        _ => "L" + level.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The page size mapped by a leaf at <paramref name="level"/> (1, 2 or 3).</summary>
    public static FastPt.PageSize LeafSize(int level) => (FastPt.PageSize)LevelShift(level);
}
