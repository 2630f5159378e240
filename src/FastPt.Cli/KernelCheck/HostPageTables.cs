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

/// <summary>One measurement of the host kernel.</summary>
/// <param name="Tables">Tables attributed per level.</param>
/// <param name="VmPteDeltaKiB">VmPTE growth while the page set's own pages were touched (the sum over the blocks).</param>
/// <param name="DisturbedBlocks">2 MiB blocks whose growth the block cannot explain: negative, not whole tables, or
/// more tables than its first touch can allocate (another thread of the process mapped or unmapped memory
/// meanwhile).</param>
/// <param name="OutsideKiB">VmPTE change between the blocks, while nothing of the page set was touched: other
/// threads' work, excluded from the figures.</param>
/// <param name="RegionStart">Where the region was.</param>
internal sealed record HostAttempt(TableLevels Tables, long VmPteDeltaKiB, long DisturbedBlocks, long OutsideKiB, ulong RegionStart)
{
    /// <summary>True when every block's growth is explained by the page set's own faults.</summary>
    public bool Clean => DisturbedBlocks == 0 && Tables.KiB == VmPteDeltaKiB;
}

/// <summary>What one 2 MiB block of the page set did to VmPTE while its pages were touched.</summary>
/// <param name="AllowedTables">Tables the block may allocate: 1, plus 1 if it is the set's first block in its 1 GiB,
/// plus 1 if first in its 512 GiB.</param>
/// <param name="GrownKiB">VmPTE after its touches minus VmPTE before them.</param>
internal readonly record struct BlockGrowth(int AllowedTables, long GrownKiB);

/// <summary>The outcome of measuring the host kernel: the agreed attempt (or the last one when none agreed) and
/// every attempt made.</summary>
internal sealed record HostMeasurement(HostAttempt Result, bool Agreed, IReadOnlyList<HostAttempt> Attempts,
    ulong ReservedBytes, bool HugePagesOff, string HugePagesNote);

/// <summary>Measures what the running Linux kernel spends on page tables for a page set. A fresh region aligned to
/// 512 GiB is reserved with a 512 GiB slack, so that the PGD entries the pages fall in hold nothing else; one byte
/// of every page is read (a read fault maps the shared zero page: the same tables as a write, no data memory); VmPTE
/// is read just before and just after the touches of every 2 MiB block, so that other threads' work between blocks
/// stays out. The kernel reports only the sum, so levels come from the growth per block: the fault walk allocates
/// every missing table from the top down, and a 2 MiB block needs one PTE table, one PMD table and one PUD table at
/// most, so a block that grew VmPTE by k tables allocated its PTE table and the k − 1 tables above it. A block can
/// only need a new PMD table if it is the set's first in its 1 GiB, and a new PUD table if first in its 512 GiB
/// (the region shares no PGD entry with anything): more growth than that is another thread's, and the attempt is
/// repeated. P4D tables (5-level hosts) and the PGD are not in VmPTE, and neither is measured.</summary>
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
        var blocks = new BlockGrowth[pages.DistinctBlocks(BlockShift)];
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
            attempt = Touch(reader, (nint)start, pages.Pages, blocks);
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

    /// <summary>Reads one byte of every page, block by block, with a VmPTE reading just before and just after each
    /// 2 MiB block, into <paramref name="blocks"/> (one entry per block). Fully optimised from the first call (no
    /// tier-up or on-stack replacement mid-loop) and allocation-free.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static HostAttempt Touch(VmPteReader reader, nint start, ReadOnlySpan<ulong> pages, Span<BlockGrowth> blocks)
    {
        long outside = 0;
        int zero = 0;
        long previousAfter = -1;
        ulong previousBlock = ulong.MaxValue;
        int i = 0, b = 0;
        while (i < pages.Length)
        {
            ulong block = pages[i] >> BlockShift;
            // Tables this block may allocate: its PTE table, a PMD table if it opens a 1 GiB region, a PUD table if
            // it opens a 512 GiB region (pages are sorted, so "opens" means "differs from the previous block's").
            int allowed = 1;
            if (previousBlock == ulong.MaxValue || block >> BlockShift != previousBlock >> BlockShift) allowed++;
            if (previousBlock == ulong.MaxValue || block >> (2 * BlockShift) != previousBlock >> (2 * BlockShift)) allowed++;
            previousBlock = block;

            long before = reader.ReadKiB();
            if (previousAfter >= 0) outside += before - previousAfter;
            do
            {
                zero |= Marshal.ReadByte(start + (nint)(pages[i] << PageShift));
                i++;
            }
            while (i < pages.Length && pages[i] >> BlockShift == block);
            long after = reader.ReadKiB();
            previousAfter = after;
            blocks[b++] = new BlockGrowth(allowed, after - before);
        }
        // Anonymous memory never written reads as zero; anything else means the region is not what was reserved.
        if (zero != 0) throw new KernelCheckException("the reserved region did not read as zero: it is not a fresh anonymous mapping");
        return Attribute(blocks[..b], outside, (ulong)start);
    }

    /// <summary>Turns the growth of every block into tables per level. A block that grew by k whole tables, no more
    /// than it may allocate, allocated its PTE table and the k − 1 above it; any other growth is another thread's,
    /// and the block counts as disturbed.</summary>
    internal static HostAttempt Attribute(ReadOnlySpan<BlockGrowth> blocks, long outsideKiB, ulong regionStart)
    {
        long pte = 0, pmd = 0, pud = 0, disturbed = 0, grownTotal = 0;
        foreach (BlockGrowth block in blocks)
        {
            grownTotal += block.GrownKiB;
            if (block.GrownKiB < 0 || block.GrownKiB % 4 != 0 || block.GrownKiB / 4 > block.AllowedTables)
            {
                disturbed++;
                continue;
            }
            long tables = block.GrownKiB / 4;
            if (tables >= 1) pte++;
            if (tables >= 2) pmd++;
            if (tables >= 3) pud++;
        }
        return new HostAttempt(new TableLevels(pte, pmd, pud), grownTotal, disturbed, outsideKiB, regionStart);
    }

    private static ulong RoundUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
