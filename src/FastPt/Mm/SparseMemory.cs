using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Mm;

/// <summary>The sparse memory model (<c>mem_section</c>): physical memory in 128 MiB sections, each with a map of
/// which of its 64 2 MiB subsections exist, whether its memmap is populated, whether it came up at boot (an early
/// section, whose memmap always covers the whole section) and whether it is online.</summary>
internal sealed unsafe class SparseMemory : IDisposable
{
    public const int SectionShift = 27;
    public const ulong SectionSize = 1UL << SectionShift;
    public const int PfnSectionShift = SectionShift - 12;
    public const ulong PagesPerSection = 1UL << PfnSectionShift;
    public const int SubsectionShift = 21;
    public const ulong SubsectionSize = 1UL << SubsectionShift;
    public const int PfnSubsectionShift = SubsectionShift - 12;
    public const ulong PagesPerSubsection = 1UL << PfnSubsectionShift;
    public const int SubsectionsPerSection = 1 << (SectionShift - SubsectionShift);

    /// <summary>The section has a populated memmap (<c>SECTION_HAS_MEM_MAP</c>).</summary>
    public const uint HasMemmap = 1;

    /// <summary>The section was present at boot (<c>SECTION_IS_EARLY</c>).</summary>
    public const uint Early = 2;

    /// <summary>The section's memory is online (<c>SECTION_IS_ONLINE</c>).</summary>
    public const uint Online = 4;

    /// <summary>The section's memory belongs to ZONE_MOVABLE (only movable, user allocations come from it).</summary>
    public const uint Movable = 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct Section
    {
        public ulong SubsectionMap;
        public uint Flags;
        public uint Reserved;
    }

    private readonly Section* _sections;
    private readonly ulong _count;
    private long _present;
    private long _online;

    public SparseMemory(ulong maxPhysicalAddress)
    {
        _count = (maxPhysicalAddress + SectionSize - 1) >> SectionShift;
        _sections = (Section*)NativeMemory.AllocZeroed((nuint)_count, (nuint)sizeof(Section));
    }

    public ulong SectionCount => _count;

    /// <summary>Sections with at least one subsection present.</summary>
    public long PresentSections => Volatile.Read(ref _present);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SectionOf(ulong pfn) => pfn >> PfnSectionShift;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SubsectionOf(ulong pfn) => (int)((pfn >> PfnSubsectionShift) & (SubsectionsPerSection - 1));

