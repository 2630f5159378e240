using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastPt.Cli.PageSets;

namespace FastPt.Cli.KernelCheck;

/// <summary>Page-table pages per level that the host kernel (or FastPt) spent on one page set.</summary>
/// <param name="Pte">PTE tables.</param>
/// <param name="Pmd">PMD tables.</param>
/// <param name="Pud">PUD tables.</param>
internal readonly record struct TableLevels(long Pte, long Pmd, long Pud)
{
    /// <summary>What VmPTE shows for these tables, in KiB.</summary>
    public long KiB => (Pte + Pmd + Pud) * 4;
}

/// <summary>One measurement of the host kernel: the tables attributed per level, the VmPTE growth over the whole
/// touch loop, and the 2 MiB blocks whose growth no allocation of that block explains (another thread of the
/// process mapped or unmapped memory meanwhile).</summary>
internal sealed record HostAttempt(TableLevels Tables, long VmPteDeltaKiB, long DisturbedBlocks, ulong RegionStart)
{
    /// <summary>True when every reading is explained by the page set's own faults.</summary>
    public bool Clean => DisturbedBlocks == 0 && Tables.KiB == VmPteDeltaKiB;
}

/// <summary>The outcome of measuring the host kernel: the agreed attempt (or the last one when none agreed) and
/// every attempt made.</summary>
internal sealed record HostMeasurement(HostAttempt Result, bool Agreed, IReadOnlyList<HostAttempt> Attempts,
    ulong ReservedBytes, bool HugePagesOff, string HugePagesNote);

/// <summary>Measures what the running Linux kernel spends on page tables for a page set. A fresh region aligned to
/// 512 GiB is reserved with a 512 GiB slack, so that the PGD entries the pages fall in hold nothing else; one byte
/// of every page is read (a read fault maps the shared zero page: the same tables as a write, no data memory); VmPTE
/// is read after every 2 MiB block. The kernel reports only the sum, so levels come from the growth per block: the
/// fault walk allocates every missing table from the top down, and a 2 MiB block needs one PTE table, one PMD table
/// and one PUD table at most, so a block that grew VmPTE by k tables allocated its PTE table and the k − 1 tables
/// above it. P4D tables (5-level hosts) and the PGD are not in VmPTE, and neither is measured.</summary>
internal static class HostPageTables
{
    /// <summary>Bytes one PGD entry covers (with 4-level paging): the alignment of the region.</summary>
    public const ulong PgdEntryBytes = 1UL << 39;

    private const int PageShift = 12;
    private const int BlockShift = 9;   // 512 pages: the 2 MiB one PTE table maps

    /// <summary>Reserves, touches and measures up to <paramref name="maxAttempts"/> times, until two clean attempts
    /// agree. Throws <see cref="KernelCheckException"/> when the region cannot be reserved.</summary>
    public static HostMeasurement Measure(PageSet pages, int maxAttempts)
    {
        ArgumentNullException.ThrowIfNull(pages);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 2);
        using VmPteReader reader = VmPteReader.TryOpen(out string reason) ?? throw new KernelCheckException(reason);
        ulong span = pages.Count == 0 ? PgdEntryBytes : RoundUp((pages.Last + 1) << PageShift, PgdEntryBytes);
        ulong reserved = span + PgdEntryBytes;

        // Compile the loop and everything it calls before measuring: the JIT maps memory of its own.
        Attempt(reader, PageSet.FromIndices([0]), PgdEntryBytes, PgdEntryBytes * 2, out _, out _);

        var attempts = new List<HostAttempt>();
        bool hugePagesOff = true;
        string hugePagesNote = "";
        for (int i = 0; i < maxAttempts; i++)
        {
            HostAttempt attempt = Attempt(reader, pages, span, reserved, out hugePagesOff, out hugePagesNote);
            attempts.Add(attempt);
            if (!attempt.Clean) continue;
            foreach (HostAttempt earlier in attempts.GetRange(0, attempts.Count - 1))
            {
                if (earlier.Clean && earlier.Tables == attempt.Tables && earlier.VmPteDeltaKiB == attempt.VmPteDeltaKiB)
                    return new HostMeasurement(attempt, true, attempts, reserved, hugePagesOff, hugePagesNote);
            }
        }
        return new HostMeasurement(attempts[^1], false, attempts, reserved, hugePagesOff, hugePagesNote);
    }

    private static HostAttempt Attempt(VmPteReader reader, PageSet pages, ulong span, ulong reserved, out bool hugePagesOff, out string hugePagesNote)
    {
        nint mapping = LinuxMemory.MapAnonymousReadOnly(reserved, out int errno);
        if (mapping == 0)
        {
            throw new KernelCheckException(
                $"cannot reserve {Parsing.SizeParser.Format(reserved)} of address space for the page set: mmap failed: {LinuxMemory.Describe(errno)}");
        }
        HostAttempt attempt;
        try
        {
            ulong start = RoundUp((ulong)mapping, PgdEntryBytes);
            int advice = LinuxMemory.NoHugePages((nint)start, span);
            hugePagesOff = advice == 0 || advice == LinuxMemory.ErrorInvalid;
            hugePagesNote = advice switch
            {
                0 => "off for the region (MADV_NOHUGEPAGE)",
                LinuxMemory.ErrorInvalid => "not built into this kernel",
                _ => "madvise(MADV_NOHUGEPAGE) failed: " + LinuxMemory.Describe(advice),
            };
            if (!hugePagesOff) throw new KernelCheckException("cannot turn transparent huge pages off for the region: " + hugePagesNote);
            attempt = Touch(reader, (nint)start, pages.Pages);
        }
        catch
        {
            _ = LinuxMemory.Unmap(mapping, reserved);
            throw;
        }
        int error = LinuxMemory.Unmap(mapping, reserved);
        if (error != 0) throw new KernelCheckException("munmap of the measured region failed: " + LinuxMemory.Describe(error));
        return attempt;
    }

    /// <summary>Reads one byte of every page, block by block, with a VmPTE reading after each 2 MiB block. Fully
    /// optimised from the first call (no tier-up or on-stack replacement mid-loop) and allocation-free.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static HostAttempt Touch(VmPteReader reader, nint start, ReadOnlySpan<ulong> pages)
    {
        long pte = 0, pmd = 0, pud = 0, disturbed = 0;
        int zero = 0;
        long first = reader.ReadKiB();
        long before = first;
        int i = 0;
        while (i < pages.Length)
        {
            ulong block = pages[i] >> BlockShift;
            do
            {
                zero |= Marshal.ReadByte(start + (nint)(pages[i] << PageShift));
                i++;
            }
            while (i < pages.Length && pages[i] >> BlockShift == block);
            long after = reader.ReadKiB();
            long grown = after - before;
            before = after;
            if (grown < 0 || grown % 4 != 0 || grown > 12)
            {
                disturbed++;
                continue;
            }
            long tables = grown / 4;
            if (tables >= 1) pte++;
            if (tables >= 2) pmd++;
            if (tables >= 3) pud++;
        }
        // Anonymous memory never written reads as zero; anything else means the region is not what was reserved.
        if (zero != 0) throw new KernelCheckException("the reserved region did not read as zero: it is not a fresh anonymous mapping");
        return new HostAttempt(new TableLevels(pte, pmd, pud), before - first, disturbed, (ulong)start);
    }

    private static ulong RoundUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
