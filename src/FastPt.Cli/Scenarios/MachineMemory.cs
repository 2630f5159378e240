using System.Collections.Generic;

namespace FastPt.Cli.Scenarios;

/// <summary>Facts about a machine's boot RAM derived from its options alone, so that scenarios can check the
/// engine's counters against an independent figure.</summary>
internal static class MachineMemory
{
    /// <summary>Size of a memory section (SECTION_SIZE_BITS = 27).</summary>
    public const ulong SectionBytes = 1UL << 27;

    /// <summary>Boot RAM ranges, as the options describe them.</summary>
    public static IReadOnlyList<MemoryRange> Ranges(MachineOptions options) =>
        options.MemoryMap ?? [new MemoryRange(new PhysAddr(0), options.MemorySize)];

    /// <summary>Bytes of boot RAM.</summary>
    public static ulong TotalBytes(MachineOptions options)
    {
        ulong total = 0;
        foreach (MemoryRange range in Ranges(options)) total += range.Size;
        return total;
    }

    /// <summary>Exclusive end of the highest RAM range.</summary>
    public static ulong End(MachineOptions options)
    {
        ulong end = 0;
        foreach (MemoryRange range in Ranges(options))
        {
            if (range.End.Value > end) end = range.End.Value;
        }
        return end;
    }

    /// <summary>Number of 128 MiB sections holding at least one byte of RAM.</summary>
    public static long Sections(MachineOptions options)
    {
        var sections = new HashSet<ulong>();
        foreach (MemoryRange range in Ranges(options))
        {
            for (ulong section = range.Start.Value / SectionBytes; section <= (range.End.Value - 1) / SectionBytes; section++)
                sections.Add(section);
        }
        return sections.Count;
    }

    /// <summary>True when physical address <paramref name="address"/> is boot RAM.</summary>
    public static bool IsRam(MachineOptions options, ulong address)
    {
        foreach (MemoryRange range in Ranges(options))
        {
            if (address >= range.Start.Value && address < range.End.Value) return true;
        }
        return false;
    }

    /// <summary>Name of page-table level <paramref name="level"/> (1 = PTE) under <paramref name="mode"/>.</summary>
    public static string LevelName(int level, PagingMode mode) => level switch
    {
        1 => "PTE",
        2 => "PMD",
        3 => "PUD",
        4 => mode == PagingMode.FiveLevel ? "P4D" : "PGD",
        _ => "PGD",
    };
}