    /// <summary>Mask of the subsections of [pfn, pfn + count) within one section.</summary>
    public static ulong SubsectionMask(ulong pfn, ulong count)
    {
        int first = SubsectionOf(pfn);
        int last = SubsectionOf(pfn + count - 1);
        int n = last - first + 1;
        return (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << first;
    }

    public uint FlagsOf(ulong section) => section < _count ? _sections[section].Flags : 0;

    public ulong SubsectionMapOf(ulong section) => section < _count ? _sections[section].SubsectionMap : 0;

    /// <summary><c>pfn_valid</c>: the frame has a descriptor (its section's memmap covers it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PfnValid(ulong pfn)
    {
        ulong s = pfn >> PfnSectionShift;
        if (s >= _count) return false;
        Section* sec = _sections + s;
        uint flags = Volatile.Read(ref sec->Flags);
        if ((flags & HasMemmap) == 0) return false;
        if ((flags & Early) != 0) return true;
        return ((sec->SubsectionMap >> SubsectionOf(pfn)) & 1) != 0;
    }

    /// <summary>True when the frame is present memory (its subsection exists), whatever the memmap covers.</summary>
    public bool PfnPresent(ulong pfn) => PfnPresent(SubsectionMaps, _count, pfn);

    /// <summary>The section table as the subsection maps it starts with, <see cref="SectionStride"/> words apart.
    /// Allocated once for the machine's life (never moved), so a CPU keeps a copy of the address and of <see
    /// cref="SectionCount"/>: its presence test on a TLB refill is then one load, not three dependent ones.</summary>
    public ulong* SubsectionMaps => (ulong*)_sections;

    /// <summary>Words from one section's subsection map to the next.</summary>
    public const int SectionStride = 2;

    /// <summary><see cref="PfnPresent(ulong)"/> over a copy of <see cref="SubsectionMaps"/> and <see cref="SectionCount"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool PfnPresent(ulong* subsectionMaps, ulong sectionCount, ulong pfn)
    {
        ulong s = pfn >> PfnSectionShift;
        return s < sectionCount && ((subsectionMaps[s * SectionStride] >> SubsectionOf(pfn)) & 1) != 0;
    }

    /// <summary>True when every subsection of [pfn, pfn + count) is present.</summary>
    public bool RangePresent(ulong pfn, ulong count)
    {
        for (ulong p = pfn; p < pfn + count;)
        {
            ulong sectionEnd = (SectionOf(p) + 1) << PfnSectionShift;
            ulong n = Math.Min(sectionEnd, pfn + count) - p;
            ulong mask = SubsectionMask(p, n);
            if ((SubsectionMapOf(SectionOf(p)) & mask) != mask) return false;
            p += n;
        }
        return true;
    }

    /// <summary>True when no subsection of [pfn, pfn + count) is present.</summary>
    public bool RangeAbsent(ulong pfn, ulong count)
    {
        for (ulong p = pfn; p < pfn + count;)
        {
            ulong sectionEnd = (SectionOf(p) + 1) << PfnSectionShift;
            ulong n = Math.Min(sectionEnd, pfn + count) - p;
            if ((SubsectionMapOf(SectionOf(p)) & SubsectionMask(p, n)) != 0) return false;
            p += n;
        }
        return true;
    }

    /// <summary>Marks subsections present (<c>fill_subsection_map</c>); returns true if the section was empty before.</summary>
    public bool AddSubsections(ulong pfn, ulong count, bool early)
    {
        Section* sec = _sections + SectionOf(pfn);
        bool wasEmpty = sec->SubsectionMap == 0;
        sec->SubsectionMap |= SubsectionMask(pfn, count);
        if (wasEmpty)
        {
            Interlocked.Increment(ref _present);
            uint flags = HasMemmap | (early ? Early : 0u);
            Volatile.Write(ref sec->Flags, flags);
        }
        return wasEmpty;
    }

    /// <summary>Clears subsections (<c>clear_subsection_map</c>); returns true if the section is now empty.</summary>
    public bool RemoveSubsections(ulong pfn, ulong count)
    {
        Section* sec = _sections + SectionOf(pfn);
        sec->SubsectionMap &= ~SubsectionMask(pfn, count);
        if (sec->SubsectionMap != 0) return false;
        if ((sec->Flags & Online) != 0) Interlocked.Decrement(ref _online);
        Volatile.Write(ref sec->Flags, 0);
        Interlocked.Decrement(ref _present);
        return true;
    }

    public bool IsEarly(ulong section) => (FlagsOf(section) & Early) != 0;

    /// <summary>True when <paramref name="pfn"/>'s section is in ZONE_MOVABLE.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsMovable(ulong pfn)
    {
        ulong s = pfn >> PfnSectionShift;
        return s < _count && (Volatile.Read(ref _sections[s].Flags) & Movable) != 0;
    }

    /// <summary>Puts a section in ZONE_MOVABLE or ZONE_NORMAL (before its frames are onlined).</summary>
    public void SetMovable(ulong section, bool movable)
    {
        Section* sec = _sections + section;
        uint flags = sec->Flags;
        Volatile.Write(ref sec->Flags, movable ? flags | Movable : flags & ~Movable);
    }

    public void SetOnline(ulong section, bool online)
    {
        Section* sec = _sections + section;
        uint flags = sec->Flags;
        if (((flags & Online) != 0) == online) return;
        Volatile.Write(ref sec->Flags, online ? flags | Online : flags & ~Online);
        Interlocked.Add(ref _online, online ? 1 : -1);
    }

    public bool IsOnline(ulong section) => (FlagsOf(section) & Online) != 0;

    /// <summary>Sections currently online.</summary>
    public long OnlineSections => Volatile.Read(ref _online);

    public void Dispose() => NativeMemory.Free(_sections);
}
